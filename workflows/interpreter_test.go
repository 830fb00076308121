package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/soar-dev/soar/playbooks"
	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/workflows"
)

// fakePlugins answers plugin calls in process. The interpreter tests are
// about the workflow logic; end-to-end tests in runner/ use real plugin
// processes.
type fakePlugins struct {
	mu       sync.Mutex
	calls    []call
	handlers map[string]func(in map[string]any) (any, error)
}

type call struct {
	Action string
	Input  map[string]any
	Key    string
}

func (f *fakePlugins) Invoke(_ context.Context, plugin, action string, input json.RawMessage, key string) (json.RawMessage, error) {
	var in map[string]any
	if err := json.Unmarshal(input, &in); err != nil {
		return nil, err
	}
	name := plugin + "." + action
	f.mu.Lock()
	f.calls = append(f.calls, call{Action: name, Input: in, Key: key})
	h := f.handlers[name]
	f.mu.Unlock()
	if h == nil {
		return nil, plugins.Errorf(plugins.Permanent, "no fake for %s", name)
	}
	out, err := h(in)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

func (f *fakePlugins) callsTo(name string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.Action == name {
			out = append(out, c)
		}
	}
	return out
}

// socPlugins are fakes with a two-tier policy, an HR directory and a pager.
func socPlugins(hrStatus map[string]string) *fakePlugins {
	return &fakePlugins{handlers: map[string]func(map[string]any) (any, error){
		"geoip.lookup": func(in map[string]any) (any, error) {
			if in["ip"] == "81.2.69.142" {
				return map[string]any{"found": true, "country": "GB", "city": "London", "is_anonymous": false}, nil
			}
			return map[string]any{"found": true, "country": "BR", "city": "São Paulo", "is_anonymous": false}, nil
		},
		"hr.status": func(in map[string]any) (any, error) {
			st := hrStatus[fmt.Sprint(in["user"])]
			if st == "" {
				st = "working"
			}
			return map[string]any{"status": st, "timezone": "Europe/London", "travel": map[string]any{"countries": []any{"GB"}}}, nil
		},
		"oncall.who": func(in map[string]any) (any, error) {
			return map[string]any{"tiers": []any{
				map[string]any{"level": 1, "responders": []any{map[string]any{"id": "ann"}}},
				map[string]any{"level": 2, "responders": []any{map[string]any{"id": "bob"}, map[string]any{"id": "cat"}}},
			}}, nil
		},
		"page.send": func(in map[string]any) (any, error) {
			return map[string]any{"delivery_id": "d-" + fmt.Sprint(in["responder"])}, nil
		},
		"audit.record":          func(in map[string]any) (any, error) { return map[string]any{"id": "a1"}, nil },
		"identity.suspend_user": func(in map[string]any) (any, error) { return map[string]any{"suspended": true}, nil },
	}}
}

type harness struct {
	env     *testsuite.TestWorkflowEnvironment
	plugins *fakePlugins
}

func newHarness(t *testing.T, fp *fakePlugins) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	penv, err := playbooks.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	interp := &workflows.Interpreter{Cache: playbooks.NewCache(penv, nil, 16)}
	env.RegisterWorkflowWithOptions(interp.Run, workflow.RegisterOptions{Name: workflows.WorkflowType})
	env.RegisterActivityWithOptions((&workflows.Activities{Invoker: fp}).Invoke, activity.RegisterOptions{Name: workflows.InvokeActivity})
	return &harness{env: env, plugins: fp}
}

func input(t *testing.T, file string, src string, alert map[string]any) workflows.RunInput {
	t.Helper()
	if src == "" {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		src = string(b)
	}
	return workflows.RunInput{
		Playbook: workflows.PlaybookSource{Name: "test", File: file, Source: src, Hash: playbooks.Hash([]byte(src))},
		Alert:    alert,
		AlertID:  "alert-1",
	}
}

func (h *harness) run(t *testing.T, in workflows.RunInput) *workflows.Result {
	t.Helper()
	h.env.ExecuteWorkflow(workflows.WorkflowType, in)
	if !h.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	var res workflows.Result
	if err := h.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return &res
}

const newCountry = "../examples/playbooks/new-country-login.yaml"

func loginAlert(ip string) map[string]any {
	return map[string]any{"type": "login.new_country", "user": "alice", "source_ip": ip, "time": "2026-12-04T03:00:00Z", "severity": "high", "title": "New country login"}
}

