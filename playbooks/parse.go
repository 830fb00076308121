package playbooks

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

var (
	nameRE         = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	playbookNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	yamlLineRE     = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// Parse reads one playbook file. It returns the playbook (partial when there
// are errors) and every problem found at this stage. Parse does not compile
// CEL or follow references; Check does.
func Parse(file string, src []byte) (*Playbook, ErrorList) {
	p := &parser{file: file, lines: strings.Split(string(src), "\n")}
	pb := &Playbook{File: file, Source: src, Version: 1, Pos: Pos{File: file, Line: 1, Col: 1}}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		p.yamlError(err)
		return pb, p.errs
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, "a playbook file holds one playbook; put the next one in its own file")
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null" {
		p.errs.add(pb.Pos, "empty playbook: expected name, on and steps")
		return pb, p.errs
	}
	p.playbook(doc.Content[0], pb)
	return pb, p.errs
}

type parser struct {
	file    string
	lines   []string
	errs    ErrorList
	values  int  // values read so far, aliases expanded
	tooMany bool // the value budget was exhausted and reported
}

// maxValues bounds the values one playbook may hold once YAML aliases are
// expanded, so a "billion laughs" file fails fast instead of eating memory.
const maxValues = 10_000

func (p *parser) pos(n *yaml.Node) Pos { return Pos{File: p.file, Line: n.Line, Col: n.Column} }

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs.add(p.pos(n), format, args...)
}

func (p *parser) yamlError(err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(line, "yaml: unmarshal errors:"))
		if line == "" {
			continue
		}
		if m := yamlLineRE.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			p.errs.add(Pos{File: p.file, Line: n}, "invalid YAML: %s", m[2])
			continue
		}
		p.errs.add(Pos{File: p.file}, "invalid YAML: %s", strings.TrimPrefix(line, "yaml: "))
	}
}

// field is a key and its value in a mapping.
type field struct {
	key, val *yaml.Node
}

