package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/invopop/jsonschema"
	validator "github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var printer = message.NewPrinter(language.English)

// reflectSchema derives a draft 2020-12 JSON Schema from v's Go type. Types
// are inlined rather than referenced so that each schema stands alone in the
// manifest and in `soar plugin describe`.
func reflectSchema(v any) (json.RawMessage, error) {
	r := &jsonschema.Reflector{DoNotReference: true}
	var s *jsonschema.Schema
	if v == nil {
		s = &jsonschema.Schema{Version: jsonschema.Version}
	} else {
		s = r.ReflectFromType(reflect.TypeOf(v))
	}
	data, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("marshal schema of %T: %w", v, err)
	}
	return data, nil
}

// compiledSchema validates JSON documents against one schema.
type compiledSchema struct {
	schema *validator.Schema
}

func compileSchema(name string, schema json.RawMessage) (*compiledSchema, error) {
	doc, err := validator.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("parse schema %s: %w", name, err)
	}
	c := validator.NewCompiler()
	c.AssertFormat()
	url := "mem:///" + name + ".json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("add schema %s: %w", name, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", name, err)
	}
	return &compiledSchema{schema: s}, nil
}

// Problem is one place where a document does not match its schema.
type Problem struct {
	// Path is the JSON Pointer of the offending value in the document ("" is
	// the whole document).
	Path string `json:"path"`
	// SchemaPath is the JSON Pointer of the schema keyword that failed, for
	// example "/properties/ip/type".
	SchemaPath string `json:"schema_path"`
	Message    string `json:"message"`
}

func (p Problem) String() string {
	path := p.Path
	if path == "" {
		path = "/"
	}
	if p.SchemaPath == "" {
		return fmt.Sprintf("at %s: %s", path, p.Message)
	}
	return fmt.Sprintf("at %s: %s (schema %s)", path, p.Message, p.SchemaPath)
}

// validate checks doc (raw JSON) and returns the problems, or nil when it is
// valid. A document that is not JSON at all is one problem at the root.
func (c *compiledSchema) validate(doc []byte) []Problem {
	v, err := validator.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return []Problem{{Message: "not valid JSON: " + err.Error()}}
	}
	err = c.schema.Validate(v)
	if err == nil {
		return nil
	}
	ve, ok := err.(*validator.ValidationError)
	if !ok {
		return []Problem{{Message: err.Error()}}
	}
	var out []Problem
	collectProblems(ve, &out)
	return out
}

// collectProblems keeps the leaves of the error tree: the inner nodes only
// say "some property failed", the leaves say which and why.
func collectProblems(e *validator.ValidationError, out *[]Problem) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collectProblems(c, out)
		}
		return
	}
	schemaPath := ""
	if i := strings.IndexByte(e.SchemaURL, '#'); i >= 0 {
		schemaPath = e.SchemaURL[i+1:]
	}
	for _, k := range e.ErrorKind.KeywordPath() {
		schemaPath += "/" + pointerEscape(k)
	}
	path := ""
	for _, t := range e.InstanceLocation {
		path += "/" + pointerEscape(t)
	}
	*out = append(*out, Problem{Path: path, SchemaPath: schemaPath, Message: e.ErrorKind.LocalizedString(printer)})
}

func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
