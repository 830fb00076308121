package host

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// hclogAdapter routes go-plugin's logging, which includes every structured
// record a plugin writes to its stderr, into the host's slog logger.
type hclogAdapter struct {
	logger *slog.Logger
	name   string
	args   []any
}

var _ hclog.Logger = (*hclogAdapter)(nil)

func newHCLogAdapter(l *slog.Logger) hclog.Logger { return &hclogAdapter{logger: l} }

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace, hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	lvl := slogLevel(level)
	ctx := context.Background()
	if !a.logger.Enabled(ctx, lvl) {
		return
	}
	all := append(append([]any{}, a.args...), args...)
	if a.name != "" {
		all = append(all, "source", a.name)
	}
	a.logger.Log(ctx, lvl, msg, all...)
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *hclogAdapter) enabled(l hclog.Level) bool {
	return a.logger.Enabled(context.Background(), slogLevel(l))
}

func (a *hclogAdapter) IsTrace() bool { return a.enabled(hclog.Trace) }
func (a *hclogAdapter) IsDebug() bool { return a.enabled(hclog.Debug) }
func (a *hclogAdapter) IsInfo() bool  { return a.enabled(hclog.Info) }
func (a *hclogAdapter) IsWarn() bool  { return a.enabled(hclog.Warn) }
func (a *hclogAdapter) IsError() bool { return a.enabled(hclog.Error) }

func (a *hclogAdapter) ImpliedArgs() []any { return a.args }

func (a *hclogAdapter) With(args ...any) hclog.Logger {
	return &hclogAdapter{logger: a.logger, name: a.name, args: append(append([]any{}, a.args...), args...)}
}

func (a *hclogAdapter) Name() string { return a.name }

func (a *hclogAdapter) Named(name string) hclog.Logger {
	n := name
	if a.name != "" {
		n = a.name + "." + name
	}
	return &hclogAdapter{logger: a.logger, name: n, args: a.args}
}

func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	return &hclogAdapter{logger: a.logger, name: name, args: a.args}
}

// SetLevel is a no-op: the slog handler decides what is logged.
func (a *hclogAdapter) SetLevel(hclog.Level) {}

func (a *hclogAdapter) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if a.enabled(l) {
			return l
		}
	}
	return hclog.Off
}

func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

func (a *hclogAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return &lineLogger{logger: a.logger, level: slog.LevelInfo}
}

// lineLogger turns a byte stream (a plugin's stdout or unstructured stderr)
// into one log record per line.
type lineLogger struct {
	logger *slog.Logger
	level  slog.Level
	attrs  []any
	// secrets are redacted before a line too long to wait for is cut
	// (the logger's handler redacts each record, but cannot see a secret
	// split across two of them).
	secrets redactor

	mu  sync.Mutex
	buf []byte
}

// maxLine is how much of a line without a newline is buffered before it is
// logged in pieces.
const maxLine = 64 << 10

func (w *lineLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if line := bytes.TrimRight(w.buf[:i], "\r"); len(line) > 0 {
			w.logger.Log(context.Background(), w.level, string(line), w.attrs...)
		}
		w.buf = w.buf[i+1:]
	}
	// A plugin printing without newlines must not grow this without bound.
	// Every secret wholly in the buffer is redacted first; the last bytes,
	// which may be the start of one still arriving, stay for the next piece.
	if len(w.buf) > maxLine {
		s := w.secrets.redact(string(w.buf))
		keep := 0
		if len(w.secrets) > 0 {
			keep = min(len(w.secrets[0])-1, len(s)) // the longest secret comes first
		}
		w.logger.Log(context.Background(), w.level, s[:len(s)-keep], w.attrs...)
		w.buf = append(w.buf[:0], s[len(s)-keep:]...)
	}
	return len(p), nil
}
