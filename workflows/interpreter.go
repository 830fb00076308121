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
	i       *Interpreter
	c       *playbooks.Compiled
	in      RunInput
	wfID    string
	vars    map[string]any
	local   map[string]bool
	alerts  map[string]bool
	acks    []Ack
	inputs  map[string]Input
	state   State
	result  Result
	started time.Time
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

// Run is the workflow function.
func (i *Interpreter) Run(ctx workflow.Context, in RunInput) (*Result, error) {
	c, errs := i.Cache.Get(in.Playbook.File, []byte(in.Playbook.Source))
	var compileErr error
	if len(errs) > 0 {
		// The API compiled this source before starting the run, so only a
		// worker of another soar version gets here. The alert still
		// reaches a human: the run escalates with the fail-safe policy.
		compileErr = fmt.Errorf("compile playbook %s: %w", in.Playbook.Name, errs.Err())
		c = &playbooks.Compiled{Playbook: &playbooks.Playbook{Name: in.Playbook.Name, File: in.Playbook.File}}
	}
	r := &run{
		i: i, c: c, in: in, wfID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		vars: map[string]any{}, alerts: map[string]bool{in.AlertID: true}, inputs: map[string]Input{},
		started: workflow.Now(ctx),
	}
	r.state = State{Playbook: in.Playbook.Name, Hash: in.Playbook.Hash, Outputs: map[string]any{}, Vars: r.vars, Alerts: 1}
	r.result = Result{Playbook: in.Playbook.Name, Hash: in.Playbook.Hash, Alerts: 1, Steps: []StepRecord{}}
	if err := r.handlers(ctx); err != nil {
		return nil, err
	}
	r.recordLocalActivities(ctx)
	if compileErr != nil {
		r.failsafe(ctx, compileErr)
	} else {
		r.execute(ctx)
	}
	r.result.Alerts = len(r.alerts)
	r.state.Result, r.state.Current = &r.result, ""
	_ = workflow.UpsertTypedSearchAttributes(ctx, AttrVerdict.ValueSet(r.result.Verdict))
	// Alerts attached while the run was finishing are answered before it
	// closes, so no caller is left without a reply.
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return &r.result, nil
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
			return nil
		}})
	if err != nil {
		return fmt.Errorf("register update: %w", err)
	}
	acks := workflow.GetSignalChannel(ctx, AckSignal)
	inputs := workflow.GetSignalChannel(ctx, InputSignal)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(acks, func(ch workflow.ReceiveChannel, _ bool) {
				var a Ack
				ch.Receive(ctx, &a)
				r.acks = append(r.acks, a)
			})
			sel.AddReceive(inputs, func(ch workflow.ReceiveChannel, _ bool) {
				var in Input
				ch.Receive(ctx, &in)
				if _, dup := r.inputs[in.Name]; !dup {
					r.inputs[in.Name] = in
				}
			})
			sel.Select(ctx)
		}
	})
	return nil
}

// recordLocalActivities fixes, in history, which actions of this playbook
// run as local activities.
func (r *run) recordLocalActivities(ctx workflow.Context) {
	want := map[string]bool{}
	playbooks.Walk(r.c.Steps, func(s *playbooks.Step) {
		if u, ok := s.Do.(*playbooks.Uses); ok {
			name := u.Plugin + "." + u.Action
			if r.i.LocalActivities[name] {
				want[name] = true
			}
		}
	})
	// Recorded even when empty, so that replaying on a worker configured
	// differently issues the same commands.
	enc := workflow.SideEffect(ctx, func(workflow.Context) any { return want })
	if err := enc.Get(&r.local); err != nil {
		r.local = map[string]bool{}
	}
}

// execute runs the steps and, on any triage error, the fail-safe escalation.
func (r *run) execute(ctx workflow.Context) {
	sc := &scope{steps: r.state.Outputs, locals: map[string]any{}}
	err := r.initVars(ctx, sc)
	var end *ending
	if err == nil {
		end, err = r.sequence(ctx, r.c.Steps, sc)
	}
	switch {
	case err != nil:
		r.failsafe(ctx, err)
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
}

// initVars evaluates the playbook's top-level vars, in order, at the start.
func (r *run) initVars(ctx workflow.Context, sc *scope) error {
	for _, v := range r.c.Vars {
		x, err := r.c.RenderValue(v.Value, r.activation(ctx, sc))
		if err != nil {
			return fmt.Errorf("vars.%s: %w", v.Name, err)
		}
		r.vars[v.Name] = x
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
		e, err := r.escalate(ctx, s, a, sc, "")
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

func (r *run) parallel(ctx workflow.Context, a *playbooks.Parallel, sc *scope) error {
	wg := workflow.NewWaitGroup(ctx)
	errs := make([]error, len(a.Steps))
	for i, child := range a.Steps {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			_, errs[i] = r.step(ctx, child, sc) // validation keeps silence/finish out of parallel
		})
	}
	wg.Wait(ctx)
	return errors.Join(errs...)
}

func (r *run) foreach(ctx workflow.Context, s *playbooks.Step, a *playbooks.Foreach, sc *scope) error {
	v, err := r.c.Eval(a.Items, r.activation(ctx, sc))
	if err != nil {
		return err
	}
	items, ok := v.([]any)
	if !ok && v != nil {
		return fmt.Errorf("foreach gave %T, want a list", v)
	}
	results := make([]any, len(items))
	errs := make([]error, len(items))
	running := 0
	wg := workflow.NewWaitGroup(ctx)
	for idx, item := range items {
		if err := workflow.Await(ctx, func() bool { return running < a.Concurrency }); err != nil {
			return err
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
			_, errs[idx] = r.sequence(ctx, a.Steps, iter)
			out := map[string]any{}
			for _, body := range a.Steps {
				playbooks.Walk([]*playbooks.Step{body}, func(st *playbooks.Step) {
					if x, ok := iter.steps[st.ID]; ok {
						out[st.ID] = x
					}
				})
			}
			results[idx] = out
		})
	}
	wg.Wait(ctx)
	if err := errors.Join(errs...); err != nil {
		return err
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
