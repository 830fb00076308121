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
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/soar-dev/soar/workflows"
)

// API is soar's HTTP API: alerts in, run state out.
type API struct {
	Client    client.Client
	Library   *Library
	TaskQueue string
	// MaxBody bounds a request body (default 1 MiB).
	MaxBody int64
	// MaxInflight bounds alerts being started at once; beyond it the API
	// answers 429 with Retry-After rather than queueing without bound.
	MaxInflight int
	Logger      *slog.Logger
	// Ready reports whether the process can take alerts (worker started).
	Ready func() error

	slots chan struct{}
}

// Handler returns the API's routes.
func (a *API) Handler() http.Handler {
	if a.MaxBody <= 0 {
		a.MaxBody = 1 << 20
	}
	if a.MaxInflight <= 0 {
		a.MaxInflight = 256
	}
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	if a.TaskQueue == "" {
		a.TaskQueue = workflows.TaskQueue
	}
	a.slots = make(chan struct{}, a.MaxInflight)
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

// AlertResult is what POST /api/alerts answers for each alert.
type AlertResult struct {
	ID      string      `json:"id"`
	Type    string      `json:"type"`
	Matched []string    `json:"matched"`
	Runs    []RunResult `json:"runs"`
	// Unmatched is true when no playbook handles the alert type; the alert
	// is logged and nothing runs.
	Unmatched bool `json:"unmatched,omitempty"`
}

// RunResult is one run an alert started or attached to.
type RunResult struct {
	Playbook   string `json:"playbook"`
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	Attached   bool   `json:"attached"`  // the alert joined an open run with the same dedup key
	Duplicate  bool   `json:"duplicate"` // this very alert was already handled
	Alerts     int    `json:"alerts"`    // alerts the run holds now
}

func (a *API) postAlerts(w http.ResponseWriter, r *http.Request) {
	alerts, status, err := decodeAlerts(http.MaxBytesReader(w, r.Body, a.MaxBody), a.MaxBody)
	if err != nil {
		writeJSON(w, status, err)
		return
	}
	select {
	case a.slots <- struct{}{}:
		defer func() { <-a.slots }()
	default:
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusTooManyRequests, apiError{Error: "too many alerts in flight; retry after 1s"})
		return
	}
	results := make([]AlertResult, 0, len(alerts))
	for _, alert := range alerts {
		res, err := a.accept(r.Context(), alert)
		if err != nil {
			// Alerts before this one are started and stay started; the
			// client retries the batch and the alert ids make that safe.
			a.Logger.Error("start run", "alert", res.ID, "err", err)
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, apiError{
				Error:   fmt.Sprintf("alert %s: could not start its run: %v", res.ID, err),
				Details: []string{fmt.Sprintf("%d alert(s) before it were accepted; retrying the whole request is safe", len(results))},
			})
			return
		}
		results = append(results, res)
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"alerts": results})
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

// accept routes one alert and starts or attaches its runs.
func (a *API) accept(ctx context.Context, alert map[string]any) (AlertResult, error) {
	id := AlertID(alert)
	res := AlertResult{ID: id, Type: alert["type"].(string), Matched: []string{}, Runs: []RunResult{}}
	matches := a.Library.Route(alert, id, time.Now())
	if len(matches) == 0 {
		res.Unmatched = true
		a.Logger.Warn("no playbook matches the alert", "alert", id, "type", res.Type)
		return res, nil
	}
	for _, m := range matches {
		res.Matched = append(res.Matched, m.Playbook.Name)
		run, err := a.start(ctx, m, alert, id)
		if err != nil {
			return res, err
		}
		res.Runs = append(res.Runs, run)
	}
	return res, nil
}

