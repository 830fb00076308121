// Package builtin lists the plugins that ship inside the soar binary. The
// host still runs each in its own process (`soar plugin serve NAME`), so a
// built-in crashing or leaking cannot take the worker with it, and built-ins
// exercise exactly the protocol third-party plugins use.
package builtin

import (
	"sort"

	"github.com/soar-dev/soar/plugins/audit"
	"github.com/soar-dev/soar/plugins/geoip"
	"github.com/soar-dev/soar/plugins/hr"
	"github.com/soar-dev/soar/plugins/identity"
	"github.com/soar-dev/soar/plugins/oncall"
	"github.com/soar-dev/soar/plugins/page"
	"github.com/soar-dev/soar/plugins/sdk"
)

var registry = map[string]func() *sdk.Plugin{
	"audit":    audit.Plugin,
	"geoip":    geoip.Plugin,
	"hr":       hr.Plugin,
	"identity": identity.Plugin,
	"oncall":   oncall.Plugin,
	"page":     page.Plugin,
}

// Names returns the built-in plugin names, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns a fresh instance of the named built-in plugin.
func Lookup(name string) (*sdk.Plugin, bool) {
	newPlugin, ok := registry[name]
	if !ok {
		return nil, false
	}
	return newPlugin(), true
}
