package plugins

import (
	"context"
	"errors"
	"fmt"
	"testing"
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
