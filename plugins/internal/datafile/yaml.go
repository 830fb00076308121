package datafile

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// lineError is a problem in a data file at a line; Cache.Get prefixes the
// file name so messages read "hr.yaml:12: ...", as editors and CI expect.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("%d: %s", e.line, e.msg) }

// ErrorAt reports a problem at n's line.
func ErrorAt(n *yaml.Node, format string, args ...any) error {
	return &lineError{line: n.Line, msg: fmt.Sprintf(format, args...)}
}

// DecodeStrict decodes a mapping node into the struct v points to, first
// rejecting keys that v has no `yaml` tag for: a misspelt "untill" must
// fail loudly, not silently leave a leave period open-ended.
func DecodeStrict(n *yaml.Node, v any) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias // working_hours: *office
	}
	if n.Kind != yaml.MappingNode {
		return ErrorAt(n, "expected a mapping (key: value lines), found %s", kindName(n))
	}
	t := reflect.TypeOf(v).Elem()
	var known []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			known = append(known, name)
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Value != "<<" && !slices.Contains(known, k.Value) { // << merges an anchor
			return ErrorAt(k, "unknown field %q (expected one of: %s)", k.Value, strings.Join(known, ", "))
		}
	}
	if err := n.Decode(v); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			// yaml.v3 already says "line N: ..."; keep the first problem.
			msg := te.Errors[0]
			var line int
			if _, err := fmt.Sscanf(msg, "line %d:", &line); err == nil {
				_, rest, _ := strings.Cut(msg, ": ")
				return &lineError{line: line, msg: rest}
			}
			return ErrorAt(n, "%s", msg)
		}
		return ErrorAt(n, "%v", err)
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	default:
		return "something else"
	}
}

// Parse parses a data file into its document's root node; an empty file is
// an error.
func Parse(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := err.Error()
		var line int
		if _, serr := fmt.Sscanf(msg, "yaml: line %d:", &line); serr == nil {
			_, rest, _ := strings.Cut(strings.TrimPrefix(msg, "yaml: "), ": ")
			return nil, &lineError{line: line, msg: rest}
		}
		return nil, &lineError{line: 1, msg: msg}
	}
	if len(doc.Content) == 0 {
		return nil, &lineError{line: 1, msg: "the file is empty"}
	}
	return doc.Content[0], nil
}

// ParseZone reads an IANA time zone name. "Local" is refused: a data file
// must mean the same wherever soar runs.
func ParseZone(n *yaml.Node) (*time.Location, error) {
	if n.Value == "" || n.Value == "Local" {
		return nil, ErrorAt(n, "timezone must be an IANA name such as Europe/Berlin")
	}
	loc, err := time.LoadLocation(n.Value)
	if err != nil {
		return nil, ErrorAt(n, "unknown time zone %q (use an IANA name such as Europe/Berlin or America/New_York)", n.Value)
	}
	return loc, nil
}
