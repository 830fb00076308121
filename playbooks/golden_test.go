package playbooks_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/soar-dev/soar/playbooks"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Every file under testdata/invalid is a broken playbook; its .golden file
// holds the exact errors, so a change in wording or position shows in review.
func TestInvalidPlaybooksGolden(t *testing.T) {
	t.Parallel()
	env, cat := newEnv(t), fixtureCatalog(t)
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Fatalf("want at least 25 invalid playbooks, have %d", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, errs := playbooks.ParseAndCompile(file, src, env, cat)
			if len(errs) == 0 {
				t.Fatal("no errors for an invalid playbook")
			}
			got := errs.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./playbooks -run Golden -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("errors differ from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}
