package page

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/pluginpb"
	"github.com/soar-dev/soar/plugins/sdk"
)

// syncBuffer is the console of a test pager.
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

var fixedNow = time.Date(2026, 3, 14, 3, 0, 0, 0, time.UTC)

type fixture struct {
	t       *testing.T
	server  *sdk.Server
	console *syncBuffer
	outbox  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	console := &syncBuffer{}
	p := &pager{client: &http.Client{}, console: console, now: func() time.Time { return fixedNow }}
	s, err := sdk.NewServer(p.plugin(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, server: s, console: console, outbox: filepath.Join(t.TempDir(), "page-outbox.jsonl")}
}

// call invokes action as the host would and returns the output or the
// plugin error.
func (f *fixture) call(action string, cfg map[string]any, secrets map[string]string, key string, input any) (json.RawMessage, *plugins.Error) {
	f.t.Helper()
	cfg = maps.Clone(cfg) // callers share one map between goroutines
	if cfg == nil {
		cfg = map[string]any{}
	}
	if _, ok := cfg["outbox_file"]; !ok {
		cfg["outbox_file"] = f.outbox
	}
	cfgJSON, _ := json.Marshal(cfg)
	in, _ := json.Marshal(input)
	resp, err := f.server.Invoke(context.Background(), &pluginpb.InvokeRequest{
		Action: action, Input: in, IdempotencyKey: key, Config: cfgJSON, Secrets: secrets,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if e := resp.GetError(); e != nil {
		return nil, plugins.ErrorFromProto(e)
	}
	return resp.GetOutput(), nil
}

func (f *fixture) mustCall(action string, cfg map[string]any, secrets map[string]string, key string, input any) json.RawMessage {
	f.t.Helper()
	out, err := f.call(action, cfg, secrets, key, input)
	if err != nil {
		f.t.Fatalf("%s: %v", action, err)
	}
	return out
}

func (f *fixture) outboxLines() []map[string]any {
	f.t.Helper()
	data, err := os.ReadFile(f.outbox)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	var out []map[string]any
	for l := range strings.Lines(string(data)) {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			f.t.Fatalf("outbox line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

var alicePage = SendInput{
	Responder: "alice", Summary: "Impossible travel for bob@example.com", Severity: "critical",
	Details:  map[string]any{"country": "BR", "kmh": 4200},
	Links:    []Link{{Href: "https://temporal.example/runs/1", Text: "run"}},
	DedupKey: "soar/impossible-travel/bob",
}

func TestFileBackendSendsOncePerKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first := f.mustCall("send", nil, nil, "wf1/escalate/alice", alicePage)
	again := f.mustCall("send", nil, nil, "wf1/escalate/alice", alicePage)
	if string(first) != string(again) {
		t.Errorf("repeat answered %s, want the original %s", again, first)
	}
	var out SendOutput
	if err := json.Unmarshal(first, &out); err != nil || !strings.HasPrefix(out.DeliveryID, "page-") || !out.DeliveredAt.Equal(fixedNow) || out.Backend != "file" {
		t.Errorf("send = %s (%v)", first, err)
	}
	lines := f.outboxLines()
	if len(lines) != 1 || lines[0]["responder"] != "alice" || lines[0]["idempotency_key"] != "wf1/escalate/alice" ||
		lines[0]["dedup_key"] != alicePage.DedupKey || lines[0]["details"].(map[string]any)["country"] != "BR" {
		t.Fatalf("outbox = %v", lines)
	}
	if c := f.console.String(); strings.Count(c, "PAGE CRITICAL → alice: Impossible travel") != 1 {
		t.Errorf("console = %q", c)
	}

	bob := alicePage
	bob.Responder = "bob"
	f.mustCall("send", nil, nil, "wf1/escalate/bob", bob)
	if n := len(f.outboxLines()); n != 2 {
		t.Errorf("outbox has %d lines after a second responder, want 2", n)
	}
}

func TestFileBackendResolve(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.mustCall("send", nil, nil, "k/alice", alicePage)
	bob := alicePage
	bob.Responder = "bob"
	b := f.mustCall("send", nil, nil, "k/bob", bob)
	other := alicePage
	other.DedupKey = "other"
	f.mustCall("send", nil, nil, "k/other", other)

	var sa, sb SendOutput
	_ = json.Unmarshal(a, &sa)
	_ = json.Unmarshal(b, &sb)
	ack := f.mustCall("acknowledge", nil, nil, "k/ack", AcknowledgeInput{DedupKey: alicePage.DedupKey, By: "bob"})
	var ao AcknowledgeOutput
	if err := json.Unmarshal(ack, &ao); err != nil || len(ao.Acknowledged) != 2 || !ao.AcknowledgedAt.Equal(fixedNow) {
		t.Fatalf("acknowledge = %s (%v)", ack, err)
	}
	if again := f.mustCall("acknowledge", nil, nil, "k/ack-2", AcknowledgeInput{DedupKey: alicePage.DedupKey}); !strings.Contains(string(again), `"acknowledged":[]`) {
		t.Errorf("second acknowledge = %s, want nothing left to acknowledge", again)
	}
	// Acknowledged pages are still open for resolve.
	out := f.mustCall("resolve", nil, nil, "k/resolve", ResolveInput{DedupKey: alicePage.DedupKey})
	var r ResolveOutput
	if err := json.Unmarshal(out, &r); err != nil || len(r.Resolved) != 2 || r.Resolved[0] != sa.DeliveryID || r.Resolved[1] != sb.DeliveryID {
		t.Fatalf("resolve = %s (%v)", out, err)
	}
	if again := f.mustCall("resolve", nil, nil, "k/resolve", ResolveInput{DedupKey: alicePage.DedupKey}); string(again) != string(out) {
		t.Errorf("repeated resolve = %s, want %s", again, out)
	}
	later := f.mustCall("resolve", nil, nil, "k/resolve-2", ResolveInput{DedupKey: alicePage.DedupKey})
	if err := json.Unmarshal(later, &r); err != nil || len(r.Resolved) != 0 {
		t.Errorf("second resolve = %s, want nothing left to resolve", later)
	}
	if c := f.console.String(); strings.Count(c, "RESOLVED") != 2 || strings.Count(c, "ACKNOWLEDGED by bob → ") != 2 {
		t.Errorf("console = %q", c)
	}
}

func TestSendInputMatchesEscalationContract(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Exactly what workflows' escalation sends.
	in := map[string]any{"responder": "alice", "summary": "s", "severity": "warning", "details": map[string]any{"a": 1},
		"links": []any{map[string]any{"href": "https://x", "text": "x"}}, "dedup_key": "d"}
	f.mustCall("send", nil, nil, "c1", in)
	for name, bad := range map[string]map[string]any{
		"unknown field": {"responder": "alice", "summary": "s", "urgency": "high"},
		"bad severity":  {"responder": "alice", "summary": "s", "severity": "sev1"},
		"no responder":  {"summary": "s"},
	} {
		if _, err := f.call("send", nil, nil, "c2", bad); err == nil || err.Kind != plugins.InvalidInput {
			t.Errorf("%s: err = %v, want invalid_input", name, err)
		}
	}
}

func TestMissingSettingsNameTheSetting(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{"backend": "pagerduty"}, "plugins.page.secrets.pagerduty_routing_key"},
		{map[string]any{"backend": "opsgenie"}, "plugins.page.secrets.opsgenie_api_key"},
		{map[string]any{"backend": "slack"}, "plugins.page.secrets.slack_webhook_url"},
		{map[string]any{"backend": "slack", "slack": map[string]any{"mode": "bot"}}, "plugins.page.config.slack.channel"},
		{map[string]any{"backend": "webhook"}, "plugins.page.config.webhook.url"},
	} {
		_, err := f.call("send", tc.cfg, nil, "k", alicePage)
		if err == nil || err.Kind != plugins.Permanent || !strings.Contains(err.Message, tc.want) {
			t.Errorf("%v: err = %v, want permanent naming %s", tc.cfg, err, tc.want)
		}
	}
}

// vendor is an httptest server that checks each request with check and
// answers with the next scripted response.
type vendor struct {
	*httptest.Server
	hits atomic.Int32
}

type reply struct {
	status int
	header map[string]string
	body   string
}

func newVendor(t *testing.T, check func(t *testing.T, r *http.Request, body []byte), replies ...reply) *vendor {
	t.Helper()
	v := &vendor{}
	v.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(v.hits.Add(1)) - 1
		body, _ := io.ReadAll(r.Body)
		if check != nil {
			check(t, r, body)
		}
		rep := replies[min(n, len(replies)-1)]
		for k, val := range rep.header {
			w.Header().Set(k, val)
		}
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, rep.body)
	}))
	t.Cleanup(v.Close)
	return v
}

