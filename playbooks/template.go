package playbooks

import (
	"encoding/json"
	"fmt"
	"strings"
)

// parseTemplate splits s into literal text and ${{ expr }} parts. posAt maps
// a byte offset in s to its file position. A string without ${{ is one
// literal part.
func parseTemplate(s string, posAt func(off int) Pos) (*Template, *Error) {
	t := &Template{Raw: s, Pos: posAt(0)}
	rest, off := s, 0
	for {
		i := strings.Index(rest, "${{")
		if i < 0 {
			if rest != "" {
				t.Parts = append(t.Parts, TemplatePart{Text: rest})
			}
			return t, nil
		}
		if i > 0 {
			t.Parts = append(t.Parts, TemplatePart{Text: rest[:i]})
		}
		start := off + i + 3
		end, ok := scanExprEnd(s, start)
		if !ok {
			return nil, &Error{Pos: posAt(off + i), Msg: `"${{" is not closed by "}}"`}
		}
		src := s[start:end]
		trimmed := strings.TrimSpace(src)
		if trimmed == "" {
			return nil, &Error{Pos: posAt(off + i), Msg: `empty expression "${{ }}"`}
		}
		lead := strings.Index(src, trimmed)
		t.Parts = append(t.Parts, TemplatePart{Expr: newExpr(trimmed, start+lead, posAt)})
		off = end + 2
		rest = s[off:]
	}
}

// scanExprEnd finds the "}}" closing an expression that starts at s[start:],
// skipping braces of CEL map literals and anything inside string literals.
func scanExprEnd(s string, start int) (int, bool) {
	depth := 0
	for i := start; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\'':
			j, ok := skipQuoted(s, i)
			if !ok {
				return 0, false
			}
			i = j
		case '{':
			depth++
		case '}':
			if depth > 0 {
				depth--
				continue
			}
			if i+1 < len(s) && s[i+1] == '}' {
				return i, true
			}
		}
	}
	return 0, false
}

// skipQuoted returns the index of the quote closing the literal opened at
// s[i], honouring backslash escapes and triple quotes.
func skipQuoted(s string, i int) (int, bool) {
	q := s[i]
	if strings.HasPrefix(s[i:], strings.Repeat(string(q), 3)) {
		end := strings.Index(s[i+3:], strings.Repeat(string(q), 3))
		if end < 0 {
			return 0, false
		}
		return i + 3 + end + 2, true
	}
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case q:
			return j, true
		case '\n':
			return 0, false
		}
	}
	return 0, false
}

// newExpr makes an Expr for src found at byte offset off of a scalar whose
// offsets posAt maps to file positions.
func newExpr(src string, off int, posAt func(int) Pos) *Expr {
	e := &Expr{Source: src, Pos: posAt(off)}
	e.lineStarts = []Pos{e.Pos}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			e.lineStarts = append(e.lineStarts, posAt(off+i+1))
		}
	}
	return e
}

// posIn maps a CEL location (1-based line, 0-based column) to the file.
func (e *Expr) posIn(line, col int) Pos {
	if line < 1 || line > len(e.lineStarts) {
		return e.Pos
	}
	p := e.lineStarts[line-1]
	if p.Col > 0 && col >= 0 {
		p.Col += col
	}
	return p
}

// String renders the template back to its source form.
func (t *Template) String() string { return t.Raw }

// Literal returns the template's text when it has no expressions.
func (t *Template) Literal() (string, bool) {
	var b strings.Builder
	for _, p := range t.Parts {
		if p.Expr != nil {
			return "", false
		}
		b.WriteString(p.Text)
	}
	return b.String(), true
}

// stringify renders an evaluated value into interpolated text: strings as
// they are, null as empty, everything else as JSON.
func stringify(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
