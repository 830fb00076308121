package playbooks

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Files expands paths (files or directories, searched recursively) into the
// playbook files they hold: *.yaml and *.yml, sorted. A path that does not
// exist is an error; a directory with no playbooks is not.
func Files(paths ...string) ([]string, error) {
	var out []string
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("find playbooks: %w", err)
		}
		if !info.IsDir() {
			out = append(out, root)
			continue
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && isPlaybookFile(path) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("find playbooks in %s: %w", root, err)
		}
	}
	sort.Strings(out)
	return out, nil
}

func isPlaybookFile(path string) bool {
	ext := filepath.Ext(path)
	return ext == ".yaml" || ext == ".yml"
}

// Load reads, checks and compiles every playbook under paths. It returns
// the playbooks that compiled and all errors of all files, so one bad file
// does not hide problems in the others. Playbook names must be unique.
func Load(env *Env, cat Catalog, paths ...string) ([]*Compiled, ErrorList, error) {
	files, err := Files(paths...)
	if err != nil {
		return nil, nil, err
	}
	var (
		out  []*Compiled
		errs ErrorList
	)
	names := map[string]string{}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, fmt.Errorf("read playbook: %w", err)
		}
		c, perrs := ParseAndCompile(file, src, env, cat)
		errs = append(errs, perrs...)
		if c == nil {
			continue
		}
		if first, dup := names[c.Name]; dup {
			errs.add(c.Pos, "playbook name %q is already used by %s", c.Name, first)
			continue
		}
		names[c.Name] = file
		out = append(out, c)
	}
	return out, errs.Sorted(), nil
}

// ParseAndCompile parses and compiles one playbook source.
func ParseAndCompile(file string, src []byte, env *Env, cat Catalog) (*Compiled, ErrorList) {
	pb, errs := Parse(file, src)
	if len(errs) > 0 {
		// Still type-check what parsed, so one run reports CEL errors too.
		c := newChecker(env, cat)
		c.playbook(pb)
		return nil, append(errs, c.errs...).Sorted()
	}
	return Compile(pb, env, cat)
}
