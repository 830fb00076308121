package page_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/host"
	"github.com/soar-dev/soar/plugins/page"
	"github.com/soar-dev/soar/plugins/sdk"
)

// The test binary doubles as the plugin process: the host launches it the
// way it launches `soar plugin serve page`, and TestMain serves the page
// plugin when go-plugin's cookie says so.
func TestMain(m *testing.M) {
	if os.Getenv(plugins.Handshake.MagicCookieKey) == plugins.Handshake.MagicCookieValue {
		sdk.Serve(page.Plugin())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestIdempotencyAcrossPluginCrash pages, kills the plugin process with
// SIGKILL, and pages again with the same idempotency key through the real
// host: the restarted process answers the original delivery from the
// outbox and pages nobody.
func TestIdempotencyAcrossPluginCrash(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	outbox := filepath.Join(t.TempDir(), "state", "page-outbox.jsonl")
	h, err := host.New(context.Background(), host.Config{
		Builtins: []string{"page"}, Executable: exe,
		Plugins: map[string]host.PluginConfig{"page": {Config: map[string]any{"outbox_file": outbox}}},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	in := json.RawMessage(`{"responder":"alice","summary":"MFA fatigue for bob","severity":"critical","details":{"denials":12},"dedup_key":"soar/mfa/bob"}`)
	const key = "soar/mfa-fatigue/bob/escalate/tier-1/alice"
	first, err := h.Invoke(ctx, "page", "send", in, key)
	if err != nil {
		t.Fatal(err)
	}
	pid := h.Status()[0].PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for h.Status()[0].State == "running" && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond) // until the host notices the exit
	}
	again, err := h.Invoke(ctx, "page", "send", in, key)
	if err != nil {
		t.Fatal(err)
	}
	if st := h.Status()[0]; st.PID == pid || st.Restarts != 1 {
		t.Fatalf("status after kill = %+v, want a restarted process", st)
	}
	if string(again) != string(first) {
		t.Errorf("after restart send = %s, want the original %s", again, first)
	}
	data, err := os.ReadFile(outbox)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"type":"page"`); n != 1 {
		t.Errorf("outbox holds %d pages, want 1:\n%s", n, data)
	}
	// A different key still pages.
	if _, err := h.Invoke(ctx, "page", "send", in, key+"-2"); err != nil {
		t.Fatal(err)
	}
	spec, _ := h.Plugin("page")
	if !spec.Actions["send"].SideEffect || !spec.Actions["acknowledge"].SideEffect || !spec.Actions["resolve"].SideEffect {
		t.Errorf("page actions not marked side_effect: %+v", spec.Actions)
	}
}