// fields checks a mapping's keys against spec and returns the known ones.
// Unknown, duplicate and missing required keys are reported here so that
// every object in the format gets the same messages.
func (p *parser) fields(n *yaml.Node, spec *objectSpec, what string) map[string]field {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping, got %s", what, describe(n))
		return nil
	}
	out := map[string]field{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "%s has a key that is %s; keys are field names", what, describe(k))
			continue
		}
		if k.Value == "<<" {
			p.errorf(k, "YAML merge keys (<<) are not supported; write the fields out")
			continue
		}
		if prev, dup := out[k.Value]; dup {
			p.errorf(k, "duplicate field %q in %s (first set on line %d)", k.Value, what, prev.key.Line)
			continue
		}
		if _, ok := spec.field(k.Value); !ok {
			p.errorf(k, "unknown field %q in %s%s", k.Value, what, didYouMean(k.Value, spec.names()))
			continue
		}
		out[k.Value] = field{key: k, val: v}
	}
	for _, f := range spec.Fields {
		if _, ok := out[f.Name]; f.Required && !ok {
			p.errorf(n, "%s is missing required field %q", what, f.Name)
		}
	}
	return out
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// describe names a node's type for messages: "a list", "a number" ...
func describe(n *yaml.Node) string {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.Tag {
	case "!!null":
		return "nothing"
	case "!!int", "!!float":
		return "a number (" + n.Value + ")"
	case "!!bool":
		return "a boolean (" + n.Value + ")"
	}
	return fmt.Sprintf("a string (%q)", n.Value)
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// scalar returns a scalar's text, reporting other node kinds.
func (p *parser) scalar(f field, what string) (string, bool) {
	if f.val.Kind != yaml.ScalarNode || isNull(f.val) {
		p.errorf(f.val, "%s must be %s, got %s", f.key.Value, what, describe(f.val))
		return "", false
	}
	return f.val.Value, true
}

func (p *parser) str(f field) string {
	s, _ := p.scalar(f, "a string")
	return s
}

func (p *parser) name(f field) string {
	s, ok := p.scalar(f, "a name")
	if ok && !nameRE.MatchString(s) {
		p.errorf(f.val, "%s %q must start with a lowercase letter and hold only lowercase letters, digits and _", f.key.Value, s)
	}
	return s
}

// integer reads an integer and reports it when it is below least.
func (p *parser) integer(f field, least int) int {
	s, ok := p.scalar(f, "an integer")
	if !ok {
		return least
	}
	n, err := strconv.Atoi(s)
	if f.val.Tag != "!!int" || err != nil {
		p.errorf(f.val, "%s must be an integer, got %s", f.key.Value, describe(f.val))
		return least
	}
	if n < least {
		p.errorf(f.val, "%s must be %d or more", f.key.Value, least)
		return least
	}
	return n
}

// number reads a number and reports it when it is below least.
func (p *parser) number(f field, least float64) float64 {
	s, ok := p.scalar(f, "a number")
	if !ok {
		return least
	}
	x, err := strconv.ParseFloat(s, 64)
	if (f.val.Tag != "!!int" && f.val.Tag != "!!float") || err != nil {
		p.errorf(f.val, "%s must be a number, got %s", f.key.Value, describe(f.val))
		return least
	}
	if x < least {
		p.errorf(f.val, "%s must be at least %g", f.key.Value, least)
		return least
	}
	return x
}

func (p *parser) duration(f field) time.Duration {
	s, ok := p.scalar(f, "a duration")
	if !ok {
		return 0
	}
	d, err := parseDuration(s)
	if err != nil {
		p.errorf(f.val, "%s: %v", f.key.Value, err)
		return 0
	}
	if d == 0 {
		p.errorf(f.val, "%s must be longer than 0", f.key.Value)
	}
	return d
}

func (p *parser) enum(f field, spec Field) string {
	s, ok := p.scalar(f, "one of "+quoteList(spec.Enum))
	if !ok {
		return ""
	}
	for _, e := range spec.Enum {
		if s == e {
			return s
		}
	}
	p.errorf(f.val, "%s must be one of %s, got %q%s", f.key.Value, quoteList(spec.Enum), s, didYouMean(s, spec.Enum))
	return ""
}

func (p *parser) strings(f field) []string {
	if f.val.Kind == yaml.ScalarNode && !isNull(f.val) {
		return []string{f.val.Value}
	}
	if f.val.Kind != yaml.SequenceNode {
		p.errorf(f.val, "%s must be a string or a list of strings, got %s", f.key.Value, describe(f.val))
		return nil
	}
	var out []string
	for _, item := range f.val.Content {
		item = resolve(item)
		if item.Kind != yaml.ScalarNode || isNull(item) {
			p.errorf(item, "%s must list strings, got %s", f.key.Value, describe(item))
			continue
		}
		out = append(out, item.Value)
	}
	if len(out) == 0 && len(f.val.Content) == 0 {
		p.errorf(f.val, "%s must not be empty", f.key.Value)
	}
	return out
}

// expr reads a CEL expression. `${{ expr }}` around the whole value is
// accepted too, since authors carry the habit over from other fields.
func (p *parser) expr(f field) *Expr {
	s, ok := p.scalar(f, "a CEL expression")
	if !ok {
		return nil
	}
	posAt := p.scalarPosAt(f.val)
	trimmed := strings.TrimSpace(s)
	if strings.HasPrefix(trimmed, "${{") && strings.HasSuffix(trimmed, "}}") {
		t, err := parseTemplate(s, posAt)
		if err != nil {
			p.errs = append(p.errs, err)
			return nil
		}
		if t.Whole() {
			return t.Parts[0].Expr
		}
	}
	if trimmed == "" {
		p.errorf(f.val, "%s must not be empty", f.key.Value)
		return nil
	}
	return newExpr(trimmed, strings.Index(s, trimmed), posAt)
}

// template reads a string that may interpolate ${{ }}.
func (p *parser) template(f field) *Template {
	s, ok := p.scalar(f, "a string")
	if !ok {
		return nil
	}
	t, err := parseTemplate(s, p.scalarPosAt(f.val))
	if err != nil {
		p.errs = append(p.errs, err)
		return nil
	}
	return t
}

// value reads any YAML value; strings become templates.
func (p *parser) value(n *yaml.Node) *Value {
	n = resolve(n)
	v := &Value{Pos: p.pos(n)}
	if !p.spend(n) {
		return v
	}
	switch n.Kind {
	case yaml.SequenceNode:
		v.Kind = KindList
		for _, item := range n.Content {
			v.List = append(v.List, p.value(item))
		}
	case yaml.MappingNode:
		v.Kind = KindMap
		v.Map = p.assigns(n, "mapping", false)
	default:
		p.scalarValue(n, v)
	}
	return v
}

// spend counts one value against maxValues and reports false once the
// budget is gone.
func (p *parser) spend(n *yaml.Node) bool {
	if p.values++; p.values <= maxValues {
		return true
	}
	if !p.tooMany {
		p.tooMany = true
		p.errorf(n, "playbook holds more than %d values once YAML aliases are expanded", maxValues)
	}
	return false
}

func (p *parser) scalarValue(n *yaml.Node, v *Value) {
	var err error
	switch n.Tag {
	case "!!null":
		v.Kind = KindNull
	case "!!bool":
		v.Kind = KindBool
		v.Scalar, err = strconv.ParseBool(strings.ToLower(n.Value))
	case "!!int":
		v.Kind = KindInt
		v.Scalar, err = strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
	case "!!float":
		v.Kind = KindFloat
		v.Scalar, err = strconv.ParseFloat(n.Value, 64)
	default:
		v.Kind = KindString
		t, terr := parseTemplate(n.Value, p.scalarPosAt(n))
		if terr != nil {
			p.errs = append(p.errs, terr)
			t = &Template{Raw: n.Value, Parts: []TemplatePart{{Text: n.Value}}, Pos: v.Pos}
		}
		v.Str = t
	}
	if err != nil {
		p.errorf(n, "cannot read %s: %v", describe(n), err)
	}
}

// assigns reads a mapping of names to values (with:, set:, vars:, details:).
// With names set, keys must be valid variable names.
func (p *parser) assigns(n *yaml.Node, what string, names bool) []*Assign {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping, got %s", what, describe(n))
		return nil
	}
	var out []*Assign
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "%s has a key that is %s", what, describe(k))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			p.errorf(k, "duplicate key %q in %s (first set on line %d)", k.Value, what, line)
			continue
		}
		seen[k.Value] = k.Line
		if names && !nameRE.MatchString(k.Value) {
			p.errorf(k, "%s name %q must start with a lowercase letter and hold only lowercase letters, digits and _", what, k.Value)
		}
		out = append(out, &Assign{Name: k.Value, Pos: p.pos(k), Value: p.value(n.Content[i+1])})
	}
	return out
}

