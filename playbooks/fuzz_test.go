package playbooks_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/soar-dev/soar/playbooks"
)

// FuzzParseAndCompile feeds arbitrary YAML through every stage. Whatever the
// input, the result is either a compiled playbook or errors with positions
// inside the file; never a panic.
func FuzzParseAndCompile(f *testing.F) {
	for _, glob := range []string{"../examples/playbooks/*.yaml", "testdata/invalid/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	env, err := playbooks.NewEnv()
	if err != nil {
		f.Fatal(err)
	}
	cat, err := playbooks.ReadCatalogFile("testdata/catalog.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		c, errs := playbooks.ParseAndCompile("f.yaml", src, env, cat)
		if c == nil && len(errs) == 0 {
			t.Fatal("no playbook and no errors")
		}
		if c != nil && len(errs) > 0 {
			t.Fatalf("a compiled playbook with errors: %v", errs)
		}
		for _, e := range errs {
			if e.Pos.File != "f.yaml" || e.Pos.Line < 0 || e.Msg == "" {
				t.Fatalf("error without a usable position or message: %+v", e)
			}
		}
	})
}

// FuzzTemplate checks interpolation on arbitrary strings: no panics, and
// any expression found compiles or reports an error at a position.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"plain", "${{ alert.user }}", "a ${{ x }} b ${{ y }}", "${{ {'a': {'b': 1}} }}", "${{ '}}' }}",
		"${{", "${{ }}", "${{ \"unterminated }}", "${{ '''x}}''' }}", "$${{ a }}}", "${{ a }}${{ b }}",
	} {
		f.Add(s)
	}
	env, err := playbooks.NewEnv()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		src := []byte("name: t\non: { type: x }\nsteps:\n  - escalate:\n      policy: p\n      page:\n        summary: " + quoteYAML(s) + "\n")
		_, errs := playbooks.ParseAndCompile("t.yaml", src, env, nil)
		for _, e := range errs {
			if e.Pos.Line < 1 && e.Pos.File != "t.yaml" {
				t.Fatalf("error without position: %+v", e)
			}
		}
	})
}

func quoteYAML(s string) string {
	out := []byte{'"'}
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			out = append(out, '\\', byte(r))
		case r < 0x20 || r == 0x7f || r == 0xfffd:
			out = append(out, []byte("\\u00"+string("0123456789abcdef"[(r>>4)&0xf])+string("0123456789abcdef"[r&0xf]))...)
		default:
			out = append(out, string(r)...)
		}
	}
	return string(append(out, '"'))
}