// start starts the run for a match, or attaches the alert to the open run
// with the same workflow ID, in one call (update-with-start). It returns
// once Temporal has persisted the start or the attachment.
func (a *API) start(ctx context.Context, m Match, alert map[string]any, id string) (RunResult, error) {
	in := m.RunInput(alert, id)
	out := RunResult{Playbook: m.Playbook.Name, WorkflowID: m.WorkflowID}
	reuse := enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
	if m.PerAlert {
		reuse = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	}
	for attempt := 0; ; attempt++ {
		op := a.Client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
			ID:                       m.WorkflowID,
			TaskQueue:                a.TaskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
			WorkflowIDReusePolicy:    reuse,
			StaticSummary:            summaryOf(alert, m),
			StaticDetails:            fmt.Sprintf("playbook **%s** v%d (`%s`)", m.Playbook.Name, m.Playbook.Version, m.Playbook.Hash[:12]),
			TypedSearchAttributes:    startAttributes(alert, m),
		}, workflows.WorkflowType, in)
		h, err := a.Client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: op,
			UpdateOptions: client.UpdateWorkflowOptions{
				UpdateID:     id, // the same alert never counts twice
				UpdateName:   workflows.AlertUpdate,
				Args:         []any{in},
				WaitForStage: client.WorkflowUpdateStageCompleted,
			},
		})
		if err == nil {
			err = h.Get(ctx, &out.Alerts)
		}
		var already *serviceerror.WorkflowExecutionAlreadyStarted
		switch {
		case err == nil:
			run, rerr := op.Get(ctx)
			if rerr != nil {
				return out, rerr
			}
			out.RunID, out.Attached = run.GetRunID(), out.Alerts > 1
			return out, nil
		case errors.As(err, &already):
			// A per-alert run for this alert exists and has finished.
			out.Duplicate, out.RunID = true, already.RunId
			return out, nil
		case isFinishing(err) && attempt < 5:
			// The open run was finishing as the alert arrived; once it
			// closes, the next attempt starts a new run.
			time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
		default:
			return out, err
		}
	}
}

func isFinishing(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && strings.Contains(ae.Error(), "run has finished")
}

func summaryOf(alert map[string]any, m Match) string {
	if t, ok := alert["title"].(string); ok && t != "" {
		return t
	}
	s := fmt.Sprintf("%v", alert["type"])
	if u, ok := alert["user"].(string); ok {
		s += " for " + u
	}
	return s + " (" + m.Playbook.Name + ")"
}

func startAttributes(alert map[string]any, m Match) temporal.SearchAttributes {
	up := []temporal.SearchAttributeUpdate{
		workflows.AttrPlaybook.ValueSet(m.Playbook.Name),
		workflows.AttrPlaybookVersion.ValueSet(int64(m.Playbook.Version)),
		workflows.AttrAlertType.ValueSet(fmt.Sprint(alert["type"])),
	}
	if u, ok := alert["user"].(string); ok && u != "" {
		up = append(up, workflows.AttrUser.ValueSet(u))
	}
	return temporal.NewSearchAttributes(up...)
}

// RunStatus is GET /api/runs/{id}.
type RunStatus struct {
	WorkflowID string            `json:"workflow_id"`
	RunID      string            `json:"run_id"`
	Status     string            `json:"status"`
	Result     *workflows.Result `json:"result,omitempty"`
	State      *workflows.State  `json:"state,omitempty"`
}

func (a *API) getRun(w http.ResponseWriter, r *http.Request) {
	st, err := RunState(r.Context(), a.Client, r.PathValue("id"))
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			writeJSON(w, http.StatusNotFound, apiError{Error: "no run with workflow id " + r.PathValue("id")})
			return
		}
		writeJSON(w, http.StatusBadGateway, apiError{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// RunState describes the latest run of a workflow ID: its result when it has
// finished, its live state otherwise.
func RunState(ctx context.Context, c client.Client, id string) (*RunStatus, error) {
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return nil, err
	}
	info := desc.GetWorkflowExecutionInfo()
	st := &RunStatus{WorkflowID: id, RunID: info.GetExecution().GetRunId(),
		Status: strings.ToLower(strings.TrimPrefix(info.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_"))}
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		v, err := c.QueryWorkflow(ctx, id, st.RunID, workflows.StateQuery)
		if err != nil {
			return nil, err
		}
		st.State = &workflows.State{}
		if err := v.Get(st.State); err != nil {
			return nil, err
		}
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		st.Result = &workflows.Result{}
		if err := c.GetWorkflow(ctx, id, st.RunID).Get(ctx, st.Result); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// signal forwards an acknowledgement or a wait_for input to a run.
func (a *API) signal(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var payload map[string]any
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, a.MaxBody)).Decode(&payload); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: "malformed JSON: " + err.Error()})
			return
		}
		if name == workflows.InputSignal {
			if n, _ := payload["name"].(string); n == "" {
				writeJSON(w, http.StatusBadRequest, apiError{Error: "name: missing; say which wait_for input this answers"})
				return
			}
		}
		if err := a.Client.SignalWorkflow(r.Context(), r.PathValue("id"), "", name, payload); err != nil {
			var nf *serviceerror.NotFound
			if errors.As(err, &nf) {
				writeJSON(w, http.StatusNotFound, apiError{Error: "no open run with workflow id " + r.PathValue("id")})
				return
			}
			writeJSON(w, http.StatusBadGateway, apiError{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "sent"})
	}
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
