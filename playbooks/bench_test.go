package playbooks_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soar-dev/soar/playbooks"
)

// BenchmarkCompile measures parse + check + compile of each example: the
// cost paid once per playbook version.
func BenchmarkCompile(b *testing.B) {
	env, cat := newEnv(b), fixtureCatalog(b)
	files, _ := filepath.Glob("../examples/playbooks/*.yaml")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(b *testing.B) {
			for b.Loop() {
				if _, errs := playbooks.ParseAndCompile(file, src, env, cat); len(errs) > 0 {
					b.Fatal(errs)
				}
			}
		})
	}
}

// BenchmarkCondition measures the triage condition of new-country-login, the
// typical per-alert work, against a trivial condition as a baseline in the
// same run.
func BenchmarkCondition(b *testing.B) {
	env, cat := newEnv(b), fixtureCatalog(b)
	src, err := os.ReadFile("../examples/playbooks/new-country-login.yaml")
	if err != nil {
		b.Fatal(err)
	}
	c, errs := playbooks.ParseAndCompile("new-country-login.yaml", src, env, cat)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	act := &playbooks.Activation{
		Alert: map[string]any{"user": "alice", "source_ip": "81.2.69.142", "severity": "high"},
		Steps: map[string]any{
			"geo": map[string]any{"found": true, "country": "GB", "city": "London"},
			"hr":  map[string]any{"status": "traveling", "travel": map[string]any{"countries": []any{"SE", "GB"}}},
		},
		Now: time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC),
	}
	triage := c.Steps[2].If
	trivial, _ := playbooks.ParseAndCompile("t.yaml", []byte("name: t\non: {type: x}\nsteps:\n  - id: b\n    if: true\n    then: [{silence: x}]\n"), env, nil)
	b.Run("baseline-true", func(b *testing.B) {
		cond := trivial.Steps[0].If
		for b.Loop() {
			if ok, err := trivial.EvalBool(cond, act); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("triage", func(b *testing.B) {
		for b.Loop() {
			if ok, err := c.EvalBool(triage, act); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("business_hours", func(b *testing.B) {
		bh, _ := playbooks.ParseAndCompile("t.yaml", []byte("name: t\non: {type: x}\nsteps:\n  - id: b\n    if: off_hours(now, 'Europe/Berlin')\n    then: [{silence: x}]\n"), env, nil)
		cond := bh.Steps[0].If
		for b.Loop() {
			if _, err := bh.EvalBool(cond, act); err != nil {
				b.Fatal(err)
			}
		}
	})
}
