package audit

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/pluginpb"
	"github.com/soar-dev/soar/plugins/sdk"
)

var fixedNow = time.Date(2026, 3, 14, 3, 0, 0, 500_000_000, time.UTC)

type fixture struct {
	t      *testing.T
	server *sdk.Server
	log    string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	a := &auditor{client: &http.Client{}, now: func() time.Time { return fixedNow }}
	s, err := sdk.NewServer(a.plugin(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, server: s, log: filepath.Join(t.TempDir(), "audit.jsonl")}
}

func (f *fixture) call(cfg map[string]any, secrets map[string]string, key string, input string) (json.RawMessage, *plugins.Error) {
	f.t.Helper()
	if cfg == nil {
		cfg = map[string]any{}
	}
	cfg["log_file"] = f.log
	c, _ := json.Marshal(cfg)
	resp, err := f.server.Invoke(context.Background(), &pluginpb.InvokeRequest{Action: "record", Input: []byte(input), IdempotencyKey: key, Config: c, Secrets: secrets})
	if err != nil {
		f.t.Fatal(err)
	}
	if e := resp.GetError(); e != nil {
		return nil, plugins.ErrorFromProto(e)
	}
	return resp.GetOutput(), nil
}

func (f *fixture) lines(typ string) []map[string]any {
	f.t.Helper()
	data, _ := os.ReadFile(f.log)
	var out []map[string]any
	for l := range strings.Lines(string(data)) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			f.t.Fatalf("audit line %q: %v", l, err)
		}
		if m["type"] == typ {
			out = append(out, m)
		}
	}
	return out
}

// The input example playbooks send.
const silenced = `{"verdict":"silenced","reason":"HR says bob is traveling","evidence":{"country":"BR","hr":{"status":"traveling"}}}`

func TestRecordOncePerKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first, err := f.call(nil, nil, "soar/new-country/bob/log", silenced)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.call(nil, nil, "soar/new-country/bob/log", silenced)
	if err != nil || string(again) != string(first) {
		t.Fatalf("repeat = %s (%v), want %s", again, err, first)
	}
	if !strings.Contains(string(first), `"forwarded":false`) || !strings.Contains(string(first), `"recorded_at":"2026-03-14T03:00:00.5Z"`) {
		t.Errorf("record = %s", first)
	}
	recs := f.lines("audit")
	if len(recs) != 1 || recs[0]["verdict"] != "silenced" || recs[0]["evidence"].(map[string]any)["country"] != "BR" {
		t.Fatalf("audit log = %v", recs)
	}
	if _, err := f.call(nil, nil, "", `{"verdict":"escalated","run":"soar/x/y","alert":{"id":"a1"}}`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.call(nil, nil, "", `{"reason":"no verdict"}`); err == nil || err.Kind != plugins.InvalidInput {
		t.Errorf("missing verdict: %v", err)
	}
	if n := len(f.lines("audit")); n != 2 {
		t.Errorf("%d records, want 2", n)
	}
}

func TestForwardToSplunkHEC(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var hits atomic.Int32
	fail := atomic.Bool{}
	fail.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/services/collector/event" || r.Header.Get("Authorization") != "Splunk 0f1e2d3c-hec-token" {
			t.Errorf("request %s %s auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			Time       float64        `json:"time"`
			Sourcetype string         `json:"sourcetype"`
			Source     string         `json:"source"`
			Index      string         `json:"index"`
			Event      map[string]any `json:"event"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		if ev.Time != 1773457200.5 || ev.Sourcetype != "soar:audit" || ev.Source != "soar" || ev.Index != "security" || ev.Event["verdict"] != "silenced" {
			t.Errorf("HEC event = %s", body)
		}
		if fail.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"text":"Server is busy","code":9}`)
			return
		}
		io.WriteString(w, `{"text":"Success","code":0}`)
	}))
	defer srv.Close()
	cfg := func() map[string]any {
		return map[string]any{"splunk_hec": map[string]any{"url": srv.URL + "/services/collector/event", "index": "security"}}
	}
	sec := map[string]string{SecretSplunkHECToken: "0f1e2d3c-hec-token"}

	_, err := f.call(cfg(), sec, "k", silenced)
	if err == nil || err.Kind != plugins.Retryable || !strings.Contains(err.Message, "Server is busy") {
		t.Fatalf("busy HEC: err = %v, want retryable", err)
	}
	if n := len(f.lines("audit")); n != 1 {
		t.Fatalf("the local record must be kept when forwarding fails; have %d", n)
	}
	fail.Store(false)
	out, err := f.call(cfg(), sec, "k", silenced)
	if err != nil || !strings.Contains(string(out), `"forwarded":true`) {
		t.Fatalf("retry = %s, %v", out, err)
	}
	if _, err := f.call(cfg(), sec, "k", silenced); err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("HEC received %d requests, want 2 (one failed, one accepted, none for the repeat)", n)
	}
	if n := len(f.lines("audit")); n != 1 {
		t.Errorf("%d audit records, want 1", n)
	}
}

func TestHECErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		header string
		body   string
		kind   plugins.Kind
		want   string
	}{
		{401, "", `{"text":"Token is required","code":2}`, plugins.Permanent, "plugins.audit.secrets.splunk_hec_token"},
		{403, "", `{"text":"Invalid token","code":4}`, plugins.Permanent, "plugins.audit.secrets.splunk_hec_token"},
		{429, "30", `{"text":"Too many requests","code":9}`, plugins.Retryable, "retry after 30s"},
		{400, "", `{"text":"Invalid data format","code":6}`, plugins.Permanent, "Invalid data format"},
	} {
		f := newFixture(t)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tc.header != "" {
				w.Header().Set("Retry-After", tc.header)
			}
			w.WriteHeader(tc.status)
			io.WriteString(w, tc.body)
		}))
		_, err := f.call(map[string]any{"splunk_hec": map[string]any{"url": srv.URL}}, map[string]string{SecretSplunkHECToken: "tok-secret-1"}, "k", silenced)
		srv.Close()
		if err == nil || err.Kind != tc.kind || !strings.Contains(err.Message, tc.want) || strings.Contains(err.Message, "tok-secret-1") {
			t.Errorf("HTTP %d: err = %v, want %s mentioning %q", tc.status, err, tc.kind, tc.want)
		}
	}
	f := newFixture(t)
	if _, err := f.call(map[string]any{"splunk_hec": map[string]any{"url": "http://127.0.0.1:1"}}, nil, "k", silenced); err == nil || !strings.Contains(err.Message, "plugins.audit.secrets.splunk_hec_token") {
		t.Errorf("missing token: %v", err)
	}
}
