package workflows

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/soar-dev/soar/playbooks"
)

// Interpreter runs any playbook as a workflow. Register Run under
// WorkflowType; the worker shares one Interpreter (and so one compile cache)
// across all runs.
type Interpreter struct {
	// Cache compiles each playbook version once per worker process.
	Cache *playbooks.Cache
	// Escalation says which plugin actions an escalate step uses.
	Escalation EscalationActions
	// LocalActivities lists read-only plugin actions ("geoip.lookup") run as
	// local activities: no task-queue round trip, at the cost of not being
	// individually visible as activity tasks. The choice is recorded in each
	// run's history at its start, so changing it never breaks a replay.
	LocalActivities map[string]bool
}

// EscalationActions are the plugin actions behind an escalate step.
type EscalationActions struct {
	Oncall string // resolves a policy or schedule into tiers; default oncall.who
	HR     string // a responder's status for skip_if; default hr.status
	Page   string // pages one responder; default page.send
	// FailsafePolicy is paged when triage fails in a playbook that has no
	// escalate step of its own; default soc-primary.
	FailsafePolicy string
}

func (e EscalationActions) withDefaults() EscalationActions {
	if e.Oncall == "" {
		e.Oncall = "oncall.who"
	}
	if e.HR == "" {
		e.HR = "hr.status"
	}
	if e.Page == "" {
		e.Page = "page.send"
	}
	if e.FailsafePolicy == "" {
		e.FailsafePolicy = "soc-primary"
	}
	return e
}

// run is the state of one workflow execution.
type run struct {
	i     *Interpreter
	c     *playbooks.Compiled
	in    RunInput
	wfID  string
	runID string
	// firstRunID is the run ID of the chain's first run: it survives
	// retries, resets and continue-as-new, and changes on a fresh start.
	firstRunID string
	vars       map[string]any
	local      map[string]bool
	alerts     map[string]bool
	acks       []Ack
	inputs     map[string]Input
	state      State
	result     Result
	started    time.Time
}

// ending is how a path of the playbook ended: silence or finish.
type ending struct {
	verdict, reason string
}

// stepError is a triage failure at a step; it sends the run to the
// fail-safe escalation.
type stepError struct {
	step *playbooks.Step
	err  error
}

func (e *stepError) Error() string { return fmt.Sprintf("step %s: %s", e.step.ID, rootMessage(e.err)) }
func (e *stepError) Unwrap() error { return e.err }

// MaxAttachedAlerts bounds the alerts one run counts (each adds about five
// history events); later ones with the same dedup key are acknowledged to
// the sender and not counted.
const MaxAttachedAlerts = 1000

// MaxForeachItems bounds a foreach: a longer list is a triage error and
// escalates, rather than growing the run's history without bound.
const MaxForeachItems = 1000

// text reads a signal field leniently: strings as they are, other values
// printed, absent as "".
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// Run is the workflow function.
func (i *Interpreter) Run(ctx workflow.Context, in RunInput) (*Result, error) {
	info := workflow.GetInfo(ctx)
	r := &run{
		i: i, in: in, wfID: info.WorkflowExecution.ID, runID: info.WorkflowExecution.RunID, firstRunID: info.FirstRunID,
		vars: map[string]any{}, alerts: map[string]bool{in.AlertID: true}, inputs: map[string]Input{},
		started: workflow.Now(ctx),
	}
	r.state = State{Playbook: in.Playbook.Name, Hash: in.Playbook.Hash, Outputs: map[string]any{}, Vars: r.vars, Alerts: 1}
	r.result = Result{Playbook: in.Playbook.Name, Hash: in.Playbook.Hash, Alerts: 1, Steps: []StepRecord{}}
	if err := r.handlers(ctx); err != nil {
		return nil, err
	}
	compileErr := r.compile(ctx)
	var err error
	if compileErr != nil {
		err = r.failsafe(ctx, compileErr)
	} else {
		err = r.execute(ctx)
	}
	r.result.Alerts = len(r.alerts)
	r.state.Result, r.state.Current = &r.result, ""
	_ = workflow.UpsertTypedSearchAttributes(ctx, AttrVerdict.ValueSet(r.result.Verdict))
	// Alerts attached while the run was finishing are answered before it
	// closes, so no caller is left without a reply.
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	if err != nil {
		return nil, err
	}
	return &r.result, nil
}

// key is an idempotency key for an action of this run: stable across
// retries, replays and resets of the run, new for every fresh start of the
// same workflow ID (a later incident with the same dedup key pages anew).
func (r *run) key(path string) string { return r.wfID + "/" + r.firstRunID + "/" + path }

