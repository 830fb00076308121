package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/soar-dev/soar/plugins"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 14, 3, 0, 0, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"":                              0,
		"120":                           2 * time.Minute,
		"Sat, 14 Mar 2026 03:01:30 GMT": 90 * time.Second,
		"Sat, 14 Mar 2026 02:00:00 GMT": 0, // in the past
		"soon":                          0,
	} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
	if got := rateLimitReset("1773457245", now); got != 45*time.Second {
		t.Errorf("rateLimitReset = %v", got)
	}
}

func TestClassifyAndRedact(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 500)
	for _, tc := range []struct {
		status int
		body   string
		kind   plugins.Kind
		want   string
	}{
		{401, `{"error":"bad key s3cr3t-key"}`, plugins.Permanent, "Acme rejected the credentials (Acme answered HTTP 401: {\"error\":\"bad key [redacted]\"}); check plugins.x.secrets.key"},
		{404, `not here`, plugins.Permanent, "Acme refused the request (Acme answered HTTP 404: not here)"},
		{408, ``, plugins.Retryable, "Acme answered HTTP 408"},
		{502, long, plugins.Retryable, "HTTP 502: " + strings.Repeat("x", 300) + "…"},
		{503, `busy`, plugins.Retryable, "(rate limited or busy; retry later)"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			w.Write([]byte(tc.body))
		}))
		_, status, err := Do(context.Background(), nil, Request{
			Vendor: "Acme", Method: http.MethodGet, URL: srv.URL, AuthSetting: "plugins.x.secrets.key", Secrets: []string{"s3cr3t-key", "ab"},
		})
		srv.Close()
		var pe *plugins.Error
		if status != tc.status || !errors.As(err, &pe) || pe.Kind != tc.kind || !strings.Contains(pe.Message, tc.want) {
			t.Errorf("HTTP %d: status %d, err %v; want %s containing %q", tc.status, status, err, tc.kind, tc.want)
		}
	}
	// A secret straddling the 300-byte cut of the quoted body must not
	// leave its start behind.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(strings.Repeat("y", 290) + " token=s3cr3t-key-that-is-long rest"))
	}))
	_, _, err := Do(context.Background(), nil, Request{Vendor: "Acme", Method: http.MethodGet, URL: srv.URL, Secrets: []string{"s3cr3t-key-that-is-long"}})
	srv.Close()
	if err == nil || strings.Contains(err.Error(), "s3cr") || !strings.Contains(err.Error(), "token=[re") {
		t.Errorf("secret across the cut: %v", err)
	}
	if got := Redact("key ab in abc", []string{"ab"}); got != "key ab in abc" {
		t.Errorf("short secrets must not be redacted: %q", got)
	}
}
