package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/host"
	"github.com/soar-dev/soar/plugins/sdk"
)

// The test binary doubles as the plugin: the host launches it exactly as it
// launches `soar plugin serve NAME` (or a directory plugin soar-plugin-NAME),
// and TestMain serves the test plugin when go-plugin's cookie says so. No
// separate build is needed, and every test runs real plugin processes.
func TestMain(m *testing.M) {
	if os.Getenv(plugins.Handshake.MagicCookieKey) == plugins.Handshake.MagicCookieValue {
		sdk.Serve(testPlugin(pluginNameFromArgs()))
		os.Exit(0)
	}
	if os.Getenv("SOAR_HOST_TEST_ROLE") == "host" {
		os.Exit(runHostForKillTest())
	}
	os.Exit(m.Run())
}

// self is this test binary, which serves the built-in "test" plugin.
func self() string {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return exe
}

func pluginNameFromArgs() string {
	if len(os.Args) == 4 && os.Args[1] == "plugin" && os.Args[2] == "serve" {
		return os.Args[3]
	}
	return strings.TrimPrefix(filepath.Base(os.Args[0]), "soar-plugin-")
}

// runHostForKillTest starts a host, prints its plugin's pid and waits to be
// killed.
func runHostForKillTest() int {
	h, err := host.New(context.Background(), host.Config{Builtins: []string{"test"}, Executable: self()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(h.Status()[0].PID)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	<-ctx.Done() // the test kills us with SIGKILL long before
	return 0
}

type echoIn struct {
	Text string `json:"text"`
}

type echoOut struct {
	Text string `json:"text"`
	PID  int    `json:"pid"`
}

type sleepIn struct {
	MS int `json:"ms" jsonschema:"minimum=0"`
}

type bigIn struct {
	Bytes int `json:"bytes" jsonschema:"minimum=0"`
}

type logIn struct {
	Message string `json:"message"`
}

type settings struct {
	Config  string            `json:"config"`
	Secrets map[string]string `json:"secrets"`
}

type calls struct {
	Handled int64 `json:"handled"`
}

// strictConfig is the config of the test plugin when it is served as
// "strict"; as "test" it takes no config schema.
type strictConfig struct {
	Region string `json:"region" jsonschema:"enum=eu,enum=us"`
}

// testPlugin has one action per behaviour the host must cope with.
func testPlugin(name string) *sdk.Plugin {
	var handled atomic.Int64
	var config any
	if name == "strict" {
		config = strictConfig{}
	}
	p := &sdk.Plugin{
		Config:  config,
		Name:    name,
		Version: "0.0.1",
		Actions: []sdk.Action{
			sdk.NewAction("echo", "Echo text and the serving pid", func(_ context.Context, _ sdk.Call, in echoIn) (echoOut, error) {
				handled.Add(1)
				return echoOut{Text: in.Text, PID: os.Getpid()}, nil
			}),
			sdk.NewAction("calls", "How many echo calls reached the handler", func(context.Context, sdk.Call, struct{}) (calls, error) {
				return calls{Handled: handled.Load()}, nil
			}),
			sdk.NewAction("sleep", "Sleep, honouring the deadline", func(ctx context.Context, _ sdk.Call, in sleepIn) (string, error) {
				select {
				case <-time.After(time.Duration(in.MS) * time.Millisecond):
					return "slept", nil
				case <-ctx.Done():
					return "", ctx.Err()
				}
			}),
			sdk.NewAction("big", "Return that many bytes", func(_ context.Context, _ sdk.Call, in bigIn) (string, error) {
				return strings.Repeat("x", in.Bytes), nil
			}),
			sdk.NewAction("log", "Log through every channel", func(_ context.Context, c sdk.Call, in logIn) (struct{}, error) {
				c.Logger.Info(in.Message, "via", "slog")
				fmt.Println(in.Message + " via stdout")
				fmt.Fprintln(os.Stderr, in.Message+" via stderr")
				return struct{}{}, nil
			}),
			sdk.NewAction("settings", "Return the config and secrets the call carried", func(_ context.Context, c sdk.Call, _ struct{}) (settings, error) {
				return settings{Config: string(c.Config), Secrets: c.Secrets}, nil
			}),
			sdk.NewAction("page", "Pretend to page someone", func(_ context.Context, c sdk.Call, _ struct{}) (string, error) {
				return c.IdempotencyKey, nil
			}, sdk.SideEffect()),
			sdk.NewAction("fail", "Fail quoting the token secret, as a careless plugin might", func(_ context.Context, c sdk.Call, _ struct{}) (struct{}, error) {
				token := c.Secrets["token"]
				details, _ := json.Marshal(map[string]any{"token": token, "retry_after_seconds": 3})
				return struct{}{}, &plugins.Error{Kind: plugins.Permanent, Message: "vendor refused token " + token, Details: details}
			}),
		},
	}
	if strings.HasPrefix(name, "env") {
		p.Actions = append(p.Actions, sdk.NewAction("env", "Return the process environment", func(context.Context, sdk.Call, struct{}) ([]string, error) {
			return os.Environ(), nil
		}))
	}
	return p
}
