package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/soar-dev/soar/playbooks"
	"github.com/soar-dev/soar/plugins"
)

// Invoker calls plugin actions; the plugin host implements it.
type Invoker interface {
	Invoke(ctx context.Context, plugin, action string, input json.RawMessage, idempotencyKey string) (json.RawMessage, error)
}

// InvokeRequest is the input of InvokeActivity.
type InvokeRequest struct {
	Plugin string         `json:"plugin"`
	Action string         `json:"action"`
	Input  map[string]any `json:"input"`
	// Key is stable across retries and resets of the same step, so a
	// plugin with side effects acts once.
	Key string `json:"idempotency_key"`
}

// Activities are the worker's activities.
type Activities struct {
	Invoker Invoker
}

// Invoke is InvokeActivity: one plugin call. Plugin failures come back as
// application errors typed by their kind; permanent and invalid_input ones
// are not retried.
func (a *Activities) Invoke(ctx context.Context, req InvokeRequest) (any, error) {
	input, err := json.Marshal(req.Input)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("encode input: "+err.Error(), string(plugins.InvalidInput), err)
	}
	out, err := a.Invoker.Invoke(ctx, req.Plugin, req.Action, input, req.Key)
	if err != nil {
		kind := plugins.KindOf(err)
		opts := temporal.ApplicationErrorOptions{NonRetryable: kind != plugins.Retryable, Cause: err}
		// A vendor that said when to come back (429/503 Retry-After) is
		// retried then, not on the step's own backoff.
		if wait, ok := plugins.RetryAfter(err); ok && kind == plugins.Retryable {
			opts.NextRetryDelay = wait
		}
		return nil, temporal.NewApplicationErrorWithOptions(err.Error(), string(kind), opts)
	}
	var v any
	if len(out) > 0 {
		if err := json.Unmarshal(out, &v); err != nil {
			return nil, temporal.NewNonRetryableApplicationError("plugin output is not JSON: "+err.Error(), string(plugins.Permanent), err)
		}
	}
	return v, nil
}

// Defaults for plugin steps that do not say.
const (
	DefaultTimeout     = 30 * time.Second
	defaultAttempts    = 3
	defaultInterval    = time.Second
	defaultBackoff     = 2.0
	defaultMaxInterval = time.Minute
)

func retryPolicy(r *playbooks.Retry) *temporal.RetryPolicy {
	p := &temporal.RetryPolicy{
		InitialInterval:        defaultInterval,
		BackoffCoefficient:     defaultBackoff,
		MaximumInterval:        defaultMaxInterval,
		MaximumAttempts:        defaultAttempts,
		NonRetryableErrorTypes: []string{string(plugins.Permanent), string(plugins.InvalidInput)},
	}
	if r != nil {
		if r.MaxAttempts > 0 {
			p.MaximumAttempts = int32(r.MaxAttempts)
		}
		if r.InitialInterval > 0 {
			p.InitialInterval = r.InitialInterval
		}
		if r.Backoff >= 1 {
			p.BackoffCoefficient = r.Backoff
		}
		if r.MaxInterval > 0 {
			p.MaximumInterval = r.MaxInterval
		}
	}
	return p
}

// callOptions are how one plugin call is run.
type callOptions struct {
	timeout time.Duration    // per attempt; 0 means DefaultTimeout
	retry   *playbooks.Retry // nil means the defaults
	// persist, when set, retries a retryable failure without an attempt
	// limit for this long in all: pages must not give up after three
	// tries while a pager has a short outage.
	persist time.Duration
	summary string // labels the activity in the UI timeline
}

// call runs one plugin action from workflow code and decodes its output.
func (r *run) call(ctx workflow.Context, req InvokeRequest, o callOptions) (any, error) {
	if o.timeout <= 0 {
		o.timeout = DefaultTimeout
	}
	policy := retryPolicy(o.retry)
	var total time.Duration
	if o.persist > 0 {
		policy.MaximumAttempts = 0
		total = o.persist
	}
	var fut workflow.Future
	if r.local[req.Plugin+"."+req.Action] {
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout:    o.timeout,
			ScheduleToCloseTimeout: total,
			RetryPolicy:            policy,
			Summary:                o.summary,
		})
		fut = workflow.ExecuteLocalActivity(lctx, InvokeActivity, req)
	} else {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout:    o.timeout,
			ScheduleToCloseTimeout: total,
			RetryPolicy:            policy,
			Summary:                o.summary,
		})
		fut = workflow.ExecuteActivity(actx, InvokeActivity, req)
	}
	var out any
	err := fut.Get(ctx, &out)
	return out, err
}

// uses runs a plugin step.
func (r *run) uses(ctx workflow.Context, s *playbooks.Step, u *playbooks.Uses, sc *scope) error {
	input := map[string]any{}
	if u.With != nil {
		v, err := r.c.RenderValue(u.With, r.activation(ctx, sc))
		if err != nil {
			return err
		}
		input = v.(map[string]any)
	}
	req := InvokeRequest{Plugin: u.Plugin, Action: u.Action, Input: input, Key: r.key(sc.path + s.ID)}
	out, err := r.call(ctx, req, callOptions{timeout: u.Timeout, retry: u.Retry, summary: s.Label() + ": " + u.Plugin + "." + u.Action})
	if err != nil {
		if u.OnError != "continue" {
			return err
		}
		sc.steps[s.ID] = map[string]any{"error": errorOutput(err)}
		return nil
	}
	if out == nil {
		out = map[string]any{}
	}
	sc.steps[s.ID] = out
	return nil
}

// errorOutput is steps.<id>.error after on_error: continue.
func errorOutput(err error) map[string]any {
	kind := "error"
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.Type() != "" {
		kind = ae.Type()
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		kind = "timeout"
	}
	return map[string]any{"type": kind, "message": rootMessage(err)}
}

func rootMessage(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Message()
	}
	return fmt.Sprint(err)
}
