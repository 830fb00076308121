package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// run executes the CLI in process and returns stdout and the exit code.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	var ee exitError
	switch {
	case err == nil:
		return out.String(), 0
	case asExit(err, &ee):
		return out.String(), ee.code
	}
	return out.String() + err.Error(), 2
}

const fixture = "../../playbooks/testdata/catalog.json"

func TestValidateExamples(t *testing.T) {
	out, code := run(t, "validate", "--no-builtin-plugins", "--catalog", fixture, "../../examples/playbooks")
	if code != 0 || !strings.Contains(out, "playbook(s) valid") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestValidateReportsAllErrorsSorted(t *testing.T) {
	out, code := run(t, "validate", "--no-builtin-plugins", "--catalog", fixture,
		"../../playbooks/testdata/invalid/unknown-field.yaml", "../../playbooks/testdata/invalid/self-reference.yaml")
	want := `../../playbooks/testdata/invalid/self-reference.yaml:6:27: steps.geo is used before step geo runs (line 4)
../../playbooks/testdata/invalid/unknown-field.yaml:3:1: unknown field "descripton" in playbook (did you mean "description"?)
../../playbooks/testdata/invalid/unknown-field.yaml:8:5: unknown field "timout" in step (did you mean "timeout"?)
`
	if code != 1 || out != want {
		t.Fatalf("exit %d, output:\n%s\nwant exit 1 and:\n%s", code, out, want)
	}
}

func TestValidateJSON(t *testing.T) {
	out, code := run(t, "validate", "--no-builtin-plugins", "--format", "json", "../../playbooks/testdata/invalid/duplicate-ids.yaml")
	var got struct {
		Valid  int `json:"valid"`
		Errors []struct {
			Pos struct {
				File      string
				Line, Col int
			} `json:"pos"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if code != 1 || len(got.Errors) != 1 || got.Errors[0].Pos.Line != 7 || !strings.Contains(got.Errors[0].Message, "duplicate step id") {
		t.Fatalf("exit %d, got %+v", code, got)
	}
}

func TestValidateBadUsage(t *testing.T) {
	for _, args := range [][]string{
		{"validate"},
		{"validate", "--no-builtin-plugins", "does-not-exist"},
		{"validate", "--no-builtin-plugins", "--format", "xml", "../../examples/playbooks"},
		{"validate", "--no-builtin-plugins", "--catalog", "missing.json", "../../examples/playbooks"},
	} {
		if out, code := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want a usage/IO error (2):\n%s", args, code, out)
		}
	}
}

func TestSchemaCommand(t *testing.T) {
	out, code := run(t, "schema")
	var doc map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || doc["$ref"] != "#/definitions/playbook" {
		t.Fatalf("exit %d:\n%.200s", code, out)
	}
}