// decisions are fixed in history at a run's start, so that replaying on a
// worker configured or versioned differently issues the same commands.
type decisions struct {
	Compiled bool            `json:"compiled"`
	Local    map[string]bool `json:"local"` // actions run as local activities
}

// compile finds the run's compiled playbook and records, once, whether it
// compiled and which of its actions run locally. A worker that cannot
// compile a source that compiled when the run started fails its task, so
// that a worker that can picks the run up; a source that never compiled
// (the API checks every source first, so only another soar version gets
// here) escalates with the fail-safe policy.
func (r *run) compile(ctx workflow.Context) error {
	c, errs := r.i.Cache.Get(r.in.Playbook.File, []byte(r.in.Playbook.Source))
	here := decisions{Compiled: len(errs) == 0, Local: map[string]bool{}}
	if here.Compiled {
		playbooks.Walk(c.Steps, func(s *playbooks.Step) {
			if u, ok := s.Do.(*playbooks.Uses); ok && r.i.LocalActivities[u.Plugin+"."+u.Action] {
				here.Local[u.Plugin+"."+u.Action] = true
			}
		})
	}
	var d decisions
	if err := workflow.SideEffect(ctx, func(workflow.Context) any { return here }).Get(&d); err != nil {
		d = here
	}
	r.local = d.Local
	switch {
	case d.Compiled && !here.Compiled:
		panic(fmt.Sprintf("playbook %s compiled when this run started but not on this worker: %v", r.in.Playbook.Name, errs.Err()))
	case !d.Compiled:
		r.c = &playbooks.Compiled{Playbook: &playbooks.Playbook{Name: r.in.Playbook.Name, File: r.in.Playbook.File}}
		if here.Compiled {
			return fmt.Errorf("compile playbook %s: it did not compile when this run started", r.in.Playbook.Name)
		}
		return fmt.Errorf("compile playbook %s: %w", r.in.Playbook.Name, errs.Err())
	}
	r.c = c
	return nil
}

// handlers registers the query, the update and the signals of a run.
func (r *run) handlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, StateQuery, func() (State, error) {
		s := r.state
		s.Alerts = len(r.alerts)
		return s, nil
	}); err != nil {
		return fmt.Errorf("register query: %w", err)
	}
	err := workflow.SetUpdateHandlerWithOptions(ctx, AlertUpdate,
		func(ctx workflow.Context, a RunInput) (int, error) {
			r.alerts[a.AlertID] = true
			r.state.Alerts = len(r.alerts)
			return len(r.alerts), nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, a RunInput) error {
			if a.AlertID == "" {
				return errors.New("alert has no id")
			}
			if r.state.Result != nil {
				return errors.New("run has finished; start a new one")
			}
			if !r.alerts[a.AlertID] && len(r.alerts) >= MaxAttachedAlerts {
				// Each attached alert adds history; a storm must not push
				// the run past Temporal's history limit mid-escalation.
				return fmt.Errorf("alert limit reached: the run already holds %d alerts; this one is not counted", MaxAttachedAlerts)
			}
			return nil
		}})
	if err != nil {
		return fmt.Errorf("register update: %w", err)
	}
	// One goroutine per channel, each decoding into a plain map: a payload
	// of the wrong shape is read leniently (or dropped) without ever
	// blocking the other channel.
	workflow.Go(ctx, func(ctx workflow.Context) {
		ch := workflow.GetSignalChannel(ctx, AckSignal)
		for {
			var m map[string]any
			ch.Receive(ctx, &m)
			r.acks = append(r.acks, Ack{By: text(m["by"]), Note: text(m["note"])})
		}
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		ch := workflow.GetSignalChannel(ctx, InputSignal)
		for {
			var m map[string]any
			ch.Receive(ctx, &m)
			in := Input{Name: text(m["name"]), Value: m["value"], By: text(m["by"])}
			if _, dup := r.inputs[in.Name]; !dup && in.Name != "" {
				r.inputs[in.Name] = in
			}
		}
	})
	return nil
}

// execute runs the steps and, on any triage error, the fail-safe escalation.
func (r *run) execute(ctx workflow.Context) error {
	sc := &scope{steps: r.state.Outputs, locals: map[string]any{}}
	err := r.initVars(ctx, sc)
	var end *ending
	if err == nil {
		end, err = r.sequence(ctx, r.c.Steps, sc)
	}
	switch {
	case err != nil:
		return r.failsafe(ctx, err)
	case end != nil:
		r.result.Verdict, r.result.Reason = end.verdict, end.reason
	case r.result.Escalation != nil:
		e := r.result.Escalation
		r.result.Verdict = escalationVerdict(e)
		r.result.Reason = fmt.Sprintf("paged %d responder(s); nobody acknowledged", len(e.Paged))
		if e.Acknowledged {
			r.result.Reason = fmt.Sprintf("%s acknowledged at tier %d", e.By, e.Tier)
		}
	default:
		r.result.Verdict, r.result.Reason = VerdictFinished, "reached the end of the playbook"
	}
	return nil
}

