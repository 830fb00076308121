package playbooks_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/soar-dev/soar/playbooks"
)

// compileOne compiles a playbook whose first step is `escalate` with the
// given page summary template, and returns the program set and template.
func compileSummary(t *testing.T, env *playbooks.Env, summary string) (*playbooks.Compiled, *playbooks.Template) {
	t.Helper()
	src := "name: t\non: { type: x }\nsteps:\n  - escalate:\n      policy: p\n      page:\n        summary: '" + strings.ReplaceAll(summary, "'", "''") + "'\n"
	c, errs := playbooks.ParseAndCompile("t.yaml", []byte(src), env, nil)
	if len(errs) > 0 {
		t.Fatalf("compile %q:\n%v", summary, errs)
	}
	return c, c.Steps[0].Do.(*playbooks.Escalate).Page.Summary
}

func TestRender(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	// Monday 2026-11-30 10:30 in Berlin is 09:30 UTC.
	now := time.Date(2026, 11, 30, 9, 30, 0, 0, time.UTC)
	act := &playbooks.Activation{
		Alert: map[string]any{"user": "alice", "count": float64(3), "ip": "10.1.2.3", "tags": []any{"a", "b"}},
		Now:   now,
	}
	tests := []struct {
		template string
		want     any
	}{
		{"plain text", "plain text"},
		{"user ${{ alert.user }}", "user alice"},
		{"${{ alert.count }}", float64(3)},
		{"${{ alert.count > 2 }}", true},
		{"${{ alert.tags }}", []any{"a", "b"}},
		{"tags: ${{ alert.tags }}", `tags: ["a","b"]`},
		{"${{ {'k': {'n': 1}} }}", map[string]any{"k": map[string]any{"n": int64(1)}}},
		{"${{ alert.?missing.orValue('none') }}", "none"},
		{"${{ business_hours(now, 'Europe/Berlin') }}", true},
		{"${{ off_hours(now, 'Europe/Berlin') }}", false},
		{"${{ business_hours(now, 'America/New_York') }}", false},
		{"${{ business_hours(now, 'Europe/Berlin', 11, 18, ['mon']) }}", false},
		{"${{ business_hours(now, 'Europe/Berlin', 22, 11, ['Monday']) }}", true},
		{"${{ business_hours(now, 'Europe/Berlin', 9, 17, ['sat', 'sun']) }}", false},
		{"${{ hours_between(now - duration('90m'), now) }}", 1.5},
		{"${{ cidr('10.0.0.0/8').containsIP(alert.ip) }}", true},
		{"${{ ip(alert.ip).family() }}", int64(4)},
		{"${{ alert.user.upperAscii() }}", "ALICE"},
		{"${{ timestamp('2026-01-01T00:00:00Z') < now }}", true},
		{"${{ '}}' }}", "}}"},
	}
	for _, tc := range tests {
		c, tmpl := compileSummary(t, env, tc.template)
		got, err := c.Render(tmpl, act)
		if err != nil {
			t.Errorf("%s: %v", tc.template, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.template, diff)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	act := &playbooks.Activation{Alert: map[string]any{"user": "alice"}, Now: time.Unix(0, 0).UTC()}
	tests := []struct{ template, want string }{
		{"${{ alert.nope }}", "no such key: nope"},
		{"${{ business_hours(now, 'Mars/Olympus') }}", `unknown time zone "Mars/Olympus"`},
		{"${{ business_hours(now, 'UTC', 9, 30, ['mon']) }}", "hours must be between 0 and 24"},
		{"${{ business_hours(now, 'UTC', 9, 17, ['funday']) }}", "unknown weekday"},
	}
	for _, tc := range tests {
		c, tmpl := compileSummary(t, env, tc.template)
		_, err := c.Render(tmpl, act)
		var ee *playbooks.EvalError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an EvalError containing %q", tc.template, err, tc.want)
			continue
		}
		if ee.Pos.File != "t.yaml" || ee.Pos.Line != 7 {
			t.Errorf("%s: error position %v, want t.yaml:7", tc.template, ee.Pos)
		}
	}
}

// A runaway comprehension stops at the cost limit with a clear error instead
// of pinning a worker.
func TestCostLimit(t *testing.T) {
	t.Parallel()
	env, err := playbooks.NewEnv(playbooks.WithCostLimit(1000))
	if err != nil {
		t.Fatal(err)
	}
	c, tmpl := compileSummary(t, env, "${{ lists.range(100000).map(i, i * 2).size() }}")
	_, err = c.Render(tmpl, &playbooks.Activation{Alert: map[string]any{}})
	if !errors.Is(err, playbooks.ErrCostLimit) || !strings.Contains(err.Error(), "1000") {
		t.Fatalf("got %v, want ErrCostLimit naming the limit", err)
	}
	// A generator without a comprehension is still limited.
	gen, tmpl := compileSummary(t, env, "${{ lists.range(100000).size() }}")
	if _, err := gen.Render(tmpl, &playbooks.Activation{Alert: map[string]any{}}); !errors.Is(err, playbooks.ErrCostLimit) {
		t.Fatalf("lists.range without a comprehension: got %v, want ErrCostLimit", err)
	}
	cheap, tmpl := compileSummary(t, env, "${{ lists.range(10).size() }}")
	if _, err := cheap.Render(tmpl, &playbooks.Activation{Alert: map[string]any{}}); err != nil {
		t.Fatalf("cheap expression failed under the limit: %v", err)
	}
}

func TestEvalBoolRejectsNonBool(t *testing.T) {
	t.Parallel()
	src := "name: t\non: { type: x }\nsteps:\n  - id: b\n    if: alert.flag\n    then:\n      - escalate: { policy: p, page: { summary: s } }\n"
	c, errs := playbooks.ParseAndCompile("t.yaml", []byte(src), newEnv(t), nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	cond := c.Steps[0].If
	if ok, err := c.EvalBool(cond, &playbooks.Activation{Alert: map[string]any{"flag": true}}); err != nil || !ok {
		t.Fatalf("flag=true: got %v, %v", ok, err)
	}
	if _, err := c.EvalBool(cond, &playbooks.Activation{Alert: map[string]any{"flag": "yes"}}); err == nil {
		t.Fatal(`flag="yes" must be an error, not false: an undecidable condition escalates`)
	}
}

func TestTriggerMatches(t *testing.T) {
	t.Parallel()
	tr := playbooks.Trigger{Types: []string{"login.*", "mfa.failed"}}
	for typ, want := range map[string]bool{
		"login.new_country": true, "login": false, "loginx.y": false, "mfa.failed": true, "mfa.failed.twice": false,
	} {
		if got := tr.Matches(typ); got != want {
			t.Errorf("Matches(%q) = %v, want %v", typ, got, want)
		}
	}
}

func TestHashPinsSource(t *testing.T) {
	t.Parallel()
	a, b := playbooks.Hash([]byte("name: a")), playbooks.Hash([]byte("name: b"))
	if a == b || len(a) != 64 {
		t.Fatalf("hashes %s and %s", a, b)
	}
}

func TestCacheCompilesOncePerVersion(t *testing.T) {
	t.Parallel()
	cache := playbooks.NewCache(newEnv(t), nil, 2)
	v1 := []byte("name: t\non: { type: x }\nsteps:\n  - silence: one\n")
	v2 := []byte("name: t\non: { type: x }\nsteps:\n  - silence: two\n")
	a, _ := cache.Get("t.yaml", v1)
	b, _ := cache.Get("t.yaml", v1)
	c, _ := cache.Get("t.yaml", v2)
	if a == nil || a != b {
		t.Fatal("the same source compiled twice")
	}
	if c == a || c.Hash == a.Hash {
		t.Fatal("a new version reused the old compiled playbook")
	}
	if _, errs := cache.Get("bad.yaml", []byte("name: [")); len(errs) == 0 {
		t.Fatal("invalid source compiled")
	}
	// v1 was evicted (size 2): asking again recompiles rather than failing.
	if d, errs := cache.Get("t.yaml", v1); d == nil || d == a || len(errs) > 0 {
		t.Fatalf("evicted version: %v %v", d == a, errs)
	}
}

// Maps iterate in key order inside expressions, so a run and its replay
// compute the same lists.
func TestMapIterationIsSorted(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	m := map[string]any{}
	for _, k := range []string{"delta", "alpha", "echo", "charlie", "bravo", "foxtrot", "golf", "hotel"} {
		m[k] = map[string]any{"n": k}
	}
	act := &playbooks.Activation{Alert: map[string]any{"m": m}}
	for _, tc := range []struct{ tmpl, want string }{
		{"${{ alert.m.map(k, k) }}", "alpha bravo charlie delta echo foxtrot golf hotel"},
		{"${{ alert.m.map(k, alert.m[k].n).join(' ') }}", "alpha bravo charlie delta echo foxtrot golf hotel"},
		{"${{ alert.m.filter(k, k > 'c') }}", "charlie delta echo foxtrot golf hotel"},
	} {
		c, tmpl := compileSummary(t, env, tc.tmpl)
		for i := 0; i < 20; i++ {
			got, err := c.Render(tmpl, act)
			if err != nil {
				t.Fatalf("%s: %v", tc.tmpl, err)
			}
			if s := stringifyList(got); s != tc.want {
				t.Fatalf("%s gave %q, want %q", tc.tmpl, s, tc.want)
			}
		}
	}
}

func stringifyList(v any) string {
	switch x := v.(type) {
	case []any:
		var parts []string
		for _, p := range x {
			parts = append(parts, fmt.Sprint(p))
		}
		return strings.Join(parts, " ")
	}
	return fmt.Sprint(v)
}
