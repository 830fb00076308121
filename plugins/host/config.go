package host

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

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
	// Secrets are values: given directly (tests, embedding) or read by
	// LoadConfigFile from the `secrets:` references of a config file. They
	// win over SecretEnv, are handed to the plugin on every call, are never
	// marshalled, and are redacted from the host's log and errors.
	Secrets map[string]string `yaml:"-" json:"-"`

	// configAt is where Config was written, when it came from a file, so
	// that CheckPluginConfigs can point at the offending line.
	configAt *configOrigin
}

type configOrigin struct {
	file string
	node *yaml.Node
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

// redactor redacts every configured secret value.
func (c Config) redactor() redactor {
	var out redactor
	for _, pc := range c.Plugins {
		for _, v := range pc.Secrets {
			out = append(out, v)
		}
		for _, env := range pc.SecretEnv {
			if v := os.Getenv(env); v != "" {
				out = append(out, v)
			}
		}
	}
	out = slices.DeleteFunc(out, func(v string) bool { return len(v) < minRedacted })
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(out)
}

// minRedacted is the shortest secret value redacted: replacing "1" or "ab"
// everywhere would garble the log without protecting anything.
const minRedacted = 4

// redactHandler replaces secret values in a record's message and string
// attributes (a plugin's log lines arrive as such records) with
// [redacted].
type redactHandler struct {
	inner   slog.Handler
	secrets redactor
}

var _ slog.Handler = (*redactHandler)(nil)

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.secrets.redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.attr(a)
	}
	return &redactHandler{inner: h.inner.WithAttrs(red), secrets: h.secrets}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{inner: h.inner.WithGroup(name), secrets: h.secrets}
}

func (h *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.secrets.redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = h.attr(ga)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		// Only a value that actually held a secret loses its type.
		var text string
		switch x := v.Any().(type) {
		case error:
			text = x.Error()
		case fmt.Stringer:
			text = x.String()
		default:
			text = fmt.Sprint(x)
		}
		if red := h.secrets.redact(text); red != text {
			return slog.String(a.Key, red)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
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

// FileConfig is the YAML (or JSON) soar config file read by LoadConfigFile:
//
//	dir: /opt/soar/plugins
//	plugins:
//	  geoip:
//	    config: {city_db: /var/lib/GeoIP/GeoLite2-City.mmdb}
//	  page:
//	    config:
//	      backend: pagerduty
//	      outbox_file: state/page-outbox.jsonl   # relative to this file
//	    secrets:
//	      pagerduty_routing_key: {env: PAGERDUTY_ROUTING_KEY}
//	  blocklist:
//	    path: /opt/soar/plugins/soar-plugin-blocklist
//	    sha256: 3f1c…
//	    config: {file: /etc/soar/blocklist.txt}
//	    secrets:
//	      token: {file: /run/secrets/blocklist-token}
//
// In a plugin's config, a relative path is resolved against the config
// file's directory when its setting is named file, dir or path, or ends in
// _file, _dir, _path or _db (at any depth). Secrets name an environment
// variable or a file holding the value; both are read when the file is
// loaded, and a missing one is an error naming the file, line and setting.
// The older secret_env: {NAME: VAR} still works.
type FileConfig struct {
	Dir     string                  `yaml:"dir"`
	Plugins map[string]PluginConfig `yaml:"plugins"`
}

// SecretRef says where a secret's value comes from: exactly one of Env (an
// environment variable) or File (a file whose content, without trailing
// newlines, is the value; relative to the config file).
type SecretRef struct {
	Env  string `yaml:"env"`
	File string `yaml:"file"`
}

// LoadConfigFile reads a FileConfig and applies it to c: relative paths are
// resolved against the file's directory and secrets are read. Every problem
// is reported, each as file:line:column and the setting's path.
func LoadConfigFile(path string, c *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read soar config: %w", err)
	}
	fc, err := parseConfigFile(path, data)
	if err != nil {
		return err
	}
	if fc.Dir != "" {
		c.Dir = fc.Dir
	}
	if c.Plugins == nil {
		c.Plugins = map[string]PluginConfig{}
	}
	for name, pc := range fc.Plugins {
		c.Plugins[name] = pc
	}
	return nil
}

// configLoader parses one config file, collecting positioned errors.
type configLoader struct {
	path string
	base string
	errs []error
}

func (l *configLoader) errorf(n *yaml.Node, field, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	if n != nil {
		l.errs = append(l.errs, fmt.Errorf("%s:%d:%d: %s", l.path, n.Line, n.Column, msg))
		return
	}
	l.errs = append(l.errs, fmt.Errorf("%s: %s", l.path, msg))
}

func (l *configLoader) abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(l.base, p)
}

