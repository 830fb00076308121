// Package playbooks is the playbook language: YAML parsing with positions, the
// model, the CEL environment and its functions, validation and the JSON Schema
// of the format.
//
// A playbook is read in three stages, each reporting every problem it finds as
// a file:line:col error rather than stopping at the first:
//
//	Parse     YAML → *Playbook (field names, types, durations, step kinds)
//	Check     CEL type checks, step/var references on every path, the
//	          fail-safe rule, plugin actions against a Catalog
//	Compile   CEL programs, built once per playbook version and reused
//
// The package knows nothing of Temporal or of the plugin host; workflows/
// executes a *Compiled, and the plugin host satisfies Catalog.
package playbooks
