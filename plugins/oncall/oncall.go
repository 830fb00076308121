// Package oncall is the built-in on-call plugin: who is on call for an
// escalation policy (tier by tier) or a schedule at a given instant.
//
// The default backend is a YAML file of PagerDuty-like schedules (layered
// rotations with handoff times, restrictions and overrides) and escalation
// policies (examples/data/oncall.yaml); it needs no account and is re-read
// when it changes. The pagerduty and opsgenie backends ask those services.
package oncall

import (
	"context"
	"strings"
	"time"
	_ "time/tzdata" // rotations depend on IANA zones; do not depend on the host having them

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/internal/datafile"
	"github.com/soar-dev/soar/plugins/sdk"
)

// Version is the plugin's manifest version.
const Version = "1.0.0"

// Secret names.
const (
	SecretPagerDutyToken = "pagerduty_token"
	SecretOpsgenieKey    = "opsgenie_api_key"
)

// Config is the plugin's config.
type Config struct {
	Backend   string           `json:"backend,omitempty" jsonschema:"enum=file,enum=pagerduty,enum=opsgenie,description=Where on-call data comes from (default file)"`
	File      string           `json:"file,omitempty" jsonschema:"description=Path of the YAML schedules and policies (backend file)"`
	PagerDuty *PagerDutyConfig `json:"pagerduty,omitempty" jsonschema:"description=Settings of the pagerduty backend"`
	Opsgenie  *OpsgenieConfig  `json:"opsgenie,omitempty" jsonschema:"description=Settings of the opsgenie backend"`
}

// WhoInput is the input of who: exactly one of policy and schedule.
type WhoInput struct {
	Policy   string `json:"policy,omitempty" jsonschema:"description=Escalation policy id or name (give this or schedule)"`
	Schedule string `json:"schedule,omitempty" jsonschema:"description=Schedule id or name (give this or policy)"`
	At       string `json:"at,omitempty" jsonschema:"format=date-time,description=RFC 3339 instant (default now)"`
}

// Responder is someone who can be paged. ID is the id the HR plugin and the
// page plugin know the person by.
type Responder struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	Phone    string `json:"phone"`
	Timezone string `json:"timezone" jsonschema:"description=IANA time zone; empty when unknown"`
}

// Tier is one escalation level and who is on call for it.
type Tier struct {
	Level      int         `json:"level" jsonschema:"minimum=1,description=1 is paged first"`
	Responders []Responder `json:"responders" jsonschema:"description=Empty when the tier's schedules have nobody on call"`
	Schedules  []string    `json:"schedules" jsonschema:"description=Schedules the responders come from"`
}

// Who is the answer of who.
type Who struct {
	Policy   string `json:"policy" jsonschema:"description=The policy asked for; empty when a schedule was"`
	Schedule string `json:"schedule" jsonschema:"description=The schedule asked for; empty when a policy was"`
	At       string `json:"at" jsonschema:"description=The evaluated instant (RFC 3339\\, UTC)"`
	Tiers    []Tier `json:"tiers"`
}

// SchedulesInput is the (empty) input of schedules.
type SchedulesInput struct{}

// ScheduleInfo describes a schedule.
type ScheduleInfo struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Timezone    string `json:"timezone"`
}

// PolicyInfo describes an escalation policy.
type PolicyInfo struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Tiers       []TierInfo `json:"tiers"`
}

// TierInfo is one level of a policy as configured.
type TierInfo struct {
	Level      int      `json:"level"`
	Schedules  []string `json:"schedules"`
	Responders []string `json:"responders"`
}

// Schedules is the answer of schedules.
type Schedules struct {
	Schedules []ScheduleInfo `json:"schedules"`
	Policies  []PolicyInfo   `json:"policies"`
}

type backend interface {
	policy(ctx context.Context, name string, at time.Time) ([]Tier, error)
	schedule(ctx context.Context, name string, at time.Time) ([]Tier, error)
	list(ctx context.Context) (Schedules, error)
}

// Plugin returns the oncall plugin, ready for sdk.Serve.
func Plugin() *sdk.Plugin {
	o := &oncallPlugin{files: datafile.NewCache(parseRoster)}
	return &sdk.Plugin{
		Name:        "oncall",
		Version:     Version,
		Description: "On-call schedules and escalation policies: who is on call, tier by tier",
		Config:      Config{},
		Secrets: []sdk.Secret{
			{Name: SecretPagerDutyToken, Optional: true, Description: "PagerDuty REST API token (backend pagerduty)"},
			{Name: SecretOpsgenieKey, Optional: true, Description: "Opsgenie API key (backend opsgenie)"},
		},
		Actions: []sdk.Action{
			sdk.NewAction("who", "Who is on call at an instant (default now): for a policy, every tier in order; "+
				"for a schedule, one tier", o.who),
			sdk.NewAction("schedules", "The schedules and escalation policies there are", o.schedules),
		},
		Health: o.health,
	}
}

type oncallPlugin struct {
	files *datafile.Cache[*roster]
}

