package oncall

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/internal/plugintest"
	"github.com/soar-dev/soar/plugins/sdk"
)

func server(t *testing.T) *sdk.Server { return plugintest.Server(t, Plugin()) }

// ids flattens the tiers to "level:id,id|level:…".
func ids(tiers []Tier) string {
	var parts []string
	for _, t := range tiers {
		var r []string
		for _, x := range t.Responders {
			r = append(r, x.ID)
		}
		parts = append(parts, fmt.Sprintf("%d:%s", t.Level, strings.Join(r, ",")))
	}
	return strings.Join(parts, "|")
}

const testRoster = `
responders:
  - {id: a}
  - {id: b}
  - {id: c}
  - {id: x, timezone: America/New_York}
  - {id: y}
  - {id: night1}
  - {id: night2}
  - {id: eu1}
  - {id: eu2}
  - {id: us1}
  - {id: us2}
  - {id: z, name: Zoe, email: z@example.com, phone: "+1 555", timezone: Europe/Berlin}
  - {id: lead}
schedules:
  - id: berlin-spring
    timezone: Europe/Berlin
    layers:
      - {start: 2026-03-27T09:00, rotation: daily, users: [a, b, c]}
  - id: berlin-autumn
    timezone: Europe/Berlin
    layers:
      - {start: 2026-10-23T09:00, rotation: daily, users: [a, b, c]}
  - id: ny-weekly
    timezone: America/New_York
    layers:
      - {start: 2026-03-02T08:00, rotation: weekly, users: [x, y]}
  - id: hours
    timezone: Europe/Berlin
    layers:
      - {start: 2026-03-28T20:00, rotation: 12h, users: [a, b]}
  - id: two-days
    timezone: UTC
    layers:
      - {start: 2026-01-01T00:00, end: 2026-01-09T00:00, rotation: 2d, users: [a, b, c]}
  - id: layered
    timezone: Europe/Berlin
    layers:
      - name: nights
        start: 2026-01-05T09:00
        rotation: weekly
        users: [night1, night2]
      - name: EU
        start: 2026-01-05T09:00
        rotation: daily
        users: [eu1, eu2]
        restrictions: [{days: [mon-fri], from: "09:00", to: "17:00"}]
      - name: US
        timezone: America/New_York
        start: 2026-01-05T09:00
        rotation: daily
        users: [us1, us2]
        restrictions: [{days: [mon-fri], from: "09:00", to: "17:00"}]
    overrides:
      - {user: z, from: 2026-12-24T17:00, until: 2026-12-27T09:00}
      - {user: a, from: 2026-12-25T00:00:00Z, until: 2026-12-25T12:00:00Z}
  - id: overnight
    timezone: Europe/Berlin
    layers:
      - start: 2026-01-05T00:00
        rotation: weekly
        users: [a]
        restrictions: [{days: [fri], from: "22:00", to: "06:00"}]
policies:
  - id: pol
    tiers:
      - schedules: [layered]
      - schedules: [ny-weekly, berlin-spring]
        responders: [x, lead]
      - responders: [lead]
`

