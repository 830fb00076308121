package sdk

import (
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/soar-dev/soar/plugins"
)

// Serve runs p as a plugin process and returns when the host shuts it down.
// It must be called from main; a plugin process serves exactly one plugin.
// If the host process dies without shutting the plugin down, the plugin
// exits on its own within about a second.
func Serve(p *Plugin) {
	// go-plugin replaces os.Stderr with a pipe once serving; the original
	// stderr is what the host parses as the plugin's structured log.
	stderr := os.Stderr
	logger := NewLogger(stderr, slog.LevelInfo)
	s, err := NewServer(p, logger)
	if err != nil {
		// Structured, so the host logs it as an error, not as stray output.
		logger.Error("cannot serve plugin", "error", err)
		os.Exit(1)
	}
	go exitWithParent(logger, time.Second)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugins.Handshake,
		Plugins:         plugins.PluginSet(s),
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: p.Name, Output: stderr, Level: hclog.Warn, JSONFormat: true,
		}),
	})
}

// exitWithParent ends the process once it is re-parented, which happens when
// the host dies (even by SIGKILL). The host also asks Linux to kill plugins
// with it (Pdeathsig), but that follows the thread that started the process,
// and third-party hosts or other systems may not do it at all.
//
// The host names itself in plugins.HostPIDEnv: reading our parent at start-up would
// race with a host that dies while the plugin is still starting.
func exitWithParent(logger *slog.Logger, every time.Duration) {
	parent := os.Getppid()
	if pid, err := strconv.Atoi(os.Getenv(plugins.HostPIDEnv)); err == nil && pid > 0 {
		parent = pid
	}
	for range time.Tick(every) {
		if os.Getppid() != parent {
			logger.Warn("host process is gone; exiting", "host_pid", parent)
			os.Exit(2)
		}
	}
}

// NewLogger returns a logger writing JSON lines in the shape go-plugin's
// host parses (@level, @message, @timestamp), so that a plugin's records
// arrive in the host's log as structured records with their level and
// attributes intact.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				return slog.String("@level", hclogLevel(a.Value.Any().(slog.Level)))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	}))
}

func hclogLevel(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	default:
		return "error"
	}
}
