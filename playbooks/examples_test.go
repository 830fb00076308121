package playbooks_test

import (
	"testing"

	"github.com/soar-dev/soar/playbooks"
)

func fixtureCatalog(t testing.TB) playbooks.Catalog {
	t.Helper()
	cat, err := playbooks.ReadCatalogFile("testdata/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func newEnv(t testing.TB) *playbooks.Env {
	t.Helper()
	env, err := playbooks.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// The examples are what the docs show; they must stay valid.
func TestExamplesValidate(t *testing.T) {
	t.Parallel()
	compiled, errs, err := playbooks.Load(newEnv(t), fixtureCatalog(t), "../examples/playbooks")
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		t.Fatalf("examples have errors:\n%v", errs)
	}
	if len(compiled) < 4 {
		t.Fatalf("want at least 4 example playbooks, got %d", len(compiled))
	}
}
