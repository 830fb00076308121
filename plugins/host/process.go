package host

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/pluginpb"
)

// ErrClosed is returned by calls made after Host.Close.
var ErrClosed = errors.New("plugin host is closed")

// proc is one plugin: at most one live process at a time, restarted after
// a crash within the restart budget.
type proc struct {
	src source
	cfg *Config
	env []string // the process environment, from Config.pluginEnv
	// secrets are redacted from the plugin's output before a long line is
	// cut into records.
	secrets redactor
	logger  *slog.Logger
	// manifest is the current process's manifest, read without p.mu so
	// that Invoke and catalog look-ups never wait for a restart.
	manifest atomic.Pointer[Manifest]

	mu         sync.Mutex
	client     *plugin.Client
	rpc        pluginpb.PluginClient
	pid        int
	restarting chan struct{} // non-nil while a restart is under way; closed when it ends
	restarts   []time.Time   // recent restarts, for the budget
	total      int           // restarts since the host started
	down       error         // set once the budget is spent
	closed     bool
}

// start launches the first process. The caller owns p exclusively.
func (p *proc) start(ctx context.Context) error {
	client, rpc, pid, err := p.launch(ctx)
	if err != nil {
		return err
	}
	p.client, p.rpc, p.pid = client, rpc, pid
	return nil
}

// launch starts a process and reads its manifest, which it publishes.
func (p *proc) launch(ctx context.Context) (*plugin.Client, pluginpb.PluginClient, int, error) {
	cmd := exec.Command(p.src.path, p.src.args...)
	cmd.Env = p.env
	dieWithParent(cmd)
	logger := p.logger
	cc := &plugin.ClientConfig{
		HandshakeConfig:  plugins.Handshake,
		Plugins:          plugins.PluginSet(nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true, // the host's environment holds other plugins' secrets; see pluginEnv
		StartTimeout:     p.cfg.StartTimeout,
		Logger:           newHCLogAdapter(logger),
		SyncStdout:       &lineLogger{logger: logger, level: slog.LevelInfo, attrs: []any{"stream", "stdout"}, secrets: p.secrets},
		SyncStderr:       &lineLogger{logger: logger, level: slog.LevelWarn, attrs: []any{"stream", "stderr"}, secrets: p.secrets},
	}
	if p.src.sha256 != nil {
		cc.SecureConfig = &plugin.SecureConfig{Checksum: p.src.sha256, Hash: sha256.New()}
	}
	client := plugin.NewClient(cc)
	rpc, err := connect(client)
	if err != nil {
		client.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return nil, nil, 0, fmt.Errorf("start plugin %s: checksum of %s does not match the configured sha256; refusing to run it", p.src.name, p.src.path)
		}
		return nil, nil, 0, fmt.Errorf("start plugin %s (%s): %w", p.src.name, p.src.path, err)
	}
	m, err := rpc.Describe(ctx, &pluginpb.DescribeRequest{})
	if err != nil {
		client.Kill()
		return nil, nil, 0, fmt.Errorf("describe plugin %s: %w", p.src.name, err)
	}
	if m.GetName() != p.src.name {
		client.Kill()
		return nil, nil, 0, fmt.Errorf("plugin %s (%s) calls itself %q in its manifest", p.src.name, p.src.path, m.GetName())
	}
	manifest := manifestFromProto(m)
	p.manifest.Store(&manifest)
	pid := 0
	if rc := client.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	p.logger.Debug("plugin started", "pid", pid, "path", p.src.path)
	return client, rpc, pid, nil
}

// currentManifest is the manifest of the latest process.
func (p *proc) currentManifest() Manifest {
	if m := p.manifest.Load(); m != nil {
		return *m
	}
	return Manifest{}
}

// pluginEnvAllowed are the variables of the host's environment a plugin
// process inherits: what a Go program (and TLS, proxies, the time zone and
// locale) needs to run. Everything else stays with the host, above all the
// variables holding other plugins' secrets, which a plugin receives on each
// call instead. go-plugin adds its own handshake variables after these.
var pluginEnvAllowed = []string{
	"PATH", "HOME", "TZ", "LANG", "TMPDIR",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"GODEBUG", "GOTRACEBACK", "GOCOVERDIR",
}

// pluginEnv is the environment of every plugin process: the allowed part of
// environ, minus any variable a secret is read from or whose value is a
// secret (a proxy URL with a password configured as a secret too), plus the
// host's pid, replacing one inherited from a host that started this process.
func (c Config) pluginEnv(environ []string) []string {
	secretVars := map[string]bool{}
	secretVals := map[string]bool{}
	for _, pc := range c.Plugins {
		for _, env := range pc.SecretEnv {
			secretVars[env] = true
		}
		for _, env := range pc.secretVars {
			secretVars[env] = true
		}
		for _, v := range pc.Secrets {
			secretVals[v] = true
		}
	}
	var out []string
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		switch {
		case !ok || secretVars[name] || secretVals[val]:
		case slices.Contains(pluginEnvAllowed, name) || strings.HasPrefix(name, "LC_"):
			out = append(out, kv)
		}
	}
	return append(out, plugins.HostPIDEnv+"="+strconv.Itoa(os.Getpid()))
}

