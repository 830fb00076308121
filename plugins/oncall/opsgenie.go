package oncall

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/sdk"

	"github.com/soar-dev/soar/plugins/internal/httpapi"
)

// OpsgenieConfig configures the opsgenie backend. Opsgenie's who-is-on-call
// API answers per schedule, so a policy here is an ordered list of
// schedules, one per tier.
type OpsgenieConfig struct {
	BaseURL     string              `json:"base_url,omitempty" jsonschema:"description=API base URL (default https://api.opsgenie.com; EU accounts https://api.eu.opsgenie.com)"`
	Policies    map[string][]string `json:"policies,omitempty" jsonschema:"description=Policy name to its tiers: one Opsgenie schedule name per tier"`
	ResponderID string              `json:"responder_id,omitempty" jsonschema:"enum=username_local_part,enum=username,description=How a user becomes a responder id: the local part of the username (default) or the whole username"`
}

const opsgenieSetting = "plugins.oncall.secrets." + SecretOpsgenieKey

type opsgenie struct {
	cfg  OpsgenieConfig
	base string
	http httpapi.JSONAPI
}

func newOpsgenie(cfg *OpsgenieConfig, call sdk.Call) (*opsgenie, error) {
	key := call.Secrets[SecretOpsgenieKey]
	if key == "" {
		return nil, plugins.Errorf(plugins.Permanent, "oncall backend opsgenie needs an API key: set %s", opsgenieSetting)
	}
	o := &opsgenie{base: "https://api.opsgenie.com"}
	if cfg != nil {
		o.cfg = *cfg
		if cfg.BaseURL != "" {
			o.base = strings.TrimRight(cfg.BaseURL, "/")
		}
	}
	o.http = httpapi.JSONAPI{Vendor: "Opsgenie", Setting: opsgenieSetting, Client: httpapi.DefaultClient, Secrets: []string{key},
		Header: http.Header{"Authorization": {"GenieKey " + key}}}
	return o, nil
}

type ogParticipant struct {
	ID                 string          `json:"id"`
	Name               string          `json:"name"`
	Type               string          `json:"type"`
	OnCallParticipants []ogParticipant `json:"onCallParticipants"`
}

type ogOnCalls struct {
	Data struct {
		Parent struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"_parent"`
		OnCallParticipants []ogParticipant `json:"onCallParticipants"`
	} `json:"data"`
}

type ogSchedules struct {
	Data []struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Description string `json:"description"`
		Timezone    string `json:"timezone"`
	} `json:"data"`
}

func (o *opsgenie) responder(p ogParticipant) Responder {
	r := Responder{ID: p.Name, Name: p.Name}
	if strings.Contains(p.Name, "@") {
		r.Email = p.Name
	}
	if o.cfg.ResponderID != "username" {
		if local, _, ok := strings.Cut(p.Name, "@"); ok && local != "" {
			r.ID = local
		}
	}
	return r
}

// users collects the users among participants: a team or escalation on call
// stands for the users it has on call.
func (o *opsgenie) users(ps []ogParticipant, out []vendorUser) []vendorUser {
	for _, p := range ps {
		if p.Type == "user" {
			// The username is unique in Opsgenie and, unlike a
			// participant id, the same in every schedule's answer.
			out = append(out, vendorUser{id: p.Name, email: o.responder(p).Email, r: o.responder(p)})
		}
		out = o.users(p.OnCallParticipants, out)
	}
	return out
}

// tier is one schedule's on-call users, as a tier whose responders are
// still to be made unique across tiers.
func (o *opsgenie) tier(ctx context.Context, level int, schedule string, at time.Time) (Tier, []vendorUser, error) {
	q := url.Values{
		"scheduleIdentifierType": {"name"},
		"flat":                   {"false"},
		"date":                   {at.UTC().Format("2006-01-02T15:04:05-07:00")},
	}
	var resp ogOnCalls
	if err := o.http.Get(ctx, o.base+"/v2/schedules/"+url.PathEscape(schedule)+"/on-calls?"+q.Encode(), &resp); err != nil {
		return Tier{}, nil, err
	}
	return Tier{Level: level, Responders: []Responder{}, Schedules: []string{schedule}}, o.users(resp.Data.OnCallParticipants, nil), nil
}

func (o *opsgenie) policy(ctx context.Context, name string, at time.Time) ([]Tier, error) {
	schedules, ok := o.cfg.Policies[name]
	if !ok || len(schedules) == 0 {
		return nil, plugins.Errorf(plugins.Permanent, "opsgenie backend: policy %q is not in plugins.oncall.config.opsgenie.policies", name)
	}
	tiers := make([]Tier, 0, len(schedules))
	users := make([][]vendorUser, 0, len(schedules))
	for i, s := range schedules {
		t, us, err := o.tier(ctx, i+1, s, at)
		if err != nil {
			return nil, err
		}
		tiers, users = append(tiers, t), append(users, us)
	}
	for i, rs := range uniqueResponders(users) {
		tiers[i].Responders = rs
	}
	return tiers, nil
}

func (o *opsgenie) schedule(ctx context.Context, name string, at time.Time) ([]Tier, error) {
	t, users, err := o.tier(ctx, 1, name, at)
	if err != nil {
		return nil, err
	}
	t.Responders = uniqueResponders([][]vendorUser{users})[0]
	return []Tier{t}, nil
}

func (o *opsgenie) list(ctx context.Context) (Schedules, error) {
	var resp ogSchedules
	if err := o.http.Get(ctx, o.base+"/v2/schedules", &resp); err != nil {
		return Schedules{}, err
	}
	out := Schedules{Schedules: []ScheduleInfo{}, Policies: []PolicyInfo{}}
	for _, s := range resp.Data {
		out.Schedules = append(out.Schedules, ScheduleInfo{ID: s.ID, Name: s.Name, Description: s.Description, Timezone: s.Timezone})
	}
	names := make([]string, 0, len(o.cfg.Policies))
	for n := range o.cfg.Policies {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		info := PolicyInfo{ID: n, Name: n, Tiers: []TierInfo{}}
		for i, s := range o.cfg.Policies[n] {
			info.Tiers = append(info.Tiers, TierInfo{Level: i + 1, Schedules: []string{s}, Responders: []string{}})
		}
		out.Policies = append(out.Policies, info)
	}
	return out, nil
}
