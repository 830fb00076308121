package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/soar-dev/soar/plugins/builtin"
	"github.com/soar-dev/soar/plugins/host"
	"github.com/soar-dev/soar/runner"
	"github.com/soar-dev/soar/workflows"
)

// soarBin serves the built-in plugins as real processes, as in production.
var soarBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "soar-e2e")
	if err != nil {
		panic(err)
	}
	soarBin = filepath.Join(dir, "soar")
	build := exec.Command("go", "build", "-o", soarBin, "../cmd/soar")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("build soar: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func startDev(t *testing.T, dataDir string) *runner.Dev {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := runner.StartDev(ctx,
		runner.DevServerConfig{DataDir: dataDir, UIPort: -1},
		runner.Config{
			Playbooks: []string{"testdata/playbooks"},
			APIAddr:   "127.0.0.1:0",
			Plugins: host.Config{
				Builtins:   builtin.Names(),
				Executable: soarBin,
				Plugins: map[string]host.PluginConfig{"geoip": {Config: map[string]any{
					"city_db": "../plugins/geoip/testdata/GeoIP2-City-Test.mmdb",
					"asn_db":  "../plugins/geoip/testdata/GeoLite2-ASN-Test.mmdb",
				}}},
			},
			LocalLookups: true,
			Logger:       quiet(),
		})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func post(t *testing.T, d *runner.Dev, alert string) []runner.AlertResult {
	t.Helper()
	resp, err := http.Post("http://"+d.APIAddr+"/api/alerts", "application/json", bytes.NewBufferString(alert))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/alerts: %s\n%s", resp.Status, body)
	}
	var out struct{ Alerts []runner.AlertResult }
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out.Alerts
}

// verdict polls GET /api/runs/{id} until the run has a result.
func verdict(t *testing.T, d *runner.Dev, id string, within time.Duration) *workflows.Result {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + d.APIAddr + "/api/runs/" + url.PathEscape(id))
		if err != nil {
			t.Fatal(err)
		}
		var st runner.RunStatus
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.Result != nil {
			return st.Result
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no verdict for %s within %s", id, within)
	return nil
}