func TestRotations(t *testing.T) {
	t.Parallel()
	s := server(t)
	cfg := Config{File: plugintest.WriteFile(t, t.TempDir(), "oncall.yaml", testRoster)}
	tests := []struct {
		name, schedule, at, want string
	}{
		// Daily 09:00 Berlin handoffs across the spring change (2026-03-29 02:00 CET → 03:00 CEST).
		{"before the first handoff", "berlin-spring", "2026-03-27T07:59:59Z", ""},
		{"first handoff", "berlin-spring", "2026-03-27T08:00:00Z", "a"},
		{"just before second handoff", "berlin-spring", "2026-03-28T07:59:59Z", "a"},
		{"second handoff", "berlin-spring", "2026-03-28T08:00:00Z", "b"},
		{"DST day, 08:59:59 CEST", "berlin-spring", "2026-03-29T06:59:59Z", "b"},
		{"DST day, handoff at 09:00 CEST", "berlin-spring", "2026-03-29T07:00:00Z", "c"},
		{"after DST, wraps around", "berlin-spring", "2026-03-30T07:00:00Z", "a"},
		// And across the autumn change (2026-10-25 03:00 CEST → 02:00 CET).
		{"09:00 CEST", "berlin-autumn", "2026-10-24T07:00:00Z", "b"},
		{"DST day, 08:59:59 CET", "berlin-autumn", "2026-10-25T07:59:59Z", "b"},
		{"DST day, handoff at 09:00 CET", "berlin-autumn", "2026-10-25T08:00:00Z", "c"},
		// Weekly Monday 08:00 New York across 2026-03-08 and 2026-11-01.
		{"week 1", "ny-weekly", "2026-03-08T12:00:00Z", "x"},
		{"before handoff, now EDT", "ny-weekly", "2026-03-09T11:59:59Z", "x"},
		{"handoff 08:00 EDT", "ny-weekly", "2026-03-09T12:00:00Z", "y"},
		{"before handoff, now EST", "ny-weekly", "2026-11-02T12:59:59Z", "x"},
		{"handoff 08:00 EST", "ny-weekly", "2026-11-02T13:00:00Z", "y"},
		// Hour rotations count elapsed time: across the spring change the
		// 20:00/08:00 handoffs become 21:00/09:00 local.
		{"12h first turn", "hours", "2026-03-28T19:00:00Z", "a"},
		{"12h turn ends after 12 hours", "hours", "2026-03-29T06:59:59Z", "a"},
		{"12h second turn at 09:00 CEST", "hours", "2026-03-29T07:00:00Z", "b"},
		// 2-day rotation with an end.
		{"2d day 2", "two-days", "2026-01-02T23:59:59Z", "a"},
		{"2d day 3", "two-days", "2026-01-03T00:00:00Z", "b"},
		{"2d day 7", "two-days", "2026-01-07T10:00:00Z", "a"},
		{"after the layer ends", "two-days", "2026-01-09T00:00:00Z", ""},
		// Layers and restrictions: 2026-12-04 is a Friday, day 333 after 2026-01-05.
		{"night layer before 09:00 Berlin", "layered", "2026-12-04T07:59:59Z", "night2"},
		{"EU layer from 09:00 Berlin", "layered", "2026-12-04T08:00:00Z", "eu2"},
		{"US layer wins in the overlap", "layered", "2026-12-04T14:00:00Z", "us2"},
		{"US layer after EU hours", "layered", "2026-12-04T16:30:00Z", "us2"},
		{"US hours end 17:00 New York", "layered", "2026-12-04T22:00:00Z", "night2"},
		{"saturday", "layered", "2026-12-05T10:00:00Z", "night2"},
		// 2026-03-16: New York is already on EDT, Berlin still on CET.
		{"EU before US starts (DST gap)", "layered", "2026-03-16T12:59:59Z", "eu1"},
		{"US starts 09:00 EDT = 14:00 CET", "layered", "2026-03-16T13:00:00Z", "us1"},
		// Overrides: local Berlin times; a later override wins.
		{"before override (US hours)", "layered", "2026-12-24T15:59:59Z", "us2"},
		{"override starts 17:00 Berlin", "layered", "2026-12-24T16:00:00Z", "z"},
		{"later override wins", "layered", "2026-12-25T06:00:00Z", "a"},
		{"back to the first override", "layered", "2026-12-25T12:00:00Z", "z"},
		{"last override second", "layered", "2026-12-27T07:59:59Z", "z"},
		{"override over", "layered", "2026-12-27T08:00:00Z", "night1"},
		// A restriction past midnight belongs to the day it starts.
		{"friday 23:00", "overnight", "2026-12-04T22:00:00Z", "a"},
		{"saturday 05:59", "overnight", "2026-12-05T04:59:00Z", "a"},
		{"saturday 06:00", "overnight", "2026-12-05T05:00:00Z", ""},
		{"thursday 23:00", "overnight", "2026-12-03T22:00:00Z", ""},
	}
	for _, tt := range tests {
		var got Who
		if perr := plugintest.Invoke(t, s, cfg, nil, "who", fmt.Sprintf(`{"schedule":%q,"at":%q}`, tt.schedule, tt.at), &got); perr != nil {
			t.Errorf("%s: %v", tt.name, perr)
			continue
		}
		if want := "1:" + tt.want; ids(got.Tiers) != want {
			t.Errorf("%s: %s at %s = %s, want %s", tt.name, tt.schedule, tt.at, ids(got.Tiers), want)
		}
	}
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	s := server(t)
	cfg := Config{File: plugintest.WriteFile(t, t.TempDir(), "oncall.yaml", testRoster)}
	var got Who
	if perr := plugintest.Invoke(t, s, cfg, nil, "who", `{"policy":"pol","at":"2026-12-25T06:00:00Z"}`, &got); perr != nil {
		t.Fatal(perr)
	}
	// Tier 2: ny-weekly (x), berlin-spring (c), then x again (deduplicated) and lead.
	if want := "1:a|2:x,c,lead|3:lead"; ids(got.Tiers) != want {
		t.Errorf("tiers = %s, want %s", ids(got.Tiers), want)
	}
	if got.Policy != "pol" || got.Schedule != "" || got.At != "2026-12-25T06:00:00Z" ||
		strings.Join(got.Tiers[1].Schedules, ",") != "ny-weekly,berlin-spring" {
		t.Errorf("who = %+v", got)
	}
	if perr := plugintest.Invoke(t, s, cfg, nil, "who", `{"policy":"pol","at":"2026-12-24T16:00:00Z"}`, &got); perr != nil {
		t.Fatal(perr)
	}
	z := got.Tiers[0].Responders[0]
	if z != (Responder{ID: "z", Name: "Zoe", Email: "z@example.com", Phone: "+1 555", Timezone: "Europe/Berlin"}) {
		t.Errorf("responder = %+v", z)
	}
}