// scalarPosAt maps a byte offset in a scalar's value to its file position,
// exact for single-line and literal block scalars, close for the rest.
func (p *parser) scalarPosAt(n *yaml.Node) func(int) Pos {
	base := p.pos(n)
	v := n.Value
	startLine, startCol := base.Line, base.Col
	switch n.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		startCol++
	case yaml.LiteralStyle, yaml.FoldedStyle:
		startLine++
		startCol = 1
		if startLine-1 < len(p.lines) {
			line := p.lines[startLine-1]
			startCol = len(line) - len(strings.TrimLeft(line, " ")) + 1
		}
	}
	return func(off int) Pos {
		off = min(max(off, 0), len(v))
		before := v[:off]
		nl := strings.Count(before, "\n")
		if nl == 0 {
			return Pos{File: p.file, Line: startLine, Col: startCol + utf8.RuneCountInString(before)}
		}
		last := before[strings.LastIndexByte(before, '\n')+1:]
		col := utf8.RuneCountInString(last) + 1
		if n.Style == yaml.LiteralStyle || n.Style == yaml.FoldedStyle {
			col += startCol - 1
		}
		return Pos{File: p.file, Line: startLine + nl, Col: col}
	}
}

func (p *parser) playbook(n *yaml.Node, pb *Playbook) {
	n = resolve(n)
	pb.Pos = p.pos(n)
	fs := p.fields(n, playbookSpec, "playbook")
	if fs == nil {
		return
	}
	if f, ok := fs["name"]; ok {
		pb.Name = p.str(f)
		if pb.Name != "" && !playbookNameRE.MatchString(pb.Name) {
			p.errorf(f.val, "name %q must hold only lowercase letters, digits and dashes (it is part of the workflow ID)", pb.Name)
		}
	}
	if f, ok := fs["version"]; ok {
		pb.Version = p.integer(f, 1)
	}
	if f, ok := fs["description"]; ok {
		pb.Description = p.str(f)
	}
	if f, ok := fs["on"]; ok {
		p.trigger(f.val, &pb.On)
	}
	if f, ok := fs["dedup"]; ok {
		pb.Dedup = p.expr(f)
	}
	if f, ok := fs["vars"]; ok {
		pb.Vars = p.assigns(f.val, "vars", true)
	}
	if f, ok := fs["steps"]; ok {
		pb.Steps = p.steps(f, "")
	}
}

func (p *parser) trigger(n *yaml.Node, t *Trigger) {
	fs := p.fields(n, triggerSpec, "on")
	if f, ok := fs["type"]; ok {
		t.Types = p.strings(f)
		for _, typ := range t.Types {
			if strings.Contains(strings.TrimSuffix(typ, ".*"), "*") && typ != "*" {
				p.errorf(f.val, "alert type %q: only a trailing .* (or * alone) is a wildcard", typ)
			}
		}
	}
	if f, ok := fs["if"]; ok {
		t.If = p.expr(f)
	}
}
