package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/soar-dev/soar/plugins"
)

func TestRedactError(t *testing.T) {
	t.Parallel()
	r := redactor{"s3cr\"et-value", "hunter22"}
	shared := &plugins.Error{Kind: plugins.Retryable, Message: "hunter22 rejected", Details: json.RawMessage(`{"key":"s3cr\"et-value","hunter22":[1,"x hunter22"],"n":12345678901234567890}`)}
	for _, tc := range []struct {
		name string
		err  error
		want string
		is   error // errors.Is must still find it
	}{
		{"plugin error", fmt.Errorf("p.a: %w", shared), "p.a: retryable: [redacted] rejected", nil},
		{"plugin said", fmt.Errorf("p.a: %w", fmt.Errorf("call cut short: %w (plugin said: hunter22)", context.DeadlineExceeded)),
			"p.a: call cut short: context deadline exceeded (plugin said: [redacted])", context.DeadlineExceeded},
		{"joined", errors.Join(context.Canceled, errors.New("hunter22")), "context canceled\n[redacted]", context.Canceled},
		{"nothing secret", fmt.Errorf("p.a: %w", context.Canceled), "p.a: context canceled", context.Canceled},
	} {
		got := r.error(tc.err)
		if got.Error() != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if tc.is != nil && !errors.Is(got, tc.is) {
			t.Errorf("%s: errors.Is(%v) lost", tc.name, tc.is)
		}
	}

	var pe *plugins.Error
	if !errors.As(r.error(shared), &pe) || pe == shared {
		t.Fatalf("want a redacted copy, got %#v", pe)
	}
	if want := `{"[redacted]":[1,"x [redacted]"],"key":"[redacted]","n":12345678901234567890}`; string(pe.Details) != want {
		t.Errorf("details = %s, want %s", pe.Details, want)
	}
	if shared.Message != "hunter22 rejected" || !strings.Contains(string(shared.Details), "hunter22") {
		t.Errorf("the original was changed: %+v", shared)
	}

	clean := &plugins.Error{Kind: plugins.Permanent, Message: "fine", Details: json.RawMessage(`{ "spaced" : 1 }`)}
	if got := r.error(clean); got != clean {
		t.Errorf("an error without secrets was copied: %v", got)
	}
	if got := r.json(json.RawMessage(`not json hunter22`)); string(got) != "not json [redacted]" {
		t.Errorf("non-JSON details = %s", got)
	}
	if got := redactor(nil).error(shared); got != shared {
		t.Errorf("no secrets: %v", got)
	}
}
