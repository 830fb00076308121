package playbooks

import (
	"maps"
	"slices"
	"sort"

	"github.com/google/cel-go/cel"
)

// checker follows every path through a playbook, in file order, tracking what
// is certainly known at each point: which step outputs and variables are set,
// whether a step that failed with on_error: continue lies behind, and whether
// every path has already ended. It type-checks each expression in that
// context and records it for Compile.
type checker struct {
	env      *Env
	cat      Catalog
	errs     ErrorList
	byID     map[string]*Step
	loopOf   map[string]*Step // step id → innermost enclosing foreach step
	varNames []string         // every variable name a playbook declares or sets
	checked  map[*Expr]*checked
	schemas  map[string]*actionSchemas
	inputs   map[string]*Step // wait_for names
}

// flow is what holds on every path reaching a point of the playbook.
type flow struct {
	steps   map[string]bool // outputs certainly set
	vars    map[string]bool // variables certainly set
	errored *Step           // a step that may have failed with on_error: continue, not yet followed by an escalation
	ended   *Step           // non-nil when every path has ended; the silence/finish that ended one
	loops   []*Step         // enclosing foreach steps, outermost first
	nested  string          // "parallel" or "foreach" when inside one
	scope   scope
}

func (f *flow) fork() *flow {
	g := *f
	g.steps, g.vars = maps.Clone(f.steps), maps.Clone(f.vars)
	return &g
}

// join merges two paths that meet again.
func join(a, b *flow) *flow {
	switch {
	case a.ended != nil:
		return b
	case b.ended != nil:
		return a
	}
	out := a.fork()
	for id := range out.steps {
		if !b.steps[id] {
			delete(out.steps, id)
		}
	}
	for v := range out.vars {
		if !b.vars[v] {
			delete(out.vars, v)
		}
	}
	if out.errored == nil {
		out.errored = b.errored
	}
	return out
}

func newChecker(env *Env, cat Catalog) *checker {
	return &checker{env: env, cat: cat, byID: map[string]*Step{}, loopOf: map[string]*Step{},
		checked: map[*Expr]*checked{}, schemas: map[string]*actionSchemas{}, inputs: map[string]*Step{}}
}

func (c *checker) playbook(pb *Playbook) {
	c.indexSteps(pb.Steps, nil)
	for _, a := range pb.Vars {
		c.varNames = append(c.varNames, a.Name)
	}
	Walk(pb.Steps, func(s *Step) {
		if set, ok := s.Do.(*Set); ok {
			for _, a := range set.Vars {
				c.varNames = append(c.varNames, a.Name)
			}
		}
	})
	trig := &flow{scope: scope{trigger: true}}
	if pb.On.If != nil {
		c.expr(pb.On.If, trig, nil, cel.BoolType, "on.if")
	}
	if pb.Dedup != nil {
		c.expr(pb.Dedup, trig, nil, cel.StringType, "dedup")
	}
	start := &flow{steps: map[string]bool{}, vars: map[string]bool{}}
	for _, a := range pb.Vars {
		c.value(a.Value, trig, nil, "vars."+a.Name)
		start.vars[a.Name] = true
	}
	c.sequence(pb.Steps, start)
}

// indexSteps records every step id and the foreach each step is inside, and
// reports duplicate ids.
func (c *checker) indexSteps(steps []*Step, loop *Step) {
	for _, s := range steps {
		if w, ok := s.Do.(*WaitFor); ok && w.Name != "" {
			if prev, dup := c.inputs[w.Name]; dup {
				c.errs.add(s.Pos, "wait_for name %q is already used by step %s (line %d); each input needs its own name", w.Name, prev.ID, prev.Pos.Line)
			} else {
				c.inputs[w.Name] = s
			}
		}
		if prev, dup := c.byID[s.ID]; dup {
			c.errs.add(s.Pos, "duplicate step id %q (first used on line %d)", s.ID, prev.Pos.Line)
		} else {
			c.byID[s.ID] = s
			c.loopOf[s.ID] = loop
		}
		inner := loop
		if _, ok := s.Do.(*Foreach); ok {
			inner = s
		}
		for _, children := range s.Children() {
			c.indexSteps(children, inner)
		}
	}
}

