package host

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

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
			pc.Secrets, pc.secretVars = l.secrets(field+".secrets", v)
		},
	})
	for secret := range pc.SecretEnv {
		if _, dup := pc.Secrets[secret]; dup {
			l.errorf(n, field, "secret %s is set both in secrets and in secret_env; keep one", secret)
		}
	}
	return pc
}

// secrets reads every secret of a plugin's secrets: mapping, and returns
// the environment variables it read them from.
func (l *configLoader) secrets(field string, n *yaml.Node) (out map[string]string, vars []string) {
	out = map[string]string{}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return out, nil
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(n, field, "want a mapping of secret name to {env: VARIABLE} or {file: path}")
		return out, nil
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
			vars = append(vars, ref.Env)
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
	return out, vars
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
