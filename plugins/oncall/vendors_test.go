package oncall

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/soar-dev/soar/plugins"

	"github.com/soar-dev/soar/plugins/internal/plugintest"
)

// fakePagerDuty speaks the documented REST API v2: versioned Accept header,
// `Authorization: Token token=…`, array filters with [] names, offset
// pagination with `more`.
type fakePagerDuty struct {
	t       *testing.T
	token   string
	fail    int
	oncalls string // when set, the one-page answer of /oncalls
}

func (f *fakePagerDuty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		f.t.Errorf("%s %s: want GET", r.Method, r.URL)
	}
	if got := r.Header.Get("Accept"); got != "application/vnd.pagerduty+json;version=2" {
		f.t.Errorf("%s: Accept %q", r.URL, got)
	}
	if got, want := r.Header.Get("Authorization"), "Token token="+f.token; got != want {
		f.t.Errorf("%s: Authorization %q, want %q", r.URL, got, want)
	}
	if f.fail != 0 {
		if f.fail == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "12")
		}
		w.WriteHeader(f.fail)
		fmt.Fprint(w, `{"error":{"message":"Access Denied","code":2010}}`)
		return
	}
	q := r.URL.Query()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/escalation_policies":
		if (q.Get("query") != "soc-primary" && q.Has("query")) || q.Get("limit") != "100" || q.Get("offset") != "0" {
			f.t.Errorf("escalation_policies query %s", q.Encode())
		}
		fmt.Fprint(w, `{"escalation_policies":[
		  {"id":"PT20YPA","type":"escalation_policy","summary":"soc-primary","name":"soc-primary","num_loops":0,
		   "escalation_rules":[{"id":"R1","escalation_delay_in_minutes":15,"targets":[{"id":"PI7DH85","type":"schedule_reference","summary":"SOC primary"}]},
		                       {"id":"R2","escalation_delay_in_minutes":15,"targets":[{"id":"PEYSGVF","type":"user_reference","summary":"Nadia Novak"}]}]}],
		  "limit":100,"offset":0,"more":false,"total":null}`)
	case "/oncalls":
		want := url.Values{
			"escalation_policy_ids[]": {"PT20YPA"}, "include[]": {"users"}, "time_zone": {"UTC"},
			"since": {"2026-12-04T10:00:00Z"}, "until": {"2026-12-04T10:00:01Z"}, "limit": {"100"}, "offset": {q.Get("offset")},
		}
		if q.Encode() != want.Encode() {
			f.t.Errorf("oncalls query %s, want %s", q.Encode(), want.Encode())
		}
		if f.oncalls != "" {
			fmt.Fprint(w, f.oncalls)
			return
		}
		// Two pages, to follow `more`.
		if q.Get("offset") == "0" {
			fmt.Fprint(w, `{"oncalls":[
			  {"user":{"id":"PXPGF42","type":"user","summary":"Ben Wagner","name":"Ben Wagner","email":"ben@example.com","time_zone":"Europe/Berlin"},
			   "schedule":{"id":"PI7DH85","type":"schedule_reference","summary":"SOC primary"},
			   "escalation_policy":{"id":"PT20YPA","type":"escalation_policy_reference","summary":"soc-primary"},
			   "escalation_level":1,"start":"2026-12-04T08:00:00Z","end":"2026-12-05T08:00:00Z"}],
			  "limit":1,"offset":0,"more":true,"total":null}`)
			return
		}
		if q.Get("offset") != "1" {
			f.t.Errorf("oncalls offset %s", q.Get("offset"))
		}
		fmt.Fprint(w, `{"oncalls":[
		  {"user":{"id":"PEYSGVF","type":"user","summary":"Nadia Novak","name":"Nadia Novak","email":"tier2-lead-eu@example.com","time_zone":"Europe/Berlin"},
		   "schedule":null,
		   "escalation_policy":{"id":"PT20YPA","type":"escalation_policy_reference","summary":"soc-primary"},
		   "escalation_level":3,"start":null,"end":null}],
		  "limit":1,"offset":1,"more":false,"total":null}`)
	default:
		f.t.Errorf("unexpected request %s", r.URL)
		http.NotFound(w, r)
	}
}

