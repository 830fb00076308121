package geoip

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/internal/plugintest"
	"github.com/soar-dev/soar/plugins/pluginpb"
	"github.com/soar-dev/soar/plugins/sdk"
)

const (
	cityDB = "testdata/GeoIP2-City-Test.mmdb"
	asnDB  = "testdata/GeoLite2-ASN-Test.mmdb"
)

func testConfig() Config { return Config{CityDB: cityDB, ASNDB: asnDB} }

func server(t *testing.T) *sdk.Server { return plugintest.Server(t, Plugin()) }

func invoke(t *testing.T, s *sdk.Server, cfg any, action, input string, out any) *plugins.Error {
	t.Helper()
	return plugintest.Invoke(t, s, cfg, nil, action, input, out)
}

func lookup(t *testing.T, s *sdk.Server, cfg any, ip string) Location {
	t.Helper()
	var loc Location
	if perr := invoke(t, s, cfg, "lookup", fmt.Sprintf(`{"ip":%q}`, ip), &loc); perr != nil {
		t.Fatalf("lookup %s: %v", ip, perr)
	}
	return loc
}

func TestLookupKnownAnswers(t *testing.T) {
	t.Parallel()
	s := server(t)
	tests := []struct {
		ip   string
		want Location
	}{
		{"81.2.69.142", Location{Country: "GB", CountryName: "United Kingdom", City: "London", TimeZone: "Europe/London", Continent: "EU", Subdivision: "England", SubdivisionCode: "ENG"}},
		{"89.160.20.128", Location{Country: "SE", CountryName: "Sweden", City: "Linköping", TimeZone: "Europe/Stockholm", Continent: "EU", Subdivision: "Östergötland County", SubdivisionCode: "E", ASN: 29518, ASOrg: "Bredband2 AB"}},
		{"216.160.83.56", Location{Country: "US", CountryName: "United States", City: "Milton", TimeZone: "America/Los_Angeles", Continent: "NA", Subdivision: "Washington", SubdivisionCode: "WA", ASN: 209}},
		{"2001:480:10::1", Location{Country: "US", CountryName: "United States", City: "San Diego", TimeZone: "America/Los_Angeles", Continent: "NA", Subdivision: "California", SubdivisionCode: "CA"}},
		{"::ffff:81.2.69.142", Location{Country: "GB", CountryName: "United Kingdom", City: "London", TimeZone: "Europe/London", Continent: "EU", Subdivision: "England", SubdivisionCode: "ENG"}},
	}
	for _, tt := range tests {
		got := lookup(t, s, testConfig(), tt.ip)
		if !got.Found || !got.HasLocation || got.Reason != "" || got.Network == "" {
			t.Errorf("%s: found=%v has_location=%v reason=%q network=%q", tt.ip, got.Found, got.HasLocation, got.Reason, got.Network)
		}
		picked := Location{Country: got.Country, CountryName: got.CountryName, City: got.City, TimeZone: got.TimeZone,
			Continent: got.Continent, Subdivision: got.Subdivision, SubdivisionCode: got.SubdivisionCode, ASN: got.ASN}
		if tt.want.ASOrg != "" {
			picked.ASOrg = got.ASOrg
		}
		if diff := cmp.Diff(tt.want, picked); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.ip, diff)
		}
	}
}

