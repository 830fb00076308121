package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
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
	// secretVars are the environment variables the config file's secrets
	// were read from; like SecretEnv's, they never reach a plugin process.
	secretVars []string

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
