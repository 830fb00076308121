package identity

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/pluginpb"
	"github.com/soar-dev/soar/plugins/sdk"
)

var fixedNow = time.Date(2026, 3, 14, 3, 0, 0, 0, time.UTC)

type fixture struct {
	t      *testing.T
	server *sdk.Server
	log    string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c := &containment{client: &http.Client{}, now: func() time.Time { return fixedNow }}
	s, err := sdk.NewServer(c.plugin(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, server: s, log: filepath.Join(t.TempDir(), "audit.jsonl")}
}

func (f *fixture) call(action string, cfg map[string]any, secrets map[string]string, key, input string) (Output, *plugins.Error) {
	f.t.Helper()
	if cfg == nil {
		cfg = map[string]any{}
	}
	cfg["log_file"] = f.log
	c, _ := json.Marshal(cfg)
	resp, err := f.server.Invoke(context.Background(), &pluginpb.InvokeRequest{Action: action, Input: []byte(input), IdempotencyKey: key, Config: c, Secrets: secrets})
	if err != nil {
		f.t.Fatal(err)
	}
	if e := resp.GetError(); e != nil {
		return Output{}, plugins.ErrorFromProto(e)
	}
	var out Output
	if err := json.Unmarshal(resp.GetOutput(), &out); err != nil {
		f.t.Fatal(err)
	}
	return out, nil
}

func (f *fixture) entries() []string {
	data, _ := os.ReadFile(f.log)
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

const bob = `{"user":"bob@example.com","reason":"impossible travel (4200 km/h)"}`

func TestLocalRecordsIntentOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, action := range []string{"suspend_user", "clear_sessions", "unsuspend_user"} {
		out, err := f.call(action, nil, nil, "k/"+action, bob)
		if err != nil {
			t.Fatal(err)
		}
		if out.Applied || out.State != "recorded" || out.Backend != "local" || out.Action != action || out.User != "bob@example.com" {
			t.Errorf("%s = %+v", action, out)
		}
	}
	if _, err := f.call("suspend_user", nil, nil, "k/suspend_user", bob); err != nil {
		t.Fatal(err)
	}
	lines := f.entries()
	if len(lines) != 3 || !strings.Contains(lines[0], `"type":"identity"`) || !strings.Contains(lines[0], `"reason":"impossible travel (4200 km/h)"`) {
		t.Errorf("audit log = %q", lines)
	}
}

func TestOktaActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Authorization") != "SSWS 00okta-api-token" || r.Header.Get("Accept") != "application/json" {
			t.Errorf("auth %q accept %q", r.Header.Get("Authorization"), r.Header.Get("Accept"))
		}
		switch r.Method + " " + r.URL.Path {
		case "POST /api/v1/users/bob@example.com/lifecycle/suspend", "POST /api/v1/users/bob@example.com/lifecycle/unsuspend":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{}`)
		case "DELETE /api/v1/users/bob@example.com/sessions":
			if r.URL.Query().Get("oauthTokens") != "true" {
				t.Errorf("sessions query %q", r.URL.RawQuery)
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	cfg := func() map[string]any {
		return map[string]any{"backend": "okta", "okta": map[string]any{"org_url": srv.URL + "/", "revoke_oauth_tokens": true}}
	}
	sec := map[string]string{SecretOktaToken: "00okta-api-token"}
	want := map[string]string{"suspend_user": "suspended", "clear_sessions": "sessions_cleared", "unsuspend_user": "active"}
	for action, state := range want {
		out, err := f.call(action, cfg(), sec, "k/"+action, bob)
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		if !out.Applied || out.State != state || out.Backend != "okta" {
			t.Errorf("%s = %+v", action, out)
		}
	}
	if _, err := f.call("suspend_user", cfg(), sec, "k/suspend_user", bob); err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 3 {
		t.Errorf("Okta received %d requests, want 3 (the repeat answers from the audit log)", n)
	}
}

func TestOktaErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		header map[string]string
		body   string
		kind   plugins.Kind
		want   string
	}{
		{401, nil, `{"errorCode":"E0000011","errorSummary":"Invalid token provided","errorLink":"E0000011","errorId":"oaeX","errorCauses":[]}`, plugins.Permanent, "plugins.identity.secrets.okta_api_token"},
		{403, nil, `{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action","errorLink":"E0000006","errorId":"oaeY","errorCauses":[]}`, plugins.Permanent, "plugins.identity.secrets.okta_api_token"},
		{429, map[string]string{"Retry-After": "30"}, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests.","errorLink":"E0000047","errorId":"oaeZ","errorCauses":[]}`, plugins.Retryable, "retry after 30s"},
		{429, map[string]string{"X-Rate-Limit-Reset": "{reset}"}, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`, plugins.Retryable, "retry after"},
		{404, nil, `{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: bob@example.com (User)","errorLink":"E0000007","errorId":"oae1","errorCauses":[]}`, plugins.Permanent, `Okta has no user "bob@example.com"`},
		{400, nil, `{"errorCode":"E0000001","errorSummary":"Api validation failed: suspendUser","errorLink":"E0000001","errorId":"oae2","errorCauses":[{"errorSummary":"Cannot suspend a user that is not active"}]}`, plugins.Permanent, "Api validation failed"},
		{500, nil, `{"errorCode":"E0000009","errorSummary":"Internal Server Error"}`, plugins.Retryable, "HTTP 500"},
	} {
		f := newFixture(t)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, v := range tc.header {
				w.Header().Set(k, strings.ReplaceAll(v, "{reset}", strconv.FormatInt(time.Now().Add(20*time.Second).Unix(), 10)))
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(tc.status)
			io.WriteString(w, tc.body)
		}))
		_, err := f.call("suspend_user", map[string]any{"backend": "okta", "okta": map[string]any{"org_url": srv.URL}},
			map[string]string{SecretOktaToken: "00okta-secret"}, "k", bob)
		srv.Close()
		if err == nil || err.Kind != tc.kind || !strings.Contains(err.Message, tc.want) || strings.Contains(err.Message, "00okta-secret") {
			t.Errorf("HTTP %d %v: err = %v, want %s mentioning %q", tc.status, tc.header, err, tc.kind, tc.want)
		}
		if data, _ := os.ReadFile(f.log); len(data) != 0 {
			t.Errorf("HTTP %d: a failed action was recorded: %s", tc.status, data)
		}
	}
}

func TestOktaNeedsSettings(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.call("suspend_user", map[string]any{"backend": "okta"}, nil, "k", bob); err == nil || !strings.Contains(err.Message, "plugins.identity.config.okta.org_url") {
		t.Errorf("no org: %v", err)
	}
	if _, err := f.call("suspend_user", map[string]any{"backend": "okta", "okta": map[string]any{"org_url": "https://x.okta.com"}}, nil, "k", bob); err == nil || !strings.Contains(err.Message, "plugins.identity.secrets.okta_api_token") {
		t.Errorf("no token: %v", err)
	}
	if _, err := f.call("suspend_user", nil, nil, "k", `{"user":""}`); err == nil || err.Kind != plugins.InvalidInput {
		t.Errorf("empty user: %v", err)
	}
}

// Okta's suspend and unsuspend refuse a user already in the target state
// (400 E0000001). A retry after a crash between Okta applying the action
// and the audit log's fsync meets that refusal: the user's status decides
// whether it is success.
func TestOktaRetryFindsActionAlreadyApplied(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		action, status, state string
		ok                    bool
	}{
		{"suspend_user", "SUSPENDED", "suspended", true},
		{"unsuspend_user", "ACTIVE", "active", true},
		{"suspend_user", "DEPROVISIONED", "", false},
		{"unsuspend_user", "SUSPENDED", "", false},
	} {
		f := newFixture(t)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			switch r.Method + " " + r.URL.Path {
			case "GET /api/v1/users/bob@example.com":
				if r.Header.Get("Authorization") != "SSWS 00okta-api-token" {
					t.Errorf("GET auth %q", r.Header.Get("Authorization"))
				}
				io.WriteString(w, `{"id":"00ub0oNGTSWTBKOLGLNR","status":"`+tc.status+`","profile":{"login":"bob@example.com"}}`)
			case "POST /api/v1/users/bob@example.com/lifecycle/suspend", "POST /api/v1/users/bob@example.com/lifecycle/unsuspend":
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"errorCode":"E0000001","errorSummary":"Api validation failed: user","errorLink":"E0000001","errorId":"oae3","errorCauses":[{"errorSummary":"This operation is not allowed in the user's current status."}]}`)
			default:
				t.Errorf("unexpected %s %s", r.Method, r.URL)
				w.WriteHeader(http.StatusNotFound)
			}
		}))
		out, err := f.call(tc.action, map[string]any{"backend": "okta", "okta": map[string]any{"org_url": srv.URL}},
			map[string]string{SecretOktaToken: "00okta-api-token"}, "k", bob)
		srv.Close()
		switch {
		case tc.ok && (err != nil || !out.Applied || out.State != tc.state):
			t.Errorf("%s with Okta status %s: %+v, %v; want applied, state %s", tc.action, tc.status, out, err, tc.state)
		case !tc.ok && (err == nil || err.Kind != plugins.Permanent || !strings.Contains(err.Message, "Api validation failed")):
			t.Errorf("%s with Okta status %s: err = %v, want the permanent refusal", tc.action, tc.status, err)
		}
	}
}