func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("request body %q: %v", body, err)
	}
	return m
}

func expect(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, _ := json.Marshal(got); string(g) != mustJSON(want) {
		t.Errorf("%s = %s, want %s", what, g, mustJSON(want))
	}
}

func mustJSON(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

const pdKey = "R0UTINGKEY0123456789abcdef012345"

func TestPagerDutyTriggerAndResolve(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var actions []string
	var mu sync.Mutex
	v := newVendor(t, func(t *testing.T, r *http.Request, body []byte) {
		if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		m := decode(t, body)
		expect(t, "routing_key", m["routing_key"], pdKey)
		expect(t, "dedup_key", m["dedup_key"], "soar/impossible-travel/bob/alice/6ab9f1eb") // sha256("k1")
		mu.Lock()
		actions = append(actions, m["event_action"].(string))
		mu.Unlock()
		if m["event_action"] == "trigger" {
			p := m["payload"].(map[string]any)
			expect(t, "summary", p["summary"], alicePage.Summary)
			expect(t, "source", p["source"], "soar")
			expect(t, "severity", p["severity"], "critical")
			expect(t, "custom_details", p["custom_details"], map[string]any{"country": "BR", "kmh": 4200, "responder": "alice"})
			expect(t, "links", m["links"], []any{map[string]any{"href": "https://temporal.example/runs/1", "text": "run"}})
		}
	}, reply{202, nil, `{"status":"success","message":"Event processed","dedup_key":"soar/impossible-travel/bob/alice/6ab9f1eb"}`})
	cfg := map[string]any{"backend": "pagerduty", "pagerduty": map[string]any{"url": v.URL + "/v2/enqueue"}}
	sec := map[string]string{SecretPagerDutyRoutingKey: pdKey}
	out := f.mustCall("send", cfg, sec, "k1", alicePage)
	f.mustCall("send", cfg, sec, "k1", alicePage) // a retry: not sent again
	if !strings.Contains(string(out), `"delivery_id":"pagerduty:soar/impossible-travel/bob/alice/6ab9f1eb"`) {
		t.Errorf("send = %s", out)
	}
	f.mustCall("acknowledge", cfg, sec, "k2", AcknowledgeInput{DedupKey: alicePage.DedupKey, By: "alice"})
	f.mustCall("resolve", cfg, sec, "k3", ResolveInput{DedupKey: alicePage.DedupKey})
	expect(t, "event actions", actions, []string{"trigger", "acknowledge", "resolve"})
	if lines := f.outboxLines(); len(lines) != 3 || lines[0]["backend"] != "pagerduty" || lines[0]["vendor_key"] != "soar/impossible-travel/bob/alice/6ab9f1eb" {
		t.Errorf("outbox = %v", lines)
	}
}

// TestPagerDutyRoutesPerResponder: a responder with their own service is
// paged, and resolved, through its routing key.
func TestPagerDutyRoutesPerResponder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var mu sync.Mutex
	keys := map[string][]string{}
	v := newVendor(t, func(t *testing.T, r *http.Request, body []byte) {
		m := decode(t, body)
		mu.Lock()
		defer mu.Unlock()
		k := m["event_action"].(string)
		keys[k] = append(keys[k], m["routing_key"].(string))
	}, reply{202, nil, `{"status":"success","message":"Event processed","dedup_key":"x"}`})
	cfg := map[string]any{"backend": "pagerduty", "pagerduty": map[string]any{"url": v.URL, "routing_keys": map[string]any{"alice": "pd_key_alice"}}}
	sec := map[string]string{SecretPagerDutyRoutingKey: pdKey, "pd_key_alice": "ALICEKEY0123456789abcdef01234567"}
	f.mustCall("send", cfg, sec, "k1", alicePage)
	bob := alicePage
	bob.Responder = "bob"
	f.mustCall("send", cfg, sec, "k2", bob)
	f.mustCall("resolve", cfg, sec, "k3", ResolveInput{DedupKey: alicePage.DedupKey})
	expect(t, "trigger keys", keys["trigger"], []string{"ALICEKEY0123456789abcdef01234567", pdKey})
	expect(t, "resolve keys", keys["resolve"], []string{"ALICEKEY0123456789abcdef01234567", pdKey})

	delete(sec, SecretPagerDutyRoutingKey)
	carol := alicePage
	carol.Responder = "carol"
	if _, err := f.call("send", cfg, sec, "k4", carol); err == nil || !strings.Contains(err.Message, "plugins.page.secrets.pagerduty_routing_key") {
		t.Errorf("unrouted responder: err = %v", err)
	}
}

