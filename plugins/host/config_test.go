package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soar-dev/soar/playbooks"
	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/host"
)

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFileSecretsAndPaths(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SOAR_CONFIG_TEST_PD_KEY", "pd-routing-key-from-env")
	t.Setenv("SOAR_CONFIG_TEST_LEGACY", "legacy-value")
	writeFile(t, filepath.Join(dir, "secrets", "slack"), "xoxb-from-file\n", 0o600)
	path := filepath.Join(dir, "soar.yaml")
	writeFile(t, path, `
plugins:
  page:
    config:
      backend: pagerduty
      outbox_file: state/page-outbox.jsonl
      source: soar-prod
      webhook: {url: "https://hooks.example/soar"}
      nested: {list: [{schedule_file: rota.yaml}]}
    secrets:
      pagerduty_routing_key: {env: SOAR_CONFIG_TEST_PD_KEY}
      slack_bot_token: {file: secrets/slack}
    secret_env: {legacy: SOAR_CONFIG_TEST_LEGACY}
  geoip:
    config: {city_db: /abs/city.mmdb, asn_db: asn.mmdb}
`, 0o644)
	var cfg host.Config
	if err := host.LoadConfigFile(path, &cfg); err != nil {
		t.Fatal(err)
	}
	page := cfg.Plugins["page"]
	if page.Config["outbox_file"] != filepath.Join(dir, "state/page-outbox.jsonl") || page.Config["source"] != "soar-prod" ||
		page.Config["webhook"].(map[string]any)["url"] != "https://hooks.example/soar" {
		t.Errorf("page config = %v", page.Config)
	}
	if got := page.Config["nested"].(map[string]any)["list"].([]any)[0].(map[string]any)["schedule_file"]; got != filepath.Join(dir, "rota.yaml") {
		t.Errorf("nested path = %v", got)
	}
	if geo := cfg.Plugins["geoip"].Config; geo["city_db"] != "/abs/city.mmdb" || geo["asn_db"] != filepath.Join(dir, "asn.mmdb") {
		t.Errorf("geoip config = %v", geo)
	}
	if page.Secrets["pagerduty_routing_key"] != "pd-routing-key-from-env" || page.Secrets["slack_bot_token"] != "xoxb-from-file" ||
		page.SecretEnv["legacy"] != "SOAR_CONFIG_TEST_LEGACY" {
		t.Errorf("secrets = %v, secret_env = %v", page.Secrets, page.SecretEnv)
	}
	data, err := json.Marshal(cfg.Plugins)
	if err != nil || strings.Contains(string(data), "from-env") || strings.Contains(string(data), "from-file") {
		t.Errorf("marshalled config carries secret values: %s", data)
	}
}

func TestConfigFileErrorsNamePositionAndSetting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "soar.yaml")
	writeFile(t, path, `plugin_dir: x
plugins:
  page:
    config: [backend, file]
    secrets:
      a: {env: SOAR_CONFIG_TEST_SURELY_UNSET}
      b: {file: missing-secret}
      c: {env: X, file: y}
      d: literal-value
      e: {vault: kv/x}
    secrets_env: {}
  audit:
    args: nope
`, 0o644)
	err := host.LoadConfigFile(path, &host.Config{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		path + `:1:1: unknown setting "plugin_dir" at the top level (known: dir, plugins)`,
		path + ":4:13: plugins.page.config: want a mapping of settings",
		path + ":6:10: plugins.page.secrets.a: environment variable SOAR_CONFIG_TEST_SURELY_UNSET is not set",
		path + ":7:10: plugins.page.secrets.b: read secret file: open " + filepath.Join(dir, "missing-secret"),
		path + ":8:10: plugins.page.secrets.c: set exactly one of env and file",
		path + ":9:10: plugins.page.secrets.d: want {env: VARIABLE} or {file: path}, not a value",
		path + `:10:11: unknown setting "vault" in plugins.page.secrets.e (known: env, file)`,
		path + `:11:5: unknown setting "secrets_env" in plugins.page`,
		path + ":13:11: plugins.audit.args: cannot unmarshal !!str `nope` into []string",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "literal-value") {
		t.Errorf("error repeats a secret value:\n%v", err)
	}
}

func TestEmptyConfigFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "soar.yaml")
	writeFile(t, path, "# nothing yet\n", 0o644)
	cfg := host.Config{Dir: "/keep"}
	if err := host.LoadConfigFile(path, &cfg); err != nil || cfg.Dir != "/keep" {
		t.Fatalf("cfg = %+v, %v", cfg, err)
	}
	if err := host.LoadConfigFile(filepath.Join(t.TempDir(), "missing.yaml"), &cfg); err == nil || !strings.Contains(err.Error(), "read soar config") {
		t.Errorf("missing file: %v", err)
	}
}

