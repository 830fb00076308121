package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/soar-dev/soar/playbooks"
	"github.com/soar-dev/soar/workflows"
)

// Library is the set of playbooks an API routes alerts to. It is loaded
// once at start: files are compiled once, not per alert.
type Library struct {
	Playbooks []*playbooks.Compiled
	logger    *slog.Logger
}

// LoadLibrary compiles every playbook under dirs. Any invalid playbook fails
// the load with all errors listed: a SOC must not run half its playbooks
// without knowing.
func LoadLibrary(env *playbooks.Env, cat playbooks.Catalog, logger *slog.Logger, dirs ...string) (*Library, error) {
	compiled, errs, err := playbooks.Load(env, cat, dirs...)
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("playbooks have errors:\n%w", errs)
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Library{Playbooks: compiled, logger: logger}, nil
}

// Match is one playbook an alert starts (or attaches to).
type Match struct {
	Playbook   *playbooks.Compiled
	DedupKey   string
	WorkflowID string
	// PerAlert is true when the playbook has no dedup key: the run belongs
	// to this one alert, so a retried alert must not start a second run.
	PerAlert bool
}

// Route returns the playbooks an alert starts. A trigger filter or dedup
// key that fails to evaluate does not drop the alert: the playbook runs
// (and its own errors escalate), keyed by the alert id.
func (l *Library) Route(alert map[string]any, alertID string, now time.Time) []Match {
	typ, _ := alert["type"].(string)
	act := &playbooks.Activation{Alert: alert, Now: now}
	var out []Match
	for _, pb := range l.Playbooks {
		if !pb.On.Matches(typ) {
			continue
		}
		if pb.On.If != nil {
			ok, err := pb.EvalBool(pb.On.If, act)
			if err != nil {
				l.logger.Warn("trigger filter failed; running the playbook anyway", "playbook", pb.Name, "alert", alertID, "err", err)
			} else if !ok {
				continue
			}
		}
		m := Match{Playbook: pb, DedupKey: alertID, PerAlert: true}
		if pb.Dedup != nil {
			key, err := pb.Eval(pb.Dedup, act)
			if s, isStr := key.(string); err == nil && isStr && s != "" {
				m.DedupKey, m.PerAlert = s, false
			} else {
				l.logger.Warn("dedup key failed; the alert gets its own run", "playbook", pb.Name, "alert", alertID, "err", err)
			}
		}
		m.WorkflowID = "soar/" + pb.Name + "/" + m.DedupKey
		out = append(out, m)
	}
	return out
}

// RunInput is the workflow input for a match.
func (m Match) RunInput(alert map[string]any, alertID string) workflows.RunInput {
	pb := m.Playbook
	return workflows.RunInput{
		Playbook: workflows.PlaybookSource{Name: pb.Name, Version: pb.Version, File: pb.File, Source: string(pb.Source), Hash: pb.Hash},
		Alert:    alert,
		AlertID:  alertID,
	}
}

// AlertID is the alert's own "id" when it has one, otherwise a hash of its
// content, so that a client retrying the same alert never starts a second
// run for it.
func AlertID(alert map[string]any) string {
	if id, ok := alert["id"].(string); ok && strings.TrimSpace(id) != "" {
		return id
	}
	b, _ := json.Marshal(alert) // map keys are sorted: the encoding is canonical
	sum := sha256.Sum256(b)
	return "h-" + hex.EncodeToString(sum[:8])
}
