package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/soar-dev/soar/playbooks"
)

func newValidateCmd() *cobra.Command {
	var (
		format   string
		catalogs []string
		noPlugin bool
	)
	cmd := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Check playbooks: YAML, CEL, references, plugin inputs",
		Long: `Validate reads playbook files (or directories of *.yaml / *.yml) and reports
every problem as file:line:col: message, sorted. It exits 0 when all are clean
and 1 otherwise.

Plugin steps are checked against the manifests of the built-in plugins and of
any --catalog file (a JSON array of manifests, as printed by
'soar plugin describe --json'), so CI can validate playbooks for plugins it
does not run.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("--format must be text or json, got %q", format)
			}
			cat, closeCat, err := validationCatalog(cmd.Context(), catalogs, !noPlugin)
			if err != nil {
				return err
			}
			defer closeCat()
			env, err := playbooks.NewEnv()
			if err != nil {
				return err
			}
			compiled, errs, err := playbooks.Load(env, cat, args...)
			if err != nil {
				return err
			}
			if err := report(cmd.OutOrStdout(), format, len(compiled), errs); err != nil {
				return err
			}
			if len(errs) > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	cmd.Flags().StringArrayVar(&catalogs, "catalog", nil, "JSON file of plugin manifests to validate against (repeatable)")
	cmd.Flags().BoolVar(&noPlugin, "no-builtin-plugins", false, "do not start the built-in plugins to read their manifests")
	return cmd
}

// validationCatalog merges the built-in plugins' manifests with catalog files.
// With neither, it returns a nil catalog and plugin steps are not checked.
func validationCatalog(ctx context.Context, files []string, builtins bool) (playbooks.Catalog, func(), error) {
	var cats []playbooks.Catalog
	closeAll := func() {}
	if builtins {
		cat, closeFn, err := builtinCatalog(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("read built-in plugin manifests: %w", err)
		}
		cats, closeAll = append(cats, cat), closeFn
	}
	for _, f := range files {
		cat, err := playbooks.ReadCatalogFile(f)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		cats = append(cats, cat)
	}
	if len(cats) == 0 {
		return nil, closeAll, nil // nothing to check plugin steps against
	}
	return playbooks.MergeCatalogs(cats...), closeAll, nil
}

func report(w io.Writer, format string, valid int, errs playbooks.ErrorList) error {
	if format == "json" {
		if errs == nil {
			errs = playbooks.ErrorList{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"valid": valid, "errors": errs})
	}
	if len(errs) > 0 {
		_, err := fmt.Fprintln(w, errs.Error())
		return err
	}
	_, err := fmt.Fprintf(w, "%d playbook(s) valid\n", valid)
	return err
}

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the playbook format (for yaml-language-server)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(playbooks.JSONSchema())
			return err
		},
	}
}
