package workflows

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/soar-dev/soar/playbooks"
)

// tier is one level of an escalation, resolved to responders.
type tier struct {
	level      int
	responders []map[string]any // at least {"id": ...}
	ackWithin  time.Duration
}

// escalation is one escalate step (or fail-safe escalation) in progress.
type escalation struct {
	r    *run
	step *playbooks.Step
	e    *playbooks.Escalate
	sc   *scope
	acts EscalationActions
	// key prefixes this escalation's idempotency keys, so the playbook's
	// escalation and each fail-safe attempt page anew.
	key     string
	page    map[string]any
	out     *Escalation
	ackBase int
	skipped []tier // responders skip_if excluded, by tier
}

// escalate pages tier by tier until someone acknowledges. failure, when not
// empty, is the triage error that brought the run here (the fail-safe path);
// tag distinguishes the idempotency keys of repeated escalations.
func (r *run) escalate(ctx workflow.Context, s *playbooks.Step, e *playbooks.Escalate, sc *scope, failure, tag string) (*Escalation, error) {
	x := &escalation{r: r, step: s, e: e, sc: sc, acts: r.i.Escalation.withDefaults(),
		key: r.key(tag + sc.path + s.ID), out: &Escalation{Paged: []Page{}}, ackBase: len(r.acks)}
	act := r.activation(ctx, sc)
	var err error
	if x.page, err = r.pageContent(e, act, failure); err != nil {
		return nil, err
	}
	tiers, err := x.resolveTiers(ctx, act)
	if err != nil {
		x.out.Errors = append(x.out.Errors, err.Error())
	}
	for pass := 0; pass <= e.Repeat && err == nil; pass++ {
		for _, t := range tiers {
			if x.pageTier(ctx, t, fmt.Sprintf("pass%d", pass), true) > 0 && x.awaitAck(ctx, t) {
				return x.out, nil
			}
		}
	}
	if e.Fallback != nil {
		fb, ferr := x.resolveFallback(ctx, act, len(tiers)+1)
		if ferr != nil {
			x.out.Errors = append(x.out.Errors, ferr.Error())
		} else if x.pageTier(ctx, fb, "fallback", false) > 0 && x.awaitAck(ctx, fb) {
			return x.out, nil
		}
	}
	if len(x.out.Paged) == 0 && len(x.skipped) > 0 {
		// Everyone was excluded by skip_if: paging someone unavailable
		// beats paging no one.
		for _, t := range x.skipped {
			if x.pageTier(ctx, t, "skipped", false) > 0 && x.awaitAck(ctx, t) {
				return x.out, nil
			}
		}
	}
	if len(x.out.Paged) == 0 {
		if len(x.out.Errors) == 0 {
			x.out.Errors = append(x.out.Errors, "no responders")
		}
		return x.out, fmt.Errorf("escalation paged nobody: %s", strings.Join(x.out.Errors, "; "))
	}
	return x.out, nil
}

// pageContent renders what the page says.
func (r *run) pageContent(e *playbooks.Escalate, act *playbooks.Activation, failure string) (map[string]any, error) {
	summary, err := r.c.RenderString(e.Page.Summary, act)
	if failure != "" {
		// The playbook's own summary may need the outputs that failed.
		if err != nil || summary == "" {
			summary = fmt.Sprintf("%s: %v", r.in.Playbook.Name, r.in.Alert["title"])
		}
		summary = "[triage failed] " + summary
	} else if err != nil {
		return nil, err
	}
	page := map[string]any{"summary": summary, "severity": e.Page.Severity, "dedup_key": r.wfID}
	if page["severity"] == "" {
		page["severity"] = "critical"
	}
	details, err := r.c.RenderValue(e.Page.Details, act)
	if err != nil && failure == "" {
		return nil, err
	}
	d, _ := details.(map[string]any)
	if d == nil {
		d = map[string]any{}
	}
	if failure != "" {
		d["triage_error"] = failure
	}
	d["run"] = r.wfID
	d["run_id"] = r.runID
	page["details"] = d
	if links, err := r.c.RenderValue(e.Page.Links, act); err == nil && links != nil {
		page["links"] = links
	}
	return page, nil
}