func TestPagerDuty(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&fakePagerDuty{t: t, token: "pd-t0ken"})
	defer srv.Close()
	s := server(t)
	cfg := Config{Backend: "pagerduty", PagerDuty: &PagerDutyConfig{BaseURL: srv.URL}}
	secrets := map[string]string{SecretPagerDutyToken: "pd-t0ken"}
	var got Who
	if perr := plugintest.Invoke(t, s, cfg, secrets, "who", `{"policy":"soc-primary","at":"2026-12-04T11:00:00+01:00"}`, &got); perr != nil {
		t.Fatal(perr)
	}
	// Level 2 has nobody on call right now; the level stays, empty.
	if want := "1:ben|2:|3:tier2-lead-eu"; ids(got.Tiers) != want {
		t.Errorf("tiers = %s, want %s", ids(got.Tiers), want)
	}
	if r := got.Tiers[0].Responders[0]; r != (Responder{ID: "ben", Name: "Ben Wagner", Email: "ben@example.com", Timezone: "Europe/Berlin"}) ||
		got.Tiers[0].Schedules[0] != "PI7DH85" {
		t.Errorf("tier 1 = %+v", got.Tiers[0])
	}
	var list Schedules
	if perr := plugintest.Invoke(t, s, cfg, secrets, "schedules", `{}`, &list); perr != nil {
		t.Fatal(perr)
	}
	if len(list.Policies) != 1 || len(list.Policies[0].Tiers) != 2 || list.Policies[0].Tiers[1].Responders[0] != "PEYSGVF" ||
		len(list.Schedules) != 1 || list.Schedules[0] != (ScheduleInfo{ID: "PI7DH85", Name: "SOC primary"}) {
		t.Errorf("schedules = %+v", list)
	}
}

// Two PagerDuty users share the e-mail local part "alice": both are paged,
// under ids that tell them apart, and a user on call through two schedules
// is still one responder.
func TestPagerDutySameLocalPart(t *testing.T) {
	t.Parallel()
	oc := func(id, email, schedule string, level int) string {
		return fmt.Sprintf(`{"user":{"id":%q,"type":"user","summary":%q,"name":%q,"email":%q,"time_zone":"UTC"},
		  "schedule":{"id":%q,"type":"schedule_reference"},"escalation_level":%d}`, id, email, email, email, schedule, level)
	}
	srv := httptest.NewServer(&fakePagerDuty{t: t, token: "pd-t0ken", oncalls: `{"oncalls":[` +
		oc("PALICE1", "alice@corp.example", "PS1", 1) + "," + oc("PALICE2", "alice@subsidiary.example", "PS2", 1) + "," +
		oc("PALICE1", "alice@corp.example", "PS2", 1) + "," + oc("PBOB", "bob@corp.example", "PS3", 2) +
		`],"limit":100,"offset":0,"more":false}`})
	defer srv.Close()
	var got Who
	if perr := plugintest.Invoke(t, server(t), Config{Backend: "pagerduty", PagerDuty: &PagerDutyConfig{BaseURL: srv.URL}},
		map[string]string{SecretPagerDutyToken: "pd-t0ken"}, "who", `{"policy":"soc-primary","at":"2026-12-04T10:00:00Z"}`, &got); perr != nil {
		t.Fatal(perr)
	}
	if want := "1:alice@corp.example,alice@subsidiary.example|2:bob"; ids(got.Tiers) != want {
		t.Errorf("tiers = %s, want %s", ids(got.Tiers), want)
	}
}

func TestOpsgenieSameLocalPart(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&fakeOpsgenie{t: t, key: "og-k3y"})
	defer srv.Close()
	var got Who
	if perr := plugintest.Invoke(t, server(t), Config{Backend: "opsgenie", Opsgenie: &OpsgenieConfig{BaseURL: srv.URL}},
		map[string]string{SecretOpsgenieKey: "og-k3y"}, "who", `{"schedule":"SOC Alices","at":"2026-12-04T10:00:00Z"}`, &got); perr != nil {
		t.Fatal(perr)
	}
	if want := "1:alice@corp.example,alice@subsidiary.example,ben"; ids(got.Tiers) != want {
		t.Errorf("tiers = %s, want %s", ids(got.Tiers), want)
	}
}

