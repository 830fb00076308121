package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/soar-dev/soar/plugins/builtin"
	"github.com/soar-dev/soar/plugins/host"
	"github.com/soar-dev/soar/runner"
)

func newBenchCmd() *cobra.Command {
	var (
		config       string
		rate         float64
		alerts, both int
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the interpreter against a hand-written workflow on an embedded server",
		Long: `bench runs a 3-step auto-silence playbook (two lookups and an audit write)
through the interpreter and the same steps as a hand-written Go workflow, side
by side on one in-memory Temporal server with real plugin processes, with
regular activities and with local-activity lookups. It reports alert→verdict
latency at a fixed rate and sustained throughput, and the ratios.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			plugins := host.Config{Builtins: builtin.Names()}
			if err := host.LoadConfigFile(config, &plugins); err != nil {
				return err
			}
			res, err := runner.Bench(cmd.Context(), runner.BenchConfig{Plugins: plugins, Rate: rate, Alerts: alerts, Burst: both})
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintf(w, "variant\tp50 @ %.0f/s\tp99 @ %.0f/s\tthroughput\n", rate, rate)
			for _, r := range res {
				fmt.Fprintf(w, "%s\t%s\t%s\t%.1f/s\n", r.Variant, r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond), r.PerSecond)
			}
			for i := 0; i+1 < len(res); i += 2 {
				a, b := res[i], res[i+1]
				fmt.Fprintf(w, "ratio (%s / hand-written)\t%.2f×\t%.2f×\t%.2f×\n", a.Variant, float64(a.P50)/float64(b.P50), float64(a.P99)/float64(b.P99), a.PerSecond/b.PerSecond)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&config, "config", defaultConfig, "soar config file for the plugins")
	cmd.Flags().Float64Var(&rate, "rate", 20, "alerts per second in the latency phase")
	cmd.Flags().IntVar(&alerts, "alerts", 200, "alerts in each latency phase")
	cmd.Flags().IntVar(&both, "burst", 600, "alerts in each throughput phase")
	return cmd
}
