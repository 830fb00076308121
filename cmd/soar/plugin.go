package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/builtin"
	"github.com/soar-dev/soar/plugins/host"
	"github.com/soar-dev/soar/plugins/sdk"
)

// pluginFlags are shared by the plugin subcommands that start a host.
type pluginFlags struct {
	config  string
	dir     string
	verbose bool
}

func newPluginCmd() *cobra.Command {
	var f pluginFlags
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "List, describe and call integration plugins",
		Long: `Integration plugins run out of process. The built-ins ship inside this binary:
` + strings.Join(builtin.Names(), ", ") + `. Others come from a plugin directory
(--plugin-dir, files named soar-plugin-NAME) or from entries in the config
file (--plugin-config), pinned by sha256. See docs/plugins.md and
docs/integrations.md.`,
	}
	cmd.PersistentFlags().StringVar(&f.config, "plugin-config", "", "soar config file (YAML: dir; plugins.NAME.{config, secrets.SECRET.{env|file}, path, sha256, args})")
	cmd.PersistentFlags().StringVar(&f.dir, "plugin-dir", "", "plugin directory")
	cmd.PersistentFlags().BoolVarP(&f.verbose, "verbose", "v", false, "log plugin lifecycle and debug records to stderr")
	cmd.AddCommand(newPluginListCmd(&f), newPluginDescribeCmd(&f), newPluginCallCmd(&f), newPluginServeCmd())
	return cmd
}

// startHost starts every configured plugin; the caller closes the host.
func (f *pluginFlags) startHost(ctx context.Context, stderr io.Writer) (*host.Host, error) {
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelDebug
	}
	cfg := host.Config{
		Builtins: builtin.Names(),
		Dir:      f.dir,
		Logger:   slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	if f.config != "" {
		if err := host.LoadConfigFile(f.config, &cfg); err != nil {
			return nil, err
		}
		if f.dir != "" {
			cfg.Dir = f.dir
		}
	}
	return host.New(ctx, cfg)
}

func newPluginListCmd(f *pluginFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List plugins with their version, origin, process state and health",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := f.startHost(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer h.Close()
			type row struct {
				host.Status
				Health string `json:"health"`
			}
			var rows []row
			for _, s := range h.Status() {
				health := "ok"
				if err := h.Health(cmd.Context(), s.Name); err != nil {
					health = err.Error()
				}
				rows = append(rows, row{Status: s, Health: health})
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tKIND\tSTATE\tPID\tACTIONS\tHEALTH")
			for _, r := range rows {
				m, _ := h.Manifest(r.Name)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Name, r.Version, r.Kind, r.State, r.PID, strings.Join(m.ActionNames(), ","), r.Health)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newPluginDescribeCmd(f *pluginFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "describe [NAME [ACTION]]",
		Short: "Show plugin manifests: actions, input and output schemas, config, secrets",
		Long: `Without NAME, describes every plugin. With --json, prints a JSON array of
manifests, which is the file format of 'soar validate --catalog'.`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := f.startHost(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer h.Close()
			ms := h.Manifests()
			if len(args) > 0 {
				m, ok := h.Manifest(args[0])
				if !ok {
					return fmt.Errorf("no plugin %q (have: %s)", args[0], strings.Join(h.PluginNames(), ", "))
				}
				ms = []host.Manifest{m}
			}
			if len(args) == 2 {
				return describeAction(cmd.OutOrStdout(), ms[0], args[1], asJSON)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), ms)
			}
			for i, m := range ms {
				if i > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
				}
				describePlugin(cmd.OutOrStdout(), m)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (an array of manifests, or one action)")
	return cmd
}

func describePlugin(w io.Writer, m host.Manifest) {
	fmt.Fprintf(w, "%s %s\n", m.Name, m.Version)
	if m.Description != "" {
		fmt.Fprintf(w, "  %s\n", m.Description)
	}
	for _, s := range m.Secrets {
		opt := ""
		if s.Optional {
			opt = " (optional)"
		}
		fmt.Fprintf(w, "  secret %s%s  %s\n", s.Name, opt, s.Description)
	}
	describeConfig(w, m.Config)
	fmt.Fprintln(w, "  actions:")
	for _, name := range m.ActionNames() {
		a := m.Actions[name]
		side := ""
		if a.SideEffect {
			side = " [side effect]"
		}
		fmt.Fprintf(w, "    %s.%s%s  %s\n", m.Name, name, side, a.Description)
	}
}

// describeConfig lists the top-level settings of a config schema; the full
// schema is in `describe --json`.
func describeConfig(w io.Writer, schema json.RawMessage) {
	var s struct {
		Properties map[string]struct {
			Type        string `json:"type"`
			Description string `json:"description"`
		} `json:"properties"`
	}
	if len(schema) == 0 || json.Unmarshal(schema, &s) != nil || len(s.Properties) == 0 {
		return
	}
	fmt.Fprintln(w, "  config:")
	for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
		p := s.Properties[name]
		fmt.Fprintf(w, "    %s (%s)  %s\n", name, p.Type, p.Description)
	}
}