func TestSilenceWhenHRExplains(t *testing.T) {
	t.Parallel()
	h := newHarness(t, socPlugins(map[string]string{"alice": "traveling"}))
	res := h.run(t, input(t, newCountry, "", loginAlert("81.2.69.142")))
	if res.Verdict != workflows.VerdictSilenced || !strings.Contains(res.Reason, "traveling") {
		t.Fatalf("verdict %q (%s), want silenced", res.Verdict, res.Reason)
	}
	if n := len(h.plugins.callsTo("page.send")); n != 0 {
		t.Fatalf("%d pages for a silenced alert", n)
	}
	if a := h.plugins.callsTo("audit.record"); len(a) != 1 || a[0].Input["verdict"] != "silenced" {
		t.Fatalf("audit calls: %+v", a)
	}
}

func TestEscalatesTierByTierUntilFallback(t *testing.T) {
	t.Parallel()
	h := newHarness(t, socPlugins(nil))
	start := h.env.Now()
	res := h.run(t, input(t, newCountry, "", loginAlert("200.1.1.1")))
	if res.Verdict != workflows.VerdictUnacknowledged {
		t.Fatalf("verdict %q (%s)", res.Verdict, res.Reason)
	}
	var got []string
	for _, p := range res.Escalation.Paged {
		got = append(got, fmt.Sprintf("%s@tier%d+%s", p.Responder, p.Tier, p.At.Sub(start).Round(time.Minute)))
	}
	want := "ann@tier1+0s bob@tier2+15m0s cat@tier2+15m0s soc-manager@tier3+30m0s"
	if strings.Join(got, " ") != want {
		t.Fatalf("pages %v, want %s", got, want)
	}
	keys := map[string]bool{}
	for _, c := range h.plugins.callsTo("page.send") {
		if keys[c.Key] {
			t.Fatalf("idempotency key %s used twice", c.Key)
		}
		keys[c.Key] = true
	}
}

func TestAcknowledgeStopsEscalation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, socPlugins(nil))
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(workflows.AckSignal, workflows.Ack{By: "ann"})
	}, 5*time.Minute)
	res := h.run(t, input(t, newCountry, "", loginAlert("200.1.1.1")))
	if res.Verdict != workflows.VerdictAcknowledged || res.Escalation.By != "ann" || res.Escalation.Tier != 1 {
		t.Fatalf("verdict %q by %q tier %d", res.Verdict, res.Escalation.By, res.Escalation.Tier)
	}
	if n := len(h.plugins.callsTo("page.send")); n != 1 {
		t.Fatalf("%d pages, want only tier 1", n)
	}
}

func TestSkipIfSkipsSickResponders(t *testing.T) {
	t.Parallel()
	h := newHarness(t, socPlugins(map[string]string{"ann": "sick", "bob": "on_leave"}))
	start := h.env.Now()
	res := h.run(t, input(t, newCountry, "", loginAlert("200.1.1.1")))
	if len(res.Escalation.Skipped) != 2 {
		t.Fatalf("skipped %+v, want ann and bob", res.Escalation.Skipped)
	}
	first := res.Escalation.Paged[0]
	if first.Responder != "cat" || first.At.Sub(start) != 0 {
		t.Fatalf("first page %+v: tier 2 should be paged at once when tier 1 is all skipped", first)
	}
}

func TestTriageErrorEscalatesNeverSilences(t *testing.T) {
	t.Parallel()
	fp := socPlugins(map[string]string{"alice": "traveling"})
	fp.handlers["hr.status"] = func(map[string]any) (any, error) {
		return nil, plugins.Errorf(plugins.Permanent, "BambooHR: 401 unauthorized")
	}
	h := newHarness(t, fp)
	res := h.run(t, input(t, newCountry, "", loginAlert("81.2.69.142")))
	if res.Verdict != workflows.VerdictEscalated || !strings.Contains(res.Error, "401") {
		t.Fatalf("verdict %q error %q, want escalated after the HR failure", res.Verdict, res.Error)
	}
	pages := fp.callsTo("page.send")
	if len(pages) == 0 || !strings.HasPrefix(fmt.Sprint(pages[0].Input["summary"]), "[triage failed]") {
		t.Fatalf("pages %+v", pages)
	}
	// A permanent error is not retried.
	alice := 0
	for _, c := range fp.callsTo("hr.status") {
		if c.Input["user"] == "alice" {
			alice++
		}
	}
	if alice != 1 {
		t.Fatalf("hr.status for alice called %d times for a permanent error", alice)
	}
}