func (o *oncallPlugin) backend(call sdk.Call) (backend, error) {
	var cfg Config
	if err := call.DecodeConfig(&cfg); err != nil {
		return nil, plugins.Errorf(plugins.Permanent, "%v", err)
	}
	switch cfg.Backend {
	case "", "file":
		if cfg.File == "" {
			return nil, plugins.Errorf(plugins.Permanent, "no on-call file configured: set plugins.oncall.config.file (see examples/data/oncall.yaml)")
		}
		return &fileBackend{path: cfg.File, files: o.files, call: call}, nil
	case "pagerduty":
		return newPagerDuty(cfg.PagerDuty, call)
	case "opsgenie":
		return newOpsgenie(cfg.Opsgenie, call)
	default:
		return nil, plugins.Errorf(plugins.Permanent, "unknown oncall backend %q (file, pagerduty or opsgenie)", cfg.Backend)
	}
}

func (o *oncallPlugin) who(ctx context.Context, call sdk.Call, in WhoInput) (Who, error) {
	in.Policy, in.Schedule = strings.TrimSpace(in.Policy), strings.TrimSpace(in.Schedule)
	if (in.Policy == "") == (in.Schedule == "") {
		return Who{}, plugins.Errorf(plugins.InvalidInput, "give exactly one of policy and schedule")
	}
	at := time.Now()
	if in.At != "" {
		var err error
		if at, err = time.Parse(time.RFC3339, in.At); err != nil {
			return Who{}, plugins.Errorf(plugins.InvalidInput, "at %q is not an RFC 3339 time", in.At)
		}
	}
	b, err := o.backend(call)
	if err != nil {
		return Who{}, err
	}
	out := Who{Policy: in.Policy, Schedule: in.Schedule, At: at.UTC().Format(time.RFC3339)}
	if in.Policy != "" {
		out.Tiers, err = b.policy(ctx, in.Policy, at)
	} else {
		out.Tiers, err = b.schedule(ctx, in.Schedule, at)
	}
	return out, err
}

func (o *oncallPlugin) schedules(ctx context.Context, call sdk.Call, _ SchedulesInput) (Schedules, error) {
	b, err := o.backend(call)
	if err != nil {
		return Schedules{}, err
	}
	return b.list(ctx)
}

func (o *oncallPlugin) health(_ context.Context, call sdk.Call) error {
	b, err := o.backend(call)
	if err != nil {
		return err
	}
	if fb, ok := b.(*fileBackend); ok {
		_, err := fb.roster()
		return err
	}
	return nil
}

// fileBackend answers from the YAML schedules.
type fileBackend struct {
	path  string
	files *datafile.Cache[*roster]
	call  sdk.Call
}

func (f *fileBackend) roster() (*roster, error) {
	r, err := f.files.Get(f.path, f.call.Logger)
	if err != nil {
		return nil, plugins.Errorf(plugins.Permanent, "on-call file %v", err)
	}
	return r, nil
}

func (f *fileBackend) policy(_ context.Context, name string, at time.Time) ([]Tier, error) {
	r, err := f.roster()
	if err != nil {
		return nil, err
	}
	p, ok := r.policies[name]
	if !ok {
		return nil, plugins.Errorf(plugins.Permanent, "no escalation policy %q in %s (there are: %s)", name, f.path, strings.Join(r.policyOrder, ", "))
	}
	tiers := make([]Tier, 0, len(p.tiers))
	for i, spec := range p.tiers {
		t := Tier{Level: i + 1, Responders: []Responder{}, Schedules: []string{}}
		seen := map[string]bool{}
		add := func(id string) {
			if !seen[id] {
				seen[id] = true
				t.Responders = append(t.Responders, r.responders[id])
			}
		}
		for _, s := range spec.schedules {
			t.Schedules = append(t.Schedules, s)
			if id, ok := r.schedules[s].onCall(at); ok {
				add(id)
			}
		}
		for _, id := range spec.responders {
			add(id)
		}
		tiers = append(tiers, t)
	}
	return tiers, nil
}

func (f *fileBackend) schedule(_ context.Context, name string, at time.Time) ([]Tier, error) {
	r, err := f.roster()
	if err != nil {
		return nil, err
	}
	s, ok := r.schedules[name]
	if !ok {
		return nil, plugins.Errorf(plugins.Permanent, "no schedule %q in %s (there are: %s)", name, f.path, strings.Join(r.scheduleOrder, ", "))
	}
	t := Tier{Level: 1, Responders: []Responder{}, Schedules: []string{name}}
	if id, ok := s.onCall(at); ok {
		t.Responders = append(t.Responders, r.responders[id])
	}
	return []Tier{t}, nil
}

func (f *fileBackend) list(context.Context) (Schedules, error) {
	r, err := f.roster()
	if err != nil {
		return Schedules{}, err
	}
	out := Schedules{Schedules: []ScheduleInfo{}, Policies: []PolicyInfo{}}
	for _, id := range r.scheduleOrder {
		s := r.schedules[id]
		out.Schedules = append(out.Schedules, ScheduleInfo{ID: s.id, Name: s.name, Description: s.description, Timezone: s.loc.String()})
	}
	for _, id := range r.policyOrder {
		p := r.policies[id]
		info := PolicyInfo{ID: p.id, Name: p.name, Description: p.description, Tiers: []TierInfo{}}
		for i, t := range p.tiers {
			info.Tiers = append(info.Tiers, TierInfo{Level: i + 1, Schedules: nonNil(t.schedules), Responders: nonNil(t.responders)})
		}
		out.Policies = append(out.Policies, info)
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
