package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/soar-dev/soar/runner"
)

func newAlertCmd() *cobra.Command {
	var (
		api     string
		wait    bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "alert FILE|-",
		Short: "Send an alert (or a JSON array of alerts) to the soar API",
		Example: `  soar alert examples/alerts/new-country-login.json --wait
  echo '{"type":"login.new_country","user":"alice","source_ip":"81.2.69.142"}' | soar alert -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := readInput(cmd, args[0])
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			var resp struct {
				Alerts []runner.AlertResult `json:"alerts"`
			}
			// A 503 still lists which alerts were handled: print them too.
			callErr := apiCall(ctx, http.MethodPost, api+"/api/alerts", body, &resp)
			out := cmd.OutOrStdout()
			var rejected int
			for _, a := range resp.Alerts {
				switch a.Status {
				case runner.AlertUnmatched:
					fmt.Fprintf(out, "alert %s (%s): no playbook matches\n", a.ID, a.Type)
				case runner.AlertRejected:
					rejected++
					fmt.Fprintf(out, "alert %s: rejected: %s\n", a.ID, a.Error)
				case runner.AlertRetry:
					fmt.Fprintf(out, "alert %s: not accepted, send it again\n", a.ID)
				}
				for _, r := range a.Runs {
					if r.Error != "" {
						continue
					}
					how := "started"
					switch {
					case r.Duplicate:
						how = "already handled by"
					case r.Pending:
						how = "accepted (no worker has taken it yet) by"
					case r.Attached && !r.Counted:
						how = "attached (not counted: the run holds its maximum of alerts) to"
					case r.Attached:
						how = fmt.Sprintf("attached (%d alerts) to", r.Alerts)
					}
					fmt.Fprintf(out, "alert %s: %s %s\n", a.ID, how, r.WorkflowID)
					if wait && callErr == nil {
						st, err := waitVerdict(ctx, api, r.WorkflowID)
						if err != nil {
							return err
						}
						fmt.Fprintf(out, "  verdict: %s — %s\n", st.Result.Verdict, st.Result.Reason)
					}
				}
			}
			if callErr != nil {
				return callErr
			}
			if rejected > 0 {
				return fmt.Errorf("%d alert(s) rejected", rejected)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&api, "api", envOr("SOAR_API", "http://127.0.0.1:8080"), "soar API base URL ($SOAR_API)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for each run's verdict")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long")
	return cmd
}

func readInput(cmd *cobra.Command, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(cmd.InOrStdin())
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read alert: %w", err)
	}
	return b, nil
}

// apiCall does one JSON request and decodes the answer, turning API errors
// into Go errors with the API's own message.
func apiCall(ctx context.Context, method, u string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("soar API: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("soar API: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error   string   `json:"error"`
			Details []string `json:"details"`
		}
		_ = json.Unmarshal(data, &e)
		if e.Error == "" {
			e.Error = string(data)
		}
		for _, d := range e.Details {
			e.Error += "\n  " + d
		}
		_ = json.Unmarshal(data, out) // what the answer says besides the error
		return fmt.Errorf("soar API %s: %s", resp.Status, e.Error)
	}
	return json.Unmarshal(data, out)
}

// waitVerdict polls the run until it has a result. Short polls, not one long
// one: a single long poll has been seen to miss a completion.
func waitVerdict(ctx context.Context, api, workflowID string) (*runner.RunStatus, error) {
	for {
		var st runner.RunStatus
		if err := apiCall(ctx, http.MethodGet, api+"/api/runs/"+url.PathEscape(workflowID), nil, &st); err != nil {
			return nil, err
		}
		if st.Result != nil {
			return &st, nil
		}
		if st.Status != "running" {
			return nil, fmt.Errorf("run %s ended %s without a verdict", workflowID, st.Status)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s: %w", workflowID, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
