package plugins

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/soar-dev/soar/plugins/pluginpb"
)

// ProtocolVersion is bumped on any incompatible change to plugin.proto. The
// host refuses plugins that speak another version.
const ProtocolVersion = 1

// Handshake is shared by host and plugins. The cookie is not a secret: it only
// stops someone from running a plugin binary by hand and wondering why it
// prints a go-plugin banner.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "SOAR_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "d6b5c0f0-soar-integration-plugin",
}

// HostPIDEnv is the environment variable in which the host passes its pid
// to the plugins it starts, so a plugin can tell when the host has died.
const HostPIDEnv = "SOAR_PLUGIN_HOST_PID"

// PluginKey is the single go-plugin name every soar plugin process serves;
// the soar-level plugin name comes from the manifest.
const PluginKey = "soar"

// GRPCPlugin adapts the generated service to go-plugin. The plugin side sets
// Impl; the host side leaves it nil and receives a pluginpb.PluginClient.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl pluginpb.PluginServer
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer implements plugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterPluginServer(s, p.Impl)
	return nil
}

// GRPCClient implements plugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pluginpb.NewPluginClient(c), nil
}

// PluginSet is the go-plugin set for either side.
func PluginSet(server pluginpb.PluginServer) plugin.PluginSet {
	return plugin.PluginSet{PluginKey: &GRPCPlugin{Impl: server}}
}
