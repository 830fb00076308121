// Command soar-plugin-blocklist is an example third-party soar plugin: it
// checks IP addresses against a local file of CIDR ranges (a threat-intel
// feed, a list of known VPN exits, your own deny list). It imports only
// github.com/soar-dev/soar/plugins/sdk.
//
// Build it, record its checksum and register it (see docs/plugins.md):
//
//	go build -o soar-plugin-blocklist .
//	sha256sum soar-plugin-blocklist
package main

import (
	"context"
	"net/netip"

	"github.com/soar-dev/soar/plugins/sdk"
)

// Config is the plugin's config, set under plugins.blocklist.config.
type Config struct {
	File string `json:"file" jsonschema:"description=Path of the blocklist: one CIDR or IP per line, optionally followed by a label; # starts a comment"`
}

// CheckInput is the input of check.
type CheckInput struct {
	IP string `json:"ip" jsonschema:"description=IPv4 or IPv6 address to check"`
}

// Match is one blocklist entry containing the address.
type Match struct {
	Network string `json:"network"`
	Label   string `json:"label"`
}

// CheckOutput is the answer of check.
type CheckOutput struct {
	Listed  bool    `json:"listed"`
	Matches []Match `json:"matches"`
}

func main() {
	lists := &listCache{}
	sdk.Serve(&sdk.Plugin{
		Name:        "blocklist",
		Version:     "0.1.0",
		Description: "Check IP addresses against a local CIDR blocklist",
		Config:      Config{},
		Actions: []sdk.Action{
			sdk.NewAction("check", "Is the IP on the blocklist, and under which entries?",
				func(_ context.Context, call sdk.Call, in CheckInput) (CheckOutput, error) {
					return check(lists, call, in)
				}),
		},
		Health: func(_ context.Context, call sdk.Call) error {
			cfg, err := config(call)
			if err != nil {
				return err
			}
			_, err = lists.get(cfg.File)
			return err
		},
	})
}

func config(call sdk.Call) (Config, error) {
	var cfg Config
	if err := call.DecodeConfig(&cfg); err != nil {
		return cfg, err
	}
	if cfg.File == "" {
		return cfg, sdk.Permanentf("no blocklist file configured: set plugins.blocklist.config.file")
	}
	return cfg, nil
}

func check(lists *listCache, call sdk.Call, in CheckInput) (CheckOutput, error) {
	cfg, err := config(call)
	if err != nil {
		return CheckOutput{}, err
	}
	addr, err := netip.ParseAddr(in.IP)
	if err != nil {
		return CheckOutput{}, sdk.InvalidInputf("invalid IP address %q", in.IP)
	}
	list, err := lists.get(cfg.File)
	if err != nil {
		return CheckOutput{}, sdk.Permanentf("%v", err)
	}
	out := CheckOutput{Matches: []Match{}}
	for _, e := range list {
		if e.prefix.Contains(addr.Unmap()) {
			out.Matches = append(out.Matches, Match{Network: e.prefix.String(), Label: e.label})
		}
	}
	out.Listed = len(out.Matches) > 0
	call.Logger.Debug("checked", "ip", in.IP, "listed", out.Listed)
	return out, nil
}
