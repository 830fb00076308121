package playbooks_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

var exampleMarker = regexp.MustCompile("(?m)^<!-- example: (\\S+) lines (\\d+)-(\\d+) -->\n```yaml\n")

// Every YAML block in the reference is an excerpt of a real example file,
// so the docs cannot show a playbook that does not validate.
func TestDocsExamplesAreRealFiles(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/playbooks.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	if n, m := strings.Count(text, "```yaml"), len(exampleMarker.FindAllString(text, -1)); n != m || n == 0 {
		t.Fatalf("%d yaml blocks but %d example markers: every yaml block needs <!-- example: FILE lines A-B -->", n, m)
	}
	for _, m := range exampleMarker.FindAllStringSubmatchIndex(text, -1) {
		file := text[m[2]:m[3]]
		var from, to int
		fmt.Sscan(text[m[4]:m[5]], &from)
		fmt.Sscan(text[m[6]:m[7]], &to)
		block := text[m[1]:]
		block = block[:strings.Index(block, "```")]
		src, err := os.ReadFile("../" + file)
		if err != nil {
			t.Errorf("docs cite %s: %v", file, err)
			continue
		}
		lines := strings.Split(string(src), "\n")
		if from < 1 || to > len(lines) || from > to {
			t.Errorf("docs cite %s lines %d-%d, which it does not have", file, from, to)
			continue
		}
		want := strings.Join(lines[from-1:to], "\n") + "\n"
		if block != want {
			t.Errorf("docs excerpt of %s lines %d-%d differs from the file; the file has:\n%s", file, from, to, want)
		}
	}
}
