package oncall

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/sdk"

	"github.com/soar-dev/soar/plugins/internal/httpapi"
)

// PagerDutyConfig configures the pagerduty backend (REST API v2).
type PagerDutyConfig struct {
	BaseURL string `json:"base_url,omitempty" jsonschema:"description=REST API base URL (default https://api.pagerduty.com)"`
	// Policies and Schedules map the names playbooks use to PagerDuty ids.
	// An unmapped policy is looked up by name, and failing that used as an id.
	Policies  map[string]string `json:"policies,omitempty" jsonschema:"description=Playbook policy name to escalation policy id (soc-primary: PT20YPA)"`
	Schedules map[string]string `json:"schedules,omitempty" jsonschema:"description=Playbook schedule name to schedule id"`
	// ResponderID says how a PagerDuty user becomes a soar responder id.
	ResponderID string `json:"responder_id,omitempty" jsonschema:"enum=email_local_part,enum=email,enum=pagerduty_id,description=How a user becomes a responder id: e-mail local part (default) or whole e-mail or PagerDuty id"`
}

const pagerDutySetting = "plugins.oncall.secrets." + SecretPagerDutyToken

type pagerDuty struct {
	cfg  PagerDutyConfig
	base string
	http httpapi.JSONAPI
}

func newPagerDuty(cfg *PagerDutyConfig, call sdk.Call) (*pagerDuty, error) {
	token := call.Secrets[SecretPagerDutyToken]
	if token == "" {
		return nil, plugins.Errorf(plugins.Permanent, "oncall backend pagerduty needs a REST API token: set %s", pagerDutySetting)
	}
	p := &pagerDuty{base: "https://api.pagerduty.com"}
	if cfg != nil {
		p.cfg = *cfg
		if cfg.BaseURL != "" {
			p.base = strings.TrimRight(cfg.BaseURL, "/")
		}
	}
	p.http = httpapi.JSONAPI{Vendor: "PagerDuty", Setting: pagerDutySetting, Client: httpapi.DefaultClient, Secrets: []string{token},
		Header: http.Header{
			"Accept":        {"application/vnd.pagerduty+json;version=2"},
			"Authorization": {"Token token=" + token},
		}}
	return p, nil
}

type pdRef struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary"`
	// With include[]=users the user is a full object.
	Name     string `json:"name"`
	Email    string `json:"email"`
	TimeZone string `json:"time_zone"`
}

type pdOncall struct {
	User             pdRef  `json:"user"`
	Schedule         *pdRef `json:"schedule"`
	EscalationPolicy pdRef  `json:"escalation_policy"`
	EscalationLevel  int    `json:"escalation_level"`
}

type pdPage struct {
	More   bool `json:"more"`
	Offset int  `json:"offset"`
	Limit  int  `json:"limit"`
}

type pdOncalls struct {
	pdPage
	Oncalls []pdOncall `json:"oncalls"`
}

type pdPolicy struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Description     string `json:"description"`
	EscalationRules []struct {
		Targets []pdRef `json:"targets"`
	} `json:"escalation_rules"`
}

type pdPolicies struct {
	pdPage
	EscalationPolicies []pdPolicy `json:"escalation_policies"`
}

const pdPageSize = 100

