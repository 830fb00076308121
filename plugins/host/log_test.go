package host

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// A plugin printing a very long line without a newline is logged in
// pieces; a secret straddling a cut must not reach the log in halves,
// which the per-record redaction could not recognise.
func TestLongLineCutDoesNotSplitSecret(t *testing.T) {
	t.Parallel()
	const secret = "TOPSECRET-0123456789"
	secrets := redactor{secret, "short-sec"}
	for _, at := range []int{maxLine - 3, maxLine - len(secret) + 1, maxLine, maxLine + 1} {
		var out bytes.Buffer
		logger := slog.New(&redactHandler{inner: slog.NewTextHandler(&out, nil), secrets: secrets})
		w := &lineLogger{logger: logger, level: slog.LevelInfo, secrets: secrets}
		stream := strings.Repeat("x", at) + secret + strings.Repeat("y", 100) + "\n"
		// Arrive in two writes split inside the secret, as a pipe may.
		cut := at + 4
		w.Write([]byte(stream[:cut]))
		w.Write([]byte(stream[cut:]))
		got := out.String()
		if strings.Contains(got, secret[:4]) || strings.Contains(got, secret[4:]) || !strings.Contains(got, "[redacted]") {
			t.Errorf("secret at %d: log holds a piece of it or no [redacted]:\n%.200s…%s", at, got, got[max(0, len(got)-300):])
		}
		if n := strings.Count(got, "x") + strings.Count(got, "y"); n != at+100 {
			t.Errorf("secret at %d: %d of %d other bytes logged", at, n, at+100)
		}
	}
}