func TestOpsgenieCreateAndClose(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v := newVendor(t, func(t *testing.T, r *http.Request, body []byte) {
		if r.Header.Get("Authorization") != "GenieKey og-key-1234" || r.Method != http.MethodPost {
			t.Errorf("auth %q method %s", r.Header.Get("Authorization"), r.Method)
		}
		m := decode(t, body)
		switch r.URL.Path {
		case "/v2/alerts":
			expect(t, "message", m["message"], alicePage.Summary)
			expect(t, "alias", m["alias"], "soar/impossible-travel/bob/alice/6ab9f1eb")
			expect(t, "responders", m["responders"], []any{map[string]any{"type": "user", "username": "alice@example.com"}})
			expect(t, "priority", m["priority"], "P1")
			expect(t, "details", m["details"], map[string]any{"country": "BR", "kmh": "4200", "responder": "alice"})
		case "/v2/alerts/soar/impossible-travel/bob/alice/6ab9f1eb/close", "/v2/alerts/soar/impossible-travel/bob/alice/6ab9f1eb/acknowledge":
			verb := r.URL.Path[strings.LastIndex(r.URL.Path, "/"):]
			if r.URL.Query().Get("identifierType") != "alias" || r.URL.RawPath != "/v2/alerts/soar%2Fimpossible-travel%2Fbob%2Falice%2F6ab9f1eb"+verb {
				t.Errorf("%s URL %s", verb, r.URL)
			}
			expect(t, "source", m["source"], "soar")
		default:
			t.Errorf("unexpected path %s", r.URL.Path)
		}
	}, reply{202, nil, `{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`})
	cfg := map[string]any{"backend": "opsgenie", "opsgenie": map[string]any{"api_url": v.URL, "usernames": map[string]any{"alice": "alice@example.com"}}}
	sec := map[string]string{SecretOpsgenieAPIKey: "og-key-1234"}
	out := f.mustCall("send", cfg, sec, "k1", alicePage)
	if !strings.Contains(string(out), `"delivery_id":"opsgenie:43a29c5c-3dbf-4fa4-9c26-f4f71023e120"`) {
		t.Errorf("send = %s", out)
	}
	f.mustCall("acknowledge", cfg, sec, "k2", AcknowledgeInput{DedupKey: alicePage.DedupKey})
	f.mustCall("resolve", cfg, sec, "k3", ResolveInput{DedupKey: alicePage.DedupKey})
	if n := v.hits.Load(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestSlackWebhook(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v := newVendor(t, func(t *testing.T, r *http.Request, body []byte) {
		if r.Method != http.MethodPost || r.URL.Path != "/services/T000/B000/XXXX" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		text, _ := decode(t, body)["text"].(string)
		if !strings.Contains(text, "Impossible travel") && !strings.Contains(text, "Resolved") {
			t.Errorf("text = %q", text)
		}
	}, reply{200, map[string]string{"Content-Type": "text/html"}, "ok"})
	cfg := map[string]any{"backend": "slack"}
	sec := map[string]string{SecretSlackWebhookURL: v.URL + "/services/T000/B000/XXXX"}
	f.mustCall("send", cfg, sec, "k1", alicePage)
	f.mustCall("resolve", cfg, sec, "k2", ResolveInput{DedupKey: alicePage.DedupKey})
	if n := v.hits.Load(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestSlackBot(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v := newVendor(t, func(t *testing.T, r *http.Request, body []byte) {
		if r.URL.Path != "/api/chat.postMessage" || r.Header.Get("Authorization") != "Bearer xoxb-test-token" ||
			r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("request %s auth %q type %q", r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"))
		}
		m := decode(t, body)
		expect(t, "channel", m["channel"], "C0SOC")
		text := m["text"].(string)
		if ts, ok := m["thread_ts"]; ok {
			expect(t, "thread_ts", ts, "1503435956.000247")
			if !strings.Contains(text, "Resolved") && !strings.Contains(text, "Acknowledged by <@U024BE7LH>") {
				t.Errorf("thread reply %q", text)
			}
		} else if !strings.Contains(text, "<@U024BE7LH>") {
			t.Errorf("page text %q does not mention the responder", text)
		}
	}, reply{200, nil, `{"ok":true,"channel":"C0SOC","ts":"1503435956.000247","message":{"text":"x","type":"message"}}`})
	cfg := map[string]any{"backend": "slack", "slack": map[string]any{"mode": "bot", "channel": "C0SOC", "api_url": v.URL + "/api", "users": map[string]any{"alice": "U024BE7LH"}}}
	sec := map[string]string{SecretSlackBotToken: "xoxb-test-token"}
	out := f.mustCall("send", cfg, sec, "k1", alicePage)
	if !strings.Contains(string(out), `"delivery_id":"slack:C0SOC/1503435956.000247"`) {
		t.Errorf("send = %s", out)
	}
	f.mustCall("acknowledge", cfg, sec, "k2", AcknowledgeInput{DedupKey: alicePage.DedupKey, By: "alice"})
	f.mustCall("resolve", cfg, sec, "k3", ResolveInput{DedupKey: alicePage.DedupKey})
}

func TestWebhookIsSigned(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := []byte("whsec-test-signing-key")
	v := newVendor(t, func(t *testing.T, r *http.Request, body []byte) {
		ts := r.Header.Get(HeaderTimestamp)
		if ts != "1773457200" {
			t.Errorf("timestamp %q", ts)
		}
		if got, want := r.Header.Get(HeaderSignature), Sign(key, fixedNow.Unix(), body); got != want {
			t.Errorf("signature %q, want %q", got, want)
		}
		m := decode(t, body)
		if m["event"] == "acknowledge" {
			expect(t, "Idempotency-Key", r.Header.Get("Idempotency-Key"), "k1/acknowledge")
			expect(t, "by", m["by"], "alice")
		}
		if m["event"] == "trigger" {
			expect(t, "Idempotency-Key", r.Header.Get("Idempotency-Key"), "k1")
			expect(t, "responder", m["responder"], "alice")
			expect(t, "dedup_key", m["dedup_key"], alicePage.DedupKey)
		}
	}, reply{204, nil, ""})
	cfg := map[string]any{"backend": "webhook", "webhook": map[string]any{"url": v.URL + "/hooks/soar"}}
	sec := map[string]string{SecretWebhookSigning: string(key)}
	f.mustCall("send", cfg, sec, "k1", alicePage)
	f.mustCall("send", cfg, sec, "k1", alicePage)
	f.mustCall("acknowledge", cfg, sec, "k2", AcknowledgeInput{DedupKey: alicePage.DedupKey, By: "alice"})
	f.mustCall("resolve", cfg, sec, "k3", ResolveInput{DedupKey: alicePage.DedupKey})
	if n := v.hits.Load(); n != 3 {
		t.Errorf("%d requests, want 3 (page, acknowledge, resolve)", n)
	}
}

// TestVendorErrors: rate limits are retryable and carry Retry-After;
// rejected credentials are permanent and name the setting; no error
// message repeats a secret.
func TestVendorErrors(t *testing.T) {
	t.Parallel()
	type backendCase struct {
		name    string
		cfg     func(url string) map[string]any
		secret  string
		value   string
		limited reply
		denied  reply
	}
	backends := []backendCase{
		{"pagerduty", func(u string) map[string]any {
			return map[string]any{"backend": "pagerduty", "pagerduty": map[string]any{"url": u}}
		}, SecretPagerDutyRoutingKey, pdKey,
			reply{429, map[string]string{"Retry-After": "30"}, `{"status":"throttle event","message":"Requests for this service are arriving too quickly.  Please retry later."}`},
			reply{403, nil, `{"status":"forbidden","message":"forbidden"}`}},
		{"pagerduty-bad-key", func(u string) map[string]any {
			return map[string]any{"backend": "pagerduty", "pagerduty": map[string]any{"url": u}}
		}, SecretPagerDutyRoutingKey, pdKey,
			reply{429, map[string]string{"Retry-After": "30"}, `{}`},
			reply{400, nil, `{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}`}},
		{"opsgenie", func(u string) map[string]any {
			return map[string]any{"backend": "opsgenie", "opsgenie": map[string]any{"api_url": u}}
		}, SecretOpsgenieAPIKey, "og-key-1234",
			reply{429, map[string]string{"Retry-After": "30"}, `{"message":"You are making too many requests! To avoid errors, we recommend you limit requests.","took":0.003,"requestId":"r1"}`},
			reply{401, nil, `{"message":"Could not authenticate","took":0.0,"requestId":"r2"}`}},
		{"slack-webhook", func(string) map[string]any { return map[string]any{"backend": "slack"} },
			SecretSlackWebhookURL, "",
			reply{429, map[string]string{"Retry-After": "30"}, `rate_limited`},
			reply{404, nil, `no_service`}},
		{"slack-bot", func(u string) map[string]any {
			return map[string]any{"backend": "slack", "slack": map[string]any{"mode": "bot", "channel": "C1", "api_url": u}}
		}, SecretSlackBotToken, "xoxb-secret-token",
			reply{429, map[string]string{"Retry-After": "30"}, `{"ok":false,"error":"ratelimited"}`},
			reply{200, nil, `{"ok":false,"error":"invalid_auth"}`}},
		{"webhook", func(u string) map[string]any {
			return map[string]any{"backend": "webhook", "webhook": map[string]any{"url": u}}
		}, SecretWebhookSigning, "whsec-signing-key",
			reply{429, map[string]string{"Retry-After": "30"}, ``},
			reply{401, nil, `bad signature`}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			v := newVendor(t, nil, b.limited, b.denied)
			value := b.value
			if value == "" { // the webhook URL is the secret
				value = v.URL + "/services/T/B/secretpart"
			}
			cfg, sec := b.cfg(v.URL), map[string]string{b.secret: value}

			_, err := f.call("send", cfg, sec, "k", alicePage)
			if err == nil || err.Kind != plugins.Retryable || !strings.Contains(err.Message, "retry after 30s") {
				t.Fatalf("429: err = %v, want retryable with retry after 30s", err)
			}
			if string(err.Details) != `{"retry_after_seconds":30}` {
				t.Errorf("429 details = %s", err.Details)
			}
			_, err = f.call("send", cfg, sec, "k", alicePage)
			if err == nil || err.Kind != plugins.Permanent || !strings.Contains(err.Message, "plugins.page.secrets."+b.secret) {
				t.Fatalf("denied: err = %v, want permanent naming plugins.page.secrets.%s", err, b.secret)
			}
			if strings.Contains(err.Message, value) {
				t.Errorf("error repeats the secret: %s", err.Message)
			}
			if n := len(f.outboxLines()); n != 0 {
				t.Errorf("failed sends left %d outbox lines", n)
			}
		})
	}
}

func TestUnreachableVendorIsRetryable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	secretURL := url + "/services/T/B/secretpart"
	_, err := f.call("send", map[string]any{"backend": "slack"}, map[string]string{SecretSlackWebhookURL: secretURL}, "k", alicePage)
	if err == nil || err.Kind != plugins.Retryable || strings.Contains(err.Message, "secretpart") {
		t.Errorf("err = %v, want retryable without the URL", err)
	}
}

func TestConcurrentSendsWithOneKeyPageOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v := newVendor(t, nil, reply{202, nil, `{"status":"success","message":"Event processed","dedup_key":"d"}`})
	cfg := map[string]any{"backend": "pagerduty", "pagerduty": map[string]any{"url": v.URL}}
	sec := map[string]string{SecretPagerDutyRoutingKey: pdKey}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := f.call("send", cfg, sec, "same-key", alicePage); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := v.hits.Load(); n != 1 {
		t.Errorf("PagerDuty received %d events, want 1", n)
	}
}

// Pages of one alert go out side by side, but an acknowledgement of the
// alert waits for a page still being delivered, so that it reaches it
// too instead of leaving that responder's page open.
func TestAcknowledgeWaitsForPagesUnderWay(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	started, unblock := make(chan struct{}), make(chan struct{})
	v := newVendor(t, func(t *testing.T, r *http.Request, body []byte) {
		if m := decode(t, body); m["event"] == "trigger" && m["responder"] == "bob" {
			close(started)
			<-unblock
		}
	}, reply{204, nil, ""})
	cfg := map[string]any{"backend": "webhook", "webhook": map[string]any{"url": v.URL + "/hooks/soar"}}
	sec := map[string]string{SecretWebhookSigning: "whsec-test-signing-key"}
	alice := f.mustCall("send", cfg, sec, "k-alice", alicePage)
	bobPage := alicePage
	bobPage.Responder = "bob"
	bobSent := make(chan json.RawMessage, 1)
	go func() {
		out, err := f.call("send", cfg, sec, "k-bob", bobPage)
		if err != nil {
			t.Error(err)
		}
		bobSent <- out
	}()
	<-started
	acked := make(chan json.RawMessage, 1)
	go func() {
		out, err := f.call("acknowledge", cfg, sec, "k-ack", AcknowledgeInput{DedupKey: alicePage.DedupKey, By: "alice"})
		if err != nil {
			t.Error(err)
		}
		acked <- out
	}()
	time.Sleep(100 * time.Millisecond) // let the acknowledgement start, and find bob's page under way
	close(unblock)
	bob := <-bobSent
	var ack AcknowledgeOutput
	if err := json.Unmarshal(<-acked, &ack); err != nil {
		t.Fatal(err)
	}
	var a, b SendOutput
	_ = json.Unmarshal(alice, &a)
	_ = json.Unmarshal(bob, &b)
	if want := []string{a.DeliveryID, b.DeliveryID}; mustJSON(ack.Acknowledged) != mustJSON(want) {
		t.Errorf("acknowledged %v, want both pages %v", ack.Acknowledged, want)
	}
}