// oncalls lists GET /oncalls at one instant, all pages.
func (p *pagerDuty) oncalls(ctx context.Context, filter url.Values, at time.Time) ([]pdOncall, error) {
	var all []pdOncall
	for offset := 0; ; {
		q := url.Values{}
		for k, v := range filter {
			q[k] = v
		}
		// A one-second window: PagerDuty returns on-calls overlapping it.
		q.Set("since", at.UTC().Format(time.RFC3339))
		q.Set("until", at.UTC().Add(time.Second).Format(time.RFC3339))
		q.Set("include[]", "users")
		q.Set("time_zone", "UTC")
		q.Set("limit", strconv.Itoa(pdPageSize))
		q.Set("offset", strconv.Itoa(offset))
		var page pdOncalls
		if err := p.http.Get(ctx, p.base+"/oncalls?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		all = append(all, page.Oncalls...)
		if !page.More || len(page.Oncalls) == 0 {
			return all, nil
		}
		offset += len(page.Oncalls)
	}
}

func (p *pagerDuty) responder(u pdRef) Responder {
	r := Responder{ID: u.ID, Name: u.Name, Email: u.Email, Timezone: u.TimeZone}
	if r.Name == "" {
		r.Name = u.Summary
	}
	switch p.cfg.ResponderID {
	case "pagerduty_id":
	case "email":
		if u.Email != "" {
			r.ID = u.Email
		}
	default:
		if local, _, ok := strings.Cut(u.Email, "@"); ok && local != "" {
			r.ID = local
		}
	}
	return r
}

// policyID resolves a playbook's policy name: configured mapping, then an
// escalation policy with that name, then the name itself as an id.
func (p *pagerDuty) policyID(ctx context.Context, name string) (string, error) {
	if id, ok := p.cfg.Policies[name]; ok {
		return id, nil
	}
	policies, err := p.policies(ctx, name)
	if err != nil {
		return "", err
	}
	for _, ep := range policies {
		if strings.EqualFold(ep.Name, name) || ep.ID == name {
			return ep.ID, nil
		}
	}
	return name, nil
}

func (p *pagerDuty) policies(ctx context.Context, query string) ([]pdPolicy, error) {
	var all []pdPolicy
	for offset := 0; ; {
		q := url.Values{"limit": {strconv.Itoa(pdPageSize)}, "offset": {strconv.Itoa(offset)}}
		if query != "" {
			q.Set("query", query)
		}
		var page pdPolicies
		if err := p.http.Get(ctx, p.base+"/escalation_policies?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		all = append(all, page.EscalationPolicies...)
		if !page.More || len(page.EscalationPolicies) == 0 {
			return all, nil
		}
		offset += len(page.EscalationPolicies)
	}
}

func (p *pagerDuty) policy(ctx context.Context, name string, at time.Time) ([]Tier, error) {
	id, err := p.policyID(ctx, name)
	if err != nil {
		return nil, err
	}
	ocs, err := p.oncalls(ctx, url.Values{"escalation_policy_ids[]": {id}}, at)
	if err != nil {
		return nil, err
	}
	if len(ocs) == 0 {
		return nil, plugins.Errorf(plugins.Permanent, "PagerDuty has no on-calls for escalation policy %q (id %s); map it in plugins.oncall.config.pagerduty.policies", name, id)
	}
	maxLevel := 0
	for _, oc := range ocs {
		maxLevel = max(maxLevel, oc.EscalationLevel, 1)
	}
	tiers := make([]Tier, maxLevel)
	users := make([][]pdRef, maxLevel)
	for i := range tiers {
		tiers[i] = Tier{Level: i + 1, Responders: []Responder{}, Schedules: []string{}}
	}
	for _, oc := range ocs {
		i := max(oc.EscalationLevel, 1) - 1
		users[i] = append(users[i], oc.User)
		if oc.Schedule != nil && oc.Schedule.ID != "" {
			addSchedule(&tiers[i], oc.Schedule.ID)
		}
	}
	for i, rs := range p.responders(users) {
		tiers[i].Responders = rs
	}
	return tiers, nil
}

// responders turns each tier's on-call users into responders (see
// uniqueResponders).
func (p *pagerDuty) responders(tiers [][]pdRef) [][]Responder {
	users := make([][]vendorUser, len(tiers))
	for i, refs := range tiers {
		for _, u := range refs {
			users[i] = append(users[i], vendorUser{id: u.ID, email: u.Email, r: p.responder(u)})
		}
	}
	return uniqueResponders(users)
}

func addSchedule(t *Tier, s string) {
	for _, x := range t.Schedules {
		if x == s {
			return
		}
	}
	t.Schedules = append(t.Schedules, s)
}

func (p *pagerDuty) schedule(ctx context.Context, name string, at time.Time) ([]Tier, error) {
	id := name
	if mapped, ok := p.cfg.Schedules[name]; ok {
		id = mapped
	}
	ocs, err := p.oncalls(ctx, url.Values{"schedule_ids[]": {id}}, at)
	if err != nil {
		return nil, err
	}
	users := make([]pdRef, 0, len(ocs))
	for _, oc := range ocs {
		users = append(users, oc.User)
	}
	return []Tier{{Level: 1, Responders: p.responders([][]pdRef{users})[0], Schedules: []string{id}}}, nil
}

func (p *pagerDuty) list(ctx context.Context) (Schedules, error) {
	policies, err := p.policies(ctx, "")
	if err != nil {
		return Schedules{}, err
	}
	out := Schedules{Schedules: []ScheduleInfo{}, Policies: []PolicyInfo{}}
	seen := map[string]bool{}
	for _, ep := range policies {
		info := PolicyInfo{ID: ep.ID, Name: ep.Name, Description: ep.Description, Tiers: []TierInfo{}}
		for i, rule := range ep.EscalationRules {
			ti := TierInfo{Level: i + 1, Schedules: []string{}, Responders: []string{}}
			for _, target := range rule.Targets {
				switch target.Type {
				case "schedule_reference", "schedule":
					ti.Schedules = append(ti.Schedules, target.ID)
					if !seen[target.ID] {
						seen[target.ID] = true
						out.Schedules = append(out.Schedules, ScheduleInfo{ID: target.ID, Name: target.Summary})
					}
				case "user_reference", "user":
					ti.Responders = append(ti.Responders, target.ID)
				}
			}
			info.Tiers = append(info.Tiers, ti)
		}
		out.Policies = append(out.Policies, info)
	}
	return out, nil
}
