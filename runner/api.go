package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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

// accept routes one alert and starts or attaches its runs. A run Temporal
// rejects for good is reported in the result and the alert's other runs
// still start; any other error is returned, for the client to retry.
func (a *API) accept(ctx context.Context, alert map[string]any) (AlertResult, error) {
	id := AlertID(alert)
	res := AlertResult{ID: id, Type: alert["type"].(string), Status: AlertAccepted, Matched: []string{}, Runs: []RunResult{}}
	matches := a.Library.Route(alert, id, time.Now())
	if len(matches) == 0 {
		res.Status, res.Unmatched = AlertUnmatched, true
		a.Logger.Warn("no playbook matches the alert", "alert", id, "type", res.Type)
		return res, nil
	}
	var rejected []string
	for _, m := range matches {
		res.Matched = append(res.Matched, m.Playbook.Name)
		run, err := a.start(ctx, m, alert, id)
		if err != nil && permanent(err) {
			a.Logger.Error("Temporal rejected the run; resending the alert will not help", "alert", id, "playbook", m.Playbook.Name, "err", err)
			run.Error = err.Error()
			rejected = append(rejected, fmt.Sprintf("playbook %s: %v", m.Playbook.Name, err))
		} else if err != nil {
			return res, err
		}
		res.Runs = append(res.Runs, run)
	}
	if len(rejected) > 0 {
		res.Status, res.Error = AlertRejected, strings.Join(rejected, "; ")
	}
	return res, nil
}

// permanent reports whether Temporal refused a start or an attachment for
// a reason in the request itself (an invalid argument, an update the
// workflow's validator rejects), which no retry changes. Anything else,
// including errors not recognised here, is treated as passing: the client
// retries, so no alert is dropped on a guess.
func permanent(err error) bool {
	var invalid *serviceerror.InvalidArgument
	var app *temporal.ApplicationError
	switch {
	case errors.As(err, &invalid):
		return true
	case errors.As(err, &app):
		return !isFinishing(err)
	}
	return status.Code(err) == codes.InvalidArgument
}

// maxIDLength bounds the workflow and update IDs the API sends. Temporal
// refuses longer IDs than its limit (1,000 bytes by default, often less),
// and an alert's id or dedup key comes from outside.
const maxIDLength = 200

// shortID returns id unchanged when it is at most maxIDLength bytes, and
// otherwise a readable prefix of it followed by a SHA-256 of the whole, so
// the same long id always maps to the same short one.
func shortID(id string) string {
	if len(id) <= maxIDLength {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	suffix := "~" + hex.EncodeToString(sum[:16])
	n := maxIDLength - len(suffix)
	for n > 0 && !utf8.RuneStart(id[n]) {
		n--
	}
	return id[:n] + suffix
}

// start starts the run for a match, or attaches the alert to the open run
// with the same workflow ID, in one call (update-with-start). It returns
// once a worker has counted the alert, or, past UpdateWait, once
// confirmStart has found the run persisted.
func (a *API) start(ctx context.Context, m Match, alert map[string]any, id string) (RunResult, error) {
	in := m.RunInput(alert, id)
	out := RunResult{Playbook: m.Playbook.Name, WorkflowID: shortID(m.WorkflowID)}
	reuse := enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
	if m.PerAlert {
		reuse = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	}
	for attempt := 0; ; attempt++ {
		op := a.Client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
			ID:                       out.WorkflowID,
			TaskQueue:                a.TaskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
			WorkflowIDReusePolicy:    reuse,
			StaticSummary:            summaryOf(alert, m),
			StaticDetails:            fmt.Sprintf("playbook **%s** v%d (`%s`)", m.Playbook.Name, m.Playbook.Version, m.Playbook.Hash[:12]),
			TypedSearchAttributes:    startAttributes(alert, m),
		}, workflows.WorkflowType, in)
		uctx, cancel := context.WithTimeout(ctx, a.UpdateWait)
		h, err := a.Client.UpdateWithStartWorkflow(uctx, client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: op,
			UpdateOptions: client.UpdateWorkflowOptions{
				UpdateID:   shortID(id), // the same alert never counts twice
				UpdateName: workflows.AlertUpdate,
				// The run needs only the id to count the alert; the alert
				// itself travels in the start, so history does not grow by
				// the playbook source for every attached alert.
				Args:         []any{workflows.RunInput{AlertID: id}},
				WaitForStage: client.WorkflowUpdateStageCompleted,
			},
		})
		if err == nil {
			err = h.Get(uctx, &out.Alerts)
		}
		// The SDK's own deadline may fire just before uctx's.
		var timeout *client.WorkflowUpdateServiceTimeoutOrCanceledError
		waited := err != nil && ctx.Err() == nil &&
			(uctx.Err() != nil || errors.As(err, &timeout) || errors.Is(err, context.DeadlineExceeded))
		cancel()
		if waited {
			return a.confirmStart(ctx, op, out)
		}
		var already *serviceerror.WorkflowExecutionAlreadyStarted
		switch {
		case err == nil:
			run, rerr := op.Get(ctx)
			if rerr != nil {
				return out, rerr
			}
			out.RunID, out.Attached, out.Counted = run.GetRunID(), out.Alerts > 1, true
			return out, nil
		case isLimitReached(err):
			// The run holds as many alerts as it counts; this one joined
			// it (the run handles the incident) without being counted.
			run, rerr := op.Get(ctx)
			if rerr != nil {
				return out, rerr
			}
			out.RunID, out.Attached = run.GetRunID(), true
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

// confirmStart answers an alert whose update outlived UpdateWait: accepted
// and pending when the run is persisted, a passing error otherwise. The
// start operation knows the run once Temporal has answered the start;
// Temporal holds that answer back while the update waits for a worker, so
// an open run under the workflow ID confirms it too.
func (a *API) confirmStart(ctx context.Context, op client.WithStartWorkflowOperation, out RunResult) (RunResult, error) {
	out.Pending = true
	// The start's answer, when Temporal gave it, is there already.
	gctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	run, err := op.Get(gctx)
	cancel()
	if err == nil {
		out.RunID = run.GetRunID()
		return out, nil
	}
	ctx, cancel = context.WithTimeout(ctx, confirmWait)
	defer cancel()
	desc, derr := a.Client.DescribeWorkflowExecution(ctx, out.WorkflowID, "")
	if derr == nil && desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		out.RunID = desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
		return out, nil
	}
	if derr == nil {
		derr = errors.New("no open run")
	}
	return RunResult{}, fmt.Errorf("no worker counted the alert within %s and its run is not confirmed (%v): %w",
		a.UpdateWait, derr, context.DeadlineExceeded)
}