func connect(client *plugin.Client) (pluginpb.PluginClient, error) {
	cp, err := client.Client()
	if err != nil {
		return nil, err
	}
	raw, err := cp.Dispense(plugins.PluginKey)
	if err != nil {
		return nil, fmt.Errorf("dispense: %w", err)
	}
	rpc, ok := raw.(pluginpb.PluginClient)
	if !ok {
		return nil, fmt.Errorf("dispense: unexpected client type %T", raw)
	}
	return rpc, nil
}

// conn returns a live connection and the client owning it, restarting a
// crashed process first. p.mu is never held while a restart waits out its
// backoff or starts the process, so Status answers meanwhile; callers that
// arrive during a restart wait for it, or for their ctx.
func (p *proc) conn(ctx context.Context) (pluginpb.PluginClient, *plugin.Client, error) {
	for {
		p.mu.Lock()
		switch {
		case p.closed:
			p.mu.Unlock()
			return nil, nil, ErrClosed
		case p.down != nil:
			p.mu.Unlock()
			return nil, nil, p.down
		case p.client != nil && !p.client.Exited():
			rpc, client := p.rpc, p.client
			p.mu.Unlock()
			return rpc, client, nil
		case p.restarting != nil:
			wait := p.restarting
			p.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, nil, fmt.Errorf("restart plugin %s: %w", p.src.name, ctx.Err())
			}
		}
		delay, err := p.planRestartLocked()
		if err != nil {
			p.mu.Unlock()
			return nil, nil, err
		}
		done := make(chan struct{})
		p.restarting = done
		p.mu.Unlock()
		err = p.restart(ctx, delay)
		p.mu.Lock()
		p.restarting = nil
		close(done)
		rpc, client := p.rpc, p.client
		p.mu.Unlock()
		if err != nil {
			return nil, nil, err
		}
		return rpc, client, nil
	}
}

// planRestartLocked checks the restart budget and returns the backoff
// before the next restart.
func (p *proc) planRestartLocked() (time.Duration, error) {
	now := time.Now()
	recent := p.restarts[:0]
	for _, t := range p.restarts {
		if now.Sub(t) < p.cfg.Restart.Window {
			recent = append(recent, t)
		}
	}
	p.restarts = recent
	if len(recent) >= p.cfg.Restart.MaxRestarts {
		p.down = &plugins.Error{Kind: plugins.Retryable, Message: fmt.Sprintf(
			"plugin %s is down: it stopped %d times within %s; fix it and restart soar",
			p.src.name, len(recent)+1, p.cfg.Restart.Window)}
		p.logger.Error("plugin marked down", "restarts", len(recent))
		return 0, p.down
	}
	return p.cfg.Restart.delay(len(recent)), nil
}

// restart waits out delay and starts a new process, without p.mu; the
// caller has marked the restart under way.
func (p *proc) restart(ctx context.Context, delay time.Duration) error {
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("restart plugin %s: %w", p.src.name, ctx.Err())
		}
	}
	p.mu.Lock()
	if p.closed { // Close came during the backoff
		p.mu.Unlock()
		return ErrClosed
	}
	old, oldPID := p.client, p.pid
	p.restarts = append(p.restarts, time.Now())
	p.total++
	n := len(p.restarts)
	p.mu.Unlock()
	if old != nil {
		old.Kill() // reaps and cleans up the dead process's state
	}
	p.logger.Warn("plugin process exited; restarting", "old_pid", oldPID, "restart", n)
	client, rpc, pid, err := p.launch(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err != nil:
		p.client, p.rpc = nil, nil
		return &plugins.Error{Kind: plugins.Retryable, Message: err.Error()}
	case p.closed: // Close came while the process started
		client.Kill()
		return ErrClosed
	}
	p.client, p.rpc, p.pid = client, rpc, pid
	return nil
}

// exited reports whether the current process has died, giving go-plugin a
// moment to notice: a call can fail on a broken connection a little before
// the process is reaped.
func (p *proc) exited(client *plugin.Client) bool {
	deadline := time.Now().Add(500 * time.Millisecond)
	for {
		if client.Exited() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (p *proc) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.client != nil {
		p.client.Kill() // graceful shutdown over gRPC, then SIGKILL after 2 s
		p.client, p.rpc = nil, nil
	}
}

// status is a snapshot for Host.Status.
func (p *proc) status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Status{Name: p.src.name, Kind: p.src.kind, Path: p.src.path, Version: p.currentManifest().Version, Restarts: p.total}
	switch {
	case p.down != nil:
		s.State, s.Error = "down", p.down.Error()
	case p.closed:
		s.State = "closed"
	case p.client == nil || p.client.Exited():
		s.State = "exited"
	default:
		s.State, s.PID = "running", p.pid
	}
	return s
}
