package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/pluginpb"
)

// Server implements the plugin side of the protocol for one Plugin. Serve
// uses it; tests and benchmarks can call it directly, in process.
type Server struct {
	pluginpb.UnimplementedPluginServer
	plugin   *Plugin
	manifest *pluginpb.Manifest
	config   *compiledSchema // nil when the plugin takes no config
	actions  map[string]*serverAction
	logger   *slog.Logger
}

type serverAction struct {
	action Action
	input  *compiledSchema
}

var _ pluginpb.PluginServer = (*Server)(nil)

// NewServer checks p, derives its schemas and compiles its input validators.
// logger may be nil.
func NewServer(p *Plugin, logger *slog.Logger) (*Server, error) {
	if p.Name == "" {
		return nil, errors.New("plugin has no name")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{plugin: p, actions: map[string]*serverAction{}, logger: logger}
	m := &pluginpb.Manifest{Name: p.Name, Version: p.Version, Description: p.Description}
	if p.Config != nil {
		schema, err := reflectSchema(p.Config)
		if err != nil {
			return nil, fmt.Errorf("plugin %s config: %w", p.Name, err)
		}
		if s.config, err = compileSchema(p.Name+".config", schema); err != nil {
			return nil, err
		}
		m.ConfigSchema = schema
	}
	for _, sec := range p.Secrets {
		m.Secrets = append(m.Secrets, &pluginpb.Secret{Name: sec.Name, Description: sec.Description, Optional: sec.Optional})
	}
	for _, a := range p.Actions {
		pa, err := s.addAction(a)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: %w", p.Name, err)
		}
		m.Actions = append(m.Actions, pa)
	}
	s.manifest = m
	return s, nil
}

func (s *Server) addAction(a Action) (*pluginpb.Action, error) {
	info := a.describe()
	if info.name == "" || strings.ContainsAny(info.name, ". ") {
		return nil, fmt.Errorf("action name %q must be non-empty without dots or spaces", info.name)
	}
	if _, dup := s.actions[info.name]; dup {
		return nil, fmt.Errorf("action %q defined twice", info.name)
	}
	in, err := reflectSchema(info.input)
	if err != nil {
		return nil, fmt.Errorf("action %s input: %w", info.name, err)
	}
	out, err := reflectSchema(info.output)
	if err != nil {
		return nil, fmt.Errorf("action %s output: %w", info.name, err)
	}
	compiled, err := compileSchema(s.plugin.Name+"."+info.name+".input", in)
	if err != nil {
		return nil, err
	}
	s.actions[info.name] = &serverAction{action: a, input: compiled}
	return &pluginpb.Action{
		Name: info.name, Description: info.description,
		InputSchema: in, OutputSchema: out, SideEffect: info.sideEffect,
	}, nil
}

// Describe implements pluginpb.PluginServer.
func (s *Server) Describe(context.Context, *pluginpb.DescribeRequest) (*pluginpb.Manifest, error) {
	return s.manifest, nil
}

// Invoke implements pluginpb.PluginServer. Action failures are returned in
// the response, never as a gRPC error, so their kind survives the trip.
func (s *Server) Invoke(ctx context.Context, req *pluginpb.InvokeRequest) (*pluginpb.InvokeResponse, error) {
	out, err := s.invoke(ctx, req)
	if err != nil {
		return &pluginpb.InvokeResponse{Result: &pluginpb.InvokeResponse_Error{Error: plugins.ErrorToProto(err)}}, nil
	}
	return &pluginpb.InvokeResponse{Result: &pluginpb.InvokeResponse_Output{Output: out}}, nil
}

func (s *Server) invoke(ctx context.Context, req *pluginpb.InvokeRequest) (out []byte, err error) {
	a, ok := s.actions[req.GetAction()]
	if !ok {
		return nil, plugins.Errorf(plugins.InvalidInput, "plugin %s has no action %q", s.plugin.Name, req.GetAction())
	}
	input := req.GetInput()
	if len(input) == 0 {
		input = []byte("{}")
	}
	if problems := a.input.validate(input); problems != nil {
		return nil, problemsError(plugins.InvalidInput, "input", problems)
	}
	call, err := s.newCall(req)
	if err != nil {
		return nil, err
	}
	if d := call.Deadline; !d.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d)
		defer cancel()
	}
	defer func() {
		if r := recover(); r != nil {
			call.Logger.Error("action panicked", "panic", r, "stack", string(debug.Stack()))
			err = plugins.Errorf(plugins.Permanent, "action %s panicked: %v", req.GetAction(), r)
		}
	}()
	result, err := a.action.invoke(ctx, call, input)
	if err != nil {
		return nil, classify(ctx, err)
	}
	out, err = json.Marshal(result)
	if err != nil {
		return nil, plugins.Errorf(plugins.Permanent, "marshal output of %s: %v", req.GetAction(), err)
	}
	return out, nil
}

func (s *Server) newCall(req *pluginpb.InvokeRequest) (Call, error) {
	call := Call{
		Action:         req.GetAction(),
		IdempotencyKey: req.GetIdempotencyKey(),
		Config:         req.GetConfig(),
		Secrets:        req.GetSecrets(),
		Logger:         s.logger.With("action", req.GetAction()),
	}
	if req.GetDeadline() != nil {
		call.Deadline = req.GetDeadline().AsTime()
	}
	if err := s.checkConfig(call.Config); err != nil {
		return Call{}, err
	}
	for _, sec := range s.plugin.Secrets {
		if _, ok := call.Secrets[sec.Name]; !ok && !sec.Optional {
			return Call{}, plugins.Errorf(plugins.Permanent, "plugin %s needs secret %q, which is not configured", s.plugin.Name, sec.Name)
		}
	}
	return call, nil
}

func (s *Server) checkConfig(config []byte) error {
	if s.config == nil || len(config) == 0 {
		return nil
	}
	if problems := s.config.validate(config); problems != nil {
		return problemsError(plugins.Permanent, "config", problems)
	}
	return nil
}

// Health implements pluginpb.PluginServer.
func (s *Server) Health(ctx context.Context, req *pluginpb.HealthRequest) (*pluginpb.HealthResponse, error) {
	call := Call{Config: req.GetConfig(), Secrets: req.GetSecrets(), Logger: s.logger}
	err := s.checkConfig(call.Config)
	if err == nil && s.plugin.Health != nil {
		err = s.plugin.Health(ctx, call)
	}
	if err != nil {
		msg := err.Error()
		if pe := (*plugins.Error)(nil); errors.As(err, &pe) {
			msg = pe.Message
		}
		return &pluginpb.HealthResponse{Ok: false, Message: msg}, nil
	}
	return &pluginpb.HealthResponse{Ok: true}, nil
}

// classify gives an untyped handler error a kind: a decode failure is the
// caller's fault, an expired deadline is worth retrying, anything else keeps
// the plugins.KindOf default.
func classify(ctx context.Context, err error) error {
	var pe *plugins.Error
	var ie *inputError
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.As(err, &ie):
		return plugins.Errorf(plugins.InvalidInput, "%v", ie)
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return plugins.Errorf(plugins.Retryable, "%v", err)
	default:
		return &plugins.Error{Kind: plugins.KindOf(err), Message: err.Error()}
	}
}

func problemsError(kind plugins.Kind, what string, problems []Problem) error {
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.String()
	}
	details, _ := json.Marshal(problems) // a []Problem always marshals
	return &plugins.Error{
		Kind:    kind,
		Message: fmt.Sprintf("%s does not match its schema: %s", what, strings.Join(msgs, "; ")),
		Details: details,
	}
}
