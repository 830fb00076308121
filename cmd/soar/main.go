// Command soar runs security playbooks as durable Temporal workflows.
//
// This package is CLI wiring only: each subcommand lives in its own file and
// calls into playbooks/, plugins/ or runner/.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		var ee exitError
		if asExit(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "soar:", err)
		os.Exit(2) // 1 means "the input has problems", as `soar validate` reports
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "soar",
		Short:         "Run security playbooks as durable Temporal workflows",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newDevCmd(),
		newAlertCmd(),
		newValidateCmd(),
		newSchemaCmd(),
		newPluginCmd(),
		newWorkerCmd(),
		newServeCmd(),
		newSetupCmd(),
		newBenchCmd(),
	)
	return root
}

// exitError carries an exit code for a failure whose message has already been
// printed (for example `soar validate` finding errors).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func asExit(err error, target *exitError) bool {
	e, ok := err.(exitError)
	if ok {
		*target = e
	}
	return ok
}