// initVars evaluates the playbook's top-level vars, in order, at the start.
func (r *run) initVars(ctx workflow.Context, sc *scope) error {
	for _, v := range r.c.Vars {
		x, err := r.c.RenderValue(v.Value, r.activation(ctx, sc))
		if err != nil {
			return fmt.Errorf("vars.%s: %w", v.Name, err)
		}
		r.vars[v.Name] = x
		if off, ok := x.(bool); ok && v.Name == "off_hours" {
			_ = workflow.UpsertTypedSearchAttributes(ctx, AttrOffHours.ValueSet(off))
		}
	}
	return nil
}

func escalationVerdict(e *Escalation) string {
	if e.Acknowledged {
		return VerdictAcknowledged
	}
	return VerdictUnacknowledged
}

// scope is what steps see at one nesting level: outputs (shared with the
// enclosing level except inside foreach iterations) and loop variables.
type scope struct {
	steps  map[string]any
	locals map[string]any
	path   string // prefix of step paths inside foreach iterations, e.g. "availability[2]/"
}

func (r *run) activation(ctx workflow.Context, sc *scope) *playbooks.Activation {
	return &playbooks.Activation{Alert: r.in.Alert, Steps: sc.steps, Vars: r.vars, Now: workflow.Now(ctx), Locals: sc.locals}
}

func (r *run) sequence(ctx workflow.Context, steps []*playbooks.Step, sc *scope) (*ending, error) {
	for _, s := range steps {
		end, err := r.step(ctx, s, sc)
		if err != nil || end != nil {
			return end, err
		}
	}
	return nil, nil
}

func (r *run) step(ctx workflow.Context, s *playbooks.Step, sc *scope) (*ending, error) {
	rec := StepRecord{ID: sc.path + s.ID, Kind: s.Do.Kind(), Started: workflow.Now(ctx), Status: "ok"}
	defer func() {
		rec.Finished = workflow.Now(ctx)
		r.result.Steps = append(r.result.Steps, rec)
	}()
	r.state.Current = rec.ID
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("step **%s** (%s)", s.Label(), rec.Kind))
	if s.If != nil {
		ok, err := r.c.EvalBool(s.If, r.activation(ctx, sc))
		if err != nil {
			rec.Status, rec.Error = "failed", rootMessage(err)
			return nil, &stepError{step: s, err: err}
		}
		if _, branch := s.Do.(*playbooks.Branch); !ok && !branch {
			rec.Status = "skipped"
			return nil, nil
		}
	}
	end, err := r.do(ctx, s, sc)
	if err != nil {
		rec.Status, rec.Error = "failed", rootMessage(err)
		var se *stepError
		if !errors.As(err, &se) {
			err = &stepError{step: s, err: err}
		}
		return nil, err
	}
	if out, ok := sc.steps[s.ID].(map[string]any); ok && out["error"] != nil {
		rec.Status = "continued"
	}
	return end, nil
}

// do executes one step kind.
func (r *run) do(ctx workflow.Context, s *playbooks.Step, sc *scope) (*ending, error) {
	act := r.activation(ctx, sc)
	switch a := s.Do.(type) {
	case *playbooks.Uses:
		return nil, r.uses(ctx, s, a, sc)
	case *playbooks.Branch:
		ok, _ := r.c.EvalBool(s.If, act) // evaluated without error just above
		sc.steps[s.ID] = map[string]any{"matched": ok}
		if ok {
			return r.sequence(ctx, a.Then, sc)
		}
		return r.sequence(ctx, a.Else, sc)
	case *playbooks.Parallel:
		return nil, r.parallel(ctx, a, sc)
	case *playbooks.Foreach:
		return nil, r.foreach(ctx, s, a, sc)
	case *playbooks.Group:
		return r.sequence(ctx, a.Steps, sc)
	case *playbooks.Set:
		vals := map[string]any{}
		for _, v := range a.Vars {
			x, err := r.c.RenderValue(v.Value, act)
			if err != nil {
				return nil, err
			}
			vals[v.Name] = x
		}
		maps.Copy(r.vars, vals)
		if off, ok := vals["off_hours"].(bool); ok {
			_ = workflow.UpsertTypedSearchAttributes(ctx, AttrOffHours.ValueSet(off))
		}
	case *playbooks.Wait:
		r.state.Waiting = "timer " + a.Duration.String()
		defer func() { r.state.Waiting = "" }()
		if err := workflow.NewTimerWithOptions(ctx, a.Duration, workflow.TimerOptions{Summary: s.Label()}).Get(ctx, nil); err != nil {
			return nil, err
		}
		sc.steps[s.ID] = map[string]any{}
	case *playbooks.WaitFor:
		return nil, r.waitFor(ctx, s, a, sc)
	case *playbooks.Escalate:
		e, err := r.escalate(ctx, s, a, sc, "", "")
		if e != nil {
			r.result.Escalation = e
			sc.steps[s.ID] = escalationOutput(e)
		}
		return nil, err
	case *playbooks.Silence:
		reason, err := r.c.RenderString(a.Reason, act)
		if err != nil {
			return nil, err
		}
		return &ending{verdict: VerdictSilenced, reason: reason}, nil
	case *playbooks.Finish:
		reason, err := r.c.RenderString(a.Reason, act)
		if err != nil {
			return nil, err
		}
		return &ending{verdict: a.Verdict, reason: reason}, nil
	default:
		return nil, fmt.Errorf("step kind %T is not supported by this worker", s.Do)
	}
	return nil, nil
}

