package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// soar alert shows each alert's status, also when the API answers 503, so
// the user knows which alerts to send again.
func TestAlertPrintsPerAlertStatuses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error": "alert b: could not start its run: unavailable", "alerts": [
			{"id": "a", "type": "t", "status": "accepted", "runs": [{"workflow_id": "soar/p/a", "pending": true}]},
			{"id": "x", "type": "t", "status": "rejected", "error": "WorkflowId too long", "runs": [{"workflow_id": "soar/p/x", "error": "WorkflowId too long"}]},
			{"id": "b", "type": "t", "status": "retry", "runs": []}]}`))
	}))
	defer srv.Close()
	cmd := newAlertCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetIn(strings.NewReader(`[{"type":"t"}]`))
	cmd.SetArgs([]string{"-", "--api", srv.URL})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v, want the 503", err)
	}
	for _, want := range []string{
		"alert a: accepted (no worker has taken it yet) by soar/p/a",
		"alert x: rejected: WorkflowId too long",
		"alert b: not accepted, send it again",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