func TestLookupWithoutLocation(t *testing.T) {
	t.Parallel()
	s := server(t)
	for ip, reason := range map[string]string{
		"10.1.2.3": "private", "192.168.0.1": "private", "fd00::1": "private", "127.0.0.1": "loopback",
		"::1": "loopback", "169.254.1.1": "link_local", "100.64.0.1": "reserved", "192.0.2.7": "reserved",
		"2001:db8::1": "reserved", "0.0.0.0": "unspecified", "224.0.0.1": "multicast", "ff02::1": "multicast", "fe80::1": "link_local",
		"8.8.8.8": "not_found", "2a00:1450::1": "not_found",
	} {
		got := lookup(t, s, testConfig(), ip)
		if got.Found || got.Reason != reason {
			t.Errorf("%s: found=%v reason=%q, want reason %q", ip, got.Found, got.Reason, reason)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	t.Parallel()
	s := server(t)
	var loc Location
	for _, tt := range []struct {
		cfg   any
		input string
		kind  plugins.Kind
		msg   string
	}{
		{testConfig(), `{"ip":"not-an-ip"}`, plugins.InvalidInput, `invalid IP address "not-an-ip"`},
		{testConfig(), `{"ip":"1.2.3.4/24"}`, plugins.InvalidInput, "invalid IP address"},
		{testConfig(), `{"addr":"1.2.3.4"}`, plugins.InvalidInput, "schema /required"},
		{nil, `{"ip":"81.2.69.142"}`, plugins.Permanent, "no geoip database configured"},
		{Config{CityDB: "testdata/missing.mmdb"}, `{"ip":"81.2.69.142"}`, plugins.Permanent, "missing.mmdb"},
		{Config{CityDB: asnDB}, `{"ip":"81.2.69.142"}`, plugins.Permanent, "not City"},
		{Config{ASNDB: cityDB}, `{"ip":"81.2.69.142"}`, plugins.Permanent, "not ASN"},
	} {
		perr := invoke(t, s, tt.cfg, "lookup", tt.input, &loc)
		if perr == nil || perr.Kind != tt.kind || !strings.Contains(perr.Message, tt.msg) {
			t.Errorf("%s with %+v: %v, want %s error mentioning %q", tt.input, tt.cfg, perr, tt.kind, tt.msg)
		}
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	s := server(t)
	for cfg, ok := range map[string]bool{`{"city_db":"` + cityDB + `"}`: true, `{}`: false, `{"city_db":"nope.mmdb"}`: false} {
		resp, _ := s.Health(context.Background(), &pluginpb.HealthRequest{Config: []byte(cfg)})
		if resp.GetOk() != ok {
			t.Errorf("health with %s = %v (%s)", cfg, resp.GetOk(), resp.GetMessage())
		}
	}
}

func TestDistanceLondonLinkoping(t *testing.T) {
	t.Parallel()
	s := server(t)
	var d Distance
	if perr := invoke(t, s, testConfig(), "distance", `{"from":{"ip":"81.2.69.142"},"to":{"ip":"89.160.20.128"}}`, &d); perr != nil {
		t.Fatal(perr)
	}
	if !d.Known || math.Abs(d.Km-1300) > 50 || d.From.City != "London" || d.To.City != "Linköping" {
		t.Errorf("London→Linköping = %+v, want ≈1300 km", d)
	}
	// The same journey by coordinates (London 51.5142,-0.0931; Linköping 58.4167,15.6167).
	var byCoords Distance
	in := `{"from":{"latitude":51.5142,"longitude":-0.0931},"to":{"latitude":58.4167,"longitude":15.6167}}`
	if perr := invoke(t, s, nil, "distance", in, &byCoords); perr != nil {
		t.Fatal(perr)
	}
	if math.Abs(byCoords.Km-d.Km) > 1 {
		t.Errorf("by coordinates %.1f km, by IP %.1f km", byCoords.Km, d.Km)
	}
}

func TestHaversine(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ lat1, lon1, lat2, lon2, want float64 }{
		{0, 0, 0, 0, 0},
		{0, 0, 0, 180, math.Pi * earthRadiusKm},
		{90, 0, -90, 0, math.Pi * earthRadiusKm},
		{40.7128, -74.0060, 51.5074, -0.1278, 5570}, // New York → London
	} {
		if got := haversineKm(tt.lat1, tt.lon1, tt.lat2, tt.lon2); math.Abs(got-tt.want) > 10 {
			t.Errorf("haversine(%v,%v → %v,%v) = %.1f, want %.1f", tt.lat1, tt.lon1, tt.lat2, tt.lon2, got, tt.want)
		}
	}
}

func TestTravel(t *testing.T) {
	t.Parallel()
	s := server(t)
	london, linkoping := `"ip":"81.2.69.142"`, `"ip":"89.160.20.128"`
	trip := func(from, to, t1, t2, extra string) string {
		return fmt.Sprintf(`{"from":{%s,"at":%q},"to":{%s,"at":%q}%s}`, from, t1, to, t2, extra)
	}
	tests := []struct {
		name       string
		cfg        any
		input      string
		impossible bool
		known      bool
		kmh        float64 // checked within 5 %
	}{
		{"one hour", testConfig(), trip(london, linkoping, "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z", ""), true, true, 1300},
		{"four hours", testConfig(), trip(london, linkoping, "2026-01-01T10:00:00Z", "2026-01-01T14:00:00Z", ""), false, true, 325},
		{"backwards in time", testConfig(), trip(london, linkoping, "2026-01-01T14:00:00+02:00", "2026-01-01T10:00:00Z", ""), false, true, 650},
		{"same instant", testConfig(), trip(london, linkoping, "2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z", ""), true, true, 1300 * 3600},
		{"same place", testConfig(), trip(london, london, "2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z", ""), false, true, 0},
		{"threshold override", testConfig(), trip(london, linkoping, "2026-01-01T10:00:00Z", "2026-01-01T14:00:00Z", `,"threshold_kmh":300`), true, true, 325},
		{"config threshold", Config{CityDB: cityDB, ImpossibleKmh: 2000}, trip(london, linkoping, "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z", ""), false, true, 1300},
		{"private ip", testConfig(), trip(london, `"ip":"10.0.0.1"`, "2026-01-01T10:00:00Z", "2026-01-01T10:01:00Z", ""), false, false, 0},
	}
	for _, tt := range tests {
		var got Travel
		if perr := invoke(t, s, tt.cfg, "travel", tt.input, &got); perr != nil {
			t.Errorf("%s: %v", tt.name, perr)
			continue
		}
		if got.Impossible != tt.impossible || got.Known != tt.known || math.Abs(got.Kmh-tt.kmh) > tt.kmh*0.05 {
			t.Errorf("%s: %+v, want impossible=%v known=%v kmh≈%v", tt.name, got, tt.impossible, tt.known, tt.kmh)
		}
	}
}

func TestTravelInputErrors(t *testing.T) {
	t.Parallel()
	s := server(t)
	var out Travel
	for input, msg := range map[string]string{
		`{"from":{"ip":"1.1.1.1","latitude":1,"longitude":2,"at":"2026-01-01T10:00:00Z"},"to":{"ip":"1.1.1.1","at":"2026-01-01T10:00:00Z"}}`: "not both",
		`{"from":{"latitude":1,"at":"2026-01-01T10:00:00Z"},"to":{"ip":"1.1.1.1","at":"2026-01-01T10:00:00Z"}}`:                              "go together",
		`{"from":{"at":"2026-01-01T10:00:00Z"},"to":{"ip":"1.1.1.1","at":"2026-01-01T10:00:00Z"}}`:                                           "needs ip or latitude/longitude",
		`{"from":{"latitude":91,"longitude":0,"at":"2026-01-01T10:00:00Z"},"to":{"ip":"1.1.1.1","at":"2026-01-01T10:00:00Z"}}`:               "at /from/latitude",
		`{"from":{"ip":"1.1.1.1","at":"yesterday"},"to":{"ip":"1.1.1.1","at":"2026-01-01T10:00:00Z"}}`:                                       "at /from/at",
		`{"from":{"ip":"1.1.1.1"},"to":{"ip":"1.1.1.1","at":"2026-01-01T10:00:00Z"}}`:                                                        "schema /properties/from/required",
	} {
		perr := invoke(t, s, testConfig(), "travel", input, &out)
		if perr == nil || perr.Kind != plugins.InvalidInput || !strings.Contains(perr.Message, msg) {
			t.Errorf("%s: %v, want invalid_input mentioning %q", input, perr, msg)
		}
	}
}

// writeDB builds a database with mmdbwriter: networks maps a CIDR to its record.
func writeDB(t *testing.T, path, dbType string, networks map[string]mmdbtype.Map) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range networks {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // as geoipupdate does
		t.Fatal(err)
	}
}

func country(iso string) mmdbtype.Map {
	return mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(iso), "names": mmdbtype.Map{"en": mmdbtype.String(iso + " land")}}}
}

