package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
)

func TestKindOf(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]Kind{
		nil:                "",
		errors.New("boom"): Retryable,
		context.Canceled:   Permanent,
		fmt.Errorf("x: %w", context.DeadlineExceeded):                  Retryable,
		fmt.Errorf("geoip.lookup: %w", Errorf(InvalidInput, "bad ip")): InvalidInput,
		Errorf(Permanent, "no config"):                                 Permanent,
	} {
		if got := KindOf(err); got != want {
			t.Errorf("KindOf(%v) = %q, want %q", err, got, want)
		}
	}
}

func TestErrorProtoRoundTrip(t *testing.T) {
	t.Parallel()
	for _, k := range []Kind{Retryable, Permanent, InvalidInput} {
		in := &Error{Kind: k, Message: "m", Details: []byte(`{"a":1}`)}
		out := ErrorFromProto(ErrorToProto(fmt.Errorf("wrapped: %w", in)))
		if out.Kind != k || out.Message != "m" || string(out.Details) != `{"a":1}` {
			t.Errorf("round trip of %v = %v", in, out)
		}
	}
	if got := ErrorFromProto(ErrorToProto(errors.New("plain"))); got.Kind != Retryable || got.Message != "plain" {
		t.Errorf("plain error = %v", got)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	withDetails := func(details string) error {
		return fmt.Errorf("page.send: %w", &Error{Kind: Retryable, Message: "busy", Details: json.RawMessage(details)})
	}
	for _, tc := range []struct {
		name string
		err  error
		want time.Duration
		ok   bool
	}{
		{"whole seconds", withDetails(`{"retry_after_seconds":30}`), 30 * time.Second, true},
		{"fraction, among other keys", withDetails(`{"vendor":"x","retry_after_seconds":1.5}`), 1500 * time.Millisecond, true},
		{"huge", withDetails(`{"retry_after_seconds":1e300}`), time.Duration(math.MaxInt64), true},
		{"zero", withDetails(`{"retry_after_seconds":0}`), 0, false},
		{"negative", withDetails(`{"retry_after_seconds":-5}`), 0, false},
		{"string", withDetails(`{"retry_after_seconds":"30"}`), 0, false},
		{"null", withDetails(`{"retry_after_seconds":null}`), 0, false},
		{"absent", withDetails(`{"other":1}`), 0, false},
		{"problem list", withDetails(`[{"at":"/ip"}]`), 0, false},
		{"not JSON", withDetails(`oops`), 0, false},
		{"no details", Errorf(Retryable, "busy"), 0, false},
		{"not a plugin error", errors.New(`{"retry_after_seconds":30}`), 0, false},
		{"nil", nil, 0, false},
	} {
		got, ok := RetryAfter(tc.err)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: RetryAfter = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