func TestExampleData(t *testing.T) {
	t.Parallel()
	s := server(t)
	cfg := Config{File: "../../examples/data/oncall.yaml"}
	for _, tt := range []struct{ input, want string }{
		// Friday 2026-12-04 11:00 Berlin: EU day 333 → clara (sick in hr.yaml, so
		// skip_if passes her over); secondary week 47 → finn.
		{`{"policy":"soc-primary","at":"2026-12-04T10:00:00Z"}`, "1:clara|2:finn|3:tier2-lead-eu,tier2-lead-us"},
		{`{"policy":"soc-primary","at":"2026-12-04T03:20:00Z"}`, "1:henry|2:finn|3:tier2-lead-eu,tier2-lead-us"},
		{`{"schedule":"soc-primary","at":"2026-12-04T15:00:00Z"}`, "1:finn"},
		{`{"schedule":"soc-primary","at":"2026-12-05T15:00:00Z"}`, "1:henry"},
		{`{"schedule":"soc-primary","at":"2026-12-25T15:00:00Z"}`, "1:henry"},
		{`{"policy":"soc-management","at":"2026-12-04T10:00:00Z"}`, "1:soc-manager"},
	} {
		var got Who
		if perr := plugintest.Invoke(t, s, cfg, nil, "who", tt.input, &got); perr != nil {
			t.Errorf("%s: %v", tt.input, perr)
			continue
		}
		if ids(got.Tiers) != tt.want {
			t.Errorf("%s = %s, want %s", tt.input, ids(got.Tiers), tt.want)
		}
	}
	var list Schedules
	if perr := plugintest.Invoke(t, s, cfg, nil, "schedules", `{}`, &list); perr != nil {
		t.Fatal(perr)
	}
	if len(list.Schedules) != 2 || len(list.Policies) != 2 || list.Policies[0].ID != "soc-primary" ||
		strings.Join(list.Policies[0].Tiers[2].Responders, ",") != "tier2-lead-eu,tier2-lead-us" {
		t.Errorf("schedules = %+v", list)
	}
}