// An alert posted over HTTP runs through a real geoip plugin process on the
// embedded server; the verdict comes back over HTTP and the run is found by
// its search attributes.
func TestAlertToVerdictEndToEnd(t *testing.T) {
	d := startDev(t, "")
	defer d.Stop()
	res := post(t, d, `[
		{"id": "a1", "type": "login.test", "user": "alice", "source_ip": "81.2.69.142", "title": "alice from London"},
		{"id": "a2", "type": "login.test", "user": "bob", "source_ip": "89.160.20.128"},
		{"id": "a3", "type": "nobody.handles.this"}]`)
	if len(res) != 3 || !res[2].Unmatched || len(res[0].Runs) != 1 {
		t.Fatalf("routing: %+v", res)
	}
	alice := verdict(t, d, res[0].Runs[0].WorkflowID, 20*time.Second)
	if alice.Verdict != workflows.VerdictSilenced || alice.Reason != "login from London, GB is expected" {
		t.Fatalf("alice: %+v", alice)
	}
	bob := verdict(t, d, res[1].Runs[0].WorkflowID, 20*time.Second)
	if bob.Verdict != "unexpected" || bob.Reason != "login from SE" {
		t.Fatalf("bob: %+v", bob)
	}
	record(t, d, res[0].Runs[0].WorkflowID, res[1].Runs[0].WorkflowID)
	query := "SoarVerdict = 'silenced' AND SoarUser = 'alice' AND SoarPlaybook = 'geo-triage'"
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := d.Client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(resp.GetExecutions()); n == 1 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("visibility query %q found %d runs, want 1", query, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A run waiting in a durable timer survives stopping the server and worker;
// on restart from the same SQLite file it completes with the right verdict.
// A second alert with the same dedup key attaches to the open run.
func TestRunSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	d := startDev(t, dir)
	start := time.Now()
	res := post(t, d, `{"id": "s1", "type": "test.slow", "user": "carol"}`)
	again := post(t, d, `{"id": "s2", "type": "test.slow", "user": "carol"}`)
	if !again[0].Runs[0].Attached || again[0].Runs[0].Alerts != 2 || again[0].Runs[0].RunID != res[0].Runs[0].RunID {
		t.Fatalf("second alert: %+v, want attached to %s", again[0].Runs[0], res[0].Runs[0].RunID)
	}
	id := res[0].Runs[0].WorkflowID
	d.Stop()

	d = startDev(t, dir)
	defer d.Stop()
	got := verdict(t, d, id, 30*time.Second)
	if got.Verdict != workflows.VerdictSilenced || got.Reason != "waited for carol" || got.Alerts != 2 {
		t.Fatalf("after restart: %+v", got)
	}
	record(t, d, id)
	if el := time.Since(start); el < 3*time.Second {
		t.Fatalf("finished after %s, before its 3s timer", el)
	}
}

// record writes the runs' histories to $SOAR_RECORD_HISTORIES, for the
// replay tests in workflows/testdata/histories:
//
//	SOAR_RECORD_HISTORIES=$PWD/workflows/testdata/histories go test ./runner
func record(t *testing.T, d *runner.Dev, ids ...string) {
	dir := os.Getenv("SOAR_RECORD_HISTORIES")
	if dir == "" {
		return
	}
	for _, id := range ids {
		var hist historypb.History
		it := d.Client.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			hist.Events = append(hist.Events, ev)
		}
		b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&hist)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.NewReplacer("/", "_", ".", "_").Replace(id) + ".json"
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// startExamples runs the example playbooks with every built-in plugin on the
// example data (examples/soar.yaml), writing pages and audit records to dir.
func startExamples(t *testing.T, dir string) *runner.Dev {
	t.Helper()
	plugins := host.Config{Builtins: builtin.Names(), Executable: soarBin}
	if err := host.LoadConfigFile("../examples/soar.yaml", &plugins); err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]string{"page": "outbox_file", "audit": "log_file", "identity": "log_file"} {
		pc := plugins.Plugins[name]
		if pc.Config == nil {
			pc.Config = map[string]any{}
		}
		pc.Config[key] = filepath.Join(dir, name+".jsonl")
		plugins.Plugins[name] = pc
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := runner.StartDev(ctx, runner.DevServerConfig{UIPort: -1}, runner.Config{
		Playbooks: []string{"../examples/playbooks"}, APIAddr: "127.0.0.1:0", Plugins: plugins, LocalLookups: true, Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The SOC flow on the examples: HR explains alice's login and it is
// silenced with an audit record; dave's is unexplained, so the on-call
// engineer is paged and acknowledges over the API. (Who is on call, and
// whether HR has them sick, depends on the hour the test runs; skip_if is
// covered by the interpreter tests.)
func TestExamplePlaybooksSilenceAndEscalate(t *testing.T) {
	dir := t.TempDir()
	d := startExamples(t, dir)
	defer d.Stop()
	read := func(f string) []byte { b, _ := os.ReadFile(filepath.Join("../examples/alerts", f)); return b }
	alice := post(t, d, string(read("new-country-login.json")))
	dave := post(t, d, string(read("new-country-login-unexplained.json")))

	got := verdict(t, d, alice[0].Runs[0].WorkflowID, 20*time.Second)
	if got.Verdict != workflows.VerdictSilenced {
		t.Fatalf("alice: %+v", got)
	}
	audit, _ := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if !bytes.Contains(audit, []byte(`"silenced"`)) {
		t.Fatalf("no audit record of the silence:\n%s", audit)
	}

	id := dave[0].Runs[0].WorkflowID
	deadline := time.Now().Add(20 * time.Second)
	for {
		pages, _ := os.ReadFile(filepath.Join(dir, "page.jsonl"))
		if bytes.Contains(pages, []byte(id)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no page for %s:\n%s", id, pages)
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Post("http://"+d.APIAddr+"/api/ack/"+url.PathEscape(id), "application/json", bytes.NewBufferString(`{"by": "ella"}`))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ack: %v %v", resp, err)
	}
	resp.Body.Close()
	got = verdict(t, d, id, 20*time.Second)
	if got.Verdict != workflows.VerdictAcknowledged || got.Escalation.By != "ella" {
		t.Fatalf("dave: %+v", got)
	}
	if len(got.Escalation.Paged) == 0 || got.Escalation.Paged[0].Tier != 1 {
		t.Fatalf("pages: %+v", got.Escalation.Paged)
	}
}

// An alert id or dedup key longer than Temporal accepts as an ID still
// starts a run (under a shortened, stable workflow ID), and does not hold
// up the alerts after it.
func TestLongAlertIDsStart(t *testing.T) {
	d := startDev(t, "")
	defer d.Stop()
	long := strings.Repeat("x", 1200)
	alerts := `[{"id": "` + long + `", "type": "test.slow", "user": "dora"},
		{"id": "l2", "type": "test.slow", "user": "` + long + `"},
		{"id": "l3", "type": "test.slow", "user": "erin"}]`
	res := post(t, d, alerts)
	for _, a := range res {
		if a.Status != runner.AlertAccepted || len(a.Runs) != 1 || a.Runs[0].RunID == "" || len(a.Runs[0].WorkflowID) > 200 {
			t.Fatalf("%.40s: %+v", a.ID, a)
		}
	}
	again := post(t, d, alerts)
	if r := again[1].Runs[0]; r.WorkflowID != res[1].Runs[0].WorkflowID || r.RunID != res[1].Runs[0].RunID || r.Alerts != 1 {
		t.Fatalf("resent alert: %+v, want the same run counted once (%+v)", r, res[1].Runs[0])
	}
}

// With no worker polling, an alert is answered within the update wait:
// accepted and pending, its run persisted and found by its workflow ID.
func TestAlertIsPendingWithoutWorker(t *testing.T) {
	d := startDev(t, "")
	defer d.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := runner.Start(ctx, d.Client, runner.Config{
		Playbooks: []string{"testdata/playbooks"}, APIAddr: "127.0.0.1:0", TaskQueue: "nobody-polls",
		API:     runner.APILimits{UpdateWait: time.Second},
		Plugins: host.Config{Builtins: builtin.Names(), Executable: soarBin}, Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	start := time.Now()
	res := post(t, &runner.Dev{Process: p}, `{"id": "p1", "type": "test.slow", "user": "fred"}`)
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("answered after %s", el)
	}
	run := res[0].Runs[0]
	if res[0].Status != runner.AlertAccepted || !run.Pending || run.RunID == "" {
		t.Fatalf("%+v", res[0])
	}
	desc, err := d.Client.DescribeWorkflowExecution(ctx, run.WorkflowID, run.RunID)
	if err != nil || desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("run not persisted: %v %v", desc, err)
	}
}

// An ack naming an earlier run of a workflow ID is refused once a newer run
// is open under it, so it cannot acknowledge the newer incident.
func TestAckTargetsItsRun(t *testing.T) {
	d := startDev(t, "")
	defer d.Stop()
	first := post(t, d, `{"id": "r1", "type": "test.slow", "user": "gina"}`)[0].Runs[0]
	verdict(t, d, first.WorkflowID, 20*time.Second)
	second := post(t, d, `{"id": "r2", "type": "test.slow", "user": "gina"}`)[0].Runs[0]
	if second.WorkflowID != first.WorkflowID || second.RunID == first.RunID {
		t.Fatalf("want a new run under %s: %+v", first.WorkflowID, second)
	}
	ack := func(body string) int {
		resp, err := http.Post("http://"+d.APIAddr+"/api/ack/"+url.PathEscape(first.WorkflowID), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := ack(`{"by": "ella", "run_id": "` + first.RunID + `"}`); code != http.StatusNotFound {
		t.Fatalf("ack for the finished run: %d, want 404", code)
	}
	if code := ack(`{"by": "ella", "run_id": "` + second.RunID + `"}`); code != http.StatusAccepted {
		t.Fatalf("ack for the open run: %d, want 202", code)
	}
	if code := ack(`{"by": 7}`); code != http.StatusBadRequest {
		t.Fatalf("ack without a string by: %d, want 400", code)
	}
}
