package workflows

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/soar-dev/soar/playbooks"
)

// tier is one level of an escalation, resolved to responders.
type tier struct {
	level      int
	responders []map[string]any // at least {"id": ...}
	ackWithin  time.Duration
}

// escalate pages tier by tier until someone acknowledges. failure, when not
// empty, is the triage error that brought the run here (the fail-safe path).
func (r *run) escalate(ctx workflow.Context, s *playbooks.Step, e *playbooks.Escalate, sc *scope, failure string) (*Escalation, error) {
	acts := r.i.Escalation.withDefaults()
	act := r.activation(ctx, sc)
	page, err := r.pageContent(e, act, failure)
	if err != nil {
		return nil, err
	}
	esc := &Escalation{Paged: []Page{}}
	tiers, err := r.resolveTiers(ctx, s, e, act, acts)
	if err != nil {
		esc.Errors = append(esc.Errors, err.Error())
	}
	ackBase := len(r.acks)
	for pass := 0; pass <= e.Repeat && err == nil; pass++ {
		for _, t := range tiers {
			if r.pageTier(ctx, s, e, sc, t, pass, page, esc, acts) == 0 {
				continue
			}
			if r.awaitAck(ctx, s, t, ackBase, esc) {
				return esc, nil
			}
		}
	}
	if e.Fallback != nil {
		fb, ferr := r.resolveFallback(ctx, s, e, act, acts, len(tiers)+1)
		if ferr != nil {
			esc.Errors = append(esc.Errors, ferr.Error())
		} else if r.pageTier(ctx, s, nil, sc, fb, 0, page, esc, acts) > 0 && r.awaitAck(ctx, s, fb, ackBase, esc) {
			return esc, nil
		}
	}
	if len(esc.Paged) == 0 {
		return esc, fmt.Errorf("escalation paged nobody: %v", errors.Join(toErrors(esc.Errors)...))
	}
	return esc, nil
}

func toErrors(msgs []string) []error {
	out := make([]error, len(msgs))
	for i, m := range msgs {
		out[i] = errors.New(m)
	}
	return out
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
	page["details"] = d
	if links, err := r.c.RenderValue(e.Page.Links, act); err == nil && links != nil {
		page["links"] = links
	}
	return page, nil
}

// pageTier pages every responder of a tier that skip_if does not exclude
// and returns how many were paged.
func (r *run) pageTier(ctx workflow.Context, s *playbooks.Step, e *playbooks.Escalate, sc *scope, t tier, pass int, page map[string]any, esc *Escalation, acts EscalationActions) int {
	_ = workflow.UpsertTypedSearchAttributes(ctx, AttrEscalationTier.ValueSet(int64(t.level)))
	r.state.Waiting = fmt.Sprintf("escalation tier %d", t.level)
	paged := 0
	for _, resp := range t.responders {
		id := fmt.Sprint(resp["id"])
		if e != nil && e.SkipIf != nil {
			if reason, skip := r.skip(ctx, s, e, sc, resp, acts); skip {
				esc.Skipped = append(esc.Skipped, Skip{Responder: id, Tier: t.level, Reason: reason})
				continue
			}
		}
		in := maps.Clone(page)
		in["responder"] = id
		plugin, action := split(acts.Page)
		key := fmt.Sprintf("%s/%s%s/pass%d/tier%d/%s", r.wfID, sc.path, s.ID, pass, t.level, id)
		out, err := r.call(ctx, InvokeRequest{Plugin: plugin, Action: action, Input: in, Key: key}, 0, nil,
			fmt.Sprintf("%s: page %s (tier %d)", s.Label(), id, t.level))
		if err != nil {
			esc.Errors = append(esc.Errors, fmt.Sprintf("page %s: %s", id, rootMessage(err)))
			continue
		}
		esc.Paged = append(esc.Paged, Page{Responder: id, Tier: t.level, At: workflow.Now(ctx), Delivery: out})
		paged++
	}
	return paged
}

// skip evaluates skip_if for one responder, with their HR status as
// responder.hr. When the status or the condition cannot be evaluated the
// responder is paged: paging someone unavailable beats paging no one.
func (r *run) skip(ctx workflow.Context, s *playbooks.Step, e *playbooks.Escalate, sc *scope, resp map[string]any, acts EscalationActions) (string, bool) {
	id := fmt.Sprint(resp["id"])
	if _, ok := resp["hr"]; !ok {
		plugin, action := split(acts.HR)
		hr, err := r.call(ctx, InvokeRequest{Plugin: plugin, Action: action,
			Input: map[string]any{"user": id, "at": workflow.Now(ctx).UTC().Format(time.RFC3339)},
			Key:   r.wfID + "/" + sc.path + s.ID + "/hr/" + id}, 0, nil, s.Label()+": HR status of "+id)
		if err != nil {
			hr = map[string]any{}
		}
		resp["hr"] = hr
	}
	act := r.activation(ctx, sc)
	act.Locals = maps.Clone(sc.locals)
	act.Locals["responder"] = resp
	skip, err := r.c.EvalBool(e.SkipIf, act)
	if err != nil || !skip {
		return "", false
	}
	return "skip_if: " + e.SkipIf.Source, true
}

