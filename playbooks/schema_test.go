package playbooks_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/soar-dev/soar/playbooks"
)

const schemaFile = "../docs/playbook.schema.json"

// The published schema is what editors load; it must match the generator.
func TestSchemaFileUpToDate(t *testing.T) {
	t.Parallel()
	got := playbooks.JSONSchema()
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./playbooks -run Schema -update", schemaFile)
	}
}

func compiledSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(playbooks.JSONSchema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(playbooks.SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(playbooks.SchemaID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlToJSON decodes YAML into the values a JSON Schema validator expects.
func yamlToJSON(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Editors must not flag valid playbooks, and should flag shape errors.
func TestSchemaAcceptsExamplesAndRejectsShapeErrors(t *testing.T) {
	t.Parallel()
	s := compiledSchema(t)
	files, _ := filepath.Glob("../examples/playbooks/*.yaml")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(yamlToJSON(t, src)); err != nil {
			t.Errorf("%s: schema rejects a valid playbook: %v", f, err)
		}
	}
	for _, name := range []string{"unknown-field", "missing-required", "wrong-types", "yaml-shape"} {
		src, err := os.ReadFile("testdata/invalid/" + name + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		if s.Validate(yamlToJSON(t, src)) == nil {
			t.Errorf("%s: schema accepts a malformed playbook", name)
		}
	}
}

// docs/playbooks.md is the reference: every field of the format is in it.
func TestDocsCoverEveryField(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/playbooks.md")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Definitions map[string]struct {
			Properties map[string]any `json:"properties"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(playbooks.JSONSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	for def, d := range schema.Definitions {
		for field := range d.Properties {
			if !strings.Contains(string(doc), "`"+field+"`") {
				t.Errorf("docs/playbooks.md does not document `%s` (of %s)", field, def)
			}
		}
	}
	for _, fn := range []string{"business_hours", "off_hours", "hours_between", "cidr", "ip", "containsIP", "timestamp", "duration"} {
		if !strings.Contains(string(doc), "`"+fn+"(") && !strings.Contains(string(doc), "."+fn+"(") {
			t.Errorf("docs/playbooks.md does not document the CEL function %s", fn)
		}
	}
}