func parseConfigFile(path string, data []byte) (FileConfig, error) {
	l := &configLoader{path: path, base: filepath.Dir(path)}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return FileConfig{}, fmt.Errorf("parse soar config %s: %w", path, err)
	}
	fc := FileConfig{Plugins: map[string]PluginConfig{}}
	if len(doc.Content) == 0 {
		return fc, nil // an empty file configures nothing
	}
	root := doc.Content[0]
	l.mapping(root, "", map[string]func(k, v *yaml.Node){
		"dir": func(_, v *yaml.Node) {
			if l.decode(v, "dir", &fc.Dir) {
				fc.Dir = l.abs(fc.Dir)
			}
		},
		"plugins": func(_, v *yaml.Node) {
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				return
			}
			if v.Kind != yaml.MappingNode {
				l.errorf(v, "plugins", "want a mapping of plugin name to settings")
				return
			}
			for i := 0; i+1 < len(v.Content); i += 2 {
				name := v.Content[i].Value
				fc.Plugins[name] = l.plugin(name, v.Content[i+1])
			}
		},
	})
	if err := errors.Join(l.errs...); err != nil {
		return FileConfig{}, err
	}
	return fc, nil
}

// mapping calls the handler of each key of n, and reports unknown keys.
func (l *configLoader) mapping(n *yaml.Node, field string, handlers map[string]func(k, v *yaml.Node)) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(n, field, "want a mapping")
		return
	}
	known := slices.Sorted(maps.Keys(handlers))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := handlers[k.Value]
		if !ok {
			where := "at the top level"
			if field != "" {
				where = "in " + field
			}
			l.errorf(k, "", "unknown setting %q %s (known: %s)", k.Value, where, strings.Join(known, ", "))
			continue
		}
		h(k, v)
	}
}

var linePrefix = regexp.MustCompile(`^line \d+: `)

// decode decodes v into out, reporting a failure at v's position.
func (l *configLoader) decode(v *yaml.Node, field string, out any) bool {
	if err := v.Decode(out); err != nil {
		var te *yaml.TypeError
		msg := err.Error()
		if errors.As(err, &te) {
			// The position is already in front of the message.
			msgs := make([]string, len(te.Errors))
			for i, e := range te.Errors {
				msgs[i] = linePrefix.ReplaceAllString(e, "")
			}
			msg = strings.Join(msgs, "; ")
		}
		l.errorf(v, field, "%s", msg)
		return false
	}
	return true
}

func (l *configLoader) plugin(name string, n *yaml.Node) PluginConfig {
	var pc PluginConfig
	field := "plugins." + name
	l.mapping(n, field, map[string]func(k, v *yaml.Node){
		"path": func(_, v *yaml.Node) {
			if l.decode(v, field+".path", &pc.Path) {
				pc.Path = l.abs(pc.Path)
			}
		},
		"args":   func(_, v *yaml.Node) { l.decode(v, field+".args", &pc.Args) },
		"sha256": func(_, v *yaml.Node) { l.decode(v, field+".sha256", &pc.SHA256) },
		"config": func(_, v *yaml.Node) {
			if v.Kind != yaml.MappingNode && !(v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
				l.errorf(v, field+".config", "want a mapping of settings")
				return
			}
			if l.decode(v, field+".config", &pc.Config) {
				resolvePaths(pc.Config, l.abs)
				pc.configAt = &configOrigin{file: l.path, node: v}
			}
		},
		"secret_env": func(_, v *yaml.Node) { l.decode(v, field+".secret_env", &pc.SecretEnv) },
		"secrets": func(_, v *yaml.Node) {
			pc.Secrets = l.secrets(field+".secrets", v)
		},
	})
	for secret := range pc.SecretEnv {
		if _, dup := pc.Secrets[secret]; dup {
			l.errorf(n, field, "secret %s is set both in secrets and in secret_env; keep one", secret)
		}
	}
	return pc
}

// secrets reads every secret of a plugin's secrets: mapping.
func (l *configLoader) secrets(field string, n *yaml.Node) map[string]string {
	out := map[string]string{}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return out
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(n, field, "want a mapping of secret name to {env: VARIABLE} or {file: path}")
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, v := n.Content[i].Value, n.Content[i+1]
		f := field + "." + name
		var ref SecretRef
		if v.Kind != yaml.MappingNode {
			l.errorf(v, f, "want {env: VARIABLE} or {file: path}, not a value: secrets never go in the config file itself")
			continue
		}
		before := len(l.errs)
		ok := true
		l.mapping(v, f, map[string]func(k, v *yaml.Node){
			"env":  func(_, v *yaml.Node) { ok = l.decode(v, f+".env", &ref.Env) && ok },
			"file": func(_, v *yaml.Node) { ok = l.decode(v, f+".file", &ref.File) && ok },
		})
		switch {
		case !ok || len(l.errs) > before:
		case (ref.Env == "") == (ref.File == ""):
			l.errorf(v, f, "set exactly one of env and file")
		case ref.Env != "":
			val, set := os.LookupEnv(ref.Env)
			if !set || val == "" {
				l.errorf(v, f, "environment variable %s is not set", ref.Env)
				continue
			}
			out[name] = val
		default:
			path := l.abs(ref.File)
			data, err := os.ReadFile(path)
			if err != nil {
				// The error names the path, never the content.
				l.errorf(v, f, "read secret file: %v", err)
				continue
			}
			val := strings.TrimRight(string(data), "\r\n")
			if val == "" {
				l.errorf(v, f, "secret file %s is empty", path)
				continue
			}
			out[name] = val
		}
	}
	return out
}

