package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soar-dev/soar/playbooks"
)

// Editing a playbook while soar runs changes what new alerts start; a broken
// edit is reported and leaves the previous version in force.
func TestLibraryReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "p.yaml")
	write := func(src string, mtime time.Time) {
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(file, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	write("name: p\non: { type: a }\nsteps:\n  - silence: one\n", now)
	env, err := playbooks.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	lib, err := LoadLibrary(env, nil, nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	v1 := lib.Playbooks()[0].Hash
	if changed, err := lib.Reload(); changed || err != nil {
		t.Fatalf("reload without edits: %v %v", changed, err)
	}
	write("name: p\non: { type: a }\nsteps:\n  - silence: two\n", now.Add(time.Second))
	if changed, err := lib.Reload(); !changed || err != nil || lib.Playbooks()[0].Hash == v1 {
		t.Fatalf("reload after an edit: %v %v", changed, err)
	}
	v2 := lib.Playbooks()[0].Hash
	write("name: p\non: { type: a }\nsteps:\n  - silence: three\n    timout: 1s\n", now.Add(2*time.Second))
	_, err = lib.Reload()
	if err == nil || !strings.Contains(err.Error(), "p.yaml:5:5: unknown field") {
		t.Fatalf("broken edit: %v", err)
	}
	if lib.Playbooks()[0].Hash != v2 {
		t.Fatal("a broken edit replaced the playbook in force")
	}
}
