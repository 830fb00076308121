package host

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestCutShort covers the race TestCallTimeout can only hit now and then:
// gRPC failing a call with DeadlineExceeded before ctx.Err() is set.
func TestCutShort(t *testing.T) {
	t.Parallel()
	live := context.Background()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want error // nil: not the caller's doing
	}{
		{"no error", cancelled, nil, nil},
		{"deadline status before ctx knows", live, status.Error(codes.DeadlineExceeded, "stream terminated by RST_STREAM"), context.DeadlineExceeded},
		{"canceled status, ctx live", live, status.Error(codes.Canceled, "grpc: the client connection is closing"), nil},
		{"transport failure", live, status.Error(codes.Unavailable, "EOF"), nil},
		{"caller cancelled", cancelled, status.Error(codes.Canceled, "context canceled"), context.Canceled},
		{"caller cancelled, other status", cancelled, status.Error(codes.Unavailable, "EOF"), context.Canceled},
	} {
		got := cutShort(tc.ctx, tc.err)
		switch {
		case tc.want == nil && got != nil:
			t.Errorf("%s: cutShort = %v, want nil", tc.name, got)
		case tc.want != nil && !errors.Is(got, tc.want):
			t.Errorf("%s: cutShort = %v, want it to wrap %v", tc.name, got, tc.want)
		}
	}
}
