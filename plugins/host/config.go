package host

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config says which plugins a Host runs and how. The zero value (plus
// Builtins) is a working configuration.
type Config struct {
	// Builtins are plugin names served by Executable itself, launched as
	// `Executable plugin serve NAME` in their own process.
	Builtins []string
	// Executable serves the built-ins; empty means os.Executable(), which
	// must then be the soar binary (a test binary is refused).
	Executable string
	// BuiltinArgs returns the arguments that make Executable serve a
	// built-in; nil means {"plugin", "serve", name}.
	BuiltinArgs func(name string) []string
	// Dir is a plugin directory: every executable file in it named
	// "soar-plugin-NAME" is the plugin NAME. Empty means none.
	Dir string
	// Plugins holds per-plugin settings by name. An entry with a Path adds
	// (or replaces) a plugin binary; an entry without one only configures a
	// built-in or directory plugin.
	Plugins map[string]PluginConfig
	// Logger receives the host's records and the plugins' stdout, stderr
	// and structured logs. Nil means slog.Default().
	Logger *slog.Logger
	// MaxOutputBytes bounds one action's output; larger outputs fail the
	// call. Zero means 1 MiB.
	MaxOutputBytes int
	// CallTimeout applies to calls whose context has no deadline. Zero means
	// 30 s.
	CallTimeout time.Duration
	// StartTimeout bounds a plugin's start-up handshake. Zero means 10 s.
	StartTimeout time.Duration
	Restart      RestartPolicy
}

// PluginConfig configures one plugin. It is also the shape of an entry under
// `plugins:` in a host config file.
type PluginConfig struct {
	// Path of an external plugin binary, relative to the config file.
	Path string   `yaml:"path" json:"path,omitempty"`
	Args []string `yaml:"args" json:"args,omitempty"`
	// SHA256 is the hex checksum the binary must have; the host refuses to
	// start a binary that does not match. Required for an external Path.
	SHA256 string `yaml:"sha256" json:"sha256,omitempty"`
	// Config is handed to the plugin on every call, as JSON.
	Config map[string]any `yaml:"config" json:"config,omitempty"`
	// SecretEnv maps a secret name to the environment variable holding it;
	// values are read once, when the host starts.
	SecretEnv map[string]string `yaml:"secret_env" json:"secret_env,omitempty"`
	// Secrets are values given directly (tests, embedding); they win over
	// SecretEnv.
	Secrets map[string]string `yaml:"-" json:"-"`
}

// RestartPolicy bounds how often a crashed plugin is restarted.
type RestartPolicy struct {
	// MaxRestarts within Window; one more crash marks the plugin down
	// until the host restarts. Zero means 5.
	MaxRestarts int
	// Window is the sliding window for MaxRestarts. Zero means 1 minute.
	Window time.Duration
	// Backoff is the delay before the second restart within the window; it
	// doubles for each further one, up to MaxBackoff. The first restart is
	// immediate. Zero means 100 ms.
	Backoff time.Duration
	// MaxBackoff caps the delay. Zero means 5 s.
	MaxBackoff time.Duration
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.BuiltinArgs == nil {
		c.BuiltinArgs = func(name string) []string { return []string{"plugin", "serve", name} }
	}
	if c.MaxOutputBytes == 0 {
		c.MaxOutputBytes = 1 << 20
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = 30 * time.Second
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 10 * time.Second
	}
	r := &c.Restart
	if r.MaxRestarts == 0 {
		r.MaxRestarts = 5
	}
	if r.Window == 0 {
		r.Window = time.Minute
	}
	if r.Backoff == 0 {
		r.Backoff = 100 * time.Millisecond
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = 5 * time.Second
	}
	return c
}

// delay is the wait before the restart that follows n recent restarts.
func (r RestartPolicy) delay(n int) time.Duration {
	if n == 0 {
		return 0
	}
	d := r.Backoff
	for i := 1; i < n && d < r.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.MaxBackoff)
}

// FileConfig is the YAML (or JSON) host config file read by LoadConfigFile:
//
//	dir: /opt/soar/plugins
//	plugins:
//	  geoip:
//	    config: {city_db: /var/lib/GeoIP/GeoLite2-City.mmdb}
//	  blocklist:
//	    path: /opt/soar/plugins/soar-plugin-blocklist
//	    sha256: 3f1c…
//	    config: {file: /etc/soar/blocklist.txt}
type FileConfig struct {
	Dir     string                  `yaml:"dir"`
	Plugins map[string]PluginConfig `yaml:"plugins"`
}

