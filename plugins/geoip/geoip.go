// Package geoip is the built-in geolocation plugin: MaxMind City/Country,
// ASN and Anonymous-IP lookups, distances, and impossible-travel speed.
//
// It needs no account: the databases are files named in the plugin's config
// (GeoLite2 from MaxMind, kept current by geoipupdate; a replaced file is
// picked up on the next call). With no database configured the plugin still
// starts and describes itself, so playbooks validate, but lookups fail with a
// permanent error naming the missing setting. It never falls back to the
// MaxMind test databases in testdata/ on its own: those hold synthetic
// networks, and answering real alerts from them would be silently wrong.
// `soar dev` points city_db/asn_db at them explicitly.
package geoip

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/sdk"
)

// Version is the plugin's manifest version.
const Version = "1.0.0"

// DefaultImpossibleKmh is the travel speed above which a journey is called
// impossible: roughly a airliner's cruising speed.
const DefaultImpossibleKmh = 900

// Config is the plugin's config.
type Config struct {
	CityDB        string  `json:"city_db,omitempty" jsonschema:"description=Path of a GeoIP2/GeoLite2 City or Country database (.mmdb)"`
	ASNDB         string  `json:"asn_db,omitempty" jsonschema:"description=Path of a GeoLite2/GeoIP2 ASN database (.mmdb)"`
	AnonymousDB   string  `json:"anonymous_db,omitempty" jsonschema:"description=Path of a GeoIP2 Anonymous-IP database (.mmdb); optional"`
	ImpossibleKmh float64 `json:"impossible_kmh,omitempty" jsonschema:"description=Speed above which travel is impossible (default 900),exclusiveMinimum=0"`
}

// Plugin returns the geoip plugin, ready for sdk.Serve.
func Plugin() *sdk.Plugin {
	g := &geo{}
	return &sdk.Plugin{
		Name:        "geoip",
		Version:     Version,
		Description: "Geolocate IP addresses with MaxMind databases; distance and impossible-travel speed",
		Config:      Config{},
		Actions: []sdk.Action{
			sdk.NewAction("lookup", "Country, city, location, time zone, ASN and anonymity of an IP address. "+
				"Private, reserved and unknown addresses answer found:false.", g.lookup),
			sdk.NewAction("distance", "Great-circle distance in km between two points, each an IP or latitude/longitude", g.distance),
			sdk.NewAction("travel", "Distance, elapsed time and speed between two timestamped points; "+
				"impossible when faster than the threshold (default 900 km/h)", g.travel),
		},
		Health: g.health,
	}
}

type geo struct {
	dbs dbSet
}

// LookupInput is the input of lookup.
type LookupInput struct {
	IP string `json:"ip" jsonschema:"description=IPv4 or IPv6 address"`
}

// Location is the answer of lookup. Every field is always present (empty
// when unknown) so that playbook conditions never meet a missing key.
type Location struct {
	IP string `json:"ip"`
	// Found is true when any database knew the address.
	Found bool `json:"found"`
	// Reason says why Found is false: private, loopback, reserved,
	// link_local, multicast, unspecified or not_found.
	Reason            string  `json:"reason"`
	Network           string  `json:"network" jsonschema:"description=The database network containing the address"`
	Country           string  `json:"country" jsonschema:"description=ISO 3166-1 alpha-2 code"`
	CountryName       string  `json:"country_name"`
	RegisteredCountry string  `json:"registered_country" jsonschema:"description=ISO code of the country where the network is registered"`
	Continent         string  `json:"continent" jsonschema:"description=Two-letter continent code"`
	InEU              bool    `json:"in_eu"`
	Subdivision       string  `json:"subdivision" jsonschema:"description=Name of the largest subdivision (state, region)"`
	SubdivisionCode   string  `json:"subdivision_code"`
	City              string  `json:"city"`
	PostalCode        string  `json:"postal_code"`
	HasLocation       bool    `json:"has_location" jsonschema:"description=Whether latitude and longitude are known"`
	Latitude          float64 `json:"latitude"`
	Longitude         float64 `json:"longitude"`
	AccuracyRadiusKm  int     `json:"accuracy_radius_km"`
	TimeZone          string  `json:"time_zone" jsonschema:"description=IANA time zone, e.g. Europe/London"`
	ASN               int     `json:"asn"`
	ASOrg             string  `json:"as_org"`
	IsAnonymous       bool    `json:"is_anonymous" jsonschema:"description=VPN, proxy, Tor or hosting (needs anonymous_db)"`
	IsAnonymousVPN    bool    `json:"is_anonymous_vpn"`
	IsHostingProvider bool    `json:"is_hosting_provider"`
	IsPublicProxy     bool    `json:"is_public_proxy"`
	IsTorExitNode     bool    `json:"is_tor_exit_node"`
	IsAnycast         bool    `json:"is_anycast"`
}

func (g *geo) config(call sdk.Call) (Config, error) {
	cfg := Config{ImpossibleKmh: DefaultImpossibleKmh}
	if err := call.DecodeConfig(&cfg); err != nil {
		return cfg, plugins.Errorf(plugins.Permanent, "%v", err)
	}
	if cfg.CityDB == "" && cfg.ASNDB == "" && cfg.AnonymousDB == "" {
		return cfg, plugins.Errorf(plugins.Permanent, "no geoip database configured: set city_db (and asn_db) in the geoip plugin config")
	}
	return cfg, nil
}

func parseIP(s string) (netip.Addr, error) {
	addr, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, plugins.Errorf(plugins.InvalidInput, "invalid IP address %q", s)
	}
	return addr.Unmap().WithZone(""), nil
}

func (g *geo) lookup(_ context.Context, call sdk.Call, in LookupInput) (Location, error) {
	cfg, err := g.config(call)
	if err != nil {
		return Location{}, err
	}
	addr, err := parseIP(in.IP)
	if err != nil {
		return Location{}, err
	}
	return g.locate(call.Logger, cfg, addr)
}

func (g *geo) locate(logger *slog.Logger, cfg Config, addr netip.Addr) (Location, error) {
	loc := Location{IP: addr.String()}
	if why := unroutable(addr); why != "" {
		loc.Reason = why
		return loc, nil
	}
	steps := []struct {
		path string
		fill func(*loaded, netip.Addr, *Location) error
	}{{cfg.CityDB, fillCity}, {cfg.ASNDB, fillASN}, {cfg.AnonymousDB, fillAnonymous}}
	for _, s := range steps {
		if s.path == "" {
			continue
		}
		l, err := g.dbs.open(s.path).get(logger)
		if err != nil {
			return Location{}, plugins.Errorf(plugins.Permanent, "%v", err)
		}
		if err := s.fill(l, addr, &loc); err != nil {
			return Location{}, plugins.Errorf(plugins.Permanent, "look up %s in %s: %v", addr, s.path, err)
		}
	}
	if !loc.Found {
		loc.Reason = "not_found"
	}
	return loc, nil
}

func (g *geo) health(_ context.Context, call sdk.Call) error {
	cfg, err := g.config(call)
	if err != nil {
		return err
	}
	for _, p := range []string{cfg.CityDB, cfg.ASNDB, cfg.AnonymousDB} {
		if p == "" {
			continue
		}
		if _, err := g.dbs.open(p).get(call.Logger); err != nil {
			return err
		}
	}
	return nil
}