func TestReplacedDatabaseIsPickedUp(t *testing.T) {
	t.Parallel()
	s := server(t)
	path := filepath.Join(t.TempDir(), "city.mmdb")
	cfg := Config{CityDB: path}
	writeDB(t, path, "GeoIP2-City", map[string]mmdbtype.Map{"1.2.3.0/24": country("FR")})
	if got := lookup(t, s, cfg, "1.2.3.4"); got.Country != "FR" || got.HasLocation {
		t.Fatalf("first database: %+v", got)
	}
	writeDB(t, path, "GeoIP2-City", map[string]mmdbtype.Map{"1.2.3.0/24": country("DE")})
	if got := lookup(t, s, cfg, "1.2.3.4"); got.Country != "DE" {
		t.Fatalf("after rename over the file: %+v", got)
	}
	// A half-written file keeps the previous version serving.
	if err := os.WriteFile(path, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, s, cfg, "1.2.3.4"); got.Country != "DE" {
		t.Fatalf("after a broken write: %+v", got)
	}
}

func TestCountryAndAnonymousDatabases(t *testing.T) {
	t.Parallel()
	s := server(t)
	dir := t.TempDir()
	cfg := Config{CityDB: filepath.Join(dir, "country.mmdb"), AnonymousDB: filepath.Join(dir, "anon.mmdb")}
	writeDB(t, cfg.CityDB, "GeoLite2-Country", map[string]mmdbtype.Map{"5.6.0.0/16": country("NL")})
	writeDB(t, cfg.AnonymousDB, "GeoIP2-Anonymous-IP", map[string]mmdbtype.Map{
		"5.6.7.0/24": {"is_anonymous": mmdbtype.Bool(true), "is_anonymous_vpn": mmdbtype.Bool(true), "is_hosting_provider": mmdbtype.Bool(true)},
	})
	vpn := lookup(t, s, cfg, "5.6.7.8")
	if !vpn.Found || vpn.Country != "NL" || !vpn.IsAnonymous || !vpn.IsAnonymousVPN || !vpn.IsHostingProvider || vpn.IsTorExitNode {
		t.Errorf("vpn address: %+v", vpn)
	}
	plain := lookup(t, s, cfg, "5.6.8.1")
	if !plain.Found || plain.Country != "NL" || plain.IsAnonymous || plain.City != "" {
		t.Errorf("plain address: %+v", plain)
	}
}