// parallel runs its steps concurrently. The first failure cancels the
// others, so the fail-safe escalation starts at once rather than after the
// slowest sibling.
func (r *run) parallel(ctx workflow.Context, a *playbooks.Parallel, sc *scope) error {
	ctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	wg := workflow.NewWaitGroup(ctx)
	var first error
	for _, child := range a.Steps {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			// Validation keeps silence and finish out of parallel.
			if _, err := r.step(ctx, child, sc); err != nil && first == nil {
				first = err
				cancel()
			}
		})
	}
	wg.Wait(ctx)
	return first
}

// foreach runs its steps once per item, a.Concurrency at a time; the first
// failure cancels the rest.
func (r *run) foreach(ctx workflow.Context, s *playbooks.Step, a *playbooks.Foreach, sc *scope) error {
	v, err := r.c.Eval(a.Items, r.activation(ctx, sc))
	if err != nil {
		return err
	}
	items, ok := v.([]any)
	if !ok && v != nil {
		return fmt.Errorf("foreach gave %T, want a list", v)
	}
	if len(items) > MaxForeachItems {
		return fmt.Errorf("foreach over %d items; the limit is %d", len(items), MaxForeachItems)
	}
	ctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	results := make([]any, len(items))
	var first error
	running := 0
	wg := workflow.NewWaitGroup(ctx)
	for idx, item := range items {
		if err := workflow.Await(ctx, func() bool { return running < a.Concurrency || first != nil }); err != nil || first != nil {
			break
		}
		running++
		wg.Add(1)
		iter := &scope{
			steps:  maps.Clone(sc.steps),
			locals: maps.Clone(sc.locals),
			path:   fmt.Sprintf("%s%s[%d]/", sc.path, s.ID, idx),
		}
		iter.locals[a.As] = item
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer func() { running--; wg.Done() }()
			if _, err := r.sequence(ctx, a.Steps, iter); err != nil && first == nil {
				first = err
				cancel()
			}
			out := map[string]any{}
			playbooks.Walk(a.Steps, func(st *playbooks.Step) {
				if x, ok := iter.steps[st.ID]; ok {
					out[st.ID] = x
				}
			})
			results[idx] = out
		})
	}
	wg.Wait(ctx)
	if first != nil {
		return first
	}
	sc.steps[s.ID] = results
	return nil
}

func (r *run) waitFor(ctx workflow.Context, s *playbooks.Step, a *playbooks.WaitFor, sc *scope) error {
	prompt, err := r.c.RenderString(a.Prompt, r.activation(ctx, sc))
	if err != nil {
		return err
	}
	r.state.Waiting = fmt.Sprintf("input %q: %s", a.Name, prompt)
	defer func() { r.state.Waiting = "" }()
	got, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
		Timeout:      a.Timeout,
		TimerOptions: workflow.TimerOptions{Summary: s.Label() + ": wait for " + a.Name},
	}, func() bool { _, ok := r.inputs[a.Name]; return ok })
	if err != nil {
		return err
	}
	if !got {
		if a.OnTimeout == "fail" {
			return temporal.NewApplicationError(fmt.Sprintf("no %s input within %s", a.Name, a.Timeout), "timeout")
		}
		sc.steps[s.ID] = map[string]any{"received": false, "value": nil, "by": "", "at": nil}
		return nil
	}
	in := r.inputs[a.Name]
	sc.steps[s.ID] = map[string]any{"received": true, "value": in.Value, "by": in.By, "at": workflow.Now(ctx)}
	return nil
}
