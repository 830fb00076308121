package hr

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/internal/plugintest"
	"github.com/soar-dev/soar/plugins/sdk"
)

func server(t *testing.T) *sdk.Server { return plugintest.Server(t, Plugin()) }

const testDirectory = `
defaults:
  timezone: Europe/Berlin
people:
  - id: berta
    email: Berta@Example.com
    timezone: Europe/Berlin
    manager: max
    time_off:
      - {kind: vacation, from: 2026-03-28, until: 2026-03-29}
      - {kind: sick, from: 2026-10-24, until: 2026-10-25}
      - {kind: vacation, from: 2026-10-20, until: 2026-10-30}
    travel:
      - {countries: [gb, ie], from: "2026-10-22T18:30", until: "2026-10-27T12:00:00+01:00"}
  - id: nick
    timezone: America/New_York
    working_hours: {start: "22:00", end: "06:00", days: [mon-fri]}
    travel:
      - {countries: [CA], from: 2026-10-31, until: 2026-11-01}
  - id: max
    working_hours: &early {start: "07:00", end: "15:00", days: [mon-fri]}
  - id: moritz
    working_hours: *early
  - id: mia
    <<: {timezone: America/New_York}
    working_hours: {<<: *early, days: [sat-sun]}
`

func TestStatusAtBoundaries(t *testing.T) {
	t.Parallel()
	s := server(t)
	cfg := Config{File: plugintest.WriteFile(t, t.TempDir(), "hr.yaml", testDirectory)}
	tests := []struct {
		name, user, at string
		status         string
		leave          string
		travel         string
	}{
		// Berlin working hours 09:00-17:00 (defaults), in CET and in CEST.
		{"before work CET", "berta", "2026-12-04T07:59:59Z", StatusOffDuty, "", ""},
		{"start of work CET", "berta", "2026-12-04T08:00:00Z", StatusWorking, "", ""},
		{"end of work CET", "berta", "2026-12-04T16:00:00Z", StatusOffDuty, "", ""},
		{"start of work CEST", "berta", "2026-07-03T07:00:00Z", StatusWorking, "", ""},
		{"saturday", "berta", "2026-12-05T10:00:00Z", StatusOffDuty, "", ""},
		// Leave 2026-03-28..29 covers Berlin days; 03-29 is the spring-forward day.
		{"just before leave", "berta", "2026-03-27T22:59:59Z", StatusOffDuty, "", ""},
		{"leave starts at local midnight", "berta", "2026-03-27T23:00:00Z", StatusOnLeave, "vacation", ""},
		{"last second of leave (CEST)", "berta", "2026-03-29T21:59:59Z", StatusOnLeave, "vacation", ""},
		{"leave over", "berta", "2026-03-29T22:00:00Z", StatusOffDuty, "", ""},
		{"leave given with offset", "berta", "2026-03-28T00:30:00+01:00", StatusOnLeave, "vacation", ""},
		// Sick within a vacation wins; travel during leave is still reported.
		{"vacation and travel", "berta", "2026-10-23T10:00:00Z", StatusOnLeave, "vacation", "GB,IE"},
		{"sick within vacation", "berta", "2026-10-24T10:00:00Z", StatusSick, "sick", "GB,IE"},
		// Sick ends at the end of 2026-10-25 Berlin time, which is CET again (fall back).
		{"last sick second after fall back", "berta", "2026-10-25T22:59:59Z", StatusSick, "sick", "GB,IE"},
		{"sick over", "berta", "2026-10-25T23:00:00Z", StatusOnLeave, "vacation", "GB,IE"},
		// A local date-time start and an exact end.
		{"before trip", "berta", "2026-10-22T16:29:59Z", StatusOnLeave, "vacation", ""},
		{"trip starts 18:30 local", "berta", "2026-10-22T16:30:00Z", StatusOnLeave, "vacation", "GB,IE"},
		{"trip ends exactly", "berta", "2026-10-27T11:00:00Z", StatusOnLeave, "vacation", ""},
		// New York: travel 10-31..11-01 ends at local midnight after the DST change.
		{"traveling", "nick", "2026-10-31T04:00:00Z", StatusTraveling, "", "CA"},
		{"last trip second EST", "nick", "2026-11-02T04:59:59Z", StatusTraveling, "", "CA"},
		{"trip over", "nick", "2026-11-02T05:00:00Z", StatusOffDuty, "", ""}, // 00:00 Monday; Monday's shift starts 22:00
		// Night shift 22:00-06:00 mon-fri: Friday's shift runs into Saturday.
		{"friday night shift into saturday", "nick", "2026-12-05T10:59:00Z", StatusWorking, "", ""},
		{"saturday night is off", "nick", "2026-12-06T04:00:00Z", StatusOffDuty, "", ""},
		{"by e-mail", "berta@example.COM", "2026-12-04T08:00:00Z", StatusWorking, "", ""},
		// YAML anchors and merges.
		{"anchored hours", "moritz", "2026-12-04T06:00:00Z", StatusWorking, "", ""},
		{"merged hours, own days", "mia", "2026-12-05T12:00:00Z", StatusWorking, "", ""},
		{"merged hours, own days, friday", "mia", "2026-12-04T12:00:00Z", StatusOffDuty, "", ""},
		{"merged zone: 07:30 in Berlin is 01:30 in New York", "mia", "2026-12-05T06:30:00Z", StatusOffDuty, "", ""},
	}
	for _, tt := range tests {
		var got Status
		if perr := plugintest.Invoke(t, s, cfg, nil, "status", fmt.Sprintf(`{"user":%q,"at":%q}`, tt.user, tt.at), &got); perr != nil {
			t.Errorf("%s: %v", tt.name, perr)
			continue
		}
		leave, travel := "", ""
		if got.Leave != nil {
			leave = got.Leave.Kind
		}
		if got.Travel != nil {
			travel = strings.Join(got.Travel.Countries, ",")
		}
		if got.Status != tt.status || leave != tt.leave || travel != tt.travel {
			t.Errorf("%s: %s at %s = %s leave=%q travel=%q, want %s leave=%q travel=%q",
				tt.name, tt.user, tt.at, got.Status, leave, travel, tt.status, tt.leave, tt.travel)
		}
	}
}