// awaitAck waits up to the tier's ack_within for an acknowledgement.
func (r *run) awaitAck(ctx workflow.Context, s *playbooks.Step, t tier, ackBase int, esc *Escalation) bool {
	got, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
		Timeout:      t.ackWithin,
		TimerOptions: workflow.TimerOptions{Summary: fmt.Sprintf("%s: tier %d has %s to acknowledge", s.Label(), t.level, t.ackWithin)},
	}, func() bool { return len(r.acks) > ackBase })
	r.state.Waiting = ""
	if err != nil || !got {
		return false
	}
	a := r.acks[ackBase]
	esc.Acknowledged, esc.By, esc.Tier, esc.At = true, a.By, t.level, workflow.Now(ctx)
	return true
}

// resolveTiers turns a policy or inline tiers into responders.
func (r *run) resolveTiers(ctx workflow.Context, s *playbooks.Step, e *playbooks.Escalate, act *playbooks.Activation, acts EscalationActions) ([]tier, error) {
	ack := e.AckWithin
	if ack <= 0 {
		ack = playbooks.DefaultAckWithin
	}
	if len(e.Tiers) == 0 {
		policy := acts.FailsafePolicy
		if e.Policy != nil {
			p, err := r.c.RenderString(e.Policy, act)
			if err != nil {
				return nil, err
			}
			policy = p
		}
		return r.oncall(ctx, s, map[string]any{"policy": policy}, ack, acts)
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
			sched, err := r.oncall(ctx, s, map[string]any{"schedule": t.Schedule}, within, acts)
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
func (r *run) resolveFallback(ctx workflow.Context, s *playbooks.Step, e *playbooks.Escalate, act *playbooks.Activation, acts EscalationActions, level int) (tier, error) {
	fb := e.Fallback
	t := tier{level: level, ackWithin: e.AckWithin}
	for _, id := range fb.Responders {
		t.responders = append(t.responders, map[string]any{"id": id})
	}
	var query map[string]any
	switch {
	case fb.Schedule != "":
		query = map[string]any{"schedule": fb.Schedule}
	case fb.Policy != nil:
		p, err := r.c.RenderString(fb.Policy, act)
		if err != nil {
			return t, err
		}
		query = map[string]any{"policy": p}
	}
	if query != nil {
		tiers, err := r.oncall(ctx, s, query, e.AckWithin, acts)
		if err != nil {
			return t, err
		}
		for _, x := range tiers {
			t.responders = append(t.responders, x.responders...)
		}
	}
	return t, nil
}

// oncall asks the oncall plugin who is on call for a policy or schedule.
func (r *run) oncall(ctx workflow.Context, s *playbooks.Step, query map[string]any, ack time.Duration, acts EscalationActions) ([]tier, error) {
	query["at"] = workflow.Now(ctx).UTC().Format(time.RFC3339)
	plugin, action := split(acts.Oncall)
	out, err := r.call(ctx, InvokeRequest{Plugin: plugin, Action: action, Input: query,
		Key: r.wfID + "/" + s.ID + "/oncall"}, 0, nil, s.Label()+": who is on call")
	if err != nil {
		return nil, fmt.Errorf("resolve on-call %v: %s", query, rootMessage(err))
	}
	m, _ := out.(map[string]any)
	list, _ := m["tiers"].([]any)
	var tiers []tier
	for i, x := range list {
		tm, _ := x.(map[string]any)
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
		return nil, fmt.Errorf("on-call %v has no tiers", query)
	}
	return tiers, nil
}

func split(action string) (string, string) {
	for i := 0; i < len(action); i++ {
		if action[i] == '.' {
			return action[:i], action[i+1:]
		}
	}
	return action, ""
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

// failsafe escalates after a triage error, using the playbook's own
// escalation when it has one. It never silences.
func (r *run) failsafe(ctx workflow.Context, cause error) {
	at := "?"
	var se *stepError
	if errors.As(cause, &se) {
		at = se.step.ID
	}
	r.result.Error = cause.Error()
	step, e := r.firstEscalation()
	sc := &scope{steps: r.state.Outputs, locals: map[string]any{}}
	esc, err := r.escalate(ctx, step, e, sc, cause.Error())
	r.result.Escalation = esc
	switch {
	case err != nil:
		r.result.Verdict = VerdictFailed
		r.result.Reason = fmt.Sprintf("triage failed at step %s and the fail-safe escalation failed too: %v", at, err)
	case esc.Acknowledged:
		r.result.Verdict = VerdictEscalated
		r.result.Reason = fmt.Sprintf("triage failed at step %s; %s acknowledged", at, esc.By)
	default:
		r.result.Verdict = VerdictEscalated
		r.result.Reason = fmt.Sprintf("triage failed at step %s; paged %d responder(s), none acknowledged", at, len(esc.Paged))
	}
}

func (r *run) firstEscalation() (*playbooks.Step, *playbooks.Escalate) {
	var step *playbooks.Step
	playbooks.Walk(r.c.Steps, func(s *playbooks.Step) {
		if _, ok := s.Do.(*playbooks.Escalate); ok && step == nil {
			step = s
		}
	})
	if step != nil {
		return step, step.Do.(*playbooks.Escalate)
	}
	e := &playbooks.Escalate{AckWithin: playbooks.DefaultAckWithin, Page: playbooks.Page{Severity: "critical"}}
	return &playbooks.Step{ID: "failsafe", Do: e}, e
}