// LoadConfigFile reads a FileConfig and applies it to c: relative paths are
// resolved against the file's directory.
func LoadConfigFile(path string, c *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read plugin config: %w", err)
	}
	var fc FileConfig
	if err := yaml.Unmarshal(data, &fc); err != nil {
		return fmt.Errorf("parse plugin config %s: %w", path, err)
	}
	base := filepath.Dir(path)
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	if fc.Dir != "" {
		c.Dir = abs(fc.Dir)
	}
	if c.Plugins == nil {
		c.Plugins = map[string]PluginConfig{}
	}
	for name, pc := range fc.Plugins {
		pc.Path = abs(pc.Path)
		c.Plugins[name] = pc
	}
	return nil
}

// source is one plugin to launch, after discovery.
type source struct {
	name   string
	kind   string // "builtin", "dir" or "config"
	path   string
	args   []string
	sha256 []byte // nil: not verified
	config json.RawMessage
	secret map[string]string
}

// discover lists the plugins to run. A config entry with a Path wins over a
// directory binary of the same name, which wins over a built-in.
func (c Config) discover() ([]source, error) {
	found := map[string]source{}
	exe := c.Executable
	if exe == "" && len(c.Builtins) > 0 {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find own executable for built-in plugins: %w", err)
		}
		// A test binary would run its tests again instead of serving a
		// plugin, and those tests may start hosts of their own.
		if strings.HasSuffix(filepath.Base(exe), ".test") {
			return nil, fmt.Errorf("built-in plugins are served by the soar binary, but this is a test binary (%s): build soar and set Config.Executable", exe)
		}
	}
	for _, name := range c.Builtins {
		found[name] = source{name: name, kind: "builtin", path: exe, args: c.BuiltinArgs(name)}
	}
	if c.Dir != "" {
		if err := discoverDir(c.Dir, found); err != nil {
			return nil, err
		}
	}
	for name, pc := range c.Plugins {
		if pc.Path == "" {
			continue
		}
		if pc.SHA256 == "" {
			return nil, fmt.Errorf("plugin %s: path %s has no sha256 checksum; add `sha256: $(sha256sum %s)`", name, pc.Path, pc.Path)
		}
		sum, err := hex.DecodeString(strings.TrimSpace(pc.SHA256))
		if err != nil || len(sum) != 32 {
			return nil, fmt.Errorf("plugin %s: sha256 %q is not 64 hex digits", name, pc.SHA256)
		}
		found[name] = source{name: name, kind: "config", path: pc.Path, args: pc.Args, sha256: sum}
	}
	out := make([]source, 0, len(found))
	for name, s := range found {
		pc, ok := c.Plugins[name]
		if ok {
			if err := pc.resolve(&s); err != nil {
				return nil, fmt.Errorf("plugin %s: %w", name, err)
			}
		}
		out = append(out, s)
	}
	for name, pc := range c.Plugins {
		if _, ok := found[name]; !ok && pc.Path == "" {
			return nil, fmt.Errorf("plugin %s is configured but is neither built in nor in the plugin directory", name)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func (pc PluginConfig) resolve(s *source) error {
	if len(pc.Config) > 0 {
		data, err := json.Marshal(pc.Config)
		if err != nil {
			return fmt.Errorf("encode config: %w", err)
		}
		s.config = data
	}
	s.secret = map[string]string{}
	for name, env := range pc.SecretEnv {
		v, ok := os.LookupEnv(env)
		if !ok {
			return fmt.Errorf("secret %s: environment variable %s is not set", name, env)
		}
		s.secret[name] = v
	}
	for name, v := range pc.Secrets {
		s.secret[name] = v
	}
	return nil
}

const dirPrefix = "soar-plugin-"

func discoverDir(dir string, found map[string]source) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read plugin directory: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), dirPrefix)
		if !ok || name == "" || strings.Contains(name, ".") {
			continue // README, checksum files and the like
		}
		path := filepath.Join(dir, e.Name())
		info, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("plugin directory: %w", err)
		}
		if !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			continue
		}
		if info.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("plugin %s: %s is writable by group or others; refusing to run it", name, path)
		}
		found[name] = source{name: name, kind: "dir", path: path}
	}
	return nil
}