func describeAction(w io.Writer, m host.Manifest, name string, asJSON bool) error {
	a, ok := m.Actions[name]
	if !ok {
		return fmt.Errorf("plugin %s has no action %q (have: %s)", m.Name, name, strings.Join(m.ActionNames(), ", "))
	}
	if asJSON {
		return writeJSON(w, a)
	}
	fmt.Fprintf(w, "%s.%s  side effect: %v\n  %s\n\ninput schema:\n", m.Name, name, a.SideEffect, a.Description)
	if err := writeJSON(w, a.Input); err != nil {
		return err
	}
	fmt.Fprintln(w, "\noutput schema:")
	return writeJSON(w, a.Output)
}

func newPluginCallCmd(f *pluginFlags) *cobra.Command {
	var (
		key     string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "call NAME ACTION [JSON|-]",
		Short: "Invoke a plugin action through the host, as a playbook step would",
		Long: `Invokes NAME.ACTION with the JSON input (default {}, '-' reads stdin) through
the plugin host exactly as a playbook step does: schema check, config, secrets,
deadline and output limit. Prints the output JSON.`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			input, err := callInput(cmd.InOrStdin(), args[2:])
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			h, err := f.startHost(ctx, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer h.Close()
			out, err := h.Invoke(ctx, args[0], args[1], input, key)
			if err != nil {
				var pe *plugins.Error
				if errors.As(err, &pe) && len(pe.Details) > 0 {
					return fmt.Errorf("%w\ndetails: %s", err, pe.Details)
				}
				return err
			}
			return writeJSON(cmd.OutOrStdout(), out)
		},
	}
	cmd.Flags().StringVar(&key, "idempotency-key", "", "idempotency key handed to the plugin")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "deadline for start-up and the call")
	return cmd
}

func callInput(stdin io.Reader, args []string) (json.RawMessage, error) {
	var data []byte
	switch {
	case len(args) == 0:
		return json.RawMessage(`{}`), nil
	case args[0] == "-":
		var err error
		if data, err = io.ReadAll(stdin); err != nil {
			return nil, fmt.Errorf("read input: %w", err)
		}
	default:
		data = []byte(args[0])
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("input is not valid JSON: %s", data)
	}
	return data, nil
}

func newPluginServeCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "serve NAME",
		Short:  "Serve a built-in plugin (started by the plugin host, not by hand)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			p, ok := builtin.Lookup(args[0])
			if !ok {
				return fmt.Errorf("no built-in plugin %q (have: %s)", args[0], strings.Join(builtin.Names(), ", "))
			}
			sdk.Serve(p)
			return nil
		},
	}
}

func writeJSON(w io.Writer, v any) error {
	data, err := json.MarshalIndent(v, "", "  ") // re-indents a json.RawMessage, keeping key order
	if err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}