func TestNonBoolConditionEscalates(t *testing.T) {
	t.Parallel()
	src := `name: t
on: { type: x }
steps:
  - id: decide
    if: alert.flag
    then:
      - silence: flagged benign
  - escalate: { policy: soc, page: { summary: "x" } }
`
	h := newHarness(t, socPlugins(nil))
	res := h.run(t, input(t, "t.yaml", src, map[string]any{"flag": "yes"}))
	if res.Verdict == workflows.VerdictSilenced || res.Error == "" {
		t.Fatalf("verdict %q error %q", res.Verdict, res.Error)
	}
}

func TestEscalationThatPagesNobodyKeepsTryingThenFails(t *testing.T) {
	t.Parallel()
	fp := socPlugins(nil)
	fp.handlers["page.send"] = func(map[string]any) (any, error) {
		return nil, plugins.Errorf(plugins.Permanent, "pager down")
	}
	h := newHarness(t, fp)
	start := h.env.Now()
	h.env.ExecuteWorkflow(workflows.WorkflowType, input(t, newCountry, "", loginAlert("200.1.1.1")))
	err := h.env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "paged nobody") {
		t.Fatalf("workflow error %v: a run that pages nobody must end Failed, visibly", err)
	}
	if took := h.env.Now().Sub(start); took < 24*time.Hour {
		t.Fatalf("gave up after %s, want the fail-safe to keep trying for a day", took)
	}
	if n := len(fp.callsTo("page.send")); n < 20 {
		t.Fatalf("only %d page attempts", n)
	}
}

// A pager outage shorter than ack_within delays the page; it does not end
// the escalation.
func TestPagesRetryThroughAnOutage(t *testing.T) {
	t.Parallel()
	fp := socPlugins(nil)
	calls := 0
	fp.handlers["page.send"] = func(in map[string]any) (any, error) {
		calls++
		if calls <= 6 {
			return nil, plugins.Errorf(plugins.Retryable, "PagerDuty 503")
		}
		return map[string]any{"delivery_id": "d"}, nil
	}
	h := newHarness(t, fp)
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(workflows.AckSignal, map[string]any{"by": "ann"}) }, 10*time.Minute)
	res := h.run(t, input(t, newCountry, "", loginAlert("200.1.1.1")))
	if res.Verdict != workflows.VerdictAcknowledged || res.Escalation.Paged[0].Responder != "ann" || res.Error != "" {
		t.Fatalf("%+v", res)
	}
}

// Everyone on call is unavailable and there is no fallback: they are paged
// anyway, since paging someone unavailable beats paging no one.
func TestEveryoneSkippedIsPagedAnyway(t *testing.T) {
	t.Parallel()
	h := newHarness(t, socPlugins(map[string]string{"ann": "sick", "bob": "sick", "cat": "on_leave"}))
	src := `name: t
on: { type: x }
steps:
  - escalate:
      policy: soc-primary
      skip_if: responder.hr.status in ["sick", "on_leave"]
      page: { summary: "x" }
`
	res := h.run(t, input(t, "t.yaml", src, map[string]any{}))
	if len(res.Escalation.Paged) == 0 || res.Error != "" {
		t.Fatalf("%+v", res)
	}
}

// A malformed ack neither blocks later acks nor other signals.
func TestMalformedSignalsDoNotBlock(t *testing.T) {
	t.Parallel()
	h := newHarness(t, socPlugins(nil))
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(workflows.InputSignal, map[string]any{"name": 42, "by": map[string]any{"id": "x"}})
		h.env.SignalWorkflow(workflows.AckSignal, "not an object")
	}, time.Minute)
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(workflows.AckSignal, map[string]any{"by": "ann"}) }, 2*time.Minute)
	res := h.run(t, input(t, newCountry, "", loginAlert("200.1.1.1")))
	if res.Verdict != workflows.VerdictAcknowledged || res.Escalation.By != "ann" {
		t.Fatalf("%+v", res.Escalation)
	}
}

