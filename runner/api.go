package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/soar-dev/soar/workflows"
)

// API is soar's HTTP API: alerts in, run state out.
type API struct {
	Client    client.Client
	Library   *Library
	TaskQueue string
	// MaxBody bounds a request body (default 1 MiB).
	MaxBody int64
	// MaxAlerts bounds the alerts in one request (default 1,000, at most
	// MaxInflight); a bigger batch is refused with 413.
	MaxAlerts int
	// MaxInflight bounds the alerts being started at once, over all
	// requests (default 2,000); beyond it the API answers 429 with
	// Retry-After rather than queueing without bound.
	MaxInflight int
	// UpdateWait bounds the wait for a run to count an alert (default
	// 10s). Past it (no worker polls, or workers are far behind) the alert
	// is accepted as pending once Temporal confirms its run is persisted.
	UpdateWait time.Duration
	Logger     *slog.Logger
	// Ready reports whether the process can take alerts (worker started).
	Ready func() error

	mu       sync.Mutex
	inflight int
}

// APILimits are the HTTP API's bounds (see API for each).
type APILimits struct {
	MaxBody     int64
	MaxAlerts   int
	MaxInflight int
	UpdateWait  time.Duration
}

// DefaultAPILimits are the bounds an API takes for limits left zero.
var DefaultAPILimits = APILimits{MaxBody: 1 << 20, MaxAlerts: 1000, MaxInflight: 2000, UpdateWait: 10 * time.Second}

// confirmWait bounds the check that a run is persisted after UpdateWait
// has passed.
const confirmWait = 2 * time.Second

// Handler returns the API's routes.
func (a *API) Handler() http.Handler {
	if a.MaxBody <= 0 {
		a.MaxBody = DefaultAPILimits.MaxBody
	}
	if a.MaxInflight <= 0 {
		a.MaxInflight = DefaultAPILimits.MaxInflight
	}
	if a.MaxAlerts <= 0 {
		a.MaxAlerts = DefaultAPILimits.MaxAlerts
	}
	// A request bigger than the in-flight limit could never be taken.
	a.MaxAlerts = min(a.MaxAlerts, a.MaxInflight)
	if a.UpdateWait <= 0 {
		a.UpdateWait = DefaultAPILimits.UpdateWait
	}
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	if a.TaskQueue == "" {
		a.TaskQueue = workflows.TaskQueue
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/alerts", a.postAlerts)
	mux.HandleFunc("GET /api/runs/{id...}", a.getRun)
	mux.HandleFunc("POST /api/ack/{id...}", a.signal(workflows.AckSignal))
	mux.HandleFunc("POST /api/input/{id...}", a.signal(workflows.InputSignal))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	return mux
}

// reserve takes n in-flight alert slots, or none when they are not all free.
func (a *API) reserve(n int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inflight+n > a.MaxInflight {
		return false
	}
	a.inflight += n
	return true
}

func (a *API) release(n int) {
	a.mu.Lock()
	a.inflight -= n
	a.mu.Unlock()
}

// apiError is an error answer: {"error": "...", "details": [...]}.
type apiError struct {
	Error   string   `json:"error"`
	Details []string `json:"details,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Alert statuses in a POST /api/alerts answer. A client resends only the
// alerts whose status is AlertRetry.
const (
	// AlertAccepted: every run the alert matched is started or attached to
	// and persisted by Temporal.
	AlertAccepted = "accepted"
	// AlertUnmatched: no playbook handles the alert type; nothing runs.
	AlertUnmatched = "unmatched"
	// AlertRejected: Temporal refused a run for a reason that resending the
	// same alert will not change; Error says why.
	AlertRejected = "rejected"
	// AlertRetry: the alert was not (or not fully) accepted because of a
	// passing condition, or was not tried after one; send it again.
	AlertRetry = "retry"
)

// AlertResult is what POST /api/alerts answers for each alert, in the
// order the alerts were sent.
type AlertResult struct {
	ID      string      `json:"id"`
	Type    string      `json:"type"`
	Status  string      `json:"status"`
	Error   string      `json:"error,omitempty"`
	Matched []string    `json:"matched"`
	Runs    []RunResult `json:"runs"`
	// Unmatched is true when no playbook handles the alert type; the alert
	// is logged and nothing runs.
	Unmatched bool `json:"unmatched,omitempty"`
}

// pending reports whether a run of the alert was accepted without being
// counted yet.
func (r AlertResult) pending() bool {
	for _, run := range r.Runs {
		if run.Pending {
			return true
		}
	}
	return false
}

// RunResult is one run an alert started or attached to.
type RunResult struct {
	Playbook   string `json:"playbook"`
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id,omitempty"`
	Attached   bool   `json:"attached"`  // the alert joined an open run with the same dedup key
	Duplicate  bool   `json:"duplicate"` // this very alert was already handled
	Alerts     int    `json:"alerts"`    // alerts the run holds now
	// Counted is false when the run joined the alert but no longer counts
	// alerts (it holds as many as it may); Alerts is then unknown (0).
	Counted bool `json:"counted"`
	// Pending is true when the run is persisted but no worker counted the
	// alert within the API's update wait; Alerts is then unknown (0).
	Pending bool `json:"pending,omitempty"`
	// Error is why Temporal rejected this run (the alert's status is then
	// AlertRejected).
	Error string `json:"error,omitempty"`
}

// alertsAnswer is the body of a POST /api/alerts answer. Error and Details
// are set when the request as a whole must be retried (503).
type alertsAnswer struct {
	Error   string        `json:"error,omitempty"`
	Details []string      `json:"details,omitempty"`
	Alerts  []AlertResult `json:"alerts"`
}

func (a *API) postAlerts(w http.ResponseWriter, r *http.Request) {
	alerts, status, err := decodeAlerts(http.MaxBytesReader(w, r.Body, a.MaxBody), a.MaxBody)
	if err != nil {
		writeJSON(w, status, err)
		return
	}
	if len(alerts) > a.MaxAlerts {
		writeJSON(w, http.StatusRequestEntityTooLarge, apiError{
			Error: fmt.Sprintf("%d alerts in one request; send at most %d per request", len(alerts), a.MaxAlerts)})
		return
	}
	if !a.reserve(len(alerts)) {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusTooManyRequests, apiError{
			Error: fmt.Sprintf("too many alerts in flight (limit %d); retry after 1s", a.MaxInflight)})
		return
	}
	defer a.release(len(alerts))
	results := make([]AlertResult, len(alerts))
	for i, alert := range alerts {
		results[i] = AlertResult{ID: AlertID(alert), Type: alert["type"].(string), Status: AlertRetry, Matched: []string{}, Runs: []RunResult{}}
	}
	for i, alert := range alerts {
		res, err := a.accept(r.Context(), alert)
		results[i] = res
		if err == nil && res.pending() && i < len(alerts)-1 {
			// No worker counted the alert in time: the ones after it would
			// each wait as long, holding the request and its slots.
			// Answer now; the client resends the rest.
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, alertsAnswer{
				Error:   fmt.Sprintf("alert %s: no worker took it within %s; it is accepted and pending, the alerts after it were not tried", res.ID, a.UpdateWait),
				Details: []string{fmt.Sprintf("%d of %d alert(s) were handled; resend the ones with status %q", i+1, len(alerts), AlertRetry)},
				Alerts:  results,
			})
			return
		}
		if err == nil {
			continue
		}
		// A passing failure (Temporal unavailable, overloaded, slow): the
		// alerts before this one stay accepted, this one and the rest are
		// marked retry, and the client resends those.
		a.Logger.Error("start run", "alert", res.ID, "err", err)
		results[i].Status, results[i].Error = AlertRetry, err.Error()
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, alertsAnswer{
			Error: fmt.Sprintf("alert %s: could not start its run: %v", res.ID, err),
			Details: []string{fmt.Sprintf("%d of %d alert(s) were handled; resend the ones with status %q (resending the whole request is safe for alerts with an id)",
				i, len(alerts), AlertRetry)},
			Alerts: results,
		})
		return
	}
	writeJSON(w, http.StatusAccepted, alertsAnswer{Alerts: results})
}

