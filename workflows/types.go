package workflows

import (
	"time"
)

// RunInput starts a run. The playbook source travels with the run, so the
// run executes exactly the version it started with whatever happens to the
// file later, and a replay compiles the same program.
type RunInput struct {
	Playbook PlaybookSource `json:"playbook"`
	Alert    map[string]any `json:"alert"`
	// AlertID identifies the alert (from the alert's "id", or assigned by
	// the API); attached alerts with the same id are counted once.
	AlertID string `json:"alert_id"`
}

// PlaybookSource is a playbook as a run pins it.
type PlaybookSource struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	File    string `json:"file"`
	Source  string `json:"source"`
	Hash    string `json:"hash"`
}

// Verdicts a run ends with. A finish step sets its own verdict word.
const (
	VerdictSilenced       = "silenced"
	VerdictEscalated      = "escalated" // triage failed; the fail-safe escalation paged someone
	VerdictAcknowledged   = "acknowledged"
	VerdictUnacknowledged = "unacknowledged"
	VerdictFailed         = "failed" // even the fail-safe escalation could not page anyone
	VerdictFinished       = "finished"
)

// Result is what a run returns and what the API shows.
type Result struct {
	Verdict    string       `json:"verdict"`
	Reason     string       `json:"reason"`
	Playbook   string       `json:"playbook"`
	Hash       string       `json:"hash"`
	Alerts     int          `json:"alerts"`
	Steps      []StepRecord `json:"steps"`
	Escalation *Escalation  `json:"escalation,omitempty"`
	// Error is the triage error that sent the run to the fail-safe path.
	Error string `json:"error,omitempty"`
}

// StepRecord is one step taken, for the verdict record and the UI.
type StepRecord struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Status   string    `json:"status"` // ok, skipped, failed, continued
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Error    string    `json:"error,omitempty"`
}

// Escalation is the outcome of an escalate step.
type Escalation struct {
	Acknowledged bool      `json:"acknowledged"`
	By           string    `json:"by,omitempty"`
	Tier         int       `json:"tier"`
	At           time.Time `json:"at,omitempty"`
	Paged        []Page    `json:"paged"`
	Skipped      []Skip    `json:"skipped,omitempty"`
	Errors       []string  `json:"errors,omitempty"`
}

// Page is one page sent.
type Page struct {
	Responder string    `json:"responder"`
	Tier      int       `json:"tier"`
	At        time.Time `json:"at"`
	Delivery  any       `json:"delivery,omitempty"`
}

// Skip is a responder not paged, and why.
type Skip struct {
	Responder string `json:"responder"`
	Tier      int    `json:"tier"`
	Reason    string `json:"reason"`
}

// Ack is the payload of AckSignal.
type Ack struct {
	By   string `json:"by"`
	Note string `json:"note,omitempty"`
}

// Input is the payload of InputSignal.
type Input struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
	By    string `json:"by,omitempty"`
}

// State is what StateQuery returns.
type State struct {
	Playbook string         `json:"playbook"`
	Hash     string         `json:"hash"`
	Current  string         `json:"current"` // step id running now, "" when done
	Waiting  string         `json:"waiting,omitempty"`
	Outputs  map[string]any `json:"outputs"`
	Vars     map[string]any `json:"vars"`
	Alerts   int            `json:"alerts"`
	Result   *Result        `json:"result,omitempty"`
}