// pageTier pages every responder of a tier (that skip_if does not exclude,
// when skip is set) and returns how many were paged. Each page is retried
// for as long as the tier has to acknowledge.
func (x *escalation) pageTier(ctx workflow.Context, t tier, pass string, skip bool) int {
	r := x.r
	_ = workflow.UpsertTypedSearchAttributes(ctx, AttrEscalationTier.ValueSet(int64(t.level)))
	r.state.Waiting = fmt.Sprintf("escalation tier %d", t.level)
	excluded := tier{level: t.level, ackWithin: t.ackWithin}
	paged := 0
	for _, resp := range t.responders {
		id := fmt.Sprint(resp["id"])
		if skip && x.e.SkipIf != nil {
			if reason, yes := x.skip(ctx, resp); yes {
				x.out.Skipped = append(x.out.Skipped, Skip{Responder: id, Tier: t.level, Reason: reason})
				excluded.responders = append(excluded.responders, resp)
				continue
			}
		}
		in := maps.Clone(x.page)
		in["responder"] = id
		plugin, action := split(x.acts.Page)
		req := InvokeRequest{Plugin: plugin, Action: action, Input: in, Key: fmt.Sprintf("%s/%s/tier%d/%s", x.key, pass, t.level, id)}
		out, err := r.call(ctx, req, callOptions{persist: max(t.ackWithin, time.Minute),
			summary: fmt.Sprintf("%s: page %s (tier %d)", x.step.Label(), id, t.level)})
		if err != nil {
			x.out.Errors = append(x.out.Errors, fmt.Sprintf("page %s: %s", id, rootMessage(err)))
			continue
		}
		x.out.Paged = append(x.out.Paged, Page{Responder: id, Tier: t.level, At: workflow.Now(ctx), Delivery: out})
		paged++
	}
	if len(excluded.responders) > 0 {
		x.skipped = append(x.skipped, excluded)
	}
	return paged
}

// skip evaluates skip_if for one responder, with their HR status as
// responder.hr. When the status or the condition cannot be evaluated the
// responder is paged: paging someone unavailable beats paging no one.
func (x *escalation) skip(ctx workflow.Context, resp map[string]any) (string, bool) {
	r := x.r
	id := fmt.Sprint(resp["id"])
	if _, ok := resp["hr"]; !ok {
		plugin, action := split(x.acts.HR)
		hr, err := r.call(ctx, InvokeRequest{Plugin: plugin, Action: action,
			Input: map[string]any{"user": id, "at": workflow.Now(ctx).UTC().Format(time.RFC3339)},
			Key:   x.key + "/hr/" + id}, callOptions{summary: x.step.Label() + ": HR status of " + id})
		if err != nil {
			hr = map[string]any{}
		}
		resp["hr"] = hr
	}
	act := r.activation(ctx, x.sc)
	act.Locals = maps.Clone(x.sc.locals)
	act.Locals["responder"] = resp
	skip, err := r.c.EvalBool(x.e.SkipIf, act)
	if err != nil || !skip {
		return "", false
	}
	return "skip_if: " + x.e.SkipIf.Source, true
}

// awaitAck waits up to the tier's ack_within for an acknowledgement sent
// since this escalation began.
func (x *escalation) awaitAck(ctx workflow.Context, t tier) bool {
	r := x.r
	got, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
		Timeout:      t.ackWithin,
		TimerOptions: workflow.TimerOptions{Summary: fmt.Sprintf("%s: tier %d has %s to acknowledge", x.step.Label(), t.level, t.ackWithin)},
	}, func() bool { return len(r.acks) > x.ackBase })
	r.state.Waiting = ""
	if err != nil || !got {
		return false
	}
	a := r.acks[x.ackBase]
	x.out.Acknowledged, x.out.By, x.out.Tier, x.out.At = true, a.By, t.level, workflow.Now(ctx)
	return true
}

