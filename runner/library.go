package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/soar-dev/soar/playbooks"
	"github.com/soar-dev/soar/workflows"
)

// Library is the set of playbooks an API routes alerts to. Files are
// compiled when they change, never per alert; a run carries the source it
// started with, so a change affects new runs only.
type Library struct {
	env    *playbooks.Env
	cat    playbooks.Catalog
	dirs   []string
	logger *slog.Logger

	mu          sync.Mutex // serialises reloads
	fingerprint string
	current     atomic.Pointer[[]*playbooks.Compiled]
}

// LoadLibrary compiles every playbook under dirs. Any invalid playbook fails
// the load with all errors listed: a SOC must not run half its playbooks
// without knowing.
func LoadLibrary(env *playbooks.Env, cat playbooks.Catalog, logger *slog.Logger, dirs ...string) (*Library, error) {
	if logger == nil {
		logger = slog.Default()
	}
	l := &Library{env: env, cat: cat, dirs: dirs, logger: logger}
	if _, err := l.Reload(); err != nil {
		return nil, err
	}
	return l, nil
}

// Playbooks returns the playbooks in force.
func (l *Library) Playbooks() []*playbooks.Compiled {
	if p := l.current.Load(); p != nil {
		return *p
	}
	return nil
}

// Reload recompiles the playbooks when any file was added, removed or
// changed. With errors, the playbooks in force stay in force (a typo in one
// file never unloads the others) and the errors are returned.
func (l *Library) Reload() (changed bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fp, err := fingerprint(l.dirs)
	if err != nil {
		return false, err
	}
	if fp == l.fingerprint && l.current.Load() != nil {
		return false, nil
	}
	compiled, errs, err := playbooks.Load(l.env, l.cat, l.dirs...)
	if err != nil {
		return false, err
	}
	if len(errs) > 0 {
		l.fingerprint = fp // report a broken edit once, not on every poll
		return false, fmt.Errorf("playbooks have errors:\n%w", errs)
	}
	l.fingerprint = fp
	l.current.Store(&compiled)
	return true, nil
}

// Watch reloads the playbooks every interval until ctx ends, logging what
// changed and any errors.
func (l *Library) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := l.Reload()
		switch {
		case err != nil:
			l.logger.Error("playbooks not reloaded; the previous version stays in force", "err", err)
		case changed:
			names := make([]string, 0, len(l.Playbooks()))
			for _, pb := range l.Playbooks() {
				names = append(names, fmt.Sprintf("%s@%.8s", pb.Name, pb.Hash))
			}
			l.logger.Info("playbooks reloaded; new runs use them", "playbooks", names)
		}
	}
}

// fingerprint identifies the playbook files' names, sizes and times.
func fingerprint(dirs []string) (string, error) {
	files, err := playbooks.Files(dirs...)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s\x00%d\x00%d\n", f, info.Size(), info.ModTime().UnixNano())
	}
	return b.String(), nil
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
	for _, pb := range l.Playbooks() {
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
