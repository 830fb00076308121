package runner

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// serverLogger sends the embedded Temporal server's logs to slog.
type serverLogger struct {
	l *slog.Logger
	// stopping, once set, keeps only errors: while the server stops, its
	// internal workers log a burst of expected connection warnings.
	stopping *atomic.Bool
}

var (
	_ log.Logger      = serverLogger{}
	_ log.SLogWrapper = serverLogger{}
)

func (s serverLogger) emit(level slog.Level, msg string, tags []tag.Tag) {
	if s.stopping != nil && s.stopping.Load() && level < slog.LevelError {
		return
	}
	if !s.l.Enabled(context.Background(), level) {
		return
	}
	attrs := make([]slog.Attr, 0, len(tags))
	for _, t := range tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	s.l.LogAttrs(context.Background(), level, msg, attrs...)
}

func (s serverLogger) Debug(msg string, tags ...tag.Tag) { s.emit(slog.LevelDebug, msg, tags) }
func (s serverLogger) Info(msg string, tags ...tag.Tag)  { s.emit(slog.LevelInfo, msg, tags) }
func (s serverLogger) Warn(msg string, tags ...tag.Tag)  { s.emit(slog.LevelWarn, msg, tags) }
func (s serverLogger) Error(msg string, tags ...tag.Tag) { s.emit(slog.LevelError, msg, tags) }

// The server's panic and fatal levels are logged, never acted on: an
// embedded server must not exit the process it lives in.
func (s serverLogger) DPanic(msg string, tags ...tag.Tag) { s.emit(slog.LevelError, msg, tags) }
func (s serverLogger) Panic(msg string, tags ...tag.Tag)  { s.emit(slog.LevelError, msg, tags) }
func (s serverLogger) Fatal(msg string, tags ...tag.Tag)  { s.emit(slog.LevelError, msg, tags) }

// SLog lets the server reuse the slog logger directly.
func (s serverLogger) SLog() *slog.Logger { return s.l }

// NewLogger is soar's process logger: text to w, debug when verbose. The
// embedded Temporal server and the SDK log a great deal at info level; below
// warning they are shown only when verbose.
func NewLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(quietTemporal{Handler: slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}), verbose: verbose})
}

type quietTemporal struct {
	slog.Handler
	verbose, temporal bool
}

func (q quietTemporal) Enabled(ctx context.Context, l slog.Level) bool {
	if q.temporal && !q.verbose && l < slog.LevelWarn {
		return false
	}
	return q.Handler.Enabled(ctx, l)
}

func (q quietTemporal) WithAttrs(attrs []slog.Attr) slog.Handler {
	t := q.temporal
	for _, a := range attrs {
		if a.Key == "component" && strings.HasPrefix(a.Value.String(), "temporal") {
			t = true
		}
	}
	return quietTemporal{Handler: q.Handler.WithAttrs(attrs), verbose: q.verbose, temporal: t}
}

func (q quietTemporal) WithGroup(name string) slog.Handler {
	return quietTemporal{Handler: q.Handler.WithGroup(name), verbose: q.verbose, temporal: q.temporal}
}
