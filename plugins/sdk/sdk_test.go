package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/pluginpb"
)

type greetInput struct {
	Name  string `json:"name" jsonschema:"minLength=1,description=Who to greet"`
	Times int    `json:"times,omitempty" jsonschema:"minimum=1,maximum=3"`
}

type greetOutput struct {
	Text string `json:"text"`
}

type testConfig struct {
	Greeting string `json:"greeting,omitempty"`
}

func testPlugin(t *testing.T, handlerRan *bool) *Server {
	t.Helper()
	greet := func(ctx context.Context, call Call, in greetInput) (greetOutput, error) {
		*handlerRan = true
		cfg := testConfig{Greeting: "hello"}
		if err := call.DecodeConfig(&cfg); err != nil {
			return greetOutput{}, err
		}
		return greetOutput{Text: strings.Repeat(cfg.Greeting+" "+in.Name+"!", max(in.Times, 1))}, nil
	}
	boom := func(context.Context, Call, struct{}) (struct{}, error) { panic("boom") }
	fail := func(context.Context, Call, struct{}) (struct{}, error) {
		return struct{}{}, errors.New("vendor said 503")
	}
	s, err := NewServer(&Plugin{
		Name: "test", Version: "1.2.3", Config: testConfig{},
		Secrets: []Secret{{Name: "token", Optional: true}},
		Actions: []Action{
			NewAction("greet", "Say hello", greet),
			NewAction("boom", "Panics", boom, SideEffect()),
			NewAction("fail", "Fails", fail),
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func invoke(t *testing.T, s *Server, action, input string, config string) (string, *plugins.Error) {
	t.Helper()
	resp, err := s.Invoke(context.Background(), &pluginpb.InvokeRequest{Action: action, Input: []byte(input), Config: []byte(config)})
	if err != nil {
		t.Fatalf("Invoke returned a transport error: %v", err)
	}
	if e := resp.GetError(); e != nil {
		return "", plugins.ErrorFromProto(e)
	}
	return string(resp.GetOutput()), nil
}

func TestManifestSchemasComeFromGoTypes(t *testing.T) {
	t.Parallel()
	var ran bool
	s := testPlugin(t, &ran)
	m, _ := s.Describe(context.Background(), nil)
	if m.GetName() != "test" || m.GetVersion() != "1.2.3" || len(m.GetActions()) != 3 {
		t.Fatalf("manifest = %v", m)
	}
	var in struct {
		Schema     string                    `json:"$schema"`
		Required   []string                  `json:"required"`
		Properties map[string]map[string]any `json:"properties"`
		AddProps   *bool                     `json:"additionalProperties"`
	}
	if err := json.Unmarshal(m.GetActions()[0].GetInputSchema(), &in); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(in.Schema, "2020-12") || len(in.Required) != 1 || in.Required[0] != "name" {
		t.Errorf("input schema = %s", m.GetActions()[0].GetInputSchema())
	}
	if in.Properties["name"]["description"] != "Who to greet" || in.AddProps == nil || *in.AddProps {
		t.Errorf("input schema = %s", m.GetActions()[0].GetInputSchema())
	}
	if !m.GetActions()[1].GetSideEffect() || m.GetActions()[0].GetSideEffect() {
		t.Error("side_effect flags wrong")
	}
	if !strings.Contains(string(m.GetConfigSchema()), `"greeting"`) {
		t.Errorf("config schema = %s", m.GetConfigSchema())
	}
}

func TestInvoke(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, action, input, config string
		want                        string
		wantKind                    plugins.Kind
		wantMsg                     []string
		wantRan                     bool
	}{
		{name: "ok", action: "greet", input: `{"name":"ada","times":2}`, want: `{"text":"hello ada!hello ada!"}`, wantRan: true},
		{name: "config", action: "greet", input: `{"name":"ada"}`, config: `{"greeting":"hej"}`, want: `{"text":"hej ada!"}`, wantRan: true},
		{name: "wrong type", action: "greet", input: `{"name":42}`, wantKind: plugins.InvalidInput,
			wantMsg: []string{"at /name:", "schema /properties/name/type"}},
		{name: "missing field", action: "greet", input: `{}`, wantKind: plugins.InvalidInput,
			wantMsg: []string{"at /:", "name", "schema /required"}},
		{name: "out of range", action: "greet", input: `{"name":"a","times":9}`, wantKind: plugins.InvalidInput,
			wantMsg: []string{"at /times:", "schema /properties/times/maximum"}},
		{name: "unknown field", action: "greet", input: `{"name":"a","tmes":1}`, wantKind: plugins.InvalidInput,
			wantMsg: []string{"tmes", "schema /additionalProperties"}},
		{name: "not json", action: "greet", input: `{`, wantKind: plugins.InvalidInput, wantMsg: []string{"not valid JSON"}},
		{name: "bad config", action: "greet", input: `{"name":"a"}`, config: `{"greting":"x"}`, wantKind: plugins.Permanent,
			wantMsg: []string{"config does not match", "greting"}},
		{name: "unknown action", action: "nope", input: `{}`, wantKind: plugins.InvalidInput, wantMsg: []string{`no action "nope"`}},
		{name: "panic", action: "boom", input: `{}`, wantKind: plugins.Permanent, wantMsg: []string{"panicked: boom"}},
		{name: "untyped error", action: "fail", input: `{}`, wantKind: plugins.Retryable, wantMsg: []string{"vendor said 503"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ran bool
			s := testPlugin(t, &ran)
			got, perr := invoke(t, s, tt.action, tt.input, tt.config)
			if ran != tt.wantRan {
				t.Errorf("handler ran = %v, want %v", ran, tt.wantRan)
			}
			if tt.wantKind == "" {
				if perr != nil || got != tt.want {
					t.Fatalf("got %s, %v; want %s", got, perr, tt.want)
				}
				return
			}
			if perr == nil || perr.Kind != tt.wantKind {
				t.Fatalf("got %s, %v; want a %s error", got, perr, tt.wantKind)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(perr.Message, m) {
					t.Errorf("error %q does not mention %q", perr.Message, m)
				}
			}
		})
	}
}

func TestInvalidInputDetails(t *testing.T) {
	t.Parallel()
	var ran bool
	_, perr := invoke(t, testPlugin(t, &ran), "greet", `{"name":""}`, "")
	var problems []Problem
	if err := json.Unmarshal(perr.Details, &problems); err != nil {
		t.Fatalf("details %s: %v", perr.Details, err)
	}
	if len(problems) != 1 || problems[0].Path != "/name" || problems[0].SchemaPath != "/properties/name/minLength" {
		t.Errorf("problems = %+v", problems)
	}
}

func TestRequiredSecret(t *testing.T) {
	t.Parallel()
	s, err := NewServer(&Plugin{
		Name:    "vendor",
		Secrets: []Secret{{Name: "api_key"}},
		Actions: []Action{NewAction("ping", "", func(_ context.Context, c Call, _ struct{}) (string, error) {
			return c.Secrets["api_key"], nil
		})},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, perr := invoke(t, s, "ping", `{}`, "")
	if perr == nil || perr.Kind != plugins.Permanent || !strings.Contains(perr.Message, `"api_key"`) {
		t.Fatalf("missing secret: %v", perr)
	}
	resp, _ := s.Invoke(context.Background(), &pluginpb.InvokeRequest{Action: "ping", Secrets: map[string]string{"api_key": "k"}})
	if string(resp.GetOutput()) != `"k"` {
		t.Fatalf("with secret: %v", resp)
	}
}

func TestBadPluginDefinitions(t *testing.T) {
	t.Parallel()
	noop := func(context.Context, Call, struct{}) (struct{}, error) { return struct{}{}, nil }
	for name, p := range map[string]*Plugin{
		"no name":   {Actions: []Action{NewAction("a", "", noop)}},
		"dup":       {Name: "x", Actions: []Action{NewAction("a", "", noop), NewAction("a", "", noop)}},
		"dotted":    {Name: "x", Actions: []Action{NewAction("a.b", "", noop)}},
		"no action": {Name: "x", Actions: []Action{NewAction("", "", noop)}},
	} {
		if _, err := NewServer(p, nil); err == nil {
			t.Errorf("%s: NewServer accepted it", name)
		}
	}
}