// resolveTiers turns a policy or inline tiers into responders.
func (x *escalation) resolveTiers(ctx workflow.Context, act *playbooks.Activation) ([]tier, error) {
	e := x.e
	ack := e.AckWithin
	if ack <= 0 {
		ack = playbooks.DefaultAckWithin
	}
	if len(e.Tiers) == 0 {
		policy := x.acts.FailsafePolicy
		if e.Policy != nil {
			p, err := x.r.c.RenderString(e.Policy, act)
			if err != nil {
				return nil, err
			}
			policy = p
		}
		return x.oncall(ctx, map[string]any{"policy": policy}, ack)
	}
	var out []tier
	for i, t := range e.Tiers {
		within := t.AckWithin
		if within <= 0 {
			within = ack
		}
		tr := tier{level: i + 1, ackWithin: within}
		for _, id := range t.Responders {
			tr.responders = append(tr.responders, map[string]any{"id": id})
		}
		if t.Schedule != "" {
			sched, err := x.oncall(ctx, map[string]any{"schedule": t.Schedule}, within)
			if err != nil {
				return nil, err
			}
			for _, st := range sched {
				tr.responders = append(tr.responders, st.responders...)
			}
		}
		out = append(out, tr)
	}
	return out, nil
}

// resolveFallback resolves the fallback into one tier at the given level.
func (x *escalation) resolveFallback(ctx workflow.Context, act *playbooks.Activation, level int) (tier, error) {
	fb := x.e.Fallback
	t := tier{level: level, ackWithin: x.e.AckWithin}
	for _, id := range fb.Responders {
		t.responders = append(t.responders, map[string]any{"id": id})
	}
	var query map[string]any
	switch {
	case fb.Schedule != "":
		query = map[string]any{"schedule": fb.Schedule}
	case fb.Policy != nil:
		p, err := x.r.c.RenderString(fb.Policy, act)
		if err != nil {
			return t, err
		}
		query = map[string]any{"policy": p}
	}
	if query != nil {
		tiers, err := x.oncall(ctx, query, x.e.AckWithin)
		if err != nil {
			return t, err
		}
		for _, y := range tiers {
			t.responders = append(t.responders, y.responders...)
		}
	}
	return t, nil
}

// oncall asks the oncall plugin who is on call for a policy or schedule.
func (x *escalation) oncall(ctx workflow.Context, query map[string]any, ack time.Duration) ([]tier, error) {
	what := fmt.Sprintf("policy=%v schedule=%v", query["policy"], query["schedule"])
	query["at"] = workflow.Now(ctx).UTC().Format(time.RFC3339)
	plugin, action := split(x.acts.Oncall)
	out, err := x.r.call(ctx, InvokeRequest{Plugin: plugin, Action: action, Input: query,
		Key: x.key + "/oncall/" + what}, callOptions{summary: x.step.Label() + ": who is on call"})
	if err != nil {
		return nil, fmt.Errorf("resolve on-call %s: %s", what, rootMessage(err))
	}
	m, _ := out.(map[string]any)
	list, _ := m["tiers"].([]any)
	var tiers []tier
	for i, y := range list {
		tm, _ := y.(map[string]any)
		t := tier{level: i + 1, ackWithin: ack}
		if lvl, ok := tm["level"].(float64); ok && lvl > 0 {
			t.level = int(lvl)
		}
		rs, _ := tm["responders"].([]any)
		for _, rr := range rs {
			if rm, ok := rr.(map[string]any); ok && rm["id"] != nil {
				t.responders = append(t.responders, rm)
			}
		}
		tiers = append(tiers, t)
	}
	if len(tiers) == 0 {
		return nil, fmt.Errorf("on-call %s has no tiers", what)
	}
	return tiers, nil
}

func split(action string) (string, string) {
	plugin, name, _ := strings.Cut(action, ".")
	return plugin, name
}

