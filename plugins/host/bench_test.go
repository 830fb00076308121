package host_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/soar-dev/soar/plugins/host"
	"github.com/soar-dev/soar/plugins/pluginpb"
	"github.com/soar-dev/soar/plugins/sdk"
)

var echoInput = json.RawMessage(`{"text":"81.2.69.142"}`)

// reportLatency times every iteration and reports p50 and p99 beside ns/op,
// since the goal for the process boundary is stated as a median.
func reportLatency(b *testing.B, op func() error) {
	b.Helper()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100])/1e3, "p99-µs")
}

// BenchmarkInvoke is a full round trip: host → gRPC over AutoMTLS → plugin
// process → schema check → handler → back.
func BenchmarkInvoke(b *testing.B) {
	h := newHost(b, host.Config{})
	ctx := context.Background()
	reportLatency(b, func() error {
		_, err := h.Invoke(ctx, "test", "echo", echoInput, "k")
		return err
	})
}

// BenchmarkInvokeParallel measures throughput with concurrent callers, as a
// worker running many activities would.
func BenchmarkInvokeParallel(b *testing.B) {
	h := newHost(b, host.Config{})
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Invoke(ctx, "test", "echo", echoInput, ""); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkInProcessServer calls the same plugin's sdk.Server in process:
// schema validation and JSON, no process boundary.
func BenchmarkInProcessServer(b *testing.B) {
	s, err := sdk.NewServer(testPlugin("test"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := &pluginpb.InvokeRequest{Action: "echo", Input: echoInput, IdempotencyKey: "k"}
	reportLatency(b, func() error {
		_, err := s.Invoke(ctx, req)
		return err
	})
}

// BenchmarkInProcessHandler is the handler alone: unmarshal, call, marshal.
func BenchmarkInProcessHandler(b *testing.B) {
	handler := func(_ context.Context, _ sdk.Call, in echoIn) (echoOut, error) { return echoOut{Text: in.Text}, nil }
	ctx := context.Background()
	reportLatency(b, func() error {
		var in echoIn
		if err := json.Unmarshal(echoInput, &in); err != nil {
			return err
		}
		out, err := handler(ctx, sdk.Call{}, in)
		if err != nil {
			return err
		}
		_, err = json.Marshal(out)
		return err
	})
}

// BenchmarkColdStart starts a host with one plugin (fork/exec, handshake,
// AutoMTLS, Describe), makes one call and shuts it down.
func BenchmarkColdStart(b *testing.B) {
	ctx := context.Background()
	reportLatency(b, func() error {
		h, err := host.New(ctx, host.Config{Builtins: []string{"test"}, Executable: self(), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return err
		}
		defer h.Close()
		_, err = h.Invoke(ctx, "test", "echo", echoInput, "")
		return err
	})
}