// isPathSetting reports whether a config key names a file or directory.
func isPathSetting(key string) bool {
	switch key {
	case "file", "dir", "path":
		return true
	}
	for _, suffix := range []string{"_file", "_dir", "_path", "_db"} {
		if strings.HasSuffix(key, suffix) {
			return true
		}
	}
	return false
}

// resolvePaths makes the relative paths of path settings absolute, at any
// depth of the config.
func resolvePaths(m map[string]any, abs func(string) string) {
	for k, v := range m {
		switch v := v.(type) {
		case string:
			if isPathSetting(k) {
				m[k] = abs(v)
			}
		case map[string]any:
			resolvePaths(v, abs)
		case []any:
			for i, e := range v {
				switch e := e.(type) {
				case map[string]any:
					resolvePaths(e, abs)
				case string:
					if isPathSetting(k) {
						v[i] = abs(e)
					}
				}
			}
		}
	}
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

// CheckPluginConfigs validates each plugin's config against the config
// schema in its manifest and reports every problem at once, located in the
// config file when the config came from one:
//
//	soar.yaml:52:16: plugins.page.config.backend: value must be one of 'file', 'pagerduty', …
//
// The plugin checks its config on every call anyway; New calls this so
// that a host refuses a bad config at start-up, where it is cheap to fix.
func (c Config) CheckPluginConfigs(manifests []Manifest) error {
	var errs []error
	for _, m := range manifests {
		pc, ok := c.Plugins[m.Name]
		if !ok || len(pc.Config) == 0 || len(m.Config) == 0 {
			continue
		}
		schema, err := compileConfigSchema(m.Name, m.Config)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		doc, err := json.Marshal(pc.Config)
		if err != nil {
			errs = append(errs, fmt.Errorf("plugins.%s.config: %w", m.Name, err))
			continue
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
		if err != nil {
			errs = append(errs, fmt.Errorf("plugins.%s.config: %w", m.Name, err))
			continue
		}
		verr := schema.Validate(inst)
		var ve *jsonschema.ValidationError
		if verr == nil {
			continue
		}
		if !errors.As(verr, &ve) {
			errs = append(errs, fmt.Errorf("plugins.%s.config: %w", m.Name, verr))
			continue
		}
		for _, leaf := range schemaLeaves(ve) {
			field := "plugins." + m.Name + ".config"
			for _, t := range leaf.InstanceLocation {
				field += "." + t
			}
			msg := field + ": " + leaf.ErrorKind.LocalizedString(schemaPrinter)
			if pc.configAt != nil {
				loc, key := leaf.InstanceLocation, false
				if k, ok := leaf.ErrorKind.(*kind.AdditionalProperties); ok && len(k.Properties) > 0 {
					// Point at the unknown setting itself.
					loc, key = append(slices.Clip(loc), k.Properties[0]), true
				}
				n := nodeAt(pc.configAt.node, loc, key)
				msg = fmt.Sprintf("%s:%d:%d: %s", pc.configAt.file, n.Line, n.Column, msg)
			}
			errs = append(errs, errors.New(msg))
		}
	}
	return errors.Join(errs...)
}

var schemaPrinter = message.NewPrinter(language.English)

func compileConfigSchema(plugin string, schema json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("plugin %s: config schema: %w", plugin, err)
	}
	c := jsonschema.NewCompiler()
	url := "mem:///" + plugin + ".config.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("plugin %s: config schema: %w", plugin, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: config schema: %w", plugin, err)
	}
	return s, nil
}

// schemaLeaves are the errors that say which value failed and why; the
// inner nodes only say that something below them did.
func schemaLeaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, schemaLeaves(c)...)
	}
	return out
}

// nodeAt follows a JSON pointer's tokens through a YAML node, stopping at
// the deepest node that exists (a missing property points at its parent).
// With keyLast, the last token's mapping key is returned instead of its
// value.
func nodeAt(n *yaml.Node, tokens []string, keyLast bool) *yaml.Node {
	for j, t := range tokens {
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == t {
					next = n.Content[i+1]
					if keyLast && j == len(tokens)-1 {
						next = n.Content[i]
					}
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return n
}
