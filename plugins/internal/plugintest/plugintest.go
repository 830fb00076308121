// Package plugintest runs a built-in plugin's server in process for its
// tests: the data and vendor logic under test, without the process boundary
// (plugins/host and plugins/builtin cover that).
package plugintest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/pluginpb"
	"github.com/soar-dev/soar/plugins/sdk"
)

// Server serves p in process.
func Server(t testing.TB, p *sdk.Plugin) *sdk.Server {
	t.Helper()
	s, err := sdk.NewServer(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Invoke calls action with input and config (nil: none) and decodes the
// output into out. A plugin failure is returned; anything else fails t.
func Invoke(t testing.TB, s *sdk.Server, cfg any, secrets map[string]string, action, input string, out any) *plugins.Error {
	t.Helper()
	var config []byte
	if cfg != nil {
		var err error
		if config, err = json.Marshal(cfg); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := s.Invoke(context.Background(), &pluginpb.InvokeRequest{Action: action, Input: []byte(input), Config: config, Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	if e := resp.GetError(); e != nil {
		return plugins.ErrorFromProto(e)
	}
	if err := json.Unmarshal(resp.GetOutput(), out); err != nil {
		t.Fatalf("output %s: %v", resp.GetOutput(), err)
	}
	return nil
}

// WriteFile writes data to dir/name and returns the path.
func WriteFile(t testing.TB, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// CheckOutputSchemas calls every action of s with the inputs in calls and
// checks each output against the action's published output schema, which
// the playbook validator checks `steps.ID.FIELD` against. Every action
// needs at least one call.
func CheckOutputSchemas(t *testing.T, s *sdk.Server, cfg any, calls map[string][]string) {
	t.Helper()
	m, err := s.Describe(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	config, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range m.GetActions() {
		c := jsonschema.NewCompiler()
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(a.GetOutputSchema()))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource("mem:///out.json", doc); err != nil {
			t.Fatal(err)
		}
		schema, err := c.Compile("mem:///out.json")
		if err != nil {
			t.Fatal(err)
		}
		for _, input := range calls[a.GetName()] {
			resp, err := s.Invoke(context.Background(), &pluginpb.InvokeRequest{Action: a.GetName(), Input: []byte(input), Config: config})
			if err != nil || resp.GetError() != nil {
				t.Fatalf("%s %s: %v %v", a.GetName(), input, err, resp.GetError())
			}
			out, _ := jsonschema.UnmarshalJSON(bytes.NewReader(resp.GetOutput()))
			if err := schema.Validate(out); err != nil {
				t.Errorf("%s output %s does not match its schema: %v", a.GetName(), resp.GetOutput(), err)
			}
		}
		if len(calls[a.GetName()]) == 0 {
			t.Errorf("action %s has no output check", a.GetName())
		}
	}
}