func escalationOutput(e *Escalation) map[string]any {
	paged := make([]any, len(e.Paged))
	for i, p := range e.Paged {
		paged[i] = p.Responder
	}
	out := map[string]any{"acknowledged": e.Acknowledged, "by": e.By, "tier": int64(e.Tier), "paged": paged, "at": nil}
	if e.Acknowledged {
		out["at"] = e.At
	}
	return out
}

// Fail-safe retries: when nobody could be paged, try the fail-safe policy
// again after a growing pause, for a day, before giving up loudly.
const (
	failsafeFirstPause = time.Minute
	failsafeMaxPause   = 15 * time.Minute
	failsafeGiveUp     = 24 * time.Hour
)

// errPagedNobody fails the workflow when even the fail-safe could not page
// anyone for failsafeGiveUp: a Failed run is what operators watch for.
var errPagedNobody = errors.New("the fail-safe escalation paged nobody")

// failsafe escalates after a triage error. It tries the playbook's own
// escalation first (its page says what the playbook would have said), then
// the configured fail-safe policy with no playbook expressions, retried with
// a growing pause. It never silences.
func (r *run) failsafe(ctx workflow.Context, cause error) error {
	at := "?"
	var se *stepError
	if errors.As(cause, &se) {
		at = se.step.ID
	}
	r.result.Error = cause.Error()
	sc := &scope{steps: r.state.Outputs, locals: map[string]any{}}
	if step, e := r.firstEscalation(); step != nil {
		esc, err := r.escalate(ctx, step, e, sc, cause.Error(), "failsafe/")
		if err == nil {
			r.failsafeVerdict(esc, at)
			return nil
		}
	}
	start, pause := workflow.Now(ctx), failsafeFirstPause
	policy := &playbooks.Step{ID: "failsafe", Name: "fail-safe escalation"}
	e := &playbooks.Escalate{AckWithin: playbooks.DefaultAckWithin, Page: playbooks.Page{Severity: "critical"}}
	policy.Do = e
	for attempt := 1; ; attempt++ {
		esc, err := r.escalate(ctx, policy, e, sc, cause.Error(), fmt.Sprintf("failsafe%d/", attempt))
		if err == nil {
			r.failsafeVerdict(esc, at)
			return nil
		}
		r.result.Escalation = esc
		if workflow.Now(ctx).Sub(start) >= failsafeGiveUp {
			r.result.Verdict = VerdictFailed
			r.result.Reason = fmt.Sprintf("triage failed at step %s and %d fail-safe escalations over %s paged nobody; last: %v",
				at, attempt, failsafeGiveUp, err)
			return temporal.NewNonRetryableApplicationError(r.result.Reason, "failsafe", errPagedNobody, r.result)
		}
		r.state.Waiting = fmt.Sprintf("fail-safe escalation paged nobody; retrying in %s", pause)
		if err := workflow.NewTimerWithOptions(ctx, pause, workflow.TimerOptions{Summary: "fail-safe: retry paging in " + pause.String()}).Get(ctx, nil); err != nil {
			return err
		}
		pause = min(2*pause, failsafeMaxPause)
	}
}

func (r *run) failsafeVerdict(esc *Escalation, at string) {
	r.result.Escalation = esc
	r.result.Verdict = VerdictEscalated
	r.result.Reason = fmt.Sprintf("triage failed at step %s; paged %d responder(s), none acknowledged", at, len(esc.Paged))
	if esc.Acknowledged {
		r.result.Reason = fmt.Sprintf("triage failed at step %s; %s acknowledged", at, esc.By)
	}
}

// firstEscalation is the playbook's first escalate step, if any.
func (r *run) firstEscalation() (*playbooks.Step, *playbooks.Escalate) {
	var step *playbooks.Step
	playbooks.Walk(r.c.Steps, func(s *playbooks.Step) {
		if _, ok := s.Do.(*playbooks.Escalate); ok && step == nil {
			step = s
		}
	})
	if step == nil {
		return nil, nil
	}
	return step, step.Do.(*playbooks.Escalate)
}
