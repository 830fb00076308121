package hr

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/soar-dev/soar/plugins"

	"github.com/soar-dev/soar/plugins/internal/plugintest"
)

// fakeBambooHR speaks the documented BambooHR API (api/v1 on the company's
// subdomain, basic auth with the API key as user name and "x" as password)
// and fails the test on any request that does not match it.
type fakeBambooHR struct {
	t       *testing.T
	key     string
	day     string // the date status is expected to ask about
	whosOut string // JSON answer of time_off/whos_out
	reqs    string // JSON answer of time_off/requests
	fail    int    // when set, every request answers this status
	dir     string // when set, the JSON answer of employees/directory
	mu      sync.Mutex
	paths   []string
}

func (f *fakeBambooHR) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.paths = append(f.paths, r.URL.Path)
	f.mu.Unlock()
	if r.Method != http.MethodGet {
		f.t.Errorf("%s %s: want GET", r.Method, r.URL)
	}
	if got := r.Header.Get("Accept"); got != "application/json" {
		f.t.Errorf("%s: Accept %q, want application/json (the API answers XML otherwise)", r.URL, got)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(f.key+":x"))
	if got := r.Header.Get("Authorization"); got != want {
		f.t.Errorf("%s: Authorization %q, want %q", r.URL, got, want)
	}
	switch f.fail {
	case 0:
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(f.fail)
		return
	default:
		w.WriteHeader(f.fail)
		return
	}
	q := r.URL.Query()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/api/v1/employees/directory":
		if len(q) != 0 {
			f.t.Errorf("directory query %v", q)
		}
		if f.dir != "" {
			fmt.Fprint(w, f.dir)
			return
		}
		// The documented sample shape: fields, then employees keyed by field id.
		fmt.Fprint(w, `{"fields":[{"id":"displayName","type":"text","name":"Display Name"},{"id":"workEmail","type":"email","name":"Work Email"}],
		  "employees":[
		    {"id":"123","displayName":"Alice Adams","firstName":"Alice","lastName":"Adams","jobTitle":"Account executive","workPhone":"555-0100","workEmail":"alice@example.com","department":"Sales","location":"Berlin","mobilePhone":null},
		    {"id":124,"displayName":"Bob Brown","workEmail":"bob@example.com","location":"New York"}]}`)
	case "/api/v1/time_off/whos_out":
		if f.day != "" {
			checkQuery(f.t, r.URL, url.Values{"start": {f.day}, "end": {f.day}, "filter": {"off"}})
		}
		fmt.Fprint(w, f.whosOut)
	case "/api/v1/time_off/requests":
		checkQuery(f.t, r.URL, url.Values{"start": {f.day}, "end": {f.day}, "employeeId": {"123"}, "status": {"approved"}})
		fmt.Fprint(w, f.reqs)
	default:
		f.t.Errorf("unexpected request %s", r.URL)
		http.NotFound(w, r)
	}
}

func checkQuery(t *testing.T, u *url.URL, want url.Values) {
	t.Helper()
	if got := u.Query(); got.Encode() != want.Encode() {
		t.Errorf("%s: query %s, want %s", u.Path, got.Encode(), want.Encode())
	}
}

func bambooConfig(base string) Config {
	return Config{Backend: "bamboohr", BambooHR: &BambooHRConfig{
		BaseURL: base, DefaultTimezone: "America/New_York",
		LocationTimezones: map[string]string{"Berlin": "Europe/Berlin"},
	}}
}