// isLimitReached reports whether the run refused to count another alert
// because it holds as many as it may.
func isLimitReached(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && strings.Contains(ae.Error(), "alert limit reached")
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
	// A query needs a worker: without one it would wait for ever.
	ctx, cancel := context.WithTimeout(r.Context(), a.UpdateWait)
	defer cancel()
	st, err := RunState(ctx, a.Client, r.PathValue("id"))
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

// signal forwards an acknowledgement or a wait_for input to a run: the
// latest run of the workflow ID, or the run the body's run_id names, so an
// answer meant for an earlier incident never reaches a newer run.
func (a *API) signal(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body map[string]json.RawMessage
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, a.MaxBody)).Decode(&body); err != nil || body == nil {
			msg := "body must be a JSON object"
			if err != nil {
				msg = "malformed JSON: " + err.Error()
			}
			writeJSON(w, http.StatusBadRequest, apiError{Error: msg})
			return
		}
		payload, runID, err := signalPayload(name, body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
			return
		}
		id := r.PathValue("id")
		ctx, cancel := context.WithTimeout(r.Context(), a.UpdateWait)
		defer cancel()
		if err := a.Client.SignalWorkflow(ctx, id, runID, name, payload); err != nil {
			var nf *serviceerror.NotFound
			var invalid *serviceerror.InvalidArgument
			switch {
			case errors.As(err, &nf) && runID != "":
				writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("run %s of workflow id %s is not open", runID, id)})
			case errors.As(err, &nf):
				writeJSON(w, http.StatusNotFound, apiError{Error: "no open run with workflow id " + id})
			case errors.As(err, &invalid):
				writeJSON(w, http.StatusBadRequest, apiError{Error: invalid.Error()})
			default:
				writeJSON(w, http.StatusBadGateway, apiError{Error: err.Error()})
			}
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "sent"})
	}
}

// signalPayload checks the body of an ack or input request field by field
// and returns the signal to send and the run it targets ("" for the latest).
func signalPayload(name string, body map[string]json.RawMessage) (any, string, error) {
	str := func(field string, required bool) (string, error) {
		raw, ok := body[field]
		delete(body, field)
		var s string
		if !ok || string(raw) == "null" {
			if required {
				return "", fmt.Errorf("%s: missing; it must be a non-empty string", field)
			}
			return "", nil
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%s: must be a string, not %s", field, raw)
		}
		if required && strings.TrimSpace(s) == "" {
			return "", fmt.Errorf("%s: must be a non-empty string", field)
		}
		return s, nil
	}
	runID, err := str("run_id", false)
	if err != nil {
		return nil, "", err
	}
	var payload any
	switch name {
	case workflows.AckSignal:
		var ack workflows.Ack
		if ack.By, err = str("by", true); err != nil {
			return nil, "", fmt.Errorf("%w (who acknowledges)", err)
		}
		if ack.Note, err = str("note", false); err != nil {
			return nil, "", err
		}
		payload = ack
	case workflows.InputSignal:
		var in workflows.Input
		if in.Name, err = str("name", true); err != nil {
			return nil, "", fmt.Errorf("%w (which wait_for input this answers)", err)
		}
		if in.By, err = str("by", false); err != nil {
			return nil, "", err
		}
		if raw, ok := body["value"]; ok {
			delete(body, "value")
			if err := json.Unmarshal(raw, &in.Value); err != nil {
				return nil, "", fmt.Errorf("value: %w", err)
			}
		}
		payload = in
	}
	for field := range body {
		return nil, "", fmt.Errorf("%s: unknown field", field)
	}
	return payload, runID, nil
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
