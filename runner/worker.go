package runner

import (
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/soar-dev/soar/playbooks"
	"github.com/soar-dev/soar/plugins/host"
	"github.com/soar-dev/soar/workflows"
)

// WorkerConfig configures a soar worker.
type WorkerConfig struct {
	Client    client.Client
	TaskQueue string
	Plugins   *host.Host
	Env       *playbooks.Env
	// LocalLookups runs read-only plugin actions (manifest side_effect:
	// false) as local activities: faster, one fewer round trip per lookup.
	LocalLookups bool
	Escalation   workflows.EscalationActions
}

// NewWorker registers the interpreter and the plugin activity; the caller
// starts and stops it.
func NewWorker(cfg WorkerConfig) (worker.Worker, error) {
	if cfg.TaskQueue == "" {
		cfg.TaskQueue = workflows.TaskQueue
	}
	if cfg.Client == nil || cfg.Plugins == nil || cfg.Env == nil {
		return nil, fmt.Errorf("worker needs a Temporal client, a plugin host and a CEL environment")
	}
	interp := &workflows.Interpreter{
		// No catalog: the API validated the source before starting the run, and
		// a plugin missing here must fail its step (and escalate), not the task.
		Cache:      playbooks.NewCache(cfg.Env, nil, 256),
		Escalation: cfg.Escalation,
	}
	if cfg.LocalLookups {
		interp.LocalActivities = readOnlyActions(cfg.Plugins)
	}
	w := worker.New(cfg.Client, cfg.TaskQueue, workerOptions())
	w.RegisterWorkflowWithOptions(interp.Run, workflow.RegisterOptions{Name: workflows.WorkflowType})
	acts := &workflows.Activities{Invoker: cfg.Plugins}
	w.RegisterActivityWithOptions(acts.Invoke, activity.RegisterOptions{Name: workflows.InvokeActivity})
	return w, nil
}

// readOnlyActions lists the actions whose manifests declare no side effect.
func readOnlyActions(cat playbooks.Catalog) map[string]bool {
	out := map[string]bool{}
	for _, name := range cat.PluginNames() {
		p, _ := cat.Plugin(name)
		for action, spec := range p.Actions {
			if !spec.SideEffect {
				out[name+"."+action] = true
			}
		}
	}
	return out
}

// workerOptions polls with more goroutines than the SDK's default of two per
// task type: a triage run is many short tasks, and with two pollers the
// worker idles between them while tasks wait on the server.
func workerOptions() worker.Options {
	return worker.Options{
		MaxConcurrentWorkflowTaskPollers: 8,
		MaxConcurrentActivityTaskPollers: 8,
	}
}
