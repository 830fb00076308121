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

// DevConfig configures `soar dev`: everything in one process.
type DevConfig struct {
	Server    DevServerConfig
	Playbooks []string
	// APIAddr is where the HTTP API listens, e.g. 127.0.0.1:8080; port 0
	// picks a free one.
	APIAddr string
	Plugins host.Config
	// Catalogs add manifests for plugins this process does not run, so
	// their playbooks load (their steps fail at run time and escalate).
	Catalogs     []playbooks.Catalog
	LocalLookups bool
	Escalation   workflows.EscalationActions
	Logger       *slog.Logger
}

// Dev is a running `soar dev`.
type Dev struct {
	Server  *DevServer
	Client  client.Client
	Plugins *host.Host
	Library *Library
	APIAddr string
	worker  worker.Worker
	http    *http.Server
}

// StartDev starts plugins, the embedded Temporal server and UI, a worker and
// the HTTP API. Playbooks are checked before anything listens: a typo stops
// the start with file:line:col errors.
func StartDev(ctx context.Context, cfg DevConfig) (_ *Dev, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Server.Logger = cfg.Logger
	d := &Dev{}
	defer func() {
		if err != nil {
			d.Stop()
		}
	}()
	if cfg.Plugins.Logger == nil {
		cfg.Plugins.Logger = cfg.Logger.With("component", "plugins")
	}
	if d.Plugins, err = host.New(ctx, cfg.Plugins); err != nil {
		return nil, err
	}
	env, err := playbooks.NewEnv()
	if err != nil {
		return nil, err
	}
	cat := playbooks.MergeCatalogs(append([]playbooks.Catalog{d.Plugins}, cfg.Catalogs...)...)
	if d.Library, err = LoadLibrary(env, cat, cfg.Logger, cfg.Playbooks...); err != nil {
		return nil, err
	}
	if d.Server, err = StartDevServer(ctx, cfg.Server); err != nil {
		return nil, err
	}
	ns := cfg.Server.Namespace
	if ns == "" {
		ns = "default"
	}
	if d.Client, err = Dial(ctx, client.Options{HostPort: d.Server.Address, Namespace: ns}, cfg.Logger); err != nil {
		return nil, err
	}
	if err := EnsureSearchAttributes(ctx, d.Client, ns); err != nil {
		return nil, err
	}
	d.worker, err = NewWorker(WorkerConfig{Client: d.Client, Plugins: d.Plugins, Env: env,
		LocalLookups: cfg.LocalLookups, Escalation: cfg.Escalation})
	if err != nil {
		return nil, err
	}
	if err := d.worker.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	api := &API{Client: d.Client, Library: d.Library, Logger: cfg.Logger}
	if d.APIAddr, d.http, err = serveHTTP(cfg.APIAddr, api.Handler(), cfg.Logger); err != nil {
		return nil, err
	}
	return d, nil
}

// Stop shuts everything down in reverse order. Open runs stay in the
// database and resume on the next start.
func (d *Dev) Stop() {
	if d.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = d.http.Shutdown(ctx)
		cancel()
	}
	if d.worker != nil {
		d.worker.Stop()
	}
	if d.Client != nil {
		d.Client.Close()
	}
	if d.Server != nil {
		_ = d.Server.Stop()
	}
	if d.Plugins != nil {
		d.Plugins.Close()
	}
}

// serveHTTP listens first, so a busy port is an error now rather than a
// log line later.
func serveHTTP(addr string, h http.Handler, logger *slog.Logger) (string, *http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("HTTP API on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
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
