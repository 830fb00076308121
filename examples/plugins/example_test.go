// Package plugins holds example third-party plugins, each its own Go module
// that imports only github.com/soar-dev/soar/plugins/sdk. This test builds
// them as a plugin author would and runs them under the real host.
package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/host"
)

// buildExample builds examples/plugins/NAME from a copy whose replace
// directive points at this checkout, so the build sees this tree's SDK and
// the committed example never needs editing. -mod=mod lets the copy's go.sum
// catch up with requirements the main module gained since the example was
// last tidied.
func buildExample(t *testing.T, name string) (bin, sum string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "examples", "plugins", name)
	work := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".go") || e.Name() == "go.mod" || e.Name() == "go.sum") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin = filepath.Join(t.TempDir(), "soar-plugin-"+name)
	for _, args := range [][]string{
		{"mod", "edit", "-replace", "github.com/soar-dev/soar=" + root},
		{"build", "-mod=mod", "-o", bin, "."},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = work
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return bin, hex.EncodeToString(s[:])
}

func TestBlocklistExample(t *testing.T) {
	bin, sum := buildExample(t, "blocklist")
	list, err := filepath.Abs("blocklist/blocklist.txt")
	if err != nil {
		t.Fatal(err)
	}
	config := map[string]any{"file": list}
	h, err := host.New(context.Background(), host.Config{
		Plugins: map[string]host.PluginConfig{"blocklist": {Path: bin, SHA256: sum, Config: config}},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	check := func(input string) (string, error) {
		out, err := h.Invoke(context.Background(), "blocklist", "check", json.RawMessage(input), "")
		return string(out), err
	}
	for input, want := range map[string]string{
		`{"ip":"203.0.113.9"}`:     `{"listed":true,"matches":[{"network":"203.0.113.0/24","label":"documentation range posing as a botnet"}]}`,
		`{"ip":"198.51.100.7"}`:    `{"listed":true,"matches":[{"network":"198.51.100.7/32","label":"known credential-stuffing host"}]}`,
		`{"ip":"2001:db8:bad::1"}`: `{"listed":true,"matches":[{"network":"2001:db8:bad::/48","label":"example IPv6 abuse network"}]}`,
		`{"ip":"8.8.8.8"}`:         `{"listed":false,"matches":[]}`,
	} {
		if got, err := check(input); err != nil || got != want {
			t.Errorf("check %s = %s, %v; want %s", input, got, err, want)
		}
	}
	if _, err := check(`{"ip":"bogus"}`); plugins.KindOf(err) != plugins.InvalidInput {
		t.Errorf("bogus ip: %v", err)
	}
	if _, err := check(`{"ip":1}`); err == nil || !strings.Contains(err.Error(), "/properties/ip/type") {
		t.Errorf("numeric ip: %v", err)
	}
	if err := h.Health(context.Background(), "blocklist"); err != nil {
		t.Error(err)
	}

	// The same binary from a plugin directory; a wrong checksum is refused.
	if _, err := host.New(context.Background(), host.Config{
		Plugins: map[string]host.PluginConfig{"blocklist": {Path: bin, SHA256: strings.Repeat("ab", 32)}},
	}); err == nil || !strings.Contains(err.Error(), "does not match the configured sha256") {
		t.Errorf("wrong checksum: %v", err)
	}
	dh, err := host.New(context.Background(), host.Config{
		Dir:     filepath.Dir(bin),
		Plugins: map[string]host.PluginConfig{"blocklist": {Config: config}},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer dh.Close()
	if st := dh.Status(); len(st) != 1 || st[0].Kind != "dir" || st[0].Version != "0.1.0" {
		t.Errorf("directory plugin status = %+v", st)
	}
}
