package runner_test

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/soar-dev/soar/workflows"
)

// A second incident with the same dedup key, after the first run closed,
// starts a fresh run whose page is delivered anew: idempotency keys belong
// to a run chain, not to the workflow ID.
func TestLaterIncidentWithSameKeyPagesAgain(t *testing.T) {
	dir := t.TempDir()
	d := startExamples(t, dir)
	defer d.Stop()
	var runs []string
	for i, id := range []string{"incident-1", "incident-2"} {
		res := post(t, d, `{"id": "`+id+`", "type": "login.new_country", "severity": "high", "user": "dave",
			"source_ip": "89.160.20.128", "time": "2026-12-04T03:20:00Z", "title": "`+id+`"}`)
		wf := res[0].Runs[0].WorkflowID
		runs = append(runs, res[0].Runs[0].RunID)
		waitForLines(t, filepath.Join(dir, "page.jsonl"), i+1)
		resp, err := http.Post("http://"+d.APIAddr+"/api/ack/"+url.PathEscape(wf), "application/json", bytes.NewBufferString(`{"by": "ella"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("ack %s: %s", id, resp.Status)
		}
		if got := verdict(t, d, wf, 20*time.Second); got.Verdict != workflows.VerdictAcknowledged {
			t.Fatalf("%s: %+v", id, got)
		}
	}
	if runs[0] == runs[1] {
		t.Fatal("the second incident attached to the closed run")
	}
}

func waitForLines(t *testing.T, file string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(file)
		if bytes.Count(b, []byte("\n")) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d lines, want %d:\n%s", file, bytes.Count(b, []byte("\n")), n, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
