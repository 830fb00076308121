package playbooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// actionSchemas is an action's compiled input schema and its declared output
// properties.
type actionSchemas struct {
	input  *jsonschema.Schema
	output map[string]any // the output schema, for checking output fields
	err    error
}

// uses checks a plugin step against the catalog: the action exists and its
// literal inputs satisfy the action's input schema. Inputs computed by
// ${{ }} are checked by the plugin at run time.
func (c *checker) uses(s *Step, u *Uses, f *flow) {
	for _, a := range withEntries(u) {
		c.value(a.Value, f, s, "with."+a.Name)
	}
	if c.cat == nil || u.Plugin == "" || u.Action == "" {
		return
	}
	plugin, ok := c.cat.Plugin(u.Plugin)
	if !ok {
		c.errs.add(u.UsesPos, "unknown plugin %q%s", u.Plugin, didYouMean(u.Plugin, c.cat.PluginNames()))
		return
	}
	action, ok := plugin.Actions[u.Action]
	if !ok {
		hint := didYouMean(u.Action, plugin.ActionNames())
		if hint == "" {
			hint = " (actions: " + strings.Join(plugin.ActionNames(), ", ") + ")"
		}
		c.errs.add(u.UsesPos, "plugin %s has no action %q%s", u.Plugin, u.Action, hint)
		return
	}
	sch := c.schemasFor(u.Plugin+"."+u.Action, action)
	if sch.err != nil {
		c.errs.add(u.UsesPos, "%s.%s: the plugin's input schema is invalid: %v", u.Plugin, u.Action, sch.err)
		return
	}
	if sch.input == nil {
		return
	}
	inst, dynamic := instance(u.With)
	if inst == nil {
		inst = map[string]any{}
	}
	err := sch.input.Validate(inst)
	if err == nil {
		return
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		c.errs.add(u.UsesPos, "with: %v", err)
		return
	}
	for _, leaf := range leaves(ve) {
		c.schemaError(s, u, leaf, dynamic)
	}
}

func withEntries(u *Uses) []*Assign {
	if u.With == nil {
		return nil
	}
	return u.With.Map
}

var printer = message.NewPrinter(language.English)

// schemaError reports one input-schema violation at the YAML node it is about.
func (c *checker) schemaError(s *Step, u *Uses, e *jsonschema.ValidationError, dynamic map[string]bool) {
	loc := strings.Join(e.InstanceLocation, ".")
	for d := range dynamic {
		if loc == d || strings.HasPrefix(loc, d+".") {
			return // the value is computed at run time
		}
	}
	action := u.Plugin + "." + u.Action
	node, pos := lookupValue(u.With, e.InstanceLocation), s.Pos
	if node != nil {
		pos = node.Pos
	}
	path := "with"
	if loc != "" {
		path += "." + loc
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		c.errs.add(pos, "%s: %s needs input %s", path, action, quoteList(k.Missing))
	case *kind.AdditionalProperties:
		for _, name := range k.Properties {
			p := pos
			if entry := lookupEntry(node, name); entry != nil {
				p = entry.Pos
			}
			c.errs.add(p, "%s: %s has no input %q%s", path, action, name, didYouMean(name, c.inputNames(action)))
		}
	default:
		c.errs.add(pos, "%s: %s", path, e.ErrorKind.LocalizedString(printer))
	}
}

// inputNames lists the input names an action declares, for hints.
func (c *checker) inputNames(action string) []string {
	if sch := c.schemas[action]; sch != nil && sch.input != nil {
		return slices.Sorted(maps.Keys(sch.input.Properties))
	}
	return nil
}

func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

// outputField checks steps.<id>.<field> against the action's declared outputs.
func (c *checker) outputField(r reference, target *Step) {
	if r.field == "" || target.Do == nil {
		return
	}
	if outs, builtin := builtinOutputs[target.Do.Kind()]; builtin {
		if !slices.Contains(outs, r.field) {
			c.errs.add(r.pos, "steps.%s.%s: a %s step has no output %q%s (outputs: %s)", r.name, r.field, target.Do.Kind(), r.field,
				didYouMean(r.field, outs), strings.Join(outs, ", "))
		}
		return
	}
	u, ok := target.Do.(*Uses)
	if !ok || c.cat == nil {
		return
	}
	if r.field == "error" && u.OnError == "continue" {
		return
	}
	plugin, ok := c.cat.Plugin(u.Plugin)
	if !ok {
		return
	}
	action, ok := plugin.Actions[u.Action]
	if !ok {
		return
	}
	sch := c.schemasFor(u.Plugin+"."+u.Action, action)
	if bad, at, known := missingField(sch.output, r.path); bad != "" {
		c.errs.add(r.pos, "steps.%s.%s: %s.%s has no output %q%s", r.name, strings.Join(r.path[:at+1], "."), u.Plugin, u.Action,
			strings.Join(r.path[:at+1], "."), didYouMean(bad, known))
	}
}

