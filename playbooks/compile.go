package playbooks

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"
)

// Compiled is a checked playbook with every expression compiled to a CEL
// program. It is immutable and safe for concurrent use: build it once per
// playbook version and evaluate it for every alert.
type Compiled struct {
	*Playbook
	// Hash identifies the source (sha256, hex); runs record it.
	Hash     string
	env      *Env
	programs map[*Expr]cel.Program
}

// Compile checks a parsed playbook and builds its programs. With a nil
// catalog, plugin actions and their inputs are not checked.
func Compile(pb *Playbook, env *Env, cat Catalog) (*Compiled, ErrorList) {
	c := newChecker(env, cat)
	c.playbook(pb)
	if len(c.errs) > 0 {
		return nil, c.errs.Sorted()
	}
	out := &Compiled{Playbook: pb, Hash: Hash(pb.Source), env: env, programs: make(map[*Expr]cel.Program, len(c.checked))}
	var errs ErrorList
	for x, ck := range c.checked {
		opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
		if !boundedCost(ck) {
			opts = append(opts, cel.CostLimit(env.costLimit))
		}
		prg, err := ck.env.Program(ck.ast, opts...)
		if err != nil {
			errs.add(x.Pos, "compile %q: %v", x.Source, err)
			continue
		}
		out.programs[x] = prg
	}
	if len(errs) > 0 {
		return nil, errs.Sorted()
	}
	return out, nil
}

// boundedCost reports whether an expression's work is bounded by the size
// of its inputs. Without comprehensions (exists, all, map, filter …) or
// generators like lists.range, evaluation is linear in what the expression
// reads, and everything it reads travels in a Temporal payload of at most
// 2 MiB. Those expressions — most conditions — run without cost tracking,
// which costs a third of their evaluation time; the rest keep the limit.
func boundedCost(ck *checked) bool {
	root := celast.NavigateAST(ck.ast.NativeRep())
	for _, n := range celast.MatchDescendants(root, celast.AllMatcher()) {
		switch n.Kind() {
		case celast.ComprehensionKind:
			return false
		case celast.CallKind:
			if generators[n.AsCall().FunctionName()] {
				return false
			}
		}
	}
	return true
}

// generators are functions whose output size is not bounded by their input's.
var generators = map[string]bool{"lists.range": true, "range": true, "repeat": true, "format": true}

// Hash is the sha256 of a playbook source, in hex.
func Hash(src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:])
}

// Activation is what expressions see while a run evaluates them. All of it
// must come from the workflow's deterministic state: Now is workflow time.
type Activation struct {
	Alert map[string]any
	Steps map[string]any
	Vars  map[string]any
	Now   time.Time
	// Locals are the loop variables of enclosing foreach steps and, in
	// escalate.skip_if, responder.
	Locals map[string]any
}

// activation adapts Activation to CEL without copying it into a map.
type activation struct{ a *Activation }

func (v activation) ResolveName(name string) (any, bool) {
	switch name {
	case "alert":
		return v.a.Alert, true
	case "steps":
		return orEmpty(v.a.Steps), true
	case "vars":
		return orEmpty(v.a.Vars), true
	case "now":
		return v.a.Now, true
	}
	x, ok := v.a.Locals[name]
	return x, ok
}

func (activation) Parent() interpreter.Activation { return nil }

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// EvalError is a failed evaluation, with where the expression is.
type EvalError struct {
	Pos    Pos
	Source string
	Err    error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("%s: evaluate %q: %v", e.Pos, e.Source, e.Err)
}

func (e *EvalError) Unwrap() error { return e.Err }

// ErrCostLimit is wrapped by an EvalError when an expression did more work
// than the Env's cost limit allows.
var ErrCostLimit = errors.New("expression exceeded its cost limit")

// Eval evaluates one of the playbook's expressions and returns a plain Go
// value (nil, bool, int64, uint64, float64, string, []byte, time.Time,
// time.Duration, []any or map[string]any).
func (c *Compiled) Eval(x *Expr, act *Activation) (any, error) {
	prg, ok := c.programs[x]
	if !ok {
		return nil, &EvalError{Pos: x.Pos, Source: x.Source, Err: errors.New("expression is not part of this playbook")}
	}
	val, _, err := prg.Eval(activation{act})
	if err != nil {
		if strings.Contains(err.Error(), "cost limit exceeded") {
			err = fmt.Errorf("%w (%d)", ErrCostLimit, c.env.costLimit)
		}
		return nil, &EvalError{Pos: x.Pos, Source: x.Source, Err: err}
	}
	out, err := native(val)
	if err != nil {
		return nil, &EvalError{Pos: x.Pos, Source: x.Source, Err: err}
	}
	return out, nil
}

// EvalBool evaluates a condition. A non-bool result is an error, never false:
// a condition that cannot be decided must not silently skip a step.
func (c *Compiled) EvalBool(x *Expr, act *Activation) (bool, error) {
	v, err := c.Eval(x, act)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, &EvalError{Pos: x.Pos, Source: x.Source, Err: fmt.Errorf("condition gave %T, want bool", v)}
	}
	return b, nil
}

// Render evaluates a template. A template that is one whole ${{ expr }}
// keeps the expression's type; otherwise the result is a string.
func (c *Compiled) Render(t *Template, act *Activation) (any, error) {
	if t == nil {
		return nil, nil
	}
	if t.Whole() {
		return c.Eval(t.Parts[0].Expr, act)
	}
	var b strings.Builder
	for _, p := range t.Parts {
		if p.Expr == nil {
			b.WriteString(p.Text)
			continue
		}
		v, err := c.Eval(p.Expr, act)
		if err != nil {
			return nil, err
		}
		b.WriteString(stringify(v))
	}
	return b.String(), nil
}

// RenderString renders a template to text.
func (c *Compiled) RenderString(t *Template, act *Activation) (string, error) {
	v, err := c.Render(t, act)
	if err != nil {
		return "", err
	}
	return stringify(v), nil
}

// RenderValue evaluates every template inside a value tree, giving plain Go
// values ready to encode as JSON.
func (c *Compiled) RenderValue(v *Value, act *Activation) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch v.Kind {
	case KindString:
		return c.Render(v.Str, act)
	case KindList:
		out := make([]any, len(v.List))
		for i, item := range v.List {
			x, err := c.RenderValue(item, act)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case KindMap:
		out := make(map[string]any, len(v.Map))
		for _, e := range v.Map {
			x, err := c.RenderValue(e.Value, act)
			if err != nil {
				return nil, err
			}
			out[e.Name] = x
		}
		return out, nil
	}
	return v.Scalar, nil
}

// native converts a CEL value to plain Go values.
func native(v ref.Val) (any, error) {
	switch x := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return uint64(x), nil
	case types.Double:
		return float64(x), nil
	case types.String:
		return string(x), nil
	case types.Bytes:
		return []byte(x), nil
	case types.Timestamp:
		return x.Time, nil
	case types.Duration:
		return x.Duration, nil
	case *types.Optional:
		if !x.HasValue() {
			return nil, nil
		}
		return native(x.GetValue())
	case traits.Mapper:
		out := map[string]any{}
		it := x.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			val, err := native(x.Get(k))
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k.Value())] = val
		}
		return out, nil
	case traits.Lister:
		var out []any
		it := x.Iterator()
		for it.HasNext() == types.True {
			val, err := native(it.Next())
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		return out, nil
	}
	if types.IsError(v) {
		return nil, v.(*types.Err)
	}
	return v.Value(), nil
}
