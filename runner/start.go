package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/soar-dev/soar/workflows"
)

// accept routes one alert and starts or attaches its runs. A run Temporal
// rejects for good is reported in the result and the alert's other runs
// still start; any other error is returned, for the client to retry.
func (a *API) accept(ctx context.Context, alert map[string]any) (AlertResult, error) {
	id := AlertID(alert)
	res := AlertResult{ID: id, Type: alert["type"].(string), Status: AlertAccepted, Matched: []string{}, Runs: []RunResult{}}
	matches := a.Library.Route(alert, id, time.Now())
	if len(matches) == 0 {
		res.Status, res.Unmatched = AlertUnmatched, true
		a.Logger.Warn("no playbook matches the alert", "alert", id, "type", res.Type)
		return res, nil
	}
	var rejected []string
	for _, m := range matches {
		res.Matched = append(res.Matched, m.Playbook.Name)
		run, err := a.start(ctx, m, alert, id)
		if err != nil && permanent(err) {
			a.Logger.Error("Temporal rejected the run; resending the alert will not help", "alert", id, "playbook", m.Playbook.Name, "err", err)
			run.Error = err.Error()
			rejected = append(rejected, fmt.Sprintf("playbook %s: %v", m.Playbook.Name, err))
		} else if err != nil {
			return res, err
		}
		res.Runs = append(res.Runs, run)
	}
	if len(rejected) > 0 {
		res.Status, res.Error = AlertRejected, strings.Join(rejected, "; ")
	}
	return res, nil
}

// permanent reports whether Temporal refused a start or an attachment for
// a reason in the request itself (an invalid argument, an update the
// workflow's validator rejects), which no retry changes. Anything else,
// including errors not recognised here, is treated as passing: the client
// retries, so no alert is dropped on a guess.
func permanent(err error) bool {
	var invalid *serviceerror.InvalidArgument
	var app *temporal.ApplicationError
	switch {
	case errors.As(err, &invalid):
		return true
	case errors.As(err, &app):
		return !isFinishing(err)
	}
	return status.Code(err) == codes.InvalidArgument
}

// maxIDLength bounds the workflow and update IDs the API sends. Temporal
// refuses longer IDs than its limit (1,000 bytes by default, often less),
// and an alert's id or dedup key comes from outside.
const maxIDLength = 200

// shortID returns id unchanged when it is at most maxIDLength bytes, and
// otherwise a readable prefix of it followed by a SHA-256 of the whole, so
// the same long id always maps to the same short one.
func shortID(id string) string {
	if len(id) <= maxIDLength {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	suffix := "~" + hex.EncodeToString(sum[:16])
	n := maxIDLength - len(suffix)
	for n > 0 && !utf8.RuneStart(id[n]) {
		n--
	}
	return id[:n] + suffix
}

// start starts the run for a match, or attaches the alert to the open run
// with the same workflow ID, in one call (update-with-start). It returns
// once a worker has counted the alert, or, past UpdateWait, once
// confirmStart has found the run persisted.
func (a *API) start(ctx context.Context, m Match, alert map[string]any, id string) (RunResult, error) {
	in := m.RunInput(alert, id)
	out := RunResult{Playbook: m.Playbook.Name, WorkflowID: shortID(m.WorkflowID)}
	reuse := enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
	if m.PerAlert {
		reuse = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	}
	for attempt := 0; ; attempt++ {
		op := a.Client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
			ID:                       out.WorkflowID,
			TaskQueue:                a.TaskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
			WorkflowIDReusePolicy:    reuse,
			StaticSummary:            summaryOf(alert, m),
			StaticDetails:            fmt.Sprintf("playbook **%s** v%d (`%s`)", m.Playbook.Name, m.Playbook.Version, m.Playbook.Hash[:12]),
			TypedSearchAttributes:    startAttributes(alert, m),
		}, workflows.WorkflowType, in)
		uctx, cancel := context.WithTimeout(ctx, a.UpdateWait)
		h, err := a.Client.UpdateWithStartWorkflow(uctx, client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: op,
			UpdateOptions: client.UpdateWorkflowOptions{
				UpdateID:   shortID(id), // the same alert never counts twice
				UpdateName: workflows.AlertUpdate,
				// The run needs only the id to count the alert; the alert
				// itself travels in the start, so history does not grow by
				// the playbook source for every attached alert.
				Args:         []any{workflows.RunInput{AlertID: id}},
				WaitForStage: client.WorkflowUpdateStageCompleted,
			},
		})
		if err == nil {
			err = h.Get(uctx, &out.Alerts)
		}
		// The SDK's own deadline may fire just before uctx's.
		var timeout *client.WorkflowUpdateServiceTimeoutOrCanceledError
		waited := err != nil && ctx.Err() == nil &&
			(uctx.Err() != nil || errors.As(err, &timeout) || errors.Is(err, context.DeadlineExceeded))
		cancel()
		if waited {
			return a.confirmStart(ctx, op, out)
		}
		var already *serviceerror.WorkflowExecutionAlreadyStarted
		switch {
		case err == nil:
			run, rerr := op.Get(ctx)
			if rerr != nil {
				return out, rerr
			}
			out.RunID, out.Attached, out.Counted = run.GetRunID(), out.Alerts > 1, true
			return out, nil
		case isLimitReached(err):
			// The run holds as many alerts as it counts; this one joined
			// it (the run handles the incident) without being counted.
			run, rerr := op.Get(ctx)
			if rerr != nil {
				return out, rerr
			}
			out.RunID, out.Attached = run.GetRunID(), true
			return out, nil
		case errors.As(err, &already):
			// A per-alert run for this alert exists and has finished.
			out.Duplicate, out.RunID = true, already.RunId
			return out, nil
		case isFinishing(err) && attempt < 5:
			// The open run was finishing as the alert arrived; once it
			// closes, the next attempt starts a new run.
			time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
		default:
			return out, err
		}
	}
}