func TestPagerDutyErrors(t *testing.T) {
	t.Parallel()
	s := server(t)
	for _, tt := range []struct {
		fail  int
		kind  plugins.Kind
		wants []string
	}{
		{http.StatusTooManyRequests, plugins.Retryable, []string{"429", "retry after 12s"}},
		{http.StatusUnauthorized, plugins.Permanent, []string{"401", "plugins.oncall.secrets.pagerduty_token"}},
		{http.StatusForbidden, plugins.Permanent, []string{"403", "plugins.oncall.secrets.pagerduty_token"}},
		{http.StatusBadGateway, plugins.Retryable, []string{"502"}},
	} {
		srv := httptest.NewServer(&fakePagerDuty{t: t, token: "pd-t0ken", fail: tt.fail})
		var out Who
		perr := plugintest.Invoke(t, s, Config{Backend: "pagerduty", PagerDuty: &PagerDutyConfig{BaseURL: srv.URL, Policies: map[string]string{"soc-primary": "PT20YPA"}}},
			map[string]string{SecretPagerDutyToken: "pd-t0ken"}, "who", `{"policy":"soc-primary","at":"2026-12-04T10:00:00Z"}`, &out)
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
		if strings.Contains(perr.Message, "t0ken") {
			t.Errorf("error reveals the token: %s", perr.Message)
		}
	}
}

// fakeOpsgenie speaks the documented Who-is-on-call and schedule list APIs
// with `Authorization: GenieKey …`.
type fakeOpsgenie struct {
	t    *testing.T
	key  string
	fail int
}

func (f *fakeOpsgenie) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		f.t.Errorf("%s %s: want GET", r.Method, r.URL)
	}
	if got, want := r.Header.Get("Authorization"), "GenieKey "+f.key; got != want {
		f.t.Errorf("%s: Authorization %q, want %q", r.URL, got, want)
	}
	if f.fail != 0 {
		if f.fail == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "5")
		}
		w.WriteHeader(f.fail)
		fmt.Fprint(w, `{"message":"Could not authenticate","took":0.0,"requestId":"r1"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/v2/schedules":
		fmt.Fprint(w, `{"data":[{"id":"d875alp4","name":"SOC Primary","description":"","timezone":"Europe/Berlin","enabled":true,"ownerTeam":{"id":"t1","name":"SOC"},"rotations":[]}],"took":0.1,"requestId":"r2"}`)
	case strings.HasPrefix(r.URL.Path, "/v2/schedules/") && strings.HasSuffix(r.URL.Path, "/on-calls"):
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/schedules/"), "/on-calls")
		want := url.Values{"scheduleIdentifierType": {"name"}, "flat": {"false"}, "date": {"2026-12-04T10:00:00+00:00"}}
		if got := r.URL.Query(); got.Encode() != want.Encode() {
			f.t.Errorf("on-calls query %s, want %s", got.Encode(), want.Encode())
		}
		if !strings.Contains(r.URL.RawQuery, "%2B00%3A00") {
			f.t.Errorf("the + of the date offset must be escaped: %s", r.URL.RawQuery)
		}
		switch name {
		case "SOC Primary":
			fmt.Fprint(w, `{"data":{"_parent":{"id":"d875alp4","name":"SOC Primary","enabled":true},
			  "onCallParticipants":[{"id":"c569c016","name":"ben@example.com","type":"user"}]},"took":0.104,"requestId":"r3"}`)
		case "SOC Secondary":
			// A team on call stands for its members on call.
			fmt.Fprint(w, `{"data":{"_parent":{"id":"e1","name":"SOC Secondary","enabled":true},
			  "onCallParticipants":[{"id":"t9","name":"SOC Leads","type":"team","onCallParticipants":[
			    {"id":"u1","name":"finn@example.com","type":"user"},{"id":"u2","name":"ben@example.com","type":"user"}]}]},"took":0.1,"requestId":"r4"}`)
		case "SOC Alices":
			fmt.Fprint(w, `{"data":{"_parent":{"id":"a1","name":"SOC Alices","enabled":true},
			  "onCallParticipants":[{"id":"u3","name":"alice@corp.example","type":"user"},{"id":"u4","name":"alice@subsidiary.example","type":"user"},
			    {"id":"t2","name":"Leads","type":"team","onCallParticipants":[{"id":"u3","name":"alice@corp.example","type":"user"},{"id":"u2","name":"ben@example.com","type":"user"}]}]},"took":0.1,"requestId":"r6"}`)
		default:
			f.t.Errorf("unexpected schedule %q", name)
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"No schedule exists with name [x]","took":0.0,"requestId":"r5"}`)
		}
	default:
		f.t.Errorf("unexpected request %s", r.URL)
		http.NotFound(w, r)
	}
}