// missingField walks an output schema along path and returns the first
// field the schema says cannot be there, its index, and the fields that can.
// Where the schema does not list properties, anything goes.
func missingField(schema map[string]any, path []string) (string, int, []string) {
	node := schema
	for i, field := range path {
		if field == "[]" {
			items, ok := node["items"].(map[string]any)
			if !ok {
				return "", 0, nil
			}
			node = items
			continue
		}
		props, ok := node["properties"].(map[string]any)
		if !ok || len(props) == 0 {
			return "", 0, nil
		}
		next, ok := props[field].(map[string]any)
		if !ok {
			return field, i, slices.Sorted(maps.Keys(props))
		}
		node = next
	}
	return "", 0, nil
}

// builtinOutputs are the outputs of steps that are not plugin calls.
var builtinOutputs = map[string][]string{
	"then":     {"matched"},
	"wait_for": {"at", "by", "received", "value"},
	"escalate": {"acknowledged", "at", "by", "paged", "tier"},
}

func (c *checker) schemasFor(name string, a ActionSpec) *actionSchemas {
	if s, ok := c.schemas[name]; ok {
		return s
	}
	s := &actionSchemas{}
	c.schemas[name] = s
	if len(bytes.TrimSpace(a.Input)) > 0 {
		s.input, s.err = compileSchema(name, a.Input)
	}
	if len(a.Output) > 0 {
		_ = json.Unmarshal(a.Output, &s.output) // an unreadable schema checks nothing
	}
	return s
}

func compileSchema(name string, raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	comp := jsonschema.NewCompiler()
	url := "mem:///" + name + ".input.json"
	if err := comp.AddResource(url, doc); err != nil {
		return nil, err
	}
	return comp.Compile(url)
}

// instance turns a `with` value into JSON for schema validation. Values
// computed by ${{ }} become null and their paths are returned, so that
// errors about them are not reported before their value is known.
func instance(v *Value) (any, map[string]bool) {
	dynamic := map[string]bool{}
	var walk func(v *Value, path []string) any
	walk = func(v *Value, path []string) any {
		switch v.Kind {
		case KindString:
			if s, ok := v.Str.Literal(); ok {
				return s
			}
			dynamic[strings.Join(path, ".")] = true
			return nil
		case KindList:
			out := make([]any, len(v.List))
			for i, item := range v.List {
				out[i] = walk(item, append(slices.Clone(path), fmt.Sprint(i)))
			}
			return out
		case KindMap:
			out := make(map[string]any, len(v.Map))
			for _, e := range v.Map {
				out[e.Name] = walk(e.Value, append(slices.Clone(path), e.Name))
			}
			return out
		case KindInt:
			return json.Number(fmt.Sprint(v.Scalar))
		case KindFloat:
			return json.Number(fmt.Sprint(v.Scalar))
		}
		return v.Scalar
	}
	if v == nil {
		return nil, dynamic
	}
	return walk(v, nil), dynamic
}

// lookupValue finds the value at a JSON instance location.
func lookupValue(v *Value, loc []string) *Value {
	for _, key := range loc {
		if v == nil {
			return nil
		}
		switch v.Kind {
		case KindMap:
			v = lookupEntryValue(v, key)
		case KindList:
			var i int
			if _, err := fmt.Sscan(key, &i); err != nil || i < 0 || i >= len(v.List) {
				return nil
			}
			v = v.List[i]
		default:
			return nil
		}
	}
	return v
}

func lookupEntryValue(v *Value, key string) *Value {
	if e := lookupEntry(v, key); e != nil {
		return e.Value
	}
	return nil
}

func lookupEntry(v *Value, key string) *Assign {
	if v == nil {
		return nil
	}
	for _, e := range v.Map {
		if e.Name == key {
			return e
		}
	}
	return nil
}
