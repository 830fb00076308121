package host

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

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

// discoverDir adds the plugins of dir. The directory is trusted instead of
// a checksum, so it and every plugin in it must be changeable only by root
// or the user soar runs as, and a plugin must be the file itself, not a
// symbolic link to one elsewhere whose permissions nobody checked.
func discoverDir(dir string, found map[string]source) error {
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("read plugin directory: %w", err)
	}
	if err := trusted(dir, info); err != nil {
		return fmt.Errorf("plugin directory: %w; refusing to run its plugins", err)
	}
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
		info, err := os.Lstat(path)
		if err != nil {
			return fmt.Errorf("plugin directory: %w", err)
		}
		if info.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("plugin %s: %s is a symbolic link; refusing to run it (copy the binary into the directory, or register the target in the config file with its sha256)", name, path)
		}
		if !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			continue
		}
		if err := trusted(path, info); err != nil {
			return fmt.Errorf("plugin %s: %w; refusing to run it", name, err)
		}
		found[name] = source{name: name, kind: "dir", path: path}
	}
	return nil
}

// trusted checks that only root or this process's user can change path:
// not writable by group or others, and owned by one of the two.
func trusted(path string, info os.FileInfo) error {
	if info.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by group or others", path)
	}
	if uid, ok := fileOwner(info); ok && uid != 0 && uid != os.Geteuid() {
		return fmt.Errorf("%s is owned by uid %d, neither root nor the user soar runs as (uid %d)", path, uid, os.Geteuid())
	}
	return nil
}