func TestOpsgenie(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&fakeOpsgenie{t: t, key: "og-k3y"})
	defer srv.Close()
	s := server(t)
	cfg := Config{Backend: "opsgenie", Opsgenie: &OpsgenieConfig{BaseURL: srv.URL,
		Policies: map[string][]string{"soc-primary": {"SOC Primary", "SOC Secondary"}}}}
	secrets := map[string]string{SecretOpsgenieKey: "og-k3y"}
	var got Who
	if perr := plugintest.Invoke(t, s, cfg, secrets, "who", `{"policy":"soc-primary","at":"2026-12-04T11:00:00+01:00"}`, &got); perr != nil {
		t.Fatal(perr)
	}
	if want := "1:ben|2:finn,ben"; ids(got.Tiers) != want {
		t.Errorf("tiers = %s, want %s", ids(got.Tiers), want)
	}
	if r := got.Tiers[0].Responders[0]; r.Email != "ben@example.com" || got.Tiers[1].Schedules[0] != "SOC Secondary" {
		t.Errorf("who = %+v", got)
	}
	if perr := plugintest.Invoke(t, s, cfg, secrets, "who", `{"schedule":"SOC Primary","at":"2026-12-04T10:00:00Z"}`, &got); perr != nil || ids(got.Tiers) != "1:ben" {
		t.Errorf("schedule: %s %v", ids(got.Tiers), perr)
	}
	var list Schedules
	if perr := plugintest.Invoke(t, s, cfg, secrets, "schedules", `{}`, &list); perr != nil {
		t.Fatal(perr)
	}
	if len(list.Schedules) != 1 || list.Schedules[0].Timezone != "Europe/Berlin" || len(list.Policies) != 1 || len(list.Policies[0].Tiers) != 2 {
		t.Errorf("schedules = %+v", list)
	}
	var out Who
	if perr := plugintest.Invoke(t, s, cfg, secrets, "who", `{"policy":"other"}`, &out); perr == nil || !strings.Contains(perr.Message, "plugins.oncall.config.opsgenie.policies") {
		t.Errorf("unknown policy: %v", perr)
	}
}

func TestOpsgenieErrors(t *testing.T) {
	t.Parallel()
	s := server(t)
	for _, tt := range []struct {
		fail  int
		kind  plugins.Kind
		wants []string
	}{
		{http.StatusTooManyRequests, plugins.Retryable, []string{"429", "retry after 5s"}},
		{http.StatusUnauthorized, plugins.Permanent, []string{"401", "plugins.oncall.secrets.opsgenie_api_key"}},
		{http.StatusForbidden, plugins.Permanent, []string{"403", "plugins.oncall.secrets.opsgenie_api_key"}},
	} {
		srv := httptest.NewServer(&fakeOpsgenie{t: t, key: "og-k3y", fail: tt.fail})
		var out Who
		perr := plugintest.Invoke(t, s, Config{Backend: "opsgenie", Opsgenie: &OpsgenieConfig{BaseURL: srv.URL}},
			map[string]string{SecretOpsgenieKey: "og-k3y"}, "who", `{"schedule":"SOC Primary","at":"2026-12-04T10:00:00Z"}`, &out)
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
			t.Errorf("error reveals the key: %s", perr.Message)
		}
	}
}
