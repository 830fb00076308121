package runner

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Requests the API refuses never reach Temporal, so these run without it.
func TestAPIRejectsBadRequests(t *testing.T) {
	t.Parallel()
	api := &API{Library: &Library{}, MaxBody: 64}
	h := api.Handler()
	tests := []struct {
		name, body string
		code       int
		want       string
	}{
		{"empty", "", 400, "empty body"},
		{"malformed", "{\n  \"type\": }", 400, "line 2, column 11"},
		{"not an object", `[1]`, 400, "malformed JSON"},
		{"missing type", `[{"type":"a"},{"user":"x"}]`, 400, "alerts[1].type: missing"},
		{"too big", `{"type":"` + strings.Repeat("x", 100) + `"}`, 413, "larger than 64 bytes"},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/alerts", strings.NewReader(tc.body)))
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s: %d %s, want %d containing %q", tc.name, rec.Code, rec.Body, tc.code, tc.want)
		}
	}
}

// When every start slot is busy the API says so at once, with Retry-After,
// instead of queueing without bound.
func TestAPIAnswers429WhenSaturated(t *testing.T) {
	t.Parallel()
	api := &API{Library: &Library{}, MaxInflight: 1}
	h := api.Handler()
	api.slots <- struct{}{}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/alerts", strings.NewReader(`{"type":"a"}`)))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
}

func TestAlertIDIsStable(t *testing.T) {
	t.Parallel()
	a := map[string]any{"type": "x", "user": "alice", "n": 1.0}
	b := map[string]any{"n": 1.0, "user": "alice", "type": "x"}
	if AlertID(a) != AlertID(b) || AlertID(a) == AlertID(map[string]any{"type": "y"}) {
		t.Fatal("content ids must be stable and distinct")
	}
	if AlertID(map[string]any{"id": "okta-1"}) != "okta-1" {
		t.Fatal("an alert's own id wins")
	}
}
