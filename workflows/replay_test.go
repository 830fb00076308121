package workflows_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/soar-dev/soar/playbooks"
	"github.com/soar-dev/soar/workflows"
)

// Histories recorded from real runs (see runner's record helper) must replay
// against the current interpreter. A failure here means a change would break
// runs that are open in production: guard it with workflow.GetVersion.
func TestReplayRecordedHistories(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/histories/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories")
	}
	env, err := playbooks.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	interp := &workflows.Interpreter{Cache: playbooks.NewCache(env, nil, 16)}
	logger := log.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for _, f := range files {
		r := worker.NewWorkflowReplayer()
		r.RegisterWorkflowWithOptions(interp.Run, workflow.RegisterOptions{Name: workflows.WorkflowType})
		if err := r.ReplayWorkflowHistoryFromJSONFile(logger, f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
