// Package plugins is the protocol between the soar host and its integration
// plugins: the gRPC service generated from plugin.proto (package pluginpb),
// the go-plugin handshake both sides must agree on, and the typed error a
// plugin action returns.
//
// Plugin authors import plugins/sdk; the worker and the CLI use plugins/host.
// Both depend on this package and on nothing of each other.
package plugins

//go:generate sh gen.sh
