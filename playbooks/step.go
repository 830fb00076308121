package playbooks

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// steps reads a list of steps. parent is the id of the enclosing step ("" at
// the top); it roots the generated ids of children, e.g. triage.then[0].
func (p *parser) steps(f field, parent string) []*Step {
	if f.val.Kind != yaml.SequenceNode {
		p.errorf(f.val, "%s must be a list of steps, got %s", f.key.Value, describe(f.val))
		return nil
	}
	if len(f.val.Content) == 0 {
		p.errorf(f.val, "%s must list at least one step", f.key.Value)
	}
	prefix := f.key.Value
	if parent != "" {
		prefix = parent + "." + f.key.Value
	}
	var out []*Step
	for i, n := range f.val.Content {
		if s := p.step(resolve(n), fmt.Sprintf("%s[%d]", prefix, i)); s != nil {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) step(n *yaml.Node, path string) *Step {
	if !p.spend(n) {
		return nil
	}
	fs := p.fields(n, stepSpec, "step")
	if fs == nil {
		return nil
	}
	s := &Step{ID: path, AutoID: true, Path: path, Pos: p.pos(n)}
	if f, ok := fs["id"]; ok {
		if id := p.name(f); id != "" {
			s.ID, s.AutoID = id, false
		}
	}
	if f, ok := fs["name"]; ok {
		s.Name = p.str(f)
	}
	if f, ok := fs["if"]; ok {
		s.If = p.expr(f)
	}
	kind := p.stepKind(n, fs)
	if kind == nil {
		return s
	}
	switch kind.Key {
	case "uses":
		s.Do = p.uses(fs)
	case "then":
		b := &Branch{Then: p.steps(fs["then"], s.ID)}
		if f, ok := fs["else"]; ok {
			b.Else = p.steps(f, s.ID)
		}
		if s.If == nil {
			p.errorf(fs["then"].key, "then needs an if on the same step")
		}
		s.Do = b
	case "parallel":
		s.Do = &Parallel{Steps: p.steps(fs["parallel"], s.ID)}
	case "foreach":
		s.Do = p.foreach(fs, s.ID)
	case "steps":
		s.Do = &Group{Steps: p.steps(fs["steps"], s.ID)}
	case "set":
		s.Do = &Set{Vars: p.assigns(fs["set"].val, "set", true)}
	case "wait":
		s.Do = &Wait{Duration: p.duration(fs["wait"])}
	case "wait_for":
		s.Do = p.waitFor(fs["wait_for"].val)
	case "escalate":
		s.Do = p.escalate(fs["escalate"].val)
	case "silence":
		s.Do = p.silence(fs["silence"])
	case "finish":
		s.Do = p.finish(fs["finish"].val)
	}
	return s
}

// stepKind finds the one kind a step's fields select and reports fields that
// belong to another kind.
func (p *parser) stepKind(n *yaml.Node, fs map[string]field) *stepKind {
	var found []*stepKind
	for i := range stepKinds {
		k := &stepKinds[i]
		if _, ok := fs[k.Key]; !ok {
			continue
		}
		// `steps` is a foreach's body, not a group, when foreach is present.
		if _, each := fs["foreach"]; k.Key == "steps" && each {
			continue
		}
		found = append(found, k)
	}
	switch len(found) {
	case 0:
		if _, ok := fs["else"]; ok {
			p.errorf(fs["else"].key, "else needs then (and an if) on the same step")
			return nil
		}
		keys := make([]string, len(stepKinds))
		for i, k := range stepKinds {
			keys[i] = k.Key
		}
		p.errorf(n, "step does nothing: give it one of %s", strings.Join(keys, ", "))
		return nil
	case 1:
	default:
		p.errorf(fs[found[1].Key].key, "step has both %q and %q; a step does one thing, so split it in two", found[0].Key, found[1].Key)
		return nil
	}
	kind := found[0]
	allowed := map[string]bool{}
	for _, f := range commonStepFields {
		allowed[f.Name] = true
	}
	for _, f := range kind.Fields {
		allowed[f.Name] = true
	}
	for name, f := range fs {
		if !allowed[name] {
			p.errorf(f.key, "%q does not apply to a %s step%s", name, kind.Key, ownerHint(name))
		}
	}
	return kind
}

// ownerHint names the step kind a misplaced field belongs to.
func ownerHint(name string) string {
	for _, k := range stepKinds {
		for _, f := range k.Fields {
			if f.Name == name {
				return fmt.Sprintf(" (it belongs to %s steps)", k.Key)
			}
		}
	}
	return ""
}

func (p *parser) uses(fs map[string]field) *Uses {
	u := &Uses{OnError: "fail"}
	f := fs["uses"]
	ref := p.str(f)
	u.UsesPos = p.pos(f.val)
	plugin, action, ok := strings.Cut(ref, ".")
	if ref != "" && (!ok || !nameRE.MatchString(plugin) || !nameRE.MatchString(action)) {
		p.errorf(f.val, "uses %q must be plugin.action, e.g. geoip.lookup", ref)
	}
	u.Plugin, u.Action = plugin, action
	if f, ok := fs["with"]; ok {
		u.With = &Value{Pos: p.pos(f.val), Kind: KindMap, Map: p.assigns(f.val, "with", false)}
	}
	if f, ok := fs["timeout"]; ok {
		u.Timeout = p.duration(f)
	}
	if f, ok := fs["retry"]; ok {
		u.Retry = p.retry(f.val)
	}
	if f, ok := fs["on_error"]; ok {
		spec, _ := stepSpec.field("on_error")
		u.OnError = p.enum(f, spec)
	}
	return u
}

func (p *parser) retry(n *yaml.Node) *Retry {
	fs := p.fields(n, retrySpec, "retry")
	r := &Retry{}
	if f, ok := fs["max_attempts"]; ok {
		r.MaxAttempts = p.integer(f, 1)
	}
	if f, ok := fs["initial_interval"]; ok {
		r.InitialInterval = p.duration(f)
	}
	if f, ok := fs["backoff"]; ok {
		r.Backoff = p.number(f, 1)
	}
	if f, ok := fs["max_interval"]; ok {
		r.MaxInterval = p.duration(f)
	}
	if r.MaxInterval > 0 && r.InitialInterval > r.MaxInterval {
		p.errorf(fs["max_interval"].val, "max_interval is shorter than initial_interval")
	}
	return r
}

func (p *parser) foreach(fs map[string]field, id string) *Foreach {
	fe := &Foreach{Items: p.expr(fs["foreach"]), As: "item", Concurrency: 1}
	if f, ok := fs["as"]; ok {
		fe.As = p.name(f)
		if reservedNames[fe.As] {
			p.errorf(f.val, "as %q would hide the %s variable; pick another name", fe.As, fe.As)
		}
	}
	if f, ok := fs["concurrency"]; ok {
		fe.Concurrency = p.integer(f, 1)
	}
	if f, ok := fs["steps"]; ok {
		fe.Steps = p.steps(f, id)
	} else {
		p.errorf(fs["foreach"].key, "foreach needs steps to run for each item")
	}
	return fe
}

func (p *parser) waitFor(n *yaml.Node) *WaitFor {
	fs := p.fields(n, waitForSpec, "wait_for")
	w := &WaitFor{OnTimeout: "continue"}
	if f, ok := fs["name"]; ok {
		w.Name = p.name(f)
	}
	if f, ok := fs["prompt"]; ok {
		w.Prompt = p.template(f)
	}
	if f, ok := fs["timeout"]; ok {
		w.Timeout = p.duration(f)
	}
	if f, ok := fs["on_timeout"]; ok {
		spec, _ := waitForSpec.field("on_timeout")
		w.OnTimeout = p.enum(f, spec)
	}
	return w
}

func (p *parser) silence(f field) *Silence {
	if f.val.Kind == yaml.MappingNode {
		fs := p.fields(f.val, silenceSpec, "silence")
		if r, ok := fs["reason"]; ok {
			return &Silence{Reason: p.template(r)}
		}
		return &Silence{}
	}
	return &Silence{Reason: p.template(f)}
}

func (p *parser) finish(n *yaml.Node) *Finish {
	fs := p.fields(n, finishSpec, "finish")
	fin := &Finish{}
	if f, ok := fs["verdict"]; ok {
		fin.Verdict = p.name(f)
		if reservedVerdicts[fin.Verdict] != "" {
			p.errorf(f.val, "verdict %q is set by soar itself; use the %s step, or pick another word", fin.Verdict, reservedVerdicts[fin.Verdict])
		}
	}
	if f, ok := fs["reason"]; ok {
		fin.Reason = p.template(f)
	}
	return fin
}

// reservedVerdicts are verdicts soar assigns; finish may not claim them,
// so a "silenced" verdict always means a silence step decided it.
var reservedVerdicts = map[string]string{
	"silenced":       "silence",
	"escalated":      "escalate",
	"acknowledged":   "escalate",
	"unacknowledged": "escalate",
	"failed":         "fail (on_error)",
}

// reservedNames are the CEL variables of a playbook.
var reservedNames = map[string]bool{"alert": true, "steps": true, "vars": true, "now": true, "responder": true}