const (
	whosOutSick = `[
	  {"id":1,"type":"timeOff","employeeId":123,"name":"Alice Adams","start":"2026-12-03","end":"2026-12-05"},
	  {"id":2,"type":"timeOff","employeeId":124,"name":"Bob Brown","start":"2026-12-04","end":"2026-12-04"}]`
	requestsSick = `[{"id":"1","employeeId":"123","name":"Alice Adams","start":"2026-12-03","end":"2026-12-05","created":"2026-12-03",
	  "status":{"lastChanged":"2026-12-03","lastChangedByUserId":"2","status":"approved"},
	  "type":{"id":"2","name":"Sick","icon":"medical"},"amount":{"unit":"days","amount":"3"},
	  "dates":{"2026-12-03":"1","2026-12-04":"1","2026-12-05":"1"},"notes":{}}]`
	requestsVacation = `[{"id":"1","employeeId":"123","start":"2026-12-03","end":"2026-12-05","type":{"id":"1","name":"Vacation"}}]`
	whosOutHoliday   = `[{"id":7,"type":"holiday","name":"Company day off","start":"2026-12-04","end":"2026-12-04"}]`
)

func TestBambooHRStatus(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, whosOut, reqs, status, leave string
		calls                              int
	}{
		{"sick", whosOutSick, requestsSick, StatusSick, "sick", 3},
		{"vacation", whosOutSick, requestsVacation, StatusOnLeave, "vacation", 3},
		{"holiday", whosOutHoliday, `[]`, StatusOffDuty, "", 2},
		{"nobody out", `[]`, `[]`, StatusWorking, "", 2},
	} {
		fake := &fakeBambooHR{t: t, key: "k3y", day: "2026-12-04", whosOut: tt.whosOut, reqs: tt.reqs}
		srv := httptest.NewServer(fake)
		var got Status
		// 11:00 in Berlin, where Alice's directory location puts her. A new
		// plugin each time: the request count must not depend on its cache.
		perr := plugintest.Invoke(t, server(t), bambooConfig(srv.URL), map[string]string{SecretBambooHRKey: "k3y"}, "status",
			`{"user":"alice","at":"2026-12-04T10:00:00Z"}`, &got)
		srv.Close()
		if perr != nil {
			t.Errorf("%s: %v", tt.name, perr)
			continue
		}
		leave := ""
		if got.Leave != nil {
			leave = got.Leave.Kind
			if got.Leave.From != "2026-12-03" || got.Leave.Until != "2026-12-05" {
				t.Errorf("%s: leave %+v", tt.name, got.Leave)
			}
		}
		if got.Status != tt.status || leave != tt.leave || got.User != "123" || got.Name != "Alice Adams" ||
			got.Timezone != "Europe/Berlin" || got.LocalTime != "2026-12-04T11:00:00+01:00" || len(fake.paths) != tt.calls {
			t.Errorf("%s: %+v after %v, want %s leave %q", tt.name, got, fake.paths, tt.status, tt.leave)
		}
	}
}

func TestBambooHRPerson(t *testing.T) {
	t.Parallel()
	fake := &fakeBambooHR{t: t, key: "k3y", whosOut: `[]`} // day unchecked: person asks about today
	srv := httptest.NewServer(fake)
	defer srv.Close()
	s := server(t)
	var p Person
	// Bob's id is a JSON number in this answer; the match is by e-mail.
	perr := plugintest.Invoke(t, s, bambooConfig(srv.URL), map[string]string{SecretBambooHRKey: "k3y"}, "person", `{"user":"BOB@example.com"}`, &p)
	if perr != nil {
		t.Fatal(perr)
	}
	if p.ID != "124" || p.Name != "Bob Brown" || p.Timezone != "America/New_York" || p.WorkingHours.Start != "09:00" {
		t.Errorf("person = %+v", p)
	}
	// The directory is cached: a second call only asks who is out.
	if perr := plugintest.Invoke(t, s, bambooConfig(srv.URL), map[string]string{SecretBambooHRKey: "k3y"}, "person", `{"user":"alice"}`, &p); perr != nil {
		t.Fatal(perr)
	}
	if want := "/api/v1/employees/directory /api/v1/time_off/whos_out /api/v1/time_off/whos_out"; strings.Join(fake.paths, " ") != want {
		t.Errorf("requests %v, want %s", fake.paths, want)
	}
}