func TestWaitForInputAndTimeout(t *testing.T) {
	t.Parallel()
	src := `name: t
on: { type: x }
steps:
  - id: settle
    wait: 10m
  - id: ask
    wait_for: { name: confirm, timeout: 30m, prompt: "ok?" }
  - id: decide
    if: steps.ask.received && steps.ask.value == "yes"
    then:
      - finish: { verdict: confirmed, reason: "${{ steps.ask.by }} said yes" }
    else:
      - finish: { verdict: unconfirmed, reason: "no answer" }
`
	t.Run("answered", func(t *testing.T) {
		h := newHarness(t, socPlugins(nil))
		h.env.RegisterDelayedCallback(func() {
			h.env.SignalWorkflow(workflows.InputSignal, workflows.Input{Name: "confirm", Value: "yes", By: "manager"})
		}, 15*time.Minute)
		res := h.run(t, input(t, "t.yaml", src, map[string]any{}))
		if res.Verdict != "confirmed" || res.Reason != "manager said yes" {
			t.Fatalf("%q %q", res.Verdict, res.Reason)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		h := newHarness(t, socPlugins(nil))
		start := h.env.Now()
		res := h.run(t, input(t, "t.yaml", src, map[string]any{}))
		if res.Verdict != "unconfirmed" || h.env.Now().Sub(start) < 40*time.Minute {
			t.Fatalf("%q after %s", res.Verdict, h.env.Now().Sub(start))
		}
	})
}

func TestForeachParallelSetFinish(t *testing.T) {
	t.Parallel()
	fp := socPlugins(map[string]string{"bob": "sick"})
	h := newHarness(t, fp)
	alert := map[string]any{"type": "oncall.shift_start", "policy": "soc-primary", "time": "2026-12-04T08:00:00Z"}
	res := h.run(t, input(t, "../examples/playbooks/oncall-availability.yaml", "", alert))
	if res.Verdict != workflows.VerdictUnacknowledged {
		t.Fatalf("verdict %q (%s)", res.Verdict, res.Reason)
	}
	if n := len(fp.callsTo("hr.status")); n != 3 {
		t.Fatalf("hr.status called %d times, want once per responder (3)", n)
	}
	pages := fp.callsTo("page.send")
	if len(pages) == 0 || !strings.HasPrefix(fmt.Sprint(pages[0].Input["summary"]), "1 on-call responder") {
		t.Fatalf("pages %+v", pages)
	}
}

func TestOnErrorContinue(t *testing.T) {
	t.Parallel()
	fp := socPlugins(nil)
	fp.handlers["geoip.travel"] = func(map[string]any) (any, error) {
		return map[string]any{"km": 9000.0, "hours": 1.0, "kmh": 9000.0, "impossible": true}, nil
	}
	fp.handlers["identity.suspend_user"] = func(map[string]any) (any, error) {
		return nil, plugins.Errorf(plugins.Permanent, "okta: 403")
	}
	h := newHarness(t, fp)
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(workflows.AckSignal, workflows.Ack{By: "x"}) }, time.Minute)
	alert := map[string]any{"type": "login.impossible_travel", "user": "alice", "source_ip": "1.1.1.1", "time": "2026-12-04T03:00:00Z",
		"previous": map[string]any{"source_ip": "2.2.2.2", "time": "2026-12-04T02:00:00Z"}}
	res := h.run(t, input(t, "../examples/playbooks/impossible-travel.yaml", "", alert))
	if res.Verdict != workflows.VerdictAcknowledged {
		t.Fatalf("verdict %q (%s) %s", res.Verdict, res.Reason, res.Error)
	}
	var contain workflows.StepRecord
	for _, s := range res.Steps {
		if s.ID == "contain" {
			contain = s
		}
	}
	if contain.Status != "continued" {
		t.Fatalf("contain step %+v, want continued", contain)
	}
	pages := fp.callsTo("page.send")
	if d, _ := pages[0].Input["details"].(map[string]any); d["suspended"] != false {
		t.Fatalf("page details %+v: suspended must be false when suspension failed", pages[0].Input["details"])
	}
}

func TestAttachedAlertsAreCountedAndQueryable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, socPlugins(map[string]string{"alice": "traveling"}))
	src := "name: t\non: { type: x }\nsteps:\n  - wait: 10m\n  - silence: quiet\n"
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(workflows.AlertUpdate, "u1", &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { t.Errorf("rejected: %v", err) },
			OnComplete: func(v any, err error) {
				if err != nil || v.(int) != 2 {
					t.Errorf("update answered %v, %v", v, err)
				}
			},
		}, workflows.RunInput{AlertID: "alert-2"})
	}, 5*time.Minute)
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(workflows.StateQuery)
		if err != nil {
			t.Errorf("query: %v", err)
			return
		}
		var st workflows.State
		if err := v.Get(&st); err != nil || st.Alerts != 2 || st.Current == "" {
			t.Errorf("state %+v %v", st, err)
		}
	}, 6*time.Minute)
	res := h.run(t, input(t, "t.yaml", src, map[string]any{}))
	if res.Alerts != 2 || res.Verdict != workflows.VerdictSilenced {
		t.Fatalf("%+v", res)
	}
}

