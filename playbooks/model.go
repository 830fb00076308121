package playbooks

import (
	"strings"
	"time"
)

// Playbook is a parsed playbook file.
type Playbook struct {
	File        string
	Source      []byte // the file as read; a run is pinned to it
	Name        string
	Version     int
	Description string
	On          Trigger
	Dedup       *Expr // nil: every alert gets its own run
	Vars        []*Assign
	Steps       []*Step
	Pos         Pos
}

// Trigger selects the alerts a playbook handles.
type Trigger struct {
	Types []string
	If    *Expr
}

// Matches reports whether the alert type is one the trigger lists. It does
// not evaluate If.
func (t Trigger) Matches(alertType string) bool {
	for _, pat := range t.Types {
		if pat == alertType || pat == "*" {
			return true
		}
		if prefix, ok := strings.CutSuffix(pat, ".*"); ok && strings.HasPrefix(alertType, prefix+".") {
			return true
		}
	}
	return false
}

// Expr is a CEL expression as written, with where it starts in the file.
type Expr struct {
	Source string
	Pos    Pos
	// Line and column of each source line's first character, so CEL error
	// locations inside multi-line expressions map back to the file.
	lineStarts []Pos
}

// Template is a string that may interpolate ${{ expr }} parts.
type Template struct {
	Raw   string
	Parts []TemplatePart
	Pos   Pos
}

// TemplatePart is literal text or an expression.
type TemplatePart struct {
	Text string
	Expr *Expr
}

// Whole reports whether the template is exactly one ${{ expr }} with no
// surrounding text, in which case it evaluates to the expression's value with
// its own type instead of a string.
func (t *Template) Whole() bool { return len(t.Parts) == 1 && t.Parts[0].Expr != nil }

// Value is a YAML value whose strings may be templates: the input of a plugin
// call, a variable, page details.
type Value struct {
	Pos    Pos
	Kind   ValueKind
	Scalar any       // bool, int64, float64 or nil for scalars other than strings
	Str    *Template // for KindString
	List   []*Value
	Map    []*Assign // for KindMap, in file order
}

// ValueKind is the kind of a Value.
type ValueKind int

// Value kinds.
const (
	KindNull ValueKind = iota
	KindBool
	KindInt
	KindFloat
	KindString
	KindList
	KindMap
)

// Assign is a name and a value: a map entry, a `set` or a `vars` item.
type Assign struct {
	Name  string
	Pos   Pos // of the name
	Value *Value
}

// Step is one step. Do holds what the step does; its concrete type is the
// step kind.
type Step struct {
	ID     string
	AutoID bool   // the id was generated from the position
	Path   string // position in the playbook, e.g. steps[2].then[0]
	Name   string
	If     *Expr
	Do     Action
	Pos    Pos
}

// Label is what the UI shows for the step.
func (s *Step) Label() string {
	if s.Name != "" {
		return s.Name
	}
	return s.ID
}

// Action is what a step does: one of *Uses, *Branch, *Parallel, *Foreach,
// *Group, *Set, *Wait, *WaitFor, *Escalate, *Silence, *Finish.
type Action interface {
	// Kind is the YAML key that selects this kind of step.
	Kind() string
}

// Uses calls a plugin action.
type Uses struct {
	Plugin, Action string
	UsesPos        Pos
	With           *Value // a KindMap, or nil
	Timeout        time.Duration
	Retry          *Retry
	OnError        string // "fail" or "continue"
}

// Retry is a plugin call's retry policy; zero fields mean the default.
type Retry struct {
	MaxAttempts     int
	InitialInterval time.Duration
	Backoff         float64
	MaxInterval     time.Duration
}

// Branch runs Then when the step's If holds and Else otherwise.
type Branch struct {
	Then, Else []*Step
}

// Parallel runs its steps concurrently.
type Parallel struct{ Steps []*Step }

// Foreach runs Steps once per item of the list the expression yields.
type Foreach struct {
	Items       *Expr
	As          string
	Concurrency int
	Steps       []*Step
}

// Group runs its steps in order.
type Group struct{ Steps []*Step }

// Set assigns variables.
type Set struct{ Vars []*Assign }

// Wait is a durable timer.
type Wait struct{ Duration time.Duration }

// WaitFor waits for named human input.
type WaitFor struct {
	Name      string
	Prompt    *Template
	Timeout   time.Duration
	OnTimeout string // "continue" or "fail"
}

// Escalate pages humans tier by tier until one acknowledges.
type Escalate struct {
	Policy    *Template // exclusive with Tiers
	Tiers     []*Tier
	AckWithin time.Duration
	SkipIf    *Expr
	Repeat    int
	Fallback  *Fallback
	Page      Page
}

// Tier is one level of an inline escalation.
type Tier struct {
	Responders []string
	Schedule   string
	AckWithin  time.Duration
	Pos        Pos
}

// Fallback is the last resort of an escalation.
type Fallback struct {
	Responders []string
	Schedule   string
	Policy     *Template
}

// Page is the content of a page.
type Page struct {
	Summary  *Template
	Severity string
	Details  *Value
	Links    *Value
}

// Silence ends the run as benign.
type Silence struct{ Reason *Template }

// Finish ends the run with an author-chosen verdict.
type Finish struct {
	Verdict string
	Reason  *Template
}

func (*Uses) Kind() string     { return "uses" }
func (*Branch) Kind() string   { return "then" }
func (*Parallel) Kind() string { return "parallel" }
func (*Foreach) Kind() string  { return "foreach" }
func (*Group) Kind() string    { return "steps" }
func (*Set) Kind() string      { return "set" }
func (*Wait) Kind() string     { return "wait" }
func (*WaitFor) Kind() string  { return "wait_for" }
func (*Escalate) Kind() string { return "escalate" }
func (*Silence) Kind() string  { return "silence" }
func (*Finish) Kind() string   { return "finish" }

// Children returns the step lists nested in a step, in file order.
func (s *Step) Children() [][]*Step {
	switch a := s.Do.(type) {
	case *Branch:
		return [][]*Step{a.Then, a.Else}
	case *Parallel:
		return [][]*Step{a.Steps}
	case *Foreach:
		return [][]*Step{a.Steps}
	case *Group:
		return [][]*Step{a.Steps}
	}
	return nil
}

// Walk calls fn for every step in steps and their children, depth first in
// file order.
func Walk(steps []*Step, fn func(*Step)) {
	for _, s := range steps {
		fn(s)
		for _, c := range s.Children() {
			Walk(c, fn)
		}
	}
}