// confirmStart answers an alert whose update outlived UpdateWait: accepted
// and pending when the run is persisted, a passing error otherwise. The
// start operation knows the run once Temporal has answered the start;
// Temporal holds that answer back while the update waits for a worker, so
// an open run under the workflow ID confirms it too.
func (a *API) confirmStart(ctx context.Context, op client.WithStartWorkflowOperation, out RunResult) (RunResult, error) {
	out.Pending = true
	// The start's answer, when Temporal gave it, is there already.
	gctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	run, err := op.Get(gctx)
	cancel()
	if err == nil {
		out.RunID = run.GetRunID()
		return out, nil
	}
	ctx, cancel = context.WithTimeout(ctx, confirmWait)
	defer cancel()
	desc, derr := a.Client.DescribeWorkflowExecution(ctx, out.WorkflowID, "")
	if derr == nil && desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		out.RunID = desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
		return out, nil
	}
	if derr == nil {
		derr = errors.New("no open run")
	}
	return RunResult{}, fmt.Errorf("no worker counted the alert within %s and its run is not confirmed (%v): %w",
		a.UpdateWait, derr, context.DeadlineExceeded)
}

// isLimitReached reports whether the run refused to count another alert
// because it holds as many as it may.
func isLimitReached(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && strings.Contains(ae.Error(), "alert limit reached")
}

func isFinishing(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && strings.Contains(ae.Error(), "run has finished")
}

func summaryOf(alert map[string]any, m Match) string {
	if t, ok := alert["title"].(string); ok && t != "" {
		return t
	}
	s := fmt.Sprintf("%v", alert["type"])
	if u, ok := alert["user"].(string); ok {
		s += " for " + u
	}
	return s + " (" + m.Playbook.Name + ")"
}

func startAttributes(alert map[string]any, m Match) temporal.SearchAttributes {
	up := []temporal.SearchAttributeUpdate{
		workflows.AttrPlaybook.ValueSet(m.Playbook.Name),
		workflows.AttrPlaybookVersion.ValueSet(int64(m.Playbook.Version)),
		workflows.AttrAlertType.ValueSet(fmt.Sprint(alert["type"])),
	}
	if u, ok := alert["user"].(string); ok && u != "" {
		up = append(up, workflows.AttrUser.ValueSet(u))
	}
	return temporal.NewSearchAttributes(up...)
}
