package runner

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/soar-dev/soar/playbooks"
	"github.com/soar-dev/soar/plugins/host"
	"github.com/soar-dev/soar/workflows"
)

// benchPlaybook is the auto-silence case the benchmark compares: two
// lookups and one audit write, then silence.
const benchPlaybook = `name: bench-auto-silence
on: { type: bench.login }
steps:
  - id: geo
    uses: geoip.lookup
    with: { ip: "${{ alert.source_ip }}" }
  - id: hr
    uses: hr.status
    with: { user: "${{ alert.user }}", at: "${{ alert.time }}" }
  - id: log
    uses: audit.record
    with: { verdict: silenced, reason: "benchmark", evidence: { country: "${{ steps.geo.country }}", hr: "${{ steps.hr.status }}" } }
  - silence: "${{ alert.user }} is ${{ steps.hr.status }}"
`

// handwritten is the same triage written directly against the SDK: the
// baseline the interpreter is measured against.
func handwritten(local bool) func(workflow.Context, workflows.RunInput) (string, error) {
	return func(ctx workflow.Context, in workflows.RunInput) (string, error) {
		key := workflow.GetInfo(ctx).WorkflowExecution.ID
		call := func(plugin, action string, input map[string]any, lookup bool) (any, error) {
			req := workflows.InvokeRequest{Plugin: plugin, Action: action, Input: input, Key: key + "/" + action}
			policy := &temporal.RetryPolicy{MaximumAttempts: 3}
			var out any
			if local && lookup {
				c := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: policy})
				return out, workflow.ExecuteLocalActivity(c, workflows.InvokeActivity, req).Get(ctx, &out)
			}
			c := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: policy})
			return out, workflow.ExecuteActivity(c, workflows.InvokeActivity, req).Get(ctx, &out)
		}
		geo, err := call("geoip", "lookup", map[string]any{"ip": in.Alert["source_ip"]}, true)
		if err != nil {
			return "", err
		}
		hr, err := call("hr", "status", map[string]any{"user": in.Alert["user"], "at": in.Alert["time"]}, true)
		if err != nil {
			return "", err
		}
		country := geo.(map[string]any)["country"]
		status := hr.(map[string]any)["status"]
		if _, err := call("audit", "record", map[string]any{"verdict": "silenced", "reason": "benchmark",
			"evidence": map[string]any{"country": country, "hr": status}}, false); err != nil {
			return "", err
		}
		return "silenced", nil
	}
}

// BenchConfig configures `soar bench`.
type BenchConfig struct {
	Plugins host.Config
	Rate    float64 // alerts per second in the latency phase
	Alerts  int     // alerts per latency phase
	Burst   int     // alerts in the throughput phase
	Logger  *slog.Logger
}

// BenchResult is one variant's figures.
type BenchResult struct {
	Variant      string
	P50, P99     time.Duration
	PerSecond    float64
	LatencyRuns  int
	ThroughputOK int
}

// Bench runs the interpreter and the hand-written workflow side by side on
// one embedded server, with regular and with local lookups, and returns
// latency at a fixed rate and sustained throughput for each.
func Bench(ctx context.Context, cfg BenchConfig) ([]BenchResult, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := StartDevServer(ctx, DevServerConfig{UIPort: -1, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	c, err := Dial(ctx, client.Options{HostPort: srv.Address}, cfg.Logger)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	cfg.Plugins.Logger = cfg.Logger
	plugins, err := host.New(ctx, cfg.Plugins)
	if err != nil {
		return nil, err
	}
	defer plugins.Close()
	env, err := playbooks.NewEnv()
	if err != nil {
		return nil, err
	}
	pb, errs := playbooks.ParseAndCompile("bench.yaml", []byte(benchPlaybook), env, plugins)
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	for _, local := range []bool{false, true} {
		queue := fmt.Sprintf("bench-local-%v", local)
		interp := &workflows.Interpreter{Cache: playbooks.NewCache(env, nil, 4)}
		if local {
			interp.LocalActivities = map[string]bool{"geoip.lookup": true, "hr.status": true}
		}
		w := worker.New(c, queue, workerOptions())
		w.RegisterWorkflowWithOptions(interp.Run, workflow.RegisterOptions{Name: workflows.WorkflowType})
		w.RegisterWorkflowWithOptions(handwritten(local), workflow.RegisterOptions{Name: "bench.handwritten"})
		w.RegisterActivityWithOptions((&workflows.Activities{Invoker: plugins}).Invoke, activity.RegisterOptions{Name: workflows.InvokeActivity})
		if err := w.Start(); err != nil {
			return nil, err
		}
		defer w.Stop()
	}
	in := func(i int) workflows.RunInput {
		return workflows.RunInput{
			Playbook: workflows.PlaybookSource{Name: pb.Name, Version: 1, File: pb.File, Source: benchPlaybook, Hash: pb.Hash},
			Alert:    map[string]any{"type": "bench.login", "user": "alice", "source_ip": "81.2.69.142", "time": "2026-12-08T03:00:00Z"},
			AlertID:  fmt.Sprint(i),
		}
	}
	var out []BenchResult
	// Interleave the variants so machine noise hits them alike.
	variants := []struct {
		name, wf string
		local    bool
	}{
		{"interpreter, activities", workflows.WorkflowType, false},
		{"hand-written, activities", "bench.handwritten", false},
		{"interpreter, local lookups", workflows.WorkflowType, true},
		{"hand-written, local lookups", "bench.handwritten", true},
	}
	for vi, v := range variants {
		queue := fmt.Sprintf("bench-local-%v", v.local)
		r := BenchResult{Variant: v.name}
		lat, err := benchPhase(ctx, c, queue, v.wf, fmt.Sprintf("lat-%d", vi), cfg.Alerts, cfg.Rate, in)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.name, err)
		}
		slices.Sort(lat)
		r.LatencyRuns, r.P50, r.P99 = len(lat), lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
		start := time.Now()
		done, err := benchPhase(ctx, c, queue, v.wf, fmt.Sprintf("tput-%d", vi), cfg.Burst, 0, in)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.name, err)
		}
		r.ThroughputOK = len(done)
		r.PerSecond = float64(len(done)) / time.Since(start).Seconds()
		out = append(out, r)
	}
	return out, nil
}

// benchPhase starts n workflows (at rate per second, or as fast as 32
// concurrent starters go when rate is 0) and returns each one's latency from
// just before its start call to its close time as Temporal recorded it.
func benchPhase(ctx context.Context, c client.Client, queue, wf, prefix string, n int, rate float64, in func(int) workflows.RunInput) ([]time.Duration, error) {
	starts := make([]time.Time, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	tick := time.Duration(0)
	if rate > 0 {
		tick = time.Duration(float64(time.Second) / rate)
	}
	begin := time.Now()
	for i := 0; i < n; i++ {
		if tick > 0 {
			time.Sleep(time.Until(begin.Add(time.Duration(i) * tick)))
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			starts[i] = time.Now()
			_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("%s-%d", prefix, i), TaskQueue: queue}, wf, in(i))
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	lat := make([]time.Duration, 0, n)
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; i < n; i++ {
		for {
			d, err := c.DescribeWorkflowExecution(ctx, fmt.Sprintf("%s-%d", prefix, i), "")
			if err != nil {
				return nil, err
			}
			info := d.GetWorkflowExecutionInfo()
			if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				lat = append(lat, info.GetCloseTime().AsTime().Sub(starts[i]))
				break
			}
			if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				return nil, fmt.Errorf("run %s-%d ended %s", prefix, i, info.GetStatus())
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("run %s-%d did not finish", prefix, i)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return lat, nil
}
