// Package sdk is what a plugin author imports. A plugin is a Plugin value
// with typed actions; Serve runs it as a go-plugin process the soar host can
// launch:
//
//	func main() {
//		sdk.Serve(&sdk.Plugin{
//			Name:    "blocklist",
//			Version: "1.0.0",
//			Actions: []sdk.Action{
//				sdk.NewAction("check", "Is the IP on the blocklist?", check),
//			},
//		})
//	}
//
//	func check(ctx context.Context, call sdk.Call, in CheckInput) (CheckOutput, error)
//
// The JSON Schemas of an action's input and output are derived from In and
// Out (github.com/invopop/jsonschema; use `json` and `jsonschema` struct tags),
// published in the manifest, and the input is validated against its schema
// before the handler runs, so a handler only ever sees well-formed input.
package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// Plugin describes a plugin: its manifest and its actions.
type Plugin struct {
	// Name is how playbooks refer to the plugin (`uses: NAME.action`).
	Name        string
	Version     string
	Description string
	// Config is a zero value of the plugin's config type, used only for its
	// JSON Schema. Leave nil for a plugin without config. Handlers read the
	// config with Call.DecodeConfig.
	Config any
	// Secrets the plugin needs; the host hands their values in Call.Secrets.
	Secrets []Secret
	Actions []Action
	// Health, when set, reports whether the plugin can serve calls with the
	// config and secrets in call (for example that a database file opens).
	Health func(ctx context.Context, call Call) error
}

// Secret is a named credential the plugin needs.
type Secret struct {
	Name        string
	Description string
	Optional    bool
}

// Call carries everything about one invocation except its input.
type Call struct {
	Action string
	// IdempotencyKey is stable across retries of the same playbook step; a
	// side-effecting action should use it to avoid acting twice.
	IdempotencyKey string
	// Deadline is the caller's deadline (zero when none); ctx carries it too.
	Deadline time.Time
	// Config is the plugin's config as JSON, already validated against the
	// plugin's config schema.
	Config  json.RawMessage
	Secrets map[string]string
	// Logger writes to the host's log, tagged with the plugin and action.
	Logger *slog.Logger
}

// DecodeConfig unmarshals the call's config into v. An absent config leaves
// v unchanged, so defaults set before the call survive.
func (c Call) DecodeConfig(v any) error {
	if len(c.Config) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.Config, v); err != nil {
		return fmt.Errorf("decode config: %w", err)
	}
	return nil
}

// Action is one typed action of a plugin; build it with NewAction.
type Action interface {
	// Name is the action's name within the plugin.
	Name() string
	describe() actionInfo
	invoke(ctx context.Context, call Call, input json.RawMessage) (any, error)
}

type actionInfo struct {
	name, description string
	input, output     any // zero values of In and Out, for schema reflection
	sideEffect        bool
}

// ActionOption adjusts an action's description.
type ActionOption func(*actionInfo)

// SideEffect marks an action that changes the world (pages someone, writes
// an audit record). The host never retries such an action on its own.
func SideEffect() ActionOption { return func(a *actionInfo) { a.sideEffect = true } }

// NewAction returns an action whose input and output are the Go types In and
// Out. The input schema is derived from In, and input is validated against it
// and unmarshalled into In before fn runs.
func NewAction[In, Out any](name, description string, fn func(ctx context.Context, call Call, in In) (Out, error), opts ...ActionOption) Action {
	a := &typedAction[In, Out]{fn: fn, info: actionInfo{name: name, description: description}}
	var in In
	var out Out
	a.info.input, a.info.output = in, out
	for _, o := range opts {
		o(&a.info)
	}
	return a
}

type typedAction[In, Out any] struct {
	info actionInfo
	fn   func(context.Context, Call, In) (Out, error)
}

func (a *typedAction[In, Out]) Name() string         { return a.info.name }
func (a *typedAction[In, Out]) describe() actionInfo { return a.info }

func (a *typedAction[In, Out]) invoke(ctx context.Context, call Call, input json.RawMessage) (any, error) {
	var in In
	if err := json.Unmarshal(input, &in); err != nil {
		return nil, &inputError{err: err}
	}
	return a.fn(ctx, call, in)
}

// inputError marks an unmarshal failure after schema validation passed (for
// example a malformed time string in a field whose schema did not say so).
type inputError struct{ err error }

func (e *inputError) Error() string { return "decode input: " + e.err.Error() }
