package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/soar-dev/soar/workflows"
)

// RunStatus is GET /api/runs/{id}.
type RunStatus struct {
	WorkflowID string            `json:"workflow_id"`
	RunID      string            `json:"run_id"`
	Status     string            `json:"status"`
	Result     *workflows.Result `json:"result,omitempty"`
	State      *workflows.State  `json:"state,omitempty"`
}

func (a *API) getRun(w http.ResponseWriter, r *http.Request) {
	// A query needs a worker: without one it would wait for ever.
	ctx, cancel := context.WithTimeout(r.Context(), a.UpdateWait)
	defer cancel()
	st, err := RunState(ctx, a.Client, r.PathValue("id"))
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			writeJSON(w, http.StatusNotFound, apiError{Error: "no run with workflow id " + r.PathValue("id")})
			return
		}
		writeJSON(w, http.StatusBadGateway, apiError{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// RunState describes the latest run of a workflow ID: its result when it has
// finished, its live state otherwise.
func RunState(ctx context.Context, c client.Client, id string) (*RunStatus, error) {
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return nil, err
	}
	info := desc.GetWorkflowExecutionInfo()
	st := &RunStatus{WorkflowID: id, RunID: info.GetExecution().GetRunId(),
		Status: strings.ToLower(strings.TrimPrefix(info.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_"))}
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		v, err := c.QueryWorkflow(ctx, id, st.RunID, workflows.StateQuery)
		if err != nil {
			return nil, err
		}
		st.State = &workflows.State{}
		if err := v.Get(st.State); err != nil {
			return nil, err
		}
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		st.Result = &workflows.Result{}
		if err := c.GetWorkflow(ctx, id, st.RunID).Get(ctx, st.Result); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// signal forwards an acknowledgement or a wait_for input to a run: the
// latest run of the workflow ID, or the run the body's run_id names, so an
// answer meant for an earlier incident never reaches a newer run.
func (a *API) signal(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body map[string]json.RawMessage
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, a.MaxBody)).Decode(&body); err != nil || body == nil {
			msg := "body must be a JSON object"
			if err != nil {
				msg = "malformed JSON: " + err.Error()
			}
			writeJSON(w, http.StatusBadRequest, apiError{Error: msg})
			return
		}
		payload, runID, err := signalPayload(name, body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
			return
		}
		id := r.PathValue("id")
		ctx, cancel := context.WithTimeout(r.Context(), a.UpdateWait)
		defer cancel()
		if err := a.Client.SignalWorkflow(ctx, id, runID, name, payload); err != nil {
			var nf *serviceerror.NotFound
			var invalid *serviceerror.InvalidArgument
			switch {
			case errors.As(err, &nf) && runID != "":
				writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("run %s of workflow id %s is not open", runID, id)})
			case errors.As(err, &nf):
				writeJSON(w, http.StatusNotFound, apiError{Error: "no open run with workflow id " + id})
			case errors.As(err, &invalid):
				writeJSON(w, http.StatusBadRequest, apiError{Error: invalid.Error()})
			default:
				writeJSON(w, http.StatusBadGateway, apiError{Error: err.Error()})
			}
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "sent"})
	}
}

// signalPayload checks the body of an ack or input request field by field
// and returns the signal to send and the run it targets ("" for the latest).
func signalPayload(name string, body map[string]json.RawMessage) (any, string, error) {
	str := func(field string, required bool) (string, error) {
		raw, ok := body[field]
		delete(body, field)
		var s string
		if !ok || string(raw) == "null" {
			if required {
				return "", fmt.Errorf("%s: missing; it must be a non-empty string", field)
			}
			return "", nil
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%s: must be a string, not %s", field, raw)
		}
		if required && strings.TrimSpace(s) == "" {
			return "", fmt.Errorf("%s: must be a non-empty string", field)
		}
		return s, nil
	}
	runID, err := str("run_id", false)
	if err != nil {
		return nil, "", err
	}
	var payload any
	switch name {
	case workflows.AckSignal:
		var ack workflows.Ack
		if ack.By, err = str("by", true); err != nil {
			return nil, "", fmt.Errorf("%w (who acknowledges)", err)
		}
		if ack.Note, err = str("note", false); err != nil {
			return nil, "", err
		}
		payload = ack
	case workflows.InputSignal:
		var in workflows.Input
		if in.Name, err = str("name", true); err != nil {
			return nil, "", fmt.Errorf("%w (which wait_for input this answers)", err)
		}
		if in.By, err = str("by", false); err != nil {
			return nil, "", err
		}
		if raw, ok := body["value"]; ok {
			delete(body, "value")
			if err := json.Unmarshal(raw, &in.Value); err != nil {
				return nil, "", fmt.Errorf("value: %w", err)
			}
		}
		payload = in
	}
	for field := range body {
		return nil, "", fmt.Errorf("%s: unknown field", field)
	}
	return payload, runID, nil
}