func TestTopLevelVarsAndSet(t *testing.T) {
	t.Parallel()
	src := `name: t
on: { type: x }
vars:
  nets: ["10.0.0.0/8"]
  who: "${{ alert.user }}"
steps:
  - set:
      internal: ${{ vars.nets.exists(n, cidr(n).containsIP(alert.ip)) }}
  - id: decide
    if: vars.internal
    then:
      - silence: "${{ vars.who }} is internal"
  - finish: { verdict: external, reason: "${{ vars.who }}" }
`
	h := newHarness(t, socPlugins(nil))
	res := h.run(t, input(t, "t.yaml", src, map[string]any{"user": "frank", "ip": "10.2.3.4"}))
	if res.Verdict != workflows.VerdictSilenced || res.Reason != "frank is internal" {
		t.Fatalf("%q %q %s", res.Verdict, res.Reason, res.Error)
	}
}

func TestGroupWaitAndGuardedStep(t *testing.T) {
	t.Parallel()
	fp := socPlugins(nil)
	fp.handlers["geoip.lookup"] = func(map[string]any) (any, error) {
		return map[string]any{"found": true, "country": "NL", "city": "Amsterdam", "is_anonymous": true}, nil
	}
	h := newHarness(t, fp)
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(workflows.AckSignal, workflows.Ack{By: "ann"}) }, 6*time.Minute)
	start := h.env.Now()
	alert := map[string]any{"type": "mfa.push_denied", "user": "grace", "denials": 6.0, "source_ip": "1.2.3.4", "time": "2026-12-04T09:05:00Z"}
	res := h.run(t, input(t, "../examples/playbooks/mfa-fatigue.yaml", "", alert))
	if res.Verdict != workflows.VerdictAcknowledged {
		t.Fatalf("verdict %q (%s) %s", res.Verdict, res.Reason, res.Error)
	}
	if n := len(fp.callsTo("identity.suspend_user")); n != 1 {
		t.Fatalf("suspend_user called %d times for an anonymous network", n)
	}
	pages := fp.callsTo("page.send")
	if at := res.Escalation.Paged[0].At.Sub(start); at != 5*time.Minute {
		t.Fatalf("first page %s after the alert, want after the 5m settle wait", at)
	}
	if d := pages[0].Input["details"].(map[string]any); d["suspended"] != true {
		t.Fatalf("details %+v", d)
	}
}

// A vendor's Retry-After decides when a retryable failure is retried.
func TestRetryAfterFromPlugin(t *testing.T) {
	t.Parallel()
	fp := socPlugins(map[string]string{"alice": "traveling"})
	calls := 0
	fp.handlers["hr.status"] = func(map[string]any) (any, error) {
		calls++
		if calls == 1 {
			return nil, &plugins.Error{Kind: plugins.Retryable, Message: "429 from BambooHR", Details: json.RawMessage(`{"retry_after_seconds": 120}`)}
		}
		return map[string]any{"status": "traveling", "travel": map[string]any{"countries": []any{"GB"}}}, nil
	}
	h := newHarness(t, fp)
	start := h.env.Now()
	res := h.run(t, input(t, newCountry, "", loginAlert("81.2.69.142")))
	if res.Verdict != workflows.VerdictSilenced {
		t.Fatalf("verdict %q (%s)", res.Verdict, res.Error)
	}
	if took := h.env.Now().Sub(start); took < 2*time.Minute {
		t.Fatalf("retried after %s, want the vendor's 2m", took)
	}
}

// A source this worker cannot compile (another soar version) still reaches
// a human through the fail-safe policy.
func TestUncompilableSourceEscalates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, socPlugins(nil))
	res := h.run(t, input(t, "t.yaml", "name: t\non: { type: x }\nsteps:\n  - teleport: now\n", map[string]any{"title": "odd alert"}))
	if res.Verdict != workflows.VerdictEscalated || !strings.Contains(res.Error, "compile playbook") {
		t.Fatalf("verdict %q error %q", res.Verdict, res.Error)
	}
	pages := h.plugins.callsTo("page.send")
	if len(pages) == 0 || !strings.Contains(fmt.Sprint(pages[0].Input["summary"]), "odd alert") {
		t.Fatalf("pages %+v", pages)
	}
}
