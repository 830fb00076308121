package host_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/host"
)

// syncBuffer collects the host's log for assertions.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newHost(t testing.TB, cfg host.Config) *host.Host {
	t.Helper()
	if cfg.Builtins == nil && cfg.Plugins == nil && cfg.Dir == "" {
		cfg.Builtins = []string{"test"}
	}
	if cfg.Executable == "" {
		cfg.Executable = self()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := host.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func call(t testing.TB, h *host.Host, action, input string) (json.RawMessage, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return h.Invoke(ctx, "test", action, json.RawMessage(input), "")
}

func mustCall(t testing.TB, h *host.Host, action, input string) json.RawMessage {
	t.Helper()
	out, err := call(t, h, action, input)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	return out
}

func echoPID(t testing.TB, h *host.Host) int {
	t.Helper()
	var out struct{ PID int }
	if err := json.Unmarshal(mustCall(t, h, "echo", `{"text":"hi"}`), &out); err != nil {
		t.Fatal(err)
	}
	return out.PID
}

func TestInvokeAndCatalog(t *testing.T) {
	t.Parallel()
	h := newHost(t, host.Config{})
	if got := string(mustCall(t, h, "echo", `{"text":"hello"}`)); !strings.HasPrefix(got, `{"text":"hello","pid":`) {
		t.Errorf("echo = %s", got)
	}
	spec, ok := h.Plugin("test")
	if !ok || spec.Version != "0.0.1" || len(spec.Actions) != 8 {
		t.Fatalf("Plugin(test) = %+v, %v", spec, ok)
	}
	if !strings.Contains(string(spec.Actions["echo"].Input), `"text"`) || !spec.Actions["page"].SideEffect {
		t.Errorf("echo spec = %+v", spec.Actions["echo"])
	}
	if _, ok := h.Plugin("nope"); ok {
		t.Error("unknown plugin found")
	}
	if names := h.PluginNames(); len(names) != 1 || names[0] != "test" {
		t.Errorf("PluginNames = %v", names)
	}
	if st := h.Status()[0]; st.State != "running" || st.PID == 0 || st.Kind != "builtin" {
		t.Errorf("Status = %+v", st)
	}
	if err := h.Health(context.Background(), "test"); err != nil {
		t.Error(err)
	}
	_, err := call(t, h, "nope", `{}`)
	if plugins.KindOf(err) != plugins.InvalidInput {
		t.Errorf("unknown action: %v", err)
	}
}

func TestIdempotencyKeyReachesPlugin(t *testing.T) {
	t.Parallel()
	h := newHost(t, host.Config{})
	out, err := h.Invoke(context.Background(), "test", "page", nil, "soar/p/k/step-1")
	if err != nil || string(out) != `"soar/p/k/step-1"` {
		t.Fatalf("page = %s, %v", out, err)
	}
}

func TestInvalidInputRejectedBeforeHandler(t *testing.T) {
	t.Parallel()
	h := newHost(t, host.Config{})
	_, err := call(t, h, "echo", `{"text":5}`)
	var pe *plugins.Error
	if !errors.As(err, &pe) || pe.Kind != plugins.InvalidInput {
		t.Fatalf("err = %v, want invalid_input", err)
	}
	for _, want := range []string{"test.echo", "at /text", "schema /properties/text/type"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if got := string(mustCall(t, h, "calls", `{}`)); got != `{"handled":0}` {
		t.Errorf("handler ran on invalid input: calls = %s", got)
	}
}

func TestCrashedPluginIsRestarted(t *testing.T) {
	t.Parallel()
	h := newHost(t, host.Config{})
	pid := echoPID(t, h)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	next := echoPID(t, h)
	if next == pid {
		t.Fatalf("echo served by the killed pid %d", pid)
	}
	if st := h.Status()[0]; st.Restarts != 1 || st.PID != next || st.State != "running" {
		t.Errorf("status after restart = %+v", st)
	}
}

func TestSideEffectCallAfterCrash(t *testing.T) {
	t.Parallel()
	h := newHost(t, host.Config{})
	if err := syscall.Kill(echoPID(t, h), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return h.Status()[0].State == "exited" })
	// A dead process is restarted before a call is sent, so even a
	// side-effecting call goes through.
	if _, err := h.Invoke(context.Background(), "test", "page", nil, ""); err != nil {
		t.Fatal(err)
	}
}

func TestRestartBudgetMarksPluginDown(t *testing.T) {
	t.Parallel()
	h := newHost(t, host.Config{Restart: host.RestartPolicy{MaxRestarts: 2, Window: time.Minute, Backoff: time.Millisecond}})
	for range 2 {
		if err := syscall.Kill(echoPID(t, h), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Kill(echoPID(t, h), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, err := call(t, h, "echo", `{"text":"x"}`)
	if err == nil || !strings.Contains(err.Error(), "plugin test is down: it stopped 3 times within 1m0s") {
		t.Fatalf("err = %v, want plugin down", err)
	}
	if st := h.Status()[0]; st.State != "down" || st.Error == "" {
		t.Errorf("status = %+v", st)
	}
	if _, err := call(t, h, "echo", `{"text":"x"}`); err == nil {
		t.Error("a down plugin answered")
	}
}

func TestCallTimeout(t *testing.T) {
	t.Parallel()
	h := newHost(t, host.Config{})
	pid := echoPID(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := h.Invoke(ctx, "test", "sleep", json.RawMessage(`{"ms":10000}`), "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("call returned after %v", d)
	}
	if next := echoPID(t, h); next != pid {
		t.Errorf("a timeout restarted the plugin (%d → %d)", pid, next)
	}
}

func TestCallCancelled(t *testing.T) {
	t.Parallel()
	h := newHost(t, host.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := h.Invoke(ctx, "test", "sleep", json.RawMessage(`{"ms":10000}`), "")
	if !errors.Is(err, context.Canceled) || plugins.KindOf(err) != plugins.Permanent {
		t.Fatalf("err = %v (kind %s), want a permanent context.Canceled", err, plugins.KindOf(err))
	}
}

func TestDefaultCallTimeout(t *testing.T) {
	t.Parallel()
	h := newHost(t, host.Config{CallTimeout: 100 * time.Millisecond})
	_, err := h.Invoke(context.Background(), "test", "sleep", json.RawMessage(`{"ms":10000}`), "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}

func TestOversizedOutputRefused(t *testing.T) {
	t.Parallel()
	h := newHost(t, host.Config{MaxOutputBytes: 4096})
	if _, err := call(t, h, "big", `{"bytes":1000}`); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{4095, 100000} { // JSON quotes push 4095 over
		_, err := call(t, h, "big", fmt.Sprintf(`{"bytes":%d}`, n))
		if plugins.KindOf(err) != plugins.Permanent || !strings.Contains(err.Error(), "exceeds the 4096-byte limit") {
			t.Errorf("big %d: err = %v", n, err)
		}
	}
	mustCall(t, h, "echo", `{"text":"still fine"}`)
}

func TestPluginOutputReachesHostLog(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	h := newHost(t, host.Config{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	mustCall(t, h, "log", `{"message":"hello-log"}`)
	for _, want := range []string{"hello-log via stdout", "hello-log via stderr"} {
		waitFor(t, func() bool { return strings.Contains(buf.String(), want) })
	}
	waitFor(t, func() bool { return strings.Contains(buf.String(), `"msg":"hello-log"`) })
	for line := range strings.Lines(buf.String()) {
		if strings.Contains(line, `"msg":"hello-log"`) {
			for _, want := range []string{`"level":"INFO"`, `"plugin":"test"`, `"action":"log"`, `"via":"slog"`} {
				if !strings.Contains(line, want) {
					t.Errorf("record %s lacks %s", line, want)
				}
			}
		}
	}
}

func testExecutable(t testing.TB) (string, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return exe, hex.EncodeToString(sum[:])
}

func TestChecksum(t *testing.T) {
	t.Parallel()
	exe, sum := testExecutable(t)
	entry := host.PluginConfig{Path: exe, Args: []string{"plugin", "serve", "test"}, SHA256: sum}
	h := newHost(t, host.Config{Plugins: map[string]host.PluginConfig{"test": entry}})
	if st := h.Status()[0]; st.Kind != "config" || st.State != "running" {
		t.Errorf("status = %+v", st)
	}
	entry.SHA256 = strings.Repeat("0", 64)
	_, err := host.New(context.Background(), host.Config{Plugins: map[string]host.PluginConfig{"test": entry}, Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "checksum of "+exe+" does not match the configured sha256; refusing to run it") {
		t.Fatalf("err = %v, want checksum mismatch", err)
	}
	entry.SHA256 = ""
	if _, err := host.New(context.Background(), host.Config{Plugins: map[string]host.PluginConfig{"test": entry}}); err == nil || !strings.Contains(err.Error(), "no sha256") {
		t.Fatalf("err = %v, want missing checksum", err)
	}
}

func TestPluginDirectory(t *testing.T) {
	t.Parallel()
	exe, _ := testExecutable(t)
	dir := t.TempDir()
	installPlugin(t, exe, filepath.Join(dir, "soar-plugin-dirtest"))
	for _, name := range []string{"README.md", "soar-plugin-dirtest.sha256"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h := newHost(t, host.Config{Dir: dir, Plugins: map[string]host.PluginConfig{"dirtest": {Config: map[string]any{"x": 1}}}})
	if names := h.PluginNames(); len(names) != 1 || names[0] != "dirtest" {
		t.Fatalf("PluginNames = %v", names)
	}
	if _, err := h.Invoke(context.Background(), "dirtest", "echo", json.RawMessage(`{"text":"x"}`), ""); err != nil {
		t.Fatal(err)
	}

	bad := t.TempDir()
	path := filepath.Join(bad, "soar-plugin-open")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o777); err != nil { // umask may have dropped bits
		t.Fatal(err)
	}
	if _, err := host.New(context.Background(), host.Config{Dir: bad}); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Fatalf("err = %v, want refusal of a world-writable plugin", err)
	}
}

// installPlugin puts a copy of exe (a hard link when it can) at path: a
// directory plugin must be the file itself, not a symbolic link.
func installPlugin(t *testing.T, exe, path string) {
	t.Helper()
	if os.Link(exe, path) == nil {
		return
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// A plugin directory is trusted instead of a checksum, so anything that
// lets someone other than root or soar's user swap a plugin is refused: a
// symbolic link, a group- or world-writable directory, a file owned by
// another user.
func TestPluginDirectoryRefusesUntrusted(t *testing.T) {
	t.Parallel()
	exe, _ := testExecutable(t)
	newDir := func() string {
		dir := filepath.Join(t.TempDir(), "plugins")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	refused := func(dir, want string) {
		t.Helper()
		h, err := host.New(context.Background(), host.Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			h.Close()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	}

	link := newDir()
	if err := os.Symlink(exe, filepath.Join(link, "soar-plugin-dirtest")); err != nil {
		t.Fatal(err)
	}
	refused(link, "plugin dirtest: "+filepath.Join(link, "soar-plugin-dirtest")+" is a symbolic link; refusing to run it")

	open := newDir()
	installPlugin(t, exe, filepath.Join(open, "soar-plugin-dirtest"))
	if err := os.Chmod(open, 0o775); err != nil {
		t.Fatal(err)
	}
	refused(open, "plugin directory: "+open+" is writable by group or others; refusing to run its plugins")

	if os.Geteuid() != 0 {
		t.Log("not root: cannot give files to another user; ownership not tested")
		return
	}
	const nobody = 65534
	foreign := newDir()
	plugin := filepath.Join(foreign, "soar-plugin-dirtest")
	if err := os.WriteFile(plugin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(plugin, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	refused(foreign, fmt.Sprintf("plugin dirtest: %s is owned by uid %d, neither root nor the user soar runs as", plugin, nobody))
	if err := os.Chown(plugin, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(foreign, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	refused(foreign, fmt.Sprintf("plugin directory: %s is owned by uid %d", foreign, nobody))
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for want, cfg := range map[string]host.Config{
		"plugin ghost is configured but is neither built in nor in the plugin directory": {Plugins: map[string]host.PluginConfig{"ghost": {}}},
		`plugin x: sha256 "abc" is not 64 hex digits`:                                    {Plugins: map[string]host.PluginConfig{"x": {Path: "/bin/true", SHA256: "abc"}}},
		"plugin test: secret k: environment variable SOAR_TEST_UNSET_VARIABLE is not set": {
			Builtins: []string{"test"}, Executable: "/nonexistent/soar",
			Plugins: map[string]host.PluginConfig{"test": {SecretEnv: map[string]string{"k": "SOAR_TEST_UNSET_VARIABLE"}}},
		},
		"read plugin directory": {Dir: "/nonexistent/soar-plugins"},
	} {
		if _, err := host.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

func TestLoadConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "plugins.yaml")
	data := "dir: plugins.d\nplugins:\n  geoip:\n    config: {city_db: /db/city.mmdb}\n  blocklist:\n    path: bin/soar-plugin-blocklist\n    sha256: abc\n    secret_env: {token: BL_TOKEN}\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	var cfg host.Config
	if err := host.LoadConfigFile(path, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Dir != filepath.Join(dir, "plugins.d") || cfg.Plugins["blocklist"].Path != filepath.Join(dir, "bin/soar-plugin-blocklist") {
		t.Errorf("cfg = %+v", cfg)
	}
	if cfg.Plugins["geoip"].Config["city_db"] != "/db/city.mmdb" || cfg.Plugins["blocklist"].SecretEnv["token"] != "BL_TOKEN" {
		t.Errorf("plugins = %+v", cfg.Plugins)
	}
}

func TestCloseStopsProcesses(t *testing.T) {
	t.Parallel()
	h, err := host.New(context.Background(), host.Config{Builtins: []string{"test"}, Executable: self(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	pid := echoPID(t, h)
	h.Close()
	waitFor(t, func() bool { return !processAlive(pid) })
	if _, err := call(t, h, "echo", `{"text":"x"}`); !errors.Is(err, host.ErrClosed) {
		t.Errorf("call after Close: %v", err)
	}
}

func TestKilledHostLeavesNoPlugin(t *testing.T) {
	t.Parallel()
	exe, _ := testExecutable(t)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "SOAR_HOST_TEST_ROLE=host")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("host printed no plugin pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || !processAlive(pid) {
		t.Fatalf("plugin pid %q not running (%v)", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitFor(t, func() bool { return !processAlive(pid) })
}

// processAlive reports whether pid is a live process; a zombie (dead, not
// yet reaped by whoever adopted it) counts as gone.
func processAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConcurrentCallsSurviveCrash(t *testing.T) {
	t.Parallel()
	h := newHost(t, host.Config{})
	pid := echoPID(t, h)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	killed := make(chan struct{})
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				if g == 0 && i == 5 {
					if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
						errs <- err
					}
					close(killed)
				}
				if _, err := call(t, h, "echo", `{"text":"x"}`); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	<-killed
	if st := h.Status()[0]; st.Restarts != 1 || st.PID == pid {
		t.Errorf("status = %+v, want one restart", st)
	}
}

func TestConfigAndSecretsReachPlugin(t *testing.T) {
	t.Setenv("SOAR_HOST_TEST_TOKEN", "from-env")
	h := newHost(t, host.Config{Builtins: []string{"test"}, Plugins: map[string]host.PluginConfig{"test": {
		Config:    map[string]any{"region": "eu"},
		SecretEnv: map[string]string{"token": "SOAR_HOST_TEST_TOKEN"},
		Secrets:   map[string]string{"direct": "given"},
	}}})
	got := string(mustCall(t, h, "settings", `{}`))
	want := `{"config":"{\"region\":\"eu\"}","secrets":{"direct":"given","token":"from-env"}}`
	if got != want {
		t.Errorf("settings = %s, want %s", got, want)
	}
}

// A plugin's environment is an allow-list: it never holds the variables
// secrets are read from, its own or another plugin's, even ones the
// allow-list would pass (LC_*), nor a variable whose value is a secret.
func TestPluginsCannotSeeSecretEnvironment(t *testing.T) {
	t.Setenv("SOAR_HOST_TEST_OKTA_API_TOKEN", "okta-token-of-identity")
	t.Setenv("LC_SOAR_HOST_TEST_SECRET", "secret-in-an-allowed-name")
	t.Setenv("LC_SOAR_HOST_TEST_COPY", "direct-secret-value")
	t.Setenv("SOAR_HOST_TEST_UNRELATED", "not-for-plugins")
	t.Setenv("LC_SOAR_HOST_TEST_LOCALE", "C")
	cfgFile := filepath.Join(t.TempDir(), "soar.yaml")
	writeFile(t, cfgFile, "plugins:\n  envother:\n    secrets:\n      locale: {env: LC_SOAR_HOST_TEST_SECRET}\n", 0o600)
	cfg := host.Config{Builtins: []string{"envtest", "envother"}}
	if err := host.LoadConfigFile(cfgFile, &cfg); err != nil {
		t.Fatal(err)
	}
	other := cfg.Plugins["envother"]
	other.SecretEnv = map[string]string{"okta_api_token": "SOAR_HOST_TEST_OKTA_API_TOKEN"}
	cfg.Plugins["envother"] = other
	cfg.Plugins["envtest"] = host.PluginConfig{Secrets: map[string]string{"direct": "direct-secret-value"}}
	h := newHost(t, cfg)
	for _, plugin := range []string{"envtest", "envother"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := h.Invoke(ctx, plugin, "env", json.RawMessage(`{}`), "")
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		var env []string
		if err := json.Unmarshal(out, &env); err != nil {
			t.Fatal(err)
		}
		vars := map[string]string{}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
		for _, name := range []string{"SOAR_HOST_TEST_OKTA_API_TOKEN", "LC_SOAR_HOST_TEST_SECRET", "LC_SOAR_HOST_TEST_COPY", "SOAR_HOST_TEST_UNRELATED"} {
			if v, ok := vars[name]; ok {
				t.Errorf("plugin %s sees %s=%s", plugin, name, v)
			}
		}
		if vars["PATH"] != os.Getenv("PATH") || vars["LC_SOAR_HOST_TEST_LOCALE"] != "C" {
			t.Errorf("plugin %s lost PATH or an LC_ variable: %q", plugin, env)
		}
		if vars[plugins.HostPIDEnv] != strconv.Itoa(os.Getpid()) {
			t.Errorf("plugin %s: %s = %q, want %d", plugin, plugins.HostPIDEnv, vars[plugins.HostPIDEnv], os.Getpid())
		}
	}
}

func TestTestBinaryIsNotTakenForSoar(t *testing.T) {
	t.Parallel()
	_, err := host.New(context.Background(), host.Config{Builtins: []string{"test"}})
	if err == nil || !strings.Contains(err.Error(), "this is a test binary") {
		t.Fatalf("err = %v, want refusal to re-exec the test binary", err)
	}
}

// A restart waiting out its backoff (or starting the process) must not
// hold up Manifest, which every Invoke reads first, or Status.
func TestManifestAndStatusAnswerDuringRestart(t *testing.T) {
	t.Parallel()
	const backoff = 2 * time.Second
	h := newHost(t, host.Config{Restart: host.RestartPolicy{Backoff: backoff, MaxBackoff: backoff}})
	for i := range 2 { // the first restart is immediate, the second waits
		if err := syscall.Kill(echoPID(t, h), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return h.Status()[0].State == "exited" })
		if i == 1 {
			break
		}
	}
	restarted := make(chan error, 1)
	go func() {
		_, err := call(t, h, "echo", `{"text":"after"}`)
		restarted <- err
	}()
	time.Sleep(200 * time.Millisecond) // the call is now waiting out the backoff
	start := time.Now()
	m, ok := h.Manifest("test")
	st := h.Status()[0]
	if took := time.Since(start); took > backoff/4 {
		t.Errorf("Manifest and Status took %s during a restart", took)
	}
	if !ok || m.Version != "0.0.1" || st.State == "running" {
		t.Errorf("during the restart: manifest version %q (%v), status %+v", m.Version, ok, st)
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	if st := h.Status()[0]; st.State != "running" || st.Restarts != 2 {
		t.Errorf("after the restart: %+v", st)
	}
}
