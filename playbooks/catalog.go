package playbooks

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// A Catalog tells the validator which plugin actions exist and what input
// they accept. The plugin host implements it from live manifests; tests and
// `soar validate --catalog` use a StaticCatalog read from JSON. playbooks/
// never imports the plugin host: this interface is the whole contract.
type Catalog interface {
	// Plugin returns the manifest of the named plugin, or false when no such
	// plugin is known.
	Plugin(name string) (PluginSpec, bool)
	// PluginNames lists every known plugin, for "did you mean" hints.
	PluginNames() []string
}

// PluginSpec is the part of a plugin manifest the language cares about.
type PluginSpec struct {
	Name        string                `json:"name"`
	Version     string                `json:"version,omitempty"`
	Description string                `json:"description,omitempty"`
	Actions     map[string]ActionSpec `json:"actions"`
}

// ActionSpec describes one plugin action. Input and Output are JSON Schemas
// (draft 2020-12); an empty schema accepts anything.
type ActionSpec struct {
	Description string          `json:"description,omitempty"`
	Input       json.RawMessage `json:"input,omitempty"`
	Output      json.RawMessage `json:"output,omitempty"`
	SideEffect  bool            `json:"side_effect,omitempty"`
}

// ActionNames returns the plugin's action names, sorted.
func (p PluginSpec) ActionNames() []string {
	names := make([]string, 0, len(p.Actions))
	for n := range p.Actions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// StaticCatalog is a Catalog held in memory, keyed by plugin name.
type StaticCatalog map[string]PluginSpec

var _ Catalog = StaticCatalog(nil)

// Plugin implements Catalog.
func (c StaticCatalog) Plugin(name string) (PluginSpec, bool) {
	p, ok := c[name]
	return p, ok
}

// PluginNames implements Catalog.
func (c StaticCatalog) PluginNames() []string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ReadCatalogFile reads a JSON array of plugin manifests (the output of
// `soar plugin describe --json` for several plugins) into a StaticCatalog.
func ReadCatalogFile(path string) (StaticCatalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	var specs []PluginSpec
	if err := json.Unmarshal(data, &specs); err != nil {
		return nil, fmt.Errorf("read catalog %s: %w", path, err)
	}
	c := StaticCatalog{}
	for i, s := range specs {
		if s.Name == "" {
			return nil, fmt.Errorf("read catalog %s: plugin %d has no name", path, i)
		}
		if _, dup := c[s.Name]; dup {
			return nil, fmt.Errorf("read catalog %s: plugin %q listed twice", path, s.Name)
		}
		c[s.Name] = s
	}
	return c, nil
}

// MergeCatalogs returns a catalog that answers from the first catalog knowing
// a plugin. Later catalogs fill gaps; they never override.
func MergeCatalogs(cs ...Catalog) Catalog { return mergedCatalog(cs) }

type mergedCatalog []Catalog

func (m mergedCatalog) Plugin(name string) (PluginSpec, bool) {
	for _, c := range m {
		if c == nil {
			continue
		}
		if p, ok := c.Plugin(name); ok {
			return p, true
		}
	}
	return PluginSpec{}, false
}

func (m mergedCatalog) PluginNames() []string {
	seen := map[string]bool{}
	var names []string
	for _, c := range m {
		if c == nil {
			continue
		}
		for _, n := range c.PluginNames() {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}