func TestBambooHRErrors(t *testing.T) {
	t.Parallel()
	s := server(t)
	for _, tt := range []struct {
		fail  int
		user  string
		kind  plugins.Kind
		wants []string
	}{
		{http.StatusTooManyRequests, "alice", plugins.Retryable, []string{"429", "retry after 30s"}},
		{http.StatusServiceUnavailable, "alice", plugins.Retryable, []string{"503", "retry after 30s"}},
		{http.StatusInternalServerError, "alice", plugins.Retryable, []string{"500"}},
		{http.StatusUnauthorized, "alice", plugins.Permanent, []string{"401", "plugins.hr.secrets.bamboohr_api_key"}},
		{http.StatusForbidden, "alice", plugins.Permanent, []string{"403", "plugins.hr.secrets.bamboohr_api_key"}},
		{0, "zed", plugins.Permanent, []string{`no employee "zed"`}},
	} {
		srv := httptest.NewServer(&fakeBambooHR{t: t, key: "k3y", day: "2026-12-04", whosOut: `[]`, fail: tt.fail})
		var out Status
		perr := plugintest.Invoke(t, s, bambooConfig(srv.URL), map[string]string{SecretBambooHRKey: "k3y"}, "status",
			fmt.Sprintf(`{"user":%q,"at":"2026-12-04T10:00:00Z"}`, tt.user), &out)
		srv.Close()
		if perr == nil || perr.Kind != tt.kind {
			t.Errorf("HTTP %d: %v, want %s", tt.fail, perr, tt.kind)
			continue
		}
		if tt.kind == plugins.Retryable && strings.Contains(perr.Message, "retry after") && !strings.Contains(string(perr.Details), `"retry_after_seconds"`) {
			t.Errorf("HTTP %d: details %s lack retry_after_seconds", tt.fail, perr.Details)
		}
		for _, w := range tt.wants {
			if !strings.Contains(perr.Message, w) {
				t.Errorf("HTTP %d: %q does not mention %q", tt.fail, perr.Message, w)
			}
		}
		if strings.Contains(perr.Message, "k3y") {
			t.Errorf("error reveals the API key: %s", perr.Message)
		}
	}
}

// Two employees share the local part "alice". Guessing one could answer
// with the other's leave and silence an alert: a bare "alice" is refused,
// naming both; the full e-mail or the id still names one.
func TestBambooHRAmbiguousLocalPart(t *testing.T) {
	t.Parallel()
	dir := `{"fields":[],"employees":[
	  {"id":"123","displayName":"Alice Adams","workEmail":"alice@example.com","location":"Berlin"},
	  {"id":"200","displayName":"Alice Smith","workEmail":"alice@subsidiary.example","location":"New York"}]}`
	fake := &fakeBambooHR{t: t, key: "k3y", day: "2026-12-04", whosOut: whosOutSick, reqs: requestsSick, dir: dir}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	s := server(t)
	sec := map[string]string{SecretBambooHRKey: "k3y"}
	var got Status
	perr := plugintest.Invoke(t, s, bambooConfig(srv.URL), sec, "status", `{"user":"alice","at":"2026-12-04T10:00:00Z"}`, &got)
	if perr == nil || perr.Kind != plugins.Permanent || !strings.Contains(perr.Message, "alice@example.com") || !strings.Contains(perr.Message, "alice@subsidiary.example") {
		t.Fatalf("bare local part: %+v, %v; want a permanent error naming both", got, perr)
	}
	for _, tc := range []struct{ user, id, status string }{
		{"alice@subsidiary.example", "200", StatusOffDuty}, // 05:00 in New York; the sick leave is Alice Adams's
		{"ALICE@example.com", "123", StatusSick},
		{"123", "123", StatusSick},
		{"200", "200", StatusOffDuty},
	} {
		got = Status{}
		if perr := plugintest.Invoke(t, s, bambooConfig(srv.URL), sec, "status", fmt.Sprintf(`{"user":%q,"at":"2026-12-04T10:00:00Z"}`, tc.user), &got); perr != nil || got.User != tc.id || got.Status != tc.status {
			t.Errorf("%s: %+v, %v; want user %s, %s", tc.user, got, perr, tc.id, tc.status)
		}
	}
}
