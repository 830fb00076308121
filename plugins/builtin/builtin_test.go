package builtin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/soar-dev/soar/playbooks"
	"github.com/soar-dev/soar/plugins/builtin"
	"github.com/soar-dev/soar/plugins/host"
)

// soarBin is the soar binary, built once for this test binary: the built-ins
// are tested the way a worker runs them, through `soar plugin serve NAME`.
var soarBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "soar-builtin-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	soarBin = filepath.Join(dir, "soar")
	build := exec.Command("go", "build", "-o", soarBin, "github.com/soar-dev/soar/cmd/soar")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build soar:", err)
		return 1
	}
	return m.Run()
}

func geoipConfig(t *testing.T) map[string]any {
	t.Helper()
	abs := func(p string) string {
		a, err := filepath.Abs(filepath.Join("..", "geoip", "testdata", p))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	return map[string]any{"city_db": abs("GeoIP2-City-Test.mmdb"), "asn_db": abs("GeoLite2-ASN-Test.mmdb")}
}

func TestBuiltinsServedBySoarBinary(t *testing.T) {
	t.Parallel()
	h, err := host.New(context.Background(), host.Config{
		Builtins:   builtin.Names(),
		Executable: soarBin,
		Plugins:    map[string]host.PluginConfig{"geoip": {Config: geoipConfig(t)}},
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var cat playbooks.Catalog = h
	spec, ok := cat.Plugin("geoip")
	if !ok || len(spec.Actions) != 3 || spec.Actions["lookup"].Input == nil {
		t.Fatalf("geoip spec = %+v", spec)
	}
	out, err := h.Invoke(context.Background(), "geoip", "lookup", json.RawMessage(`{"ip":"81.2.69.142"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	var loc struct{ Country, City string }
	if err := json.Unmarshal(out, &loc); err != nil || loc.Country != "GB" || loc.City != "London" {
		t.Errorf("lookup = %s (%v)", out, err)
	}
	if err := h.Health(context.Background(), "geoip"); err != nil {
		t.Error(err)
	}
}

func TestLookupUnknownBuiltin(t *testing.T) {
	t.Parallel()
	if _, ok := builtin.Lookup("nope"); ok {
		t.Error("found a plugin called nope")
	}
	for _, n := range builtin.Names() {
		if p, ok := builtin.Lookup(n); !ok || p.Name != n {
			t.Errorf("Lookup(%s) = %v, %v", n, p, ok)
		}
	}
}

func soar(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(soarBin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func TestPluginCLI(t *testing.T) {
	t.Parallel()
	cfg, err := json.Marshal(map[string]any{"plugins": map[string]any{"geoip": map[string]any{"config": geoipConfig(t)}}})
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(t.TempDir(), "plugins.yaml") // JSON is YAML
	if err := os.WriteFile(cfgFile, cfg, 0o644); err != nil {
		t.Fatal(err)
	}

	out, stderr, err := soar(t, "plugin", "list")
	if err != nil || !strings.Contains(out, "geoip") || !strings.Contains(out, "running") {
		t.Errorf("plugin list: %v\n%s%s", err, out, stderr)
	}

	out, stderr, err = soar(t, "plugin", "describe", "--json")
	if err != nil {
		t.Fatalf("describe --json: %v\n%s", err, stderr)
	}
	catFile := filepath.Join(t.TempDir(), "catalog.json")
	if err := os.WriteFile(catFile, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, err := playbooks.ReadCatalogFile(catFile)
	if err != nil || len(cat["geoip"].Actions) != 3 {
		t.Errorf("describe --json is not a catalog file: %v", err)
	}

	out, _, err = soar(t, "plugin", "describe", "geoip", "travel")
	if err != nil || !strings.Contains(out, "input schema:") || !strings.Contains(out, `"impossible"`) {
		t.Errorf("describe geoip travel: %v\n%s", err, out)
	}

	out, stderr, err = soar(t, "plugin", "--plugin-config", cfgFile, "call", "geoip", "lookup", `{"ip":"2001:480:10::1"}`)
	if err != nil || !strings.Contains(out, `"country": "US"`) {
		t.Errorf("plugin call: %v\n%s%s", err, out, stderr)
	}

	_, stderr, err = soar(t, "plugin", "--plugin-config", cfgFile, "call", "geoip", "lookup", `{"ip":[]}`)
	if err == nil || !strings.Contains(stderr, "invalid_input") || !strings.Contains(stderr, "/properties/ip/type") {
		t.Errorf("invalid call: %v\n%s", err, stderr)
	}

	_, stderr, err = soar(t, "plugin", "serve", "nope")
	if err == nil || !strings.Contains(stderr, `no built-in plugin "nope"`) {
		t.Errorf("serve nope: %v\n%s", err, stderr)
	}
}

// BenchmarkGeoIPLookup is a geoip lookup through the soar binary's plugin
// process, the path a playbook step takes.
func BenchmarkGeoIPLookup(b *testing.B) {
	h, err := host.New(context.Background(), host.Config{
		Builtins: []string{"geoip"}, Executable: soarBin,
		Plugins: map[string]host.PluginConfig{"geoip": {Config: map[string]any{
			"city_db": "../geoip/testdata/GeoIP2-City-Test.mmdb", "asn_db": "../geoip/testdata/GeoLite2-ASN-Test.mmdb",
		}}},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	ctx := context.Background()
	input := json.RawMessage(`{"ip":"81.2.69.142"}`)
	for b.Loop() {
		if _, err := h.Invoke(ctx, "geoip", "lookup", input, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkColdStartSoar starts `soar plugin serve geoip` through the host,
// reads its manifest and stops it.
func BenchmarkColdStartSoar(b *testing.B) {
	for b.Loop() {
		h, err := host.New(context.Background(), host.Config{Builtins: []string{"geoip"}, Executable: soarBin, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		h.Close()
	}
}
