package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/soar-dev/soar/playbooks"
	"github.com/soar-dev/soar/workflows"
)

// Requests the API refuses never reach Temporal, so these run without it.
func TestAPIRejectsBadRequests(t *testing.T) {
	t.Parallel()
	api := &API{Library: &Library{}, MaxBody: 64}
	h := api.Handler()
	tests := []struct {
		name, body string
		code       int
		want       string
	}{
		{"empty", "", 400, "empty body"},
		{"malformed", "{\n  \"type\": }", 400, "line 2, column 11"},
		{"not an object", `[1]`, 400, "malformed JSON"},
		{"missing type", `[{"type":"a"},{"user":"x"}]`, 400, "alerts[1].type: missing"},
		{"too big", `{"type":"` + strings.Repeat("x", 100) + `"}`, 413, "larger than 64 bytes"},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/alerts", strings.NewReader(tc.body)))
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s: %d %s, want %d containing %q", tc.name, rec.Code, rec.Body, tc.code, tc.want)
		}
	}
}

// The in-flight limit counts alerts, not requests: when the alerts of a
// request do not fit, the API says so at once, with Retry-After, instead
// of queueing without bound. A request bigger than any batch may be is
// refused outright.
func TestAPIAnswers429WhenSaturated(t *testing.T) {
	t.Parallel()
	api := &API{Library: &Library{}, MaxInflight: 3, MaxAlerts: 2, Logger: slog.New(slog.DiscardHandler)}
	h := api.Handler()
	api.inflight = 2
	rec, _ := postJSON(t, h, "/api/alerts", `[{"type":"a"},{"type":"a"}]`)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	if rec, _ := postJSON(t, h, "/api/alerts", `{"type":"a"}`); rec.Code != http.StatusAccepted {
		t.Fatalf("one alert fits: %d %s", rec.Code, rec.Body)
	}
	rec, _ = postJSON(t, h, "/api/alerts", `[{"type":"a"},{"type":"a"},{"type":"a"}]`)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "at most 2 per request") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if api.inflight != 2 {
		t.Fatalf("%d slots held after the requests, want 2", api.inflight)
	}
}

// With no worker to count an alert, the API neither hangs nor fails the
// alert: past UpdateWait it confirms the run is persisted and answers
// pending; the alerts after it are left for the client to resend.
func TestAPIUpdateWaitIsBounded(t *testing.T) {
	t.Parallel()
	fake := &fakeTemporal{uws: func(ctx context.Context, _ client.StartWorkflowOptions, _ client.UpdateWorkflowOptions) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	}}
	fake.describe = func(id string) (enumspb.WorkflowExecutionStatus, error) {
		if strings.HasSuffix(id, "/gone") {
			return 0, serviceerror.NewNotFound("no such workflow")
		}
		return enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
	}
	h := (&API{Client: fake, Library: testLibrary(t), UpdateWait: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}).Handler()

	rec, out := postJSON(t, h, "/api/alerts", `{"type":"test.slow","user":"ann"}`)
	if rec.Code != http.StatusAccepted || out.Alerts[0].Status != AlertAccepted || !out.Alerts[0].Runs[0].Pending || out.Alerts[0].Runs[0].RunID == "" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec, out = postJSON(t, h, "/api/alerts", `[{"type":"test.slow","user":"ann"},{"type":"test.slow","user":"bob"}]`)
	if rec.Code != http.StatusServiceUnavailable || out.Alerts[0].Status != AlertAccepted || out.Alerts[1].Status != AlertRetry {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec, out = postJSON(t, h, "/api/alerts", `{"type":"test.slow","user":"gone"}`)
	if rec.Code != http.StatusServiceUnavailable || out.Alerts[0].Status != AlertRetry || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("unconfirmed start: %d %s", rec.Code, rec.Body)
	}
}

func TestAlertIDIsStable(t *testing.T) {
	t.Parallel()
	a := map[string]any{"type": "x", "user": "alice", "n": 1.0}
	b := map[string]any{"n": 1.0, "user": "alice", "type": "x"}
	if AlertID(a) != AlertID(b) || AlertID(a) == AlertID(map[string]any{"type": "y"}) {
		t.Fatal("content ids must be stable and distinct")
	}
	if AlertID(map[string]any{"id": "okta-1"}) != "okta-1" {
		t.Fatal("an alert's own id wins")
	}
}

// fakeTemporal answers the API's update-with-start calls without a server:
// uws decides each call's outcome from the start options.
type fakeTemporal struct {
	client.Client
	uws      func(ctx context.Context, start client.StartWorkflowOptions, upd client.UpdateWorkflowOptions) (int, error)
	describe func(id string) (enumspb.WorkflowExecutionStatus, error)
	signals  []sentSignal
}

type sentSignal struct {
	WorkflowID, RunID, Name string
	Arg                     any
}