func TestInvalidFiles(t *testing.T) {
	t.Parallel()
	s := server(t)
	dir := t.TempDir()
	head := "responders: [{id: a}]\nschedules:\n  - id: s\n    timezone: Europe/Berlin\n    layers:\n"
	for i, tt := range []struct{ data, want string }{
		{head + "      - {start: 2026-01-05T09:00, rotation: fortnightly, users: [a]}\n", `:6: rotation "fortnightly"`},
		{head + "      - {start: 2026-01-05T09:00, rotation: daily, users: [b]}\n", `:6: "b" is not in responders`},
		{head + "      - {start: 2026-01-05T09:00, rotation: daily, users: [a], restrictions: [{days: [mon-fri], from: \"9am\", to: \"17:00\"}]}\n", `:6: "9am" is not a time of day`},
		{head + "      - {start: next monday, rotation: daily, users: [a]}\n", `:6: "next monday" is not a date-time`},
		{head + "      - {start: 2026-01-05T09:00, rotation: daily, users: [a], handoff: \"09:00\"}\n", `:6: unknown field "handoff"`},
		{head + "      - {rotation: daily, users: [a]}\n", `:6: a layer needs start`},
		{head + "      - {start: 2026-01-05T09:00, rotation: daily, users: [a]}\n    overrides:\n      - {user: a, from: 2026-01-05T10:00, until: 2026-01-05T09:00}\n", `:8: until 2026-01-05T09:00 is not after`},
		{head + "      - {start: 2026-01-05T09:00, rotation: daily, users: [a]}\npolicies:\n  - id: p\n    tiers:\n      - schedules: [t]\n", `:10: schedule "t" is not defined`},
		{head + "      - {start: 2026-01-05T09:00, rotation: daily, users: [a]}\npolicies:\n  - id: p\n    tiers:\n      - {}\n", `:10: tier 1 of policy p names no schedules`},
		{"responders: [{id: a}]\nschedules:\n  - id: s\n    layers: []\n", `:3: schedule s needs a timezone`},
		{"responders: [{id: a}, {id: a}]\n", `:1: responder "a" is listed twice`},
		{"responders: [{id: a}]\n", `:1: no schedules and no policies`},
		{"responders: [{id: a, timezone: CET+1}]\nschedules: []\n", `:1: unknown time zone "CET+1"`},
	} {
		path := plugintest.WriteFile(t, dir, fmt.Sprintf("bad%d.yaml", i), tt.data)
		var out Who
		perr := plugintest.Invoke(t, s, Config{File: path}, nil, "who", `{"schedule":"s"}`, &out)
		if perr == nil || perr.Kind != plugins.Permanent || !strings.Contains(perr.Message, path+tt.want) {
			t.Errorf("file %q: %v, want permanent error containing %q", tt.data, perr, path+tt.want)
		}
	}
}