func (c *checker) sequence(steps []*Step, f *flow) *flow {
	for _, s := range steps {
		if f.ended != nil {
			c.errs.add(s.Pos, "step %s is unreachable: every path before it has ended (%s on line %d)", s.ID, f.ended.Do.Kind(), f.ended.Pos.Line)
			return f
		}
		f = c.step(s, f)
	}
	return f
}

func (c *checker) step(s *Step, in *flow) *flow {
	if s.If != nil {
		c.expr(s.If, in, s, cel.BoolType, "if")
	}
	out := c.action(s, in.fork())
	out.steps[s.ID] = true
	if u, ok := s.Do.(*Uses); ok && u.OnError == "continue" && out.errored == nil {
		out.errored = s
	}
	if _, isBranch := s.Do.(*Branch); s.If != nil && !isBranch {
		skipped := in.fork()
		if skipped.errored == nil {
			skipped.errored = out.errored
		}
		return join(skipped, out)
	}
	return out
}

// action checks what the step does and returns the flow after it.
func (c *checker) action(s *Step, f *flow) *flow {
	switch a := s.Do.(type) {
	case *Uses:
		c.uses(s, a, f)
	case *Branch:
		then := c.sequence(a.Then, f.fork())
		return join(then, c.sequence(a.Else, f.fork()))
	case *Parallel:
		out := f.fork()
		for _, child := range a.Steps {
			inner := f.fork()
			inner.nested = "parallel"
			r := c.step(child, inner)
			maps.Copy(out.steps, r.steps)
			maps.Copy(out.vars, r.vars)
			if out.errored == nil {
				out.errored = r.errored
			}
		}
		return out
	case *Foreach:
		return c.foreach(s, a, f)
	case *Group:
		return c.sequence(a.Steps, f)
	case *Set:
		for _, v := range a.Vars {
			c.value(v.Value, f, s, "set."+v.Name)
		}
		for _, v := range a.Vars {
			f.vars[v.Name] = true
		}
	case *WaitFor:
		c.template(a.Prompt, f, s, "prompt")
	case *Escalate:
		c.escalate(s, a, f)
		f.errored = nil
	case *Silence:
		c.template(a.Reason, f, s, "silence")
		c.ending(s, f)
	case *Finish:
		c.template(a.Reason, f, s, "finish reason")
		c.ending(s, f)
	}
	return f
}

// ending checks a step that ends the run without paging anyone.
func (c *checker) ending(s *Step, f *flow) {
	if f.errored != nil {
		c.errs.add(s.Pos, "%s is reachable after step %s fails (on_error: continue, line %d); errors during triage must reach a human, so escalate first or let the step fail",
			s.Do.Kind(), f.errored.ID, f.errored.Pos.Line)
	}
	if f.nested != "" {
		c.errs.add(s.Pos, "%s cannot be inside %s: the run would end while other %s work is still going; decide after it", s.Do.Kind(), f.nested, f.nested)
	}
	f.ended = s
}

func (c *checker) foreach(s *Step, a *Foreach, f *flow) *flow {
	if a.Items != nil {
		c.expr(a.Items, f, s, nil, "foreach")
		if ck := c.checked[a.Items]; ck != nil {
			if t := ck.ast.OutputType(); !t.IsExactType(cel.DynType) && t.Kind() != cel.ListKind && t.Kind() != cel.MapKind {
				c.errs.add(a.Items.Pos, "foreach must be a list, but %q is %s", a.Items.Source, typeName(t))
			}
		}
	}
	body := f.fork()
	body.loops, body.nested = append(slices.Clone(f.loops), s), "foreach"
	if a.As != "" {
		body.scope = f.scope.with(a.As)
	}
	r := c.sequence(a.Steps, body)
	if f.errored == nil {
		f.errored = r.errored
	}
	return f
}