func TestStatusFields(t *testing.T) {
	t.Parallel()
	s := server(t)
	cfg := Config{File: plugintest.WriteFile(t, t.TempDir(), "hr.yaml", testDirectory)}
	var got Status
	if perr := plugintest.Invoke(t, s, cfg, nil, "status", `{"user":"berta","at":"2026-10-24T10:00:00Z"}`, &got); perr != nil {
		t.Fatal(perr)
	}
	want := Status{
		User: "berta", Name: "berta", Status: StatusSick, Timezone: "Europe/Berlin", LocalTime: "2026-10-24T12:00:00+02:00",
		Travel:       &Travel{Countries: []string{"GB", "IE"}, From: "2026-10-22T18:30", Until: "2026-10-27T12:00:00+01:00"},
		Leave:        &Leave{Kind: "sick", From: "2026-10-24", Until: "2026-10-25"},
		WorkingHours: defaultWorkingHours(), Manager: "max",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	// Without `at` the answer is for now.
	if perr := plugintest.Invoke(t, s, cfg, nil, "status", `{"user":"max"}`, &got); perr != nil {
		t.Fatal(perr)
	}
	if lt, err := time.Parse(time.RFC3339, got.LocalTime); err != nil || time.Since(lt) > time.Minute {
		t.Errorf("default at: local_time %s", got.LocalTime)
	}
}

func TestExampleData(t *testing.T) {
	t.Parallel()
	s := server(t)
	cfg := Config{File: "../../examples/data/hr.yaml"}
	for _, tt := range []struct{ user, at, status, travel string }{
		{"clara", "2026-12-04T10:00:00Z", StatusSick, ""},
		{"clara", "2027-12-31T22:00:00Z", StatusSick, ""},
		{"gina", "2027-06-01T15:00:00Z", StatusOnLeave, ""},
		{"finn", "2026-12-04T15:00:00Z", StatusTraveling, "CA"},
		{"alice", "2026-12-08T10:00:00Z", StatusTraveling, "GB"},
		{"alice", "2026-12-04T10:00:00Z", StatusWorking, ""},
		{"anna", "2026-12-05T10:00:00Z", StatusOffDuty, ""},
		{"tier2-lead-us", "2026-12-04T15:00:00Z", StatusWorking, ""},
		{"soc-manager", "2026-12-04T10:00:00Z", StatusWorking, ""},
	} {
		var got Status
		if perr := plugintest.Invoke(t, s, cfg, nil, "status", fmt.Sprintf(`{"user":%q,"at":%q}`, tt.user, tt.at), &got); perr != nil {
			t.Errorf("%s: %v", tt.user, perr)
			continue
		}
		travel := ""
		if got.Travel != nil {
			travel = strings.Join(got.Travel.Countries, ",")
		}
		if got.Status != tt.status || travel != tt.travel {
			t.Errorf("%s at %s: %s travel %q, want %s travel %q", tt.user, tt.at, got.Status, travel, tt.status, tt.travel)
		}
	}
	var p Person
	if perr := plugintest.Invoke(t, s, cfg, nil, "person", `{"user":"alice"}`, &p); perr != nil {
		t.Fatal(perr)
	}
	if p.Timezone != "Europe/Berlin" || p.Manager != "frank" || len(p.Travel) != 2 || p.Travel[0].Countries[0] != "GB" {
		t.Errorf("person alice = %+v", p)
	}
}

func TestInvalidFiles(t *testing.T) {
	t.Parallel()
	s := server(t)
	dir := t.TempDir()
	for i, tt := range []struct{ data, want string }{
		{"people:\n  - id: a\n    timezon: Europe/Berlin\n", `:3: unknown field "timezon"`},
		{"people:\n  - id: a\n    timezone: Europe/Berlinn\n", `:3: unknown time zone "Europe/Berlinn"`},
		{"people:\n  - id: a\n    time_off:\n      - {kind: sick, from: 2026-01-05, until: 2026-01-04}\n", `:4: until 2026-01-04 is not after from 2026-01-05`},
		{"people:\n  - id: a\n    time_off:\n      - {kind: sick, from: 2026-01-05, until: tomorrow}\n", `:4: "tomorrow" is not a date`},
		{"people:\n  - id: a\n    time_off:\n      - {from: 2026-01-05, until: 2026-01-06}\n", `:4: time_off needs a kind`},
		{"people:\n  - id: a\n    travel:\n      - {countries: [UK1], from: 2026-01-05, until: 2026-01-06}\n", `:4: "UK1" is not an ISO 3166`},
		{"people:\n  - id: a\n    travel:\n      - {from: 2026-01-05, until: 2026-01-06}\n", `:4: travel needs countries`},
		{"people:\n  - id: a\n    manager: nobody\n", `:3: manager "nobody" of a is not in the file`},
		{"people:\n  - id: a\n  - id: a\n", `:3: person "a" is listed twice`},
		{"people:\n  - id: a b\n", `:2: id "a b" must be`},
		{"people:\n  - id: a\n    working_hours: {start: \"9\", end: \"17:00\"}\n", `:3: "9" is not a time of day`},
		{"people:\n  - id: a\n    working_hours: {start: \"09:00\", end: \"17:00\", days: [mon-fry]}\n", `:3: unknown day "fry"`},
		{"people: [\n", `:1: did not find expected node content`},
		{"", `:1: the file is empty`},
		{"defaults: {timezone: UTC}\n", `:1: no people`},
	} {
		path := plugintest.WriteFile(t, dir, fmt.Sprintf("bad%d.yaml", i), tt.data)
		var out Status
		perr := plugintest.Invoke(t, s, Config{File: path}, nil, "status", `{"user":"a"}`, &out)
		if perr == nil || perr.Kind != plugins.Permanent || !strings.Contains(perr.Message, path+tt.want) {
			t.Errorf("file %q: %v, want permanent error containing %q", tt.data, perr, path+tt.want)
		}
	}
}

func TestReloadKeepsLastGoodVersion(t *testing.T) {
	t.Parallel()
	s := server(t)
	path := plugintest.WriteFile(t, t.TempDir(), "hr.yaml", "people:\n  - id: a\n    timezone: Europe/Berlin\n")
	cfg := Config{File: path}
	zone := func() string {
		t.Helper()
		var st Status
		if perr := plugintest.Invoke(t, s, cfg, nil, "status", `{"user":"a","at":"2026-01-01T00:00:00Z"}`, &st); perr != nil {
			t.Fatal(perr)
		}
		return st.Timezone
	}
	touch := func(data string, mtime time.Time) {
		t.Helper()
		plugintest.WriteFile(t, filepath.Dir(path), "hr.yaml", data)
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if z := zone(); z != "Europe/Berlin" {
		t.Fatalf("first version: %s", z)
	}
	touch("people:\n  - id: a\n    timezone: America/New_York\n", time.Now().Add(time.Minute))
	if z := zone(); z != "America/New_York" {
		t.Fatalf("after edit: %s", z)
	}
	touch("people:\n  - id: a\n    timezone: Mars/Olympus\n", time.Now().Add(2*time.Minute))
	if z := zone(); z != "America/New_York" {
		t.Fatalf("after a broken edit: %s", z)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s := server(t)
	path := plugintest.WriteFile(t, t.TempDir(), "hr.yaml", testDirectory)
	var out Status
	for _, tt := range []struct {
		cfg   any
		input string
		kind  plugins.Kind
		msg   string
	}{
		{Config{File: path}, `{"user":"zed"}`, plugins.Permanent, `no person "zed"`},
		{Config{File: path}, `{"user":"berta","at":"yesterday"}`, plugins.InvalidInput, "at /at"},
		{Config{File: path}, `{"at":"2026-01-01T00:00:00Z"}`, plugins.InvalidInput, "required"},
		{Config{}, `{"user":"berta"}`, plugins.Permanent, "plugins.hr.config.file"},
		{Config{File: path + ".missing"}, `{"user":"berta"}`, plugins.Permanent, "no such file"},
		{map[string]any{"backend": "workday"}, `{"user":"berta"}`, plugins.Permanent, "backend"},
		{Config{Backend: "bamboohr", BambooHR: &BambooHRConfig{Company: "acme"}}, `{"user":"berta"}`, plugins.Permanent, bambooSetting},
	} {
		perr := plugintest.Invoke(t, s, tt.cfg, nil, "status", tt.input, &out)
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
		"status": {`{"user":"berta","at":"2026-10-24T10:00:00Z"}`, `{"user":"max","at":"2026-10-24T10:00:00Z"}`},
		"person": {`{"user":"berta"}`, `{"user":"max"}`},
	}
	plugintest.CheckOutputSchemas(t, server(t), Config{File: plugintest.WriteFile(t, t.TempDir(), "hr.yaml", testDirectory)}, calls)
}