// SignalWorkflow finds only runs of workflow ID "open" ("run-1" is closed).
func (f *fakeTemporal) SignalWorkflow(_ context.Context, id, runID, name string, arg any) error {
	if id != "open" || runID == "run-1" {
		return serviceerror.NewNotFound("workflow execution not found")
	}
	f.signals = append(f.signals, sentSignal{id, runID, name, arg})
	return nil
}

func (f *fakeTemporal) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	st, err := f.describe(id)
	if err != nil {
		return nil, err
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: "run-" + id}, Status: st}}, nil
}

type fakeStart struct {
	opts client.StartWorkflowOptions
	run  client.WorkflowRun
}

func (o *fakeStart) Get(ctx context.Context) (client.WorkflowRun, error) {
	if o.run == nil {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return o.run, nil
}

type fakeRun struct {
	client.WorkflowRun
	id string
}

func (r fakeRun) GetID() string    { return r.id }
func (r fakeRun) GetRunID() string { return "run-" + r.id }

type fakeUpdate struct {
	client.WorkflowUpdateHandle
	alerts int
}

func (u fakeUpdate) Get(_ context.Context, v any) error {
	*v.(*int) = u.alerts
	return nil
}

func (f *fakeTemporal) NewWithStartWorkflowOperation(opts client.StartWorkflowOptions, _ any, _ ...any) client.WithStartWorkflowOperation {
	return &fakeStart{opts: opts}
}

func (f *fakeTemporal) UpdateWithStartWorkflow(ctx context.Context, o client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	op := o.StartWorkflowOperation.(*fakeStart)
	n, err := f.uws(ctx, op.opts, o.UpdateOptions)
	var app *temporal.ApplicationError
	if err == nil || errors.As(err, &app) {
		// The start went through; the update failed or did not.
		op.run = fakeRun{id: op.opts.ID}
	}
	if err != nil {
		return nil, err
	}
	return fakeUpdate{alerts: n}, nil
}

// testLibrary routes type test.slow by user (testdata/playbooks/slow.yaml).
func testLibrary(t *testing.T) *Library {
	t.Helper()
	env, err := playbooks.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	lib, err := LoadLibrary(env, playbooks.MergeCatalogs(), slog.New(slog.DiscardHandler), "testdata/playbooks/slow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

type alertsBody struct {
	Error  string
	Alerts []AlertResult
}

func postJSON(t *testing.T, h http.Handler, path, body string) (*httptest.ResponseRecorder, alertsBody) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
	var out alertsBody
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec, out
}

// An alert Temporal rejects for good is reported in its own result and the
// batch goes on; a passing failure answers 503 and says which alerts to
// resend.
func TestAPIClassifiesStartErrors(t *testing.T) {
	t.Parallel()
	fake := &fakeTemporal{uws: func(_ context.Context, start client.StartWorkflowOptions, _ client.UpdateWorkflowOptions) (int, error) {
		switch {
		case strings.HasSuffix(start.ID, "/bad"):
			return 0, fmt.Errorf("failed workflow start: %w", serviceerror.NewInvalidArgument("WorkflowId exceeds maximum allowed length"))
		case strings.HasSuffix(start.ID, "/down"):
			return 0, serviceerror.NewUnavailable("connection refused")
		}
		return 1, nil
	}}
	h := (&API{Client: fake, Library: testLibrary(t), Logger: slog.New(slog.DiscardHandler)}).Handler()

	rec, out := postJSON(t, h, "/api/alerts", `[{"type":"test.slow","user":"bad"},{"type":"test.slow","user":"ok"},{"type":"nothing"}]`)
	if rec.Code != http.StatusAccepted || len(out.Alerts) != 3 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if a := out.Alerts[0]; a.Status != AlertRejected || !strings.Contains(a.Error, "maximum allowed length") || a.Runs[0].Error == "" {
		t.Errorf("rejected alert: %+v", a)
	}
	if a := out.Alerts[1]; a.Status != AlertAccepted || a.Runs[0].RunID != "run-soar/slow/ok" {
		t.Errorf("accepted alert: %+v", a)
	}
	if a := out.Alerts[2]; a.Status != AlertUnmatched {
		t.Errorf("unmatched alert: %+v", a)
	}

	rec, out = postJSON(t, h, "/api/alerts", `[{"type":"test.slow","user":"ok"},{"type":"test.slow","user":"down"},{"type":"test.slow","user":"later"}]`)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || len(out.Alerts) != 3 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var got []string
	for _, a := range out.Alerts {
		got = append(got, a.Status)
	}
	if want := []string{AlertAccepted, AlertRetry, AlertRetry}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v\n%s", got, want, rec.Body)
	}
}

func TestShortIDIsStableAndBounded(t *testing.T) {
	t.Parallel()
	long := "soar/pb/" + strings.Repeat("é", 600)
	s := shortID(long)
	if len(s) > maxIDLength || !utf8.ValidString(s) || !strings.HasPrefix(s, "soar/pb/éé") || s != shortID(long) {
		t.Fatalf("shortID: %q (%d bytes)", s, len(s))
	}
	if shortID(long+"x") == s {
		t.Fatal("different ids must stay different")
	}
	if shortID("soar/pb/alice") != "soar/pb/alice" {
		t.Fatal("short ids are kept as they are")
	}
}

// An attached alert sends the run only its id, and a run that counts no
// more alerts still takes it: attached, not counted, not an error.
func TestAPIAttachesPastTheAlertLimit(t *testing.T) {
	t.Parallel()
	var args []any
	fake := &fakeTemporal{uws: func(_ context.Context, start client.StartWorkflowOptions, upd client.UpdateWorkflowOptions) (int, error) {
		args = upd.Args
		if strings.HasSuffix(start.ID, "/full") {
			return 0, temporal.NewApplicationError("alert limit reached: the run holds 1000 alerts", "")
		}
		return 2, nil
	}}
	h := (&API{Client: fake, Library: testLibrary(t), Logger: slog.New(slog.DiscardHandler)}).Handler()
	rec, out := postJSON(t, h, "/api/alerts", `{"id":"a1","type":"test.slow","user":"ann","note":"`+strings.Repeat("x", 500)+`"}`)
	if rec.Code != http.StatusAccepted || !out.Alerts[0].Runs[0].Attached || !out.Alerts[0].Runs[0].Counted {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if len(args) != 1 || !reflect.DeepEqual(args[0], workflows.RunInput{AlertID: "a1"}) {
		t.Fatalf("update args %+v, want only the alert id", args)
	}
	rec, out = postJSON(t, h, "/api/alerts", `{"id":"a2","type":"test.slow","user":"full"}`)
	run := out.Alerts[0].Runs[0]
	if rec.Code != http.StatusAccepted || out.Alerts[0].Status != AlertAccepted || !run.Attached || run.Counted || run.RunID == "" || run.Error != "" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

// Acks and inputs are checked field by field before anything is sent, and
// a run_id in the body targets that run only.
func TestAPIChecksAcksAndInputs(t *testing.T) {
	t.Parallel()
	fake := &fakeTemporal{}
	h := (&API{Client: fake, Library: &Library{}, Logger: slog.New(slog.DiscardHandler)}).Handler()
	tests := []struct {
		path, body string
		code       int
		want       string
		sent       *sentSignal
	}{
		{"/api/ack/open", `{"by":123}`, 400, "by: must be a string", nil},
		{"/api/ack/open", `{}`, 400, "by: missing", nil},
		{"/api/ack/open", `{"by":" "}`, 400, "by: must be a non-empty string", nil},
		{"/api/ack/open", `{"by":"ann","note":5}`, 400, "note: must be a string", nil},
		{"/api/ack/open", `{"by":"ann","not":"x"}`, 400, "not: unknown field", nil},
		{"/api/ack/open", `[]`, 400, "malformed JSON", nil},
		{"/api/ack/open", `{"by":"ann","run_id":7}`, 400, "run_id: must be a string", nil},
		{"/api/input/open", `{"value":"yes"}`, 400, "name: missing", nil},
		{"/api/input/open", `{"name":"ok","by":false}`, 400, "by: must be a string", nil},
		{"/api/ack/open", `{"by":"ann","note":"on it"}`, 202, "sent",
			&sentSignal{"open", "", workflows.AckSignal, workflows.Ack{By: "ann", Note: "on it"}}},
		{"/api/ack/open", `{"by":"ann","run_id":"run-2"}`, 202, "sent",
			&sentSignal{"open", "run-2", workflows.AckSignal, workflows.Ack{By: "ann"}}},
		{"/api/ack/open", `{"by":"ann","run_id":"run-1"}`, 404, "run run-1 of workflow id open is not open", nil},
		{"/api/ack/closed", `{"by":"ann"}`, 404, "no open run", nil},
		{"/api/input/open", `{"name":"ok","value":{"a":1},"by":"fay"}`, 202, "sent",
			&sentSignal{"open", "", workflows.InputSignal, workflows.Input{Name: "ok", Value: map[string]any{"a": 1.0}, By: "fay"}}},
	}
	for _, tc := range tests {
		fake.signals = nil
		rec, _ := postJSON(t, h, tc.path, tc.body)
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s %s: %d %s, want %d containing %q", tc.path, tc.body, rec.Code, rec.Body, tc.code, tc.want)
		}
		if tc.sent == nil && len(fake.signals) > 0 || tc.sent != nil && (len(fake.signals) != 1 || !reflect.DeepEqual(fake.signals[0], *tc.sent)) {
			t.Errorf("%s %s: sent %+v, want %+v", tc.path, tc.body, fake.signals, tc.sent)
		}
	}
}
