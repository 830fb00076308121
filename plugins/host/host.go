// Package host runs soar's plugins: it discovers them (built-ins served by
// the soar binary itself, a plugin directory, config entries pinned by
// sha256), keeps one long-lived process per plugin, restarts crashed ones
// within a budget, and routes calls to them with the caller's deadline and
// an output size limit. A Host is also the playbooks.Catalog that `soar
// validate` checks `uses:`/`with:` against.
//
//	h, err := host.New(ctx, host.Config{Builtins: builtin.Names()})
//	defer h.Close()
//	out, err := h.Invoke(ctx, "geoip", "lookup", json.RawMessage(`{"ip":"81.2.69.142"}`), "")
package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/soar-dev/soar/playbooks"
	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/pluginpb"
)

// Host owns the plugin processes. It is safe for concurrent use.
type Host struct {
	cfg   Config
	procs map[string]*proc
	names []string
	// secrets redacts the host's log and the errors it returns.
	secrets redactor
}

var _ playbooks.Catalog = (*Host)(nil)

// New discovers and starts every plugin, in parallel, reads their manifests
// and checks each plugin's config against its manifest's schema. It fails
// if any plugin cannot start or has a bad config: a worker that silently
// lacks an integration would only fail later, in the middle of a playbook.
// On failure no plugin process is left running.
func New(ctx context.Context, cfg Config) (*Host, error) {
	cfg = cfg.withDefaults()
	secrets := cfg.redactor()
	if len(secrets) > 0 {
		cfg.Logger = slog.New(&redactHandler{inner: cfg.Logger.Handler(), secrets: secrets})
	}
	srcs, err := cfg.discover()
	if err != nil {
		return nil, err
	}
	h := &Host{cfg: cfg, procs: map[string]*proc{}, secrets: secrets}
	env := cfg.pluginEnv(os.Environ())
	errs := make([]error, len(srcs))
	var wg sync.WaitGroup
	for i, s := range srcs {
		p := &proc{src: s, cfg: &h.cfg, env: env, secrets: secrets, logger: cfg.Logger.With("plugin", s.name)}
		h.procs[s.name] = p
		h.names = append(h.names, s.name)
		wg.Go(func() { errs[i] = p.start(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		h.Close()
		return nil, err
	}
	if err := cfg.CheckPluginConfigs(h.Manifests()); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// Close shuts every plugin down and waits for the processes to exit.
func (h *Host) Close() {
	var wg sync.WaitGroup
	for _, p := range h.procs {
		wg.Go(p.close)
	}
	wg.Wait()
}

// Plugin implements playbooks.Catalog.
func (h *Host) Plugin(name string) (playbooks.PluginSpec, bool) {
	m, ok := h.Manifest(name)
	return m.PluginSpec, ok
}

// PluginNames implements playbooks.Catalog.
func (h *Host) PluginNames() []string { return append([]string(nil), h.names...) }

// Manifest returns the cached manifest of the named plugin.
func (h *Host) Manifest(name string) (Manifest, bool) {
	p, ok := h.procs[name]
	if !ok {
		return Manifest{}, false
	}
	return p.currentManifest(), true
}

// Manifests returns every plugin's manifest, sorted by name.
func (h *Host) Manifests() []Manifest {
	out := make([]Manifest, 0, len(h.names))
	for _, n := range h.names {
		m, _ := h.Manifest(n)
		out = append(out, m)
	}
	return out
}

// Status describes one plugin process for `soar plugin list`.
type Status struct {
	Name     string `json:"name"`
	Version  string `json:"version,omitempty"`
	Kind     string `json:"kind"` // builtin, dir or config
	Path     string `json:"path"`
	State    string `json:"state"` // running, exited, down or closed
	PID      int    `json:"pid,omitempty"`
	Restarts int    `json:"restarts"`
	Error    string `json:"error,omitempty"`
}

// Status returns a snapshot of every plugin, sorted by name.
func (h *Host) Status() []Status {
	out := make([]Status, 0, len(h.names))
	for _, n := range h.names {
		out = append(out, h.procs[n].status())
	}
	return out
}

// Invoke calls plugin.action with input and returns its output JSON.
// idempotencyKey is handed to the plugin unchanged; playbook steps set it to
// workflow ID + step path so that a retried step never acts twice. The
// deadline is ctx's, or Config.CallTimeout when ctx has none. Failures
// reported by the plugin are *plugins.Error (see plugins.KindOf); a call cut
// short by ctx wraps ctx.Err(). Secret values are redacted from the error,
// message and details, as from the host's log: callers record errors.
func (h *Host) Invoke(ctx context.Context, plugin, action string, input json.RawMessage, idempotencyKey string) (json.RawMessage, error) {
	p, ok := h.procs[plugin]
	if !ok {
		return nil, plugins.Errorf(plugins.InvalidInput, "unknown plugin %q", plugin)
	}
	m, _ := h.Manifest(plugin)
	spec, ok := m.Actions[action]
	if !ok {
		return nil, plugins.Errorf(plugins.InvalidInput, "plugin %s has no action %q", plugin, action)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.cfg.CallTimeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	req := &pluginpb.InvokeRequest{
		Action: action, Input: input, IdempotencyKey: idempotencyKey,
		Deadline: timestamppb.New(deadline), Config: p.src.config, Secrets: p.src.secret,
	}
	out, err := h.invoke(ctx, p, req)
	// A process that died before or during the call is restarted; a
	// read-only action is then retried once, a side-effecting one is left
	// to the caller's retry policy and idempotency key.
	if errors.Is(err, errCrashed) && !spec.SideEffect {
		out, err = h.invoke(ctx, p, req)
	}
	if err != nil {
		return nil, h.secrets.error(fmt.Errorf("%s.%s: %w", plugin, action, err))
	}
	return out, nil
}

var errCrashed = &plugins.Error{Kind: plugins.Retryable, Message: "plugin process exited during the call"}

func (h *Host) invoke(ctx context.Context, p *proc, req *pluginpb.InvokeRequest) (json.RawMessage, error) {
	rpc, client, err := p.conn(ctx)
	if err != nil {
		return nil, err
	}
	// Room for the response envelope around the output bytes.
	limit := grpc.MaxCallRecvMsgSize(h.cfg.MaxOutputBytes + 1024)
	resp, err := rpc.Invoke(ctx, req, limit)
	if cut := cutShort(ctx, err); cut != nil {
		return nil, cut
	}
	switch {
	case err == nil:
	case status.Code(err) == codes.ResourceExhausted:
		return nil, h.tooLarge()
	case p.exited(client):
		return nil, errCrashed
	default:
		return nil, &plugins.Error{Kind: plugins.Retryable, Message: "plugin transport: " + err.Error()}
	}
	if e := resp.GetError(); e != nil {
		// The plugin may notice the shared deadline a moment before ctx
		// does; report that as the deadline it is.
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			return nil, fmt.Errorf("call cut short: %w (plugin said: %s)", context.DeadlineExceeded, e.GetMessage())
		}
		return nil, plugins.ErrorFromProto(e)
	}
	out := resp.GetOutput()
	if len(out) > h.cfg.MaxOutputBytes {
		return nil, h.tooLarge()
	}
	return out, nil
}

// cutShort returns the error for a call that failed because the caller's
// deadline passed or the caller cancelled, wrapping context.DeadlineExceeded
// or context.Canceled, or nil when err is not that.
//
// ctx.Err() alone is not enough: gRPC reports DeadlineExceeded as soon as
// the wall clock passes the deadline (the plugin's end of the stream may
// give up first), which can be a moment before ctx's own timer sets
// ctx.Err(). A caller's cancellation always shows in ctx.Err() first, so a
// Canceled status with ctx still live is not the caller's: it is the
// connection closing under a restart or Close, which the caller handles as
// a crash.
func cutShort(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	cause := ctx.Err()
	if cause == nil && status.Code(err) == codes.DeadlineExceeded {
		cause = context.DeadlineExceeded
	}
	if cause == nil {
		return nil
	}
	return fmt.Errorf("call cut short: %w", cause)
}

func (h *Host) tooLarge() error {
	return plugins.Errorf(plugins.Permanent, "output exceeds the %d-byte limit", h.cfg.MaxOutputBytes)
}

// Health asks the named plugin whether it can serve calls with its config.
// Like Invoke, it redacts secret values from its error.
func (h *Host) Health(ctx context.Context, plugin string) error {
	return h.secrets.error(h.health(ctx, plugin))
}

func (h *Host) health(ctx context.Context, plugin string) error {
	p, ok := h.procs[plugin]
	if !ok {
		return fmt.Errorf("unknown plugin %q", plugin)
	}
	rpc, _, err := p.conn(ctx)
	if err != nil {
		return fmt.Errorf("health of %s: %w", plugin, err)
	}
	resp, err := rpc.Health(ctx, &pluginpb.HealthRequest{Config: p.src.config, Secrets: p.src.secret})
	if cut := cutShort(ctx, err); cut != nil {
		return fmt.Errorf("health of %s: %w", plugin, cut)
	}
	if err != nil {
		return fmt.Errorf("health of %s: %w", plugin, err)
	}
	if !resp.GetOk() {
		return fmt.Errorf("plugin %s is unhealthy: %s", plugin, resp.GetMessage())
	}
	return nil
}

// Manifest is a plugin's manifest: the playbooks.PluginSpec the language
// checks against, plus what an operator needs to configure the plugin.
// Its JSON is a superset of PluginSpec, so `soar plugin describe --json`
// output is a valid `soar validate --catalog` file.
type Manifest struct {
	playbooks.PluginSpec
	Config  json.RawMessage `json:"config,omitempty"`
	Secrets []Secret        `json:"secrets,omitempty"`
}

// Secret is a credential a plugin needs.
type Secret struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Optional    bool   `json:"optional,omitempty"`
}

func manifestFromProto(m *pluginpb.Manifest) Manifest {
	out := Manifest{
		PluginSpec: playbooks.PluginSpec{
			Name: m.GetName(), Version: m.GetVersion(), Description: m.GetDescription(),
			Actions: map[string]playbooks.ActionSpec{},
		},
		Config: m.GetConfigSchema(),
	}
	for _, a := range m.GetActions() {
		out.Actions[a.GetName()] = playbooks.ActionSpec{
			Description: a.GetDescription(),
			Input:       a.GetInputSchema(),
			Output:      a.GetOutputSchema(),
			SideEffect:  a.GetSideEffect(),
		}
	}
	for _, s := range m.GetSecrets() {
		out.Secrets = append(out.Secrets, Secret{Name: s.GetName(), Description: s.GetDescription(), Optional: s.GetOptional()})
	}
	return out
}