func TestManifestSchemas(t *testing.T) {
	t.Parallel()
	m, _ := server(t).Describe(context.Background(), nil)
	schemas := map[string]string{}
	for _, a := range m.GetActions() {
		schemas[a.GetName()+".in"], schemas[a.GetName()+".out"] = string(a.GetInputSchema()), string(a.GetOutputSchema())
	}
	for key, want := range map[string][]string{
		"lookup.out": {`"country"`, `"found"`, `"is_anonymous"`, `"accuracy_radius_km"`, `"asn"`},
		"travel.in":  {`"at"`, `"ip"`, `"latitude"`, `"threshold_kmh"`},
		"travel.out": {`"impossible"`, `"kmh"`, `"km"`, `"hours"`},
	} {
		for _, w := range want {
			if !strings.Contains(schemas[key], w) {
				t.Errorf("%s schema lacks %s: %s", key, w, schemas[key])
			}
		}
	}
}

// BenchmarkLookupInProcess is the geoip lookup without the process boundary
// (compare BenchmarkGeoIPLookup in plugins/builtin).
func BenchmarkLookupInProcess(b *testing.B) {
	s, err := sdk.NewServer(Plugin(), nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg, _ := json.Marshal(testConfig())
	req := &pluginpb.InvokeRequest{Action: "lookup", Input: []byte(`{"ip":"81.2.69.142"}`), Config: cfg}
	for b.Loop() {
		resp, err := s.Invoke(context.Background(), req)
		if err != nil || resp.GetError() != nil {
			b.Fatal(err, resp.GetError())
		}
	}
}

// TestOutputsMatchSchemas keeps the published output schemas honest: the
// playbook validator type-checks `steps.ID.FIELD` against them.
func TestOutputsMatchSchemas(t *testing.T) {
	t.Parallel()
	calls := map[string][]string{
		"lookup":   {`{"ip":"89.160.20.128"}`, `{"ip":"10.0.0.1"}`},
		"distance": {`{"from":{"ip":"81.2.69.142"},"to":{"latitude":1,"longitude":2}}`},
		"travel":   {`{"from":{"ip":"81.2.69.142","at":"2026-01-01T10:00:00Z"},"to":{"ip":"10.0.0.1","at":"2026-01-01T11:00:00Z"}}`},
	}
	plugintest.CheckOutputSchemas(t, server(t), testConfig(), calls)
}