// TestSecretsReachPluginAndAreRedacted: a secret from a config file is
// handed to the plugin on each call, and a plugin logging it (through slog,
// stdout or stderr) shows [redacted] in the host's log.
func TestSecretsReachPluginAndAreRedacted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "token"), "tok-0123456789-secret\n", 0o600)
	path := filepath.Join(dir, "soar.yaml")
	writeFile(t, path, "plugins:\n  test:\n    secrets:\n      token: {file: token}\n", 0o644)
	var logs syncBuffer
	cfg := host.Config{Builtins: []string{"test"}, Executable: self(), Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if err := host.LoadConfigFile(path, &cfg); err != nil {
		t.Fatal(err)
	}
	h := newHost(t, cfg)
	out := mustCall(t, h, "settings", `{}`)
	if !strings.Contains(string(out), `"token":"tok-0123456789-secret"`) {
		t.Errorf("settings = %s", out)
	}
	mustCall(t, h, "log", `{"message":"leaking tok-0123456789-secret"}`)
	waitFor(t, func() bool { return strings.Count(logs.String(), "leaking [redacted]") >= 3 })
	if strings.Contains(logs.String(), "tok-0123456789-secret") {
		t.Errorf("host log shows the secret:\n%s", logs.String())
	}
}

// TestInvokeErrorsAreRedacted: a plugin quoting a secret in its error
// message or details does not put the secret in the error Invoke returns,
// which the worker records in Temporal history.
func TestInvokeErrorsAreRedacted(t *testing.T) {
	t.Parallel()
	const secret = "tok-0123456789-secret"
	h := newHost(t, host.Config{Plugins: map[string]host.PluginConfig{"test": {Secrets: map[string]string{"token": secret}}}, Builtins: []string{"test"}})
	_, err := call(t, h, "fail", `{}`)
	var pe *plugins.Error
	if !errors.As(err, &pe) || pe.Kind != plugins.Permanent {
		t.Fatalf("err = %v, want a permanent *plugins.Error", err)
	}
	if want := "test.fail: permanent: vendor refused token [redacted]"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	var details map[string]any
	if err := json.Unmarshal(pe.Details, &details); err != nil || details["token"] != "[redacted]" || details["retry_after_seconds"] != 3.0 {
		t.Errorf("details = %s (%v)", pe.Details, err)
	}
	if d, ok := plugins.RetryAfter(err); !ok || d != 3*time.Second {
		t.Errorf("RetryAfter = %v, %v; want 3s from the redacted details", d, ok)
	}
}

func TestCheckPluginConfigsPointsAtTheLine(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "soar.yaml")
	writeFile(t, path, `plugins:
  page:
    config:
      backend: pagerdutty
      slack: {mode: robot}
      retries: [1, "two"]
      extra: true
  other:
    config: {anything: 1}
`, 0o644)
	var cfg host.Config
	if err := host.LoadConfigFile(path, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Plugins["direct"] = host.PluginConfig{Config: map[string]any{"backend": 7}}
	schema := json.RawMessage(`{"type":"object","additionalProperties":false,"properties":{
		"backend":{"type":"string","enum":["file","pagerduty"]},
		"slack":{"type":"object","properties":{"mode":{"enum":["webhook","bot"]}}},
		"retries":{"type":"array","items":{"type":"integer"}}}}`)
	err := cfg.CheckPluginConfigs([]host.Manifest{
		{PluginSpec: playbooks.PluginSpec{Name: "page"}, Config: schema},
		{PluginSpec: playbooks.PluginSpec{Name: "direct"}, Config: schema},
		{PluginSpec: playbooks.PluginSpec{Name: "other"}}, // takes no config schema: not checked
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		path + ":4:16: plugins.page.config.backend: value must be one of 'file', 'pagerduty'",
		path + ":5:21: plugins.page.config.slack.mode: value must be one of 'webhook', 'bot'",
		path + ":6:20: plugins.page.config.retries.1: got string, want integer",
		path + ":7:7: plugins.page.config: additional properties 'extra' not allowed",
		"plugins.direct.config.backend: got number, want string",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "other") {
		t.Errorf("checked a plugin without a schema:\n%v", err)
	}
}

// TestNewRefusesBadPluginConfig: New checks each config against its
// plugin's schema, reports the config file position, and leaves no plugin
// process behind.
func TestNewRefusesBadPluginConfig(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "soar.yaml")
	writeFile(t, path, "plugins:\n  strict:\n    config: {region: mars}\n", 0o644)
	var logs syncBuffer
	cfg := host.Config{
		Builtins: []string{"test", "strict"}, Executable: self(),
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if err := host.LoadConfigFile(path, &cfg); err != nil {
		t.Fatal(err)
	}
	_, err := host.New(context.Background(), cfg)
	want := path + ":3:22: plugins.strict.config.region: value must be one of 'eu', 'us'"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	pids := map[int]bool{} // go-plugin and the host both log "plugin started"
	for line := range strings.Lines(logs.String()) {
		var rec struct {
			Msg string `json:"msg"`
			PID int    `json:"pid"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "plugin started" && rec.PID != 0 {
			pids[rec.PID] = true
		}
	}
	if len(pids) != 2 {
		t.Fatalf("started pids = %v, want both plugins\n%s", pids, logs.String())
	}
	for pid := range pids {
		waitFor(t, func() bool { return !processAlive(pid) })
	}

	cfg.Plugins["strict"].Config["region"] = "eu"
	h := newHost(t, cfg)
	if _, err := h.Invoke(context.Background(), "strict", "echo", json.RawMessage(`{"text":"x"}`), ""); err != nil {
		t.Fatal(err)
	}
}
