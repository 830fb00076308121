package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/soar-dev/soar/playbooks"
	"github.com/soar-dev/soar/plugins/builtin"
	"github.com/soar-dev/soar/plugins/host"
	"github.com/soar-dev/soar/runner"
	"github.com/soar-dev/soar/workflows"
)

// temporalFlags are the connection flags of commands that talk to an
// external Temporal cluster; each defaults to the Temporal CLI's env var.
type temporalFlags struct{ cfg runner.TemporalConfig }

func (t *temporalFlags) register(f *pflag.FlagSet) {
	env := os.Getenv
	f.StringVar(&t.cfg.Address, "address", envOr("TEMPORAL_ADDRESS", "127.0.0.1:7233"), "Temporal frontend host:port ($TEMPORAL_ADDRESS)")
	f.StringVar(&t.cfg.Namespace, "namespace", envOr("TEMPORAL_NAMESPACE", "default"), "Temporal namespace ($TEMPORAL_NAMESPACE)")
	f.BoolVar(&t.cfg.TLS, "tls", env("TEMPORAL_TLS") == "true", "connect with TLS ($TEMPORAL_TLS)")
	f.StringVar(&t.cfg.CACert, "tls-ca", env("TEMPORAL_TLS_CA"), "CA certificate to trust ($TEMPORAL_TLS_CA)")
	f.StringVar(&t.cfg.ClientCert, "tls-cert", env("TEMPORAL_TLS_CERT"), "client certificate for mTLS ($TEMPORAL_TLS_CERT)")
	f.StringVar(&t.cfg.ClientKey, "tls-key", env("TEMPORAL_TLS_KEY"), "client key for mTLS ($TEMPORAL_TLS_KEY)")
	f.StringVar(&t.cfg.ServerName, "tls-server-name", env("TEMPORAL_TLS_SERVER_NAME"), "TLS server name ($TEMPORAL_TLS_SERVER_NAME)")
	f.StringVar(&t.cfg.APIKey, "api-key", env("TEMPORAL_API_KEY"), "Temporal Cloud API key ($TEMPORAL_API_KEY)")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// processFlags are the flags of `soar worker` and `soar serve`.
type processFlags struct {
	temporal     temporalFlags
	config       string
	playbooks    []string
	catalogs     []string
	taskQueue    string
	local        bool
	verbose      bool
	failsafe     string
	apiAddr      string
	alsoWorker   bool
	maxInflight  int
	maxAlerts    int
	maxBodyBytes int64
	updateWait   time.Duration
}

func (p *processFlags) register(f *pflag.FlagSet, api bool) {
	p.temporal.register(f)
	f.StringVar(&p.config, "config", envOr("SOAR_CONFIG", ""), "soar config file: plugins, backends, secrets ($SOAR_CONFIG)")
	f.StringVar(&p.taskQueue, "task-queue", workflows.TaskQueue, "Temporal task queue")
	f.BoolVar(&p.local, "local-lookups", true, "run read-only plugin actions as local activities")
	f.StringVar(&p.failsafe, "failsafe-policy", "soc-primary", "escalation policy paged when triage fails in a playbook without an escalate step")
	f.BoolVarP(&p.verbose, "verbose", "v", false, "debug logs")
	if api {
		f.StringArrayVar(&p.playbooks, "playbooks", []string{envOr("SOAR_PLAYBOOKS", "playbooks")}, "playbook file or directory (repeatable; $SOAR_PLAYBOOKS)")
		f.StringArrayVar(&p.catalogs, "catalog", nil, "JSON manifests of plugins only workers run")
		f.StringVar(&p.apiAddr, "listen", envOr("SOAR_LISTEN", "127.0.0.1:8080"), "HTTP API listen address ($SOAR_LISTEN)")
		f.BoolVar(&p.alsoWorker, "worker", false, "also run a worker in this process")
		def := runner.DefaultAPILimits
		f.IntVar(&p.maxInflight, "max-inflight", def.MaxInflight, "alerts being started at once, over all requests, before the API answers 429")
		f.IntVar(&p.maxAlerts, "max-alerts", def.MaxAlerts, "alerts in one request before the API answers 413 (at most --max-inflight)")
		f.Int64Var(&p.maxBodyBytes, "max-body-bytes", def.MaxBody, "request body size before the API answers 413")
		f.DurationVar(&p.updateWait, "update-wait", def.UpdateWait, "wait for a worker to count an alert before answering it pending")
	}
}

// apiLimits are the HTTP API's bounds from the flags.
func (p *processFlags) apiLimits() runner.APILimits {
	return runner.APILimits{MaxBody: p.maxBodyBytes, MaxAlerts: p.maxAlerts, MaxInflight: p.maxInflight, UpdateWait: p.updateWait}
}

// run starts the process and blocks until SIGINT/SIGTERM.
func (p *processFlags) run(cmd *cobra.Command, worker, api bool) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := runner.NewLogger(os.Stderr, p.verbose)
	plugins := host.Config{Builtins: builtin.Names(), Logger: logger.With("component", "plugins")}
	if p.config != "" {
		if err := host.LoadConfigFile(p.config, &plugins); err != nil {
			return err
		}
	}
	var extra []playbooks.Catalog
	for _, f := range p.catalogs {
		c, err := playbooks.ReadCatalogFile(f)
		if err != nil {
			return err
		}
		extra = append(extra, c)
	}
	opts, err := p.temporal.cfg.ClientOptions()
	if err != nil {
		return err
	}
	c, err := runner.Dial(ctx, opts, logger)
	if err != nil {
		return err
	}
	defer c.Close()
	cfg := runner.Config{
		Playbooks: p.playbooks, Worker: worker, TaskQueue: p.taskQueue, Plugins: plugins, Catalogs: extra,
		LocalLookups: p.local, Logger: logger, Escalation: workflows.EscalationActions{FailsafePolicy: p.failsafe},
	}
	if api {
		cfg.APIAddr, cfg.API = p.apiAddr, p.apiLimits()
	}
	proc, err := runner.Start(ctx, c, cfg)
	if err != nil {
		return err
	}
	defer proc.Stop()
	logger.Info("soar is running", "temporal", opts.HostPort, "namespace", opts.Namespace, "worker", worker, "api", proc.APIAddr)
	<-ctx.Done()
	return nil
}

func newWorkerCmd() *cobra.Command {
	var p processFlags
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker (playbook interpreter + plugins) against an external Temporal cluster",
		Long: `worker polls the task queue and runs playbooks; add workers to scale. Runs
carry their playbook source, so workers need the plugins, not the playbook files.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return p.run(cmd, true, false) },
	}
	p.register(cmd.Flags(), false)
	return cmd
}

func newServeCmd() *cobra.Command {
	var p processFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API against an external Temporal cluster",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return p.run(cmd, p.alsoWorker, true) },
	}
	p.register(cmd.Flags(), true)
	return cmd
}

func newSetupCmd() *cobra.Command {
	var t temporalFlags
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Register soar's search attributes in a Temporal namespace (idempotent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := t.cfg.ClientOptions()
			if err != nil {
				return err
			}
			c, err := runner.Dial(cmd.Context(), opts, runner.NewLogger(os.Stderr, false))
			if err != nil {
				return err
			}
			defer c.Close()
			if err := runner.EnsureSearchAttributes(cmd.Context(), c, opts.Namespace); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "search attributes registered in namespace %s\n", opts.Namespace)
			return nil
		},
	}
	t.register(cmd.Flags())
	return cmd
}
