package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/soar-dev/soar/playbooks"
	"github.com/soar-dev/soar/plugins/builtin"
	"github.com/soar-dev/soar/plugins/host"
	"github.com/soar-dev/soar/runner"
)

// Defaults of `soar dev`, relative to the repository root, so that a fresh
// clone runs with `go run ./cmd/soar dev`.
const (
	defaultPlaybooks = "examples/playbooks"
	defaultConfig    = "examples/soar.yaml"
)

func newDevCmd() *cobra.Command {
	var (
		data, api, config string
		playbookDirs      []string
		catalogs          []string
		ephemeral, local  bool
		port, uiPort      int
		verbose           bool
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process: Temporal (SQLite), Web UI, worker, plugins and HTTP API",
		Long: `dev starts an embedded Temporal server persisted to SQLite under --data, the
Temporal Web UI, a worker with every built-in plugin, and the HTTP API, with
the example playbooks and example HR/on-call data. Ctrl-C stops it cleanly;
starting again on the same --data resumes every open run, timers included.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger := runner.NewLogger(os.Stderr, verbose)
			plugins := host.Config{Builtins: builtin.Names(), Logger: logger.With("component", "plugins")}
			if config == "" && fileExists(defaultConfig) {
				config = defaultConfig
			}
			if config != "" {
				if err := host.LoadConfigFile(config, &plugins); err != nil {
					return err
				}
			}
			var extra []playbooks.Catalog
			for _, f := range catalogs {
				c, err := playbooks.ReadCatalogFile(f)
				if err != nil {
					return err
				}
				extra = append(extra, c)
			}
			if ephemeral {
				data = ""
			}
			d, err := runner.StartDev(ctx, runner.DevServerConfig{DataDir: data, FrontendPort: port, UIPort: uiPort}, runner.Config{
				Playbooks:    playbookDirs,
				APIAddr:      api,
				Plugins:      plugins,
				Catalogs:     extra,
				LocalLookups: local,
				Logger:       logger,
			})
			if err != nil {
				return err
			}
			defer d.Stop()
			where := "in memory (--ephemeral)"
			if data != "" {
				abs, _ := filepath.Abs(data)
				where = abs
			}
			fmt.Fprintf(cmd.OutOrStdout(), `soar dev is running
  playbooks   %d loaded from %v
  HTTP API    http://%s   (curl -X POST http://%s/api/alerts -d @examples/alerts/new-country-login.json)
  Temporal    %s   (namespace default, data %s)
  Web UI      http://%s
Ctrl-C to stop; open runs resume on the next start.
`, len(d.Library.Playbooks()), playbookDirs, d.APIAddr, d.APIAddr, d.Server.Address, where, d.Server.UIAddress)
			<-ctx.Done()
			fmt.Fprintln(cmd.OutOrStdout(), "stopping…")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", ".soar", "directory of the SQLite database")
	f.BoolVar(&ephemeral, "ephemeral", false, "keep everything in memory; nothing survives a restart")
	f.StringArrayVar(&playbookDirs, "playbooks", []string{defaultPlaybooks}, "playbook file or directory (repeatable)")
	f.StringVar(&api, "api", "127.0.0.1:8080", "HTTP API listen address")
	f.IntVar(&port, "port", 7233, "Temporal frontend (gRPC) port; 0 picks a free one")
	f.IntVar(&uiPort, "ui-port", 8233, "Temporal Web UI port; 0 picks a free one, -1 disables the UI")
	f.StringVar(&config, "config", "", "soar config file (plugins, backends, secrets); default "+defaultConfig+" when present")
	f.StringArrayVar(&catalogs, "catalog", nil, "JSON manifests of plugins this process does not run (their steps fail and escalate)")
	f.BoolVar(&local, "local-lookups", true, "run read-only plugin actions as local activities (faster)")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logs, including the Temporal server's")
	return cmd
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
