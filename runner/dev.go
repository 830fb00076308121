package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/soar-dev/soar/playbooks"
	"github.com/soar-dev/soar/plugins/host"
	"github.com/soar-dev/soar/workflows"
)

// Config is what a soar process runs beside a Temporal client: plugins,
// the playbook library, a worker and/or the HTTP API.
type Config struct {
	Playbooks []string
	// APIAddr is where the HTTP API listens, e.g. 127.0.0.1:8080 (port 0
	// picks a free one); empty runs no API.
	APIAddr string
	// API tunes the HTTP API; zero values take the API's defaults.
	API APILimits
	// Worker runs a worker on TaskQueue.
	Worker    bool
	TaskQueue string
	Plugins   host.Config
	// Catalogs add manifests for plugins this process does not run, so
	// their playbooks load (their steps fail at run time and escalate).
	Catalogs     []playbooks.Catalog
	LocalLookups bool
	Escalation   workflows.EscalationActions
	Logger       *slog.Logger
}

// Process is a running soar process.
type Process struct {
	Client  client.Client
	Plugins *host.Host
	Library *Library
	APIAddr string
	worker  worker.Worker
	http    *http.Server
	// stopWatch ends the playbook file watch.
	stopWatch func()
}

// Start starts plugins and, as configured, a worker and the HTTP API on an
// existing client. Playbooks are checked before anything listens: a typo
// stops the start with file:line:col errors. The caller keeps ownership of
// the client.
func Start(ctx context.Context, c client.Client, cfg Config) (_ *Process, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Process{Client: c}
	defer func() {
		if err != nil {
			p.Stop()
		}
	}()
	if cfg.Plugins.Logger == nil {
		cfg.Plugins.Logger = cfg.Logger.With("component", "plugins")
	}
	if p.Plugins, err = host.New(ctx, cfg.Plugins); err != nil {
		return nil, err
	}
	env, err := playbooks.NewEnv()
	if err != nil {
		return nil, err
	}
	if cfg.APIAddr != "" {
		cat := playbooks.MergeCatalogs(append([]playbooks.Catalog{p.Plugins}, cfg.Catalogs...)...)
		if p.Library, err = LoadLibrary(env, cat, cfg.Logger, cfg.Playbooks...); err != nil {
			return nil, err
		}
		watch, stop := context.WithCancel(context.Background())
		p.stopWatch = stop
		go p.Library.Watch(watch, 2*time.Second)
	}
	if cfg.Worker {
		p.worker, err = NewWorker(WorkerConfig{Client: c, TaskQueue: cfg.TaskQueue, Plugins: p.Plugins, Env: env,
			LocalLookups: cfg.LocalLookups, Escalation: cfg.Escalation})
		if err != nil {
			return nil, err
		}
		if err := p.worker.Start(); err != nil {
			return nil, fmt.Errorf("start worker: %w", err)
		}
	}
	if cfg.APIAddr != "" {
		api := &API{Client: c, Library: p.Library, TaskQueue: cfg.TaskQueue, Logger: cfg.Logger,
			MaxBody: cfg.API.MaxBody, MaxAlerts: cfg.API.MaxAlerts, MaxInflight: cfg.API.MaxInflight, UpdateWait: cfg.API.UpdateWait}
		h := api.Handler()
		if p.APIAddr, p.http, err = serveHTTP(cfg.APIAddr, h, api.UpdateWait, cfg.Logger); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Stop stops the API, then the worker, then the plugins. Open runs stay in
// Temporal and continue on any worker.
func (p *Process) Stop() {
	if p.stopWatch != nil {
		p.stopWatch()
	}
	if p.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = p.http.Shutdown(ctx)
		cancel()
	}
	if p.worker != nil {
		p.worker.Stop()
	}
	if p.Plugins != nil {
		p.Plugins.Close()
	}
}

// Dev is a running `soar dev`: an embedded server plus a full Process.
type Dev struct {
	*Process
	Server *DevServer
}

// StartDev starts the embedded Temporal server and UI, then a Process with
// a worker and the API against it.
func StartDev(ctx context.Context, server DevServerConfig, cfg Config) (_ *Dev, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	server.Logger = cfg.Logger
	d := &Dev{Process: &Process{}}
	defer func() {
		if err != nil {
			d.Stop()
		}
	}()
	if d.Server, err = StartDevServer(ctx, server); err != nil {
		return nil, err
	}
	ns := server.Namespace
	if ns == "" {
		ns = "default"
	}
	c, err := Dial(ctx, client.Options{HostPort: d.Server.Address, Namespace: ns}, cfg.Logger)
	if err != nil {
		return nil, err
	}
	d.Process.Client = c
	if err := EnsureSearchAttributes(ctx, c, ns); err != nil {
		return nil, err
	}
	cfg.Worker = true
	p, err := Start(ctx, c, cfg)
	if err != nil {
		return nil, err
	}
	d.Process = p
	return d, nil
}

// Stop shuts everything down in reverse order. Open runs stay in the
// database and resume on the next start.
func (d *Dev) Stop() {
	d.Process.Stop()
	if d.Process.Client != nil {
		d.Process.Client.Close()
	}
	if d.Server != nil {
		_ = d.Server.Stop()
	}
}

// serveHTTP listens first, so a busy port is an error now rather than a
// log line later. Every phase of a connection has a deadline, so a slow or
// stalled client cannot hold a connection for ever; the write deadline
// leaves room for a request that waits updateWait on Temporal.
func serveHTTP(addr string, h http.Handler, updateWait time.Duration, logger *slog.Logger) (string, *http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("HTTP API on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      max(2*time.Minute, 2*updateWait+time.Minute),
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("HTTP API stopped", "err", err)
		}
	}()
	return ln.Addr().String(), srv, nil
}

// Dial connects to Temporal and waits until the namespace answers.
func Dial(ctx context.Context, opts client.Options, logger *slog.Logger) (client.Client, error) {
	if opts.Logger == nil {
		opts.Logger = sdklog.NewStructuredLogger(logger.With("component", "temporal-client"))
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", opts.HostPort, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.Close()
			return nil, fmt.Errorf("Temporal at %s is not answering: %w", opts.HostPort, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// EnsureSearchAttributes registers soar's search attributes in a namespace.
// It is idempotent, so it runs on every start: a database or cluster made
// by an older soar gains attributes added since.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range searchAttributeTypes() {
		if got, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		} else if got != typ {
			return fmt.Errorf("search attribute %s exists with type %s, soar needs %s", name, got, typ)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	})
	if err != nil {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}