func (c *checker) escalate(s *Step, e *Escalate, f *flow) {
	c.template(e.Policy, f, s, "policy")
	if e.SkipIf != nil {
		c.expr(e.SkipIf, f, s, cel.BoolType, "skip_if", "responder")
	}
	if e.Fallback != nil {
		c.template(e.Fallback.Policy, f, s, "fallback policy")
	}
	c.template(e.Page.Summary, f, s, "page summary")
	c.value(e.Page.Details, f, s, "page details")
	c.value(e.Page.Links, f, s, "page links")
}

func (c *checker) value(v *Value, f *flow, s *Step, what string) {
	if v == nil {
		return
	}
	switch v.Kind {
	case KindString:
		c.template(v.Str, f, s, what)
	case KindList:
		for _, item := range v.List {
			c.value(item, f, s, what)
		}
	case KindMap:
		for _, e := range v.Map {
			c.value(e.Value, f, s, what)
		}
	}
}

func (c *checker) template(t *Template, f *flow, s *Step, what string) {
	if t == nil {
		return
	}
	for _, p := range t.Parts {
		if p.Expr != nil {
			c.expr(p.Expr, f, s, nil, what)
		}
	}
}

// expr type-checks x where flow f holds and checks its references.
func (c *checker) expr(x *Expr, f *flow, at *Step, want *cel.Type, what string, extra ...string) {
	sc := f.scope
	for _, name := range extra {
		sc = sc.with(name)
	}
	ck, errs := c.env.check(x, sc, want, what)
	c.errs = append(c.errs, errs...)
	if ck == nil {
		return
	}
	c.checked[x] = ck
	for _, r := range ck.refs {
		if r.root == "steps" {
			c.stepRef(r, f, at)
		} else {
			c.varRef(r, f)
		}
	}
}

func (c *checker) stepRef(r reference, f *flow, at *Step) {
	target, ok := c.byID[r.name]
	if !ok || target.AutoID {
		c.errs.add(r.pos, "steps.%s: no step has id %q%s", r.name, r.name, didYouMean(r.name, c.explicitIDs()))
		return
	}
	if loop := c.loopOf[r.name]; loop != nil && !slices.Contains(f.loops, loop) {
		c.errs.add(r.pos, "steps.%s is only visible inside foreach %s; use steps.%s (one entry per item) after the loop", r.name, loop.ID, loop.ID)
		return
	}
	if !f.steps[r.name] && !r.testOnly {
		switch {
		case target == at || before(at, target):
			c.errs.add(r.pos, "steps.%s is used before step %s runs (line %d)", r.name, r.name, target.Pos.Line)
		default:
			c.errs.add(r.pos, "steps.%s may be unset here: step %s does not run on every path to this point; test has(steps.%s) first", r.name, r.name, r.name)
		}
		return
	}
	c.outputField(r, target)
}

func before(at, target *Step) bool {
	if at == nil {
		return false
	}
	return target.Pos.Line > at.Pos.Line || (target.Pos.Line == at.Pos.Line && target.Pos.Col > at.Pos.Col)
}

func (c *checker) varRef(r reference, f *flow) {
	known := false
	for _, n := range c.varNames {
		known = known || n == r.name
	}
	if !known {
		c.errs.add(r.pos, "vars.%s: no variable %q is declared in vars or set by a step%s", r.name, r.name, didYouMean(r.name, c.varNames))
		return
	}
	if !f.vars[r.name] && !r.testOnly {
		c.errs.add(r.pos, "vars.%s may be unset here: it is set only on some paths to this point; test has(vars.%s) first", r.name, r.name)
	}
}

func (c *checker) explicitIDs() []string {
	var ids []string
	for id, s := range c.byID {
		if !s.AutoID {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}