// decodeAlerts reads one alert object or an array of them and checks each
// has a type. Nothing is started unless every alert is well formed.
func decodeAlerts(body io.Reader, limit int64) ([]map[string]any, int, *apiError) {
	raw, err := io.ReadAll(body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, http.StatusRequestEntityTooLarge, &apiError{Error: fmt.Sprintf("body is larger than %d bytes", limit)}
	}
	if err != nil {
		return nil, http.StatusBadRequest, &apiError{Error: "read body: " + err.Error()}
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, http.StatusBadRequest, &apiError{Error: "empty body: send one alert object or an array of them"}
	}
	var alerts []map[string]any
	if raw[0] == '[' {
		err = json.Unmarshal(raw, &alerts)
	} else {
		var one map[string]any
		err = json.Unmarshal(raw, &one)
		alerts = []map[string]any{one}
	}
	if err != nil {
		return nil, http.StatusBadRequest, &apiError{Error: "malformed JSON: " + jsonErrorAt(raw, err)}
	}
	var problems []string
	for i, a := range alerts {
		switch typ, ok := a["type"].(string); {
		case a == nil:
			problems = append(problems, fmt.Sprintf("alerts[%d]: must be an object", i))
		case !ok || strings.TrimSpace(typ) == "":
			problems = append(problems, fmt.Sprintf("alerts[%d].type: missing; every alert needs a string type such as \"login.new_country\"", i))
		}
	}
	if len(problems) > 0 {
		return nil, http.StatusBadRequest, &apiError{Error: "invalid alerts; none were accepted", Details: problems}
	}
	return alerts, 0, nil
}

// jsonErrorAt adds line:col to a JSON syntax error.
func jsonErrorAt(raw []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	switch {
	case errors.As(err, &se):
		off = se.Offset - 1 // Offset counts the offending byte

	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(raw)) {
		return err.Error()
	}
	line, col := 1, 1
	for _, c := range raw[:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := a.Client.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "Temporal: " + err.Error()})
		return
	}
	if a.Ready != nil {
		if err := a.Ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, apiError{Error: err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "playbooks": len(a.Library.Playbooks())})
}
