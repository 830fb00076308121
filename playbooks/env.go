package playbooks

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
)

// DefaultCostLimit bounds the work of one expression evaluation. A condition
// over a few alert fields costs tens; the limit is there to stop a runaway
// comprehension, not to ration ordinary playbooks.
const DefaultCostLimit = 1_000_000

// Env is the CEL environment of playbooks. One Env serves any number of
// playbooks concurrently.
//
// Scopes: a trigger (`on.if`, `dedup`) sees alert and now; a step sees alert,
// steps, vars and now; escalate.skip_if also sees responder; steps inside a
// foreach also see the loop variable.
type Env struct {
	costLimit uint64
	trigger   *cel.Env
	step      *cel.Env

	mu     sync.Mutex
	scoped map[string]*cel.Env // step env + extra variables, by variable list
}

// EnvOption configures an Env.
type EnvOption func(*Env)

// WithCostLimit sets the cost limit of each evaluation (default
// DefaultCostLimit).
func WithCostLimit(limit uint64) EnvOption { return func(e *Env) { e.costLimit = limit } }

// NewEnv builds the playbook CEL environment.
func NewEnv(opts ...EnvOption) (*Env, error) {
	e := &Env{costLimit: DefaultCostLimit, scoped: map[string]*cel.Env{}}
	for _, o := range opts {
		o(e)
	}
	base := []cel.EnvOption{
		cel.Variable("alert", cel.DynType),
		cel.Variable("now", cel.TimestampType),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Lists(),
		ext.Sets(),
		ext.Math(),
		ext.Encoders(),
		ext.Network(),
		functions(),
	}
	var err error
	if e.trigger, err = cel.NewEnv(base...); err != nil {
		return nil, fmt.Errorf("build CEL environment: %w", err)
	}
	if e.trigger, err = e.trigger.Extend(cel.CustomTypeAdapter(sortedAdapter{e.trigger.CELTypeAdapter()})); err != nil {
		return nil, fmt.Errorf("build CEL environment: %w", err)
	}
	if e.step, err = e.trigger.Extend(
		cel.Variable("steps", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("vars", cel.MapType(cel.StringType, cel.DynType)),
	); err != nil {
		return nil, fmt.Errorf("build CEL environment: %w", err)
	}
	return e, nil
}

// CostLimit is the per-evaluation cost limit.
func (e *Env) CostLimit() uint64 { return e.costLimit }

// scope is the set of variables an expression may use beyond the trigger's.
type scope struct {
	trigger bool     // only alert and now
	extra   []string // responder, foreach loop variables
}

func (s scope) with(name string) scope {
	return scope{extra: append(slices.Clone(s.extra), name)}
}

func (e *Env) env(s scope) (*cel.Env, error) {
	if s.trigger {
		return e.trigger, nil
	}
	if len(s.extra) == 0 {
		return e.step, nil
	}
	key := strings.Join(s.extra, ",")
	e.mu.Lock()
	defer e.mu.Unlock()
	if env, ok := e.scoped[key]; ok {
		return env, nil
	}
	var vars []cel.EnvOption
	for _, name := range s.extra {
		vars = append(vars, cel.Variable(name, cel.DynType))
	}
	env, err := e.step.Extend(vars...)
	if err != nil {
		return nil, fmt.Errorf("build CEL scope %s: %w", key, err)
	}
	e.scoped[key] = env
	return env, nil
}

// checked is a type-checked expression and what it refers to.
type checked struct {
	env  *cel.Env
	ast  *cel.Ast
	refs []reference
}

// reference is a use of steps.<name> or vars.<name> in an expression.
type reference struct {
	root     string // "steps" or "vars"
	name     string
	field    string   // steps.<name>.<field>, when written that way
	path     []string // the fields selected below steps.<name>; "[]" for an index
	pos      Pos
	testOnly bool // inside has(): asks whether it is set, so need not be
}

var containerNoise = regexp.MustCompile(` \(in container '[^']*'\)`)

// check parses and type-checks x in scope s. want, when not nil, is the type
// the result must have (dyn always passes: it is checked at run time).
func (e *Env) check(x *Expr, s scope, want *cel.Type, what string) (*checked, ErrorList) {
	var errs ErrorList
	env, err := e.env(s)
	if err != nil {
		errs.add(x.Pos, "%v", err)
		return nil, errs
	}
	ast, iss := env.Compile(x.Source)
	if iss != nil && iss.Err() != nil {
		for _, ce := range iss.Errors() {
			msg := containerNoise.ReplaceAllString(ce.Message, "")
			errs.add(x.posIn(ce.Location.Line(), ce.Location.Column()), "%s: %s", what, msg)
		}
		return nil, errs
	}
	if want != nil {
		got := ast.OutputType()
		if !got.IsExactType(types.DynType) && !got.IsAssignableType(want) {
			errs.add(x.Pos, "%s must be %s, but %q is %s", what, typeName(want), x.Source, typeName(got))
		}
	}
	return &checked{env: env, ast: ast, refs: refsOf(ast, x)}, errs
}

func typeName(t *cel.Type) string {
	switch {
	case t.IsExactType(types.BoolType):
		return "a bool"
	case t.IsExactType(types.StringType):
		return "a string"
	}
	return t.String()
}

// refsOf lists the steps.<id> and vars.<name> selections in an expression.
func refsOf(a *cel.Ast, x *Expr) []reference {
	native := a.NativeRep()
	info := native.SourceInfo()
	var out []reference
	for _, n := range celast.MatchDescendants(celast.NavigateAST(native), celast.AllMatcher()) {
		root, name, ok := rootSelect(n)
		if !ok {
			continue
		}
		loc := info.GetStartLocation(n.ID())
		r := reference{root: root, name: name, pos: x.posIn(loc.Line(), loc.Column())}
		if n.Kind() == celast.SelectKind && n.AsSelect().IsTestOnly() {
			r.testOnly = true
		}
		r.path = selectPath(n)
		if len(r.path) > 0 && r.path[0] != "[]" {
			r.field = r.path[0]
		}
		out = append(out, r)
	}
	// An expression that asks has(steps.x) is aware that x may not have run
	// (the usual form is has(steps.x) && steps.x.y), so none of its uses of
	// steps.x count as unguarded.
	guarded := map[string]bool{}
	for _, r := range out {
		if r.testOnly {
			guarded[r.root+"."+r.name] = true
		}
	}
	for i := range out {
		out[i].testOnly = out[i].testOnly || guarded[out[i].root+"."+out[i].name]
	}
	return out
}

// selectPath follows the selections and indexes applied to n, outwards:
// for steps.hr.travel.countries[0] from steps.hr it is travel, countries, [].
// It stops at has(): a presence test may name a field that is absent.
func selectPath(n celast.NavigableExpr) []string {
	var path []string
	for {
		parent, ok := n.Parent()
		if !ok {
			return path
		}
		switch {
		case parent.Kind() == celast.SelectKind:
			if parent.AsSelect().IsTestOnly() {
				return path
			}
			path = append(path, parent.AsSelect().FieldName())
		case parent.Kind() == celast.CallKind && parent.AsCall().FunctionName() == operators.Index &&
			len(parent.AsCall().Args()) == 2 && parent.AsCall().Args()[0].ID() == n.ID():
			path = append(path, "[]")
		default:
			return path
		}
		n = parent
	}
}

// rootSelect matches steps.name, steps["name"], vars.name and vars["name"].
func rootSelect(n celast.NavigableExpr) (root, name string, ok bool) {
	switch n.Kind() {
	case celast.SelectKind:
		sel := n.AsSelect()
		if op := sel.Operand(); op.Kind() == celast.IdentKind && isRoot(op.AsIdent()) {
			return op.AsIdent(), sel.FieldName(), true
		}
	case celast.CallKind:
		call := n.AsCall()
		if call.FunctionName() != operators.Index || len(call.Args()) != 2 {
			return "", "", false
		}
		op, key := call.Args()[0], call.Args()[1]
		if op.Kind() == celast.IdentKind && isRoot(op.AsIdent()) && key.Kind() == celast.LiteralKind {
			if s, isStr := key.AsLiteral().(types.String); isStr {
				return op.AsIdent(), string(s), true
			}
		}
	}
	return "", "", false
}

func isRoot(ident string) bool { return ident == "steps" || ident == "vars" }