func TestReloadKeepsLastGoodVersion(t *testing.T) {
	t.Parallel()
	s := server(t)
	dir := t.TempDir()
	doc := "responders: [{id: a}, {id: b}]\nschedules:\n  - id: s\n    timezone: UTC\n    layers:\n      - {start: 2026-01-01T00:00, rotation: daily, users: [%s]}\n"
	path := plugintest.WriteFile(t, dir, "oncall.yaml", fmt.Sprintf(doc, "a"))
	who := func() string {
		t.Helper()
		var got Who
		if perr := plugintest.Invoke(t, s, Config{File: path}, nil, "who", `{"schedule":"s","at":"2026-06-01T00:00:00Z"}`, &got); perr != nil {
			t.Fatal(perr)
		}
		return ids(got.Tiers)
	}
	edit := func(data string, d time.Duration) {
		t.Helper()
		plugintest.WriteFile(t, dir, "oncall.yaml", data)
		mtime := time.Now().Add(d)
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if got := who(); got != "1:a" {
		t.Fatalf("first version: %s", got)
	}
	edit(fmt.Sprintf(doc, "b"), time.Minute)
	if got := who(); got != "1:b" {
		t.Fatalf("after edit: %s", got)
	}
	edit(fmt.Sprintf(doc, "nobody"), 2*time.Minute)
	if got := who(); got != "1:b" {
		t.Fatalf("after a broken edit: %s", got)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s := server(t)
	path := plugintest.WriteFile(t, t.TempDir(), "oncall.yaml", testRoster)
	var out Who
	for _, tt := range []struct {
		cfg   any
		input string
		kind  plugins.Kind
		msg   string
	}{
		{Config{File: path}, `{"policy":"nope"}`, plugins.Permanent, `no escalation policy "nope"`},
		{Config{File: path}, `{"schedule":"nope"}`, plugins.Permanent, `no schedule "nope"`},
		{Config{File: path}, `{}`, plugins.InvalidInput, "exactly one of policy and schedule"},
		{Config{File: path}, `{"policy":"pol","schedule":"layered"}`, plugins.InvalidInput, "exactly one"},
		{Config{File: path}, `{"policy":"pol","at":"noon"}`, plugins.InvalidInput, "at /at"},
		{Config{File: path}, `{"policy":"pol","team":"x"}`, plugins.InvalidInput, "additionalProperties"},
		{Config{}, `{"policy":"pol"}`, plugins.Permanent, "plugins.oncall.config.file"},
		{Config{Backend: "pagerduty"}, `{"policy":"pol"}`, plugins.Permanent, pagerDutySetting},
		{Config{Backend: "opsgenie"}, `{"policy":"pol"}`, plugins.Permanent, opsgenieSetting},
		{map[string]any{"backend": "victorops"}, `{"policy":"pol"}`, plugins.Permanent, "backend"},
	} {
		perr := plugintest.Invoke(t, s, tt.cfg, nil, "who", tt.input, &out)
		if perr == nil || perr.Kind != tt.kind || !strings.Contains(perr.Message, tt.msg) {
			t.Errorf("%s with %+v: %v, want %s mentioning %q", tt.input, tt.cfg, perr, tt.kind, tt.msg)
		}
	}
}

// TestOutputsMatchSchemas keeps the published output schemas honest: the
// playbook validator type-checks `steps.ID.FIELD` against them.
func TestOutputsMatchSchemas(t *testing.T) {
	t.Parallel()
	calls := map[string][]string{
		"who":       {`{"policy":"pol","at":"2026-12-04T10:00:00Z"}`, `{"schedule":"overnight","at":"2026-12-04T10:00:00Z"}`},
		"schedules": {`{}`},
	}
	plugintest.CheckOutputSchemas(t, server(t), Config{File: plugintest.WriteFile(t, t.TempDir(), "oncall.yaml", testRoster)}, calls)
}

// TestTurnFarAhead checks the calendar arithmetic far from the start, where
// many DST changes lie in between, against counting handoffs one by one.
func TestTurnFarAhead(t *testing.T) {
	t.Parallel()
	for _, zone := range []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, days := range []int{1, 3, 7, 14} {
			l := layer{loc: loc, start: time.Date(2026, 1, 5, 9, 30, 0, 0, loc), days: days, users: []string{"a"}}
			at := time.Date(2036, 7, 1, 12, 0, 0, 0, time.UTC)
			var want int64
			for !time.Date(2026, 1, 5+int(want+1)*days, 9, 30, 0, 0, loc).After(at) {
				want++
			}
			if got := l.turn(at); got != want {
				t.Errorf("%s every %d days: turn %d, want %d", zone, days, got, want)
			}
			// Exactly at a handoff the new turn has begun.
			h := time.Date(2026, 1, 5+int(want)*days, 9, 30, 0, 0, loc)
			if got := l.turn(h); got != want {
				t.Errorf("%s every %d days at handoff %s: turn %d, want %d", zone, days, h, got, want)
			}
			if got := l.turn(h.Add(-time.Second)); got != want-1 {
				t.Errorf("%s every %d days before handoff: turn %d, want %d", zone, days, got, want-1)
			}
		}
	}
}

// A date-only until includes that whole day in the schedule's zone, as in
// the hr directory; a date-only from starts at its local midnight.
func TestOverrideDateOnlyUntilIncludesTheDay(t *testing.T) {
	t.Parallel()
	s := server(t)
	path := plugintest.WriteFile(t, t.TempDir(), "oncall.yaml", `responders: [{id: a}, {id: b}, {id: c}]
schedules:
  - id: s
    timezone: Europe/Berlin
    layers:
      - {start: 2026-01-05T09:00, rotation: daily, users: [a]}
    overrides:
      - {user: b, from: 2026-12-24, until: 2026-12-26}
      - {user: c, from: 2026-12-31, until: 2026-12-31}
`)
	for at, want := range map[string]string{
		"2026-12-23T22:59:59Z": "1:a", // 23:59:59 on the 23rd in Berlin
		"2026-12-23T23:00:00Z": "1:b", // midnight starting the 24th
		"2026-12-26T11:00:00Z": "1:b",
		"2026-12-26T22:59:59Z": "1:b", // the last second of the 26th
		"2026-12-26T23:00:00Z": "1:a", // midnight after it
		"2026-12-31T12:00:00Z": "1:c", // from and until the same day: that day
		"2026-12-31T23:00:00Z": "1:a",
	} {
		var got Who
		if perr := plugintest.Invoke(t, s, Config{File: path}, nil, "who", fmt.Sprintf(`{"schedule":"s","at":%q}`, at), &got); perr != nil {
			t.Fatalf("%s: %v", at, perr)
		}
		if ids(got.Tiers) != want {
			t.Errorf("at %s: %s, want %s", at, ids(got.Tiers), want)
		}
	}
}
