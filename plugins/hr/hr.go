// Package hr is the built-in HR plugin: is a person working, off duty,
// traveling, on leave or sick at a given instant, and their directory
// record (time zone, working hours, manager).
//
// The default backend is a YAML directory file (examples/data/hr.yaml) that
// needs no account and is re-read when it changes. The bamboohr backend asks
// BambooHR's API instead: the employee directory for the person and "who's
// out" for their time off.
package hr

import (
	"context"
	"strings"
	"time"
	_ "time/tzdata" // statuses depend on IANA zones; do not depend on the host having them

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/internal/datafile"
	"github.com/soar-dev/soar/plugins/sdk"
)

// Version is the plugin's manifest version.
const Version = "1.0.0"

// The statuses hr.status reports.
const (
	StatusWorking   = "working"
	StatusOffDuty   = "off_duty"
	StatusTraveling = "traveling"
	StatusOnLeave   = "on_leave"
	StatusSick      = "sick"
)

// Config is the plugin's config.
type Config struct {
	Backend  string          `json:"backend,omitempty" jsonschema:"enum=file,enum=bamboohr,description=Where HR data comes from (default file)"`
	File     string          `json:"file,omitempty" jsonschema:"description=Path of the YAML HR directory (backend file)"`
	BambooHR *BambooHRConfig `json:"bamboohr,omitempty" jsonschema:"description=Settings of the bamboohr backend"`
}

// SecretBambooHRKey names the BambooHR API key secret.
const SecretBambooHRKey = "bamboohr_api_key"

// StatusInput is the input of status.
type StatusInput struct {
	User string `json:"user" jsonschema:"minLength=1,description=Person id (or e-mail address) as in the HR directory"`
	At   string `json:"at,omitempty" jsonschema:"format=date-time,description=RFC 3339 instant to evaluate (default now)"`
}

// WorkingHours are a person's regular hours in their time zone.
type WorkingHours struct {
	Start string   `json:"start" jsonschema:"description=Local start time HH:MM"`
	End   string   `json:"end" jsonschema:"description=Local end time HH:MM; at or before start means the shift ends the next day"`
	Days  []string `json:"days" jsonschema:"description=Working days: mon tue wed thu fri sat sun"`
}

// Travel is a trip: the countries visited between from and until.
type Travel struct {
	Countries []string `json:"countries" jsonschema:"description=ISO 3166-1 alpha-2 codes"`
	From      string   `json:"from" jsonschema:"description=Date (whole local day) or RFC 3339 instant"`
	Until     string   `json:"until" jsonschema:"description=Date (included) or RFC 3339 instant (excluded)"`
	Note      string   `json:"note,omitempty"`
}

// Leave is time off: sick, vacation, parental and so on.
type Leave struct {
	Kind  string `json:"kind" jsonschema:"description=sick\\, vacation\\, parental … (as HR records it)"`
	From  string `json:"from"`
	Until string `json:"until"`
	Note  string `json:"note,omitempty"`
}

// Status is the answer of status.
type Status struct {
	User   string `json:"user"`
	Name   string `json:"name"`
	Status string `json:"status" jsonschema:"enum=working,enum=off_duty,enum=traveling,enum=on_leave,enum=sick"`
	// Travel is present while the person is on a trip (also during leave).
	Travel *Travel `json:"travel,omitempty"`
	// Leave is present while status is on_leave or sick.
	Leave          *Leave       `json:"leave,omitempty"`
	Timezone       string       `json:"timezone" jsonschema:"description=IANA time zone of the person"`
	LocalTime      string       `json:"local_time" jsonschema:"description=The evaluated instant in the person's time zone (RFC 3339)"`
	WorkingHours   WorkingHours `json:"working_hours"`
	InWorkingHours bool         `json:"in_working_hours" jsonschema:"description=Whether local_time is within working hours (whatever the status)"`
	Manager        string       `json:"manager" jsonschema:"description=Id of the person's manager; empty when unknown"`
}

// PersonInput is the input of person.
type PersonInput struct {
	User string `json:"user" jsonschema:"minLength=1,description=Person id (or e-mail address)"`
}

// Person is a directory record.
type Person struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	Email        string       `json:"email"`
	Phone        string       `json:"phone"`
	Title        string       `json:"title"`
	Department   string       `json:"department"`
	Location     string       `json:"location"`
	Timezone     string       `json:"timezone"`
	WorkingHours WorkingHours `json:"working_hours"`
	Manager      string       `json:"manager"`
	Travel       []Travel     `json:"travel" jsonschema:"description=Known trips (the bamboohr backend has none)"`
	TimeOff      []Leave      `json:"time_off" jsonschema:"description=Known time off (the bamboohr backend lists what is current)"`
}

// backend answers for one configured source of HR data.
type backend interface {
	status(ctx context.Context, call sdk.Call, user string, at time.Time) (Status, error)
	person(ctx context.Context, call sdk.Call, user string) (Person, error)
}

// Plugin returns the hr plugin, ready for sdk.Serve.
func Plugin() *sdk.Plugin {
	h := &hrPlugin{files: datafile.NewCache(parseDirectory), dirs: &directoryCache{}}
	return &sdk.Plugin{
		Name:        "hr",
		Version:     Version,
		Description: "HR directory: status (working, off_duty, traveling, on_leave, sick), travel, leave, time zone, working hours, manager",
		Config:      Config{},
		Secrets: []sdk.Secret{{Name: SecretBambooHRKey, Optional: true,
			Description: "BambooHR API key (backend bamboohr)"}},
		Actions: []sdk.Action{
			sdk.NewAction("status", "A person's status at an instant (default now) in their time zone: "+
				"sick or on_leave (with leave), else traveling (with travel), else working or off_duty by working hours", h.status),
			sdk.NewAction("person", "A person's directory record", h.person),
		},
		Health: h.health,
	}
}

type hrPlugin struct {
	files *datafile.Cache[*directory]
	dirs  *directoryCache
}

func (h *hrPlugin) backend(call sdk.Call) (backend, error) {
	var cfg Config
	if err := call.DecodeConfig(&cfg); err != nil {
		return nil, plugins.Errorf(plugins.Permanent, "%v", err)
	}
	switch cfg.Backend {
	case "", "file":
		if cfg.File == "" {
			return nil, plugins.Errorf(plugins.Permanent, "no HR directory configured: set plugins.hr.config.file (see examples/data/hr.yaml)")
		}
		return &fileBackend{path: cfg.File, files: h.files}, nil
	case "bamboohr":
		return newBambooHR(cfg.BambooHR, call, h.dirs)
	default:
		return nil, plugins.Errorf(plugins.Permanent, "unknown hr backend %q (file or bamboohr)", cfg.Backend)
	}
}

func parseAt(s string) (time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, plugins.Errorf(plugins.InvalidInput, "at %q is not an RFC 3339 time", s)
	}
	return t, nil
}

func (h *hrPlugin) status(ctx context.Context, call sdk.Call, in StatusInput) (Status, error) {
	at, err := parseAt(in.At)
	if err != nil {
		return Status{}, err
	}
	b, err := h.backend(call)
	if err != nil {
		return Status{}, err
	}
	return b.status(ctx, call, strings.TrimSpace(in.User), at)
}

func (h *hrPlugin) person(ctx context.Context, call sdk.Call, in PersonInput) (Person, error) {
	b, err := h.backend(call)
	if err != nil {
		return Person{}, err
	}
	return b.person(ctx, call, strings.TrimSpace(in.User))
}

func (h *hrPlugin) health(ctx context.Context, call sdk.Call) error {
	b, err := h.backend(call)
	if err != nil {
		return err
	}
	if fb, ok := b.(*fileBackend); ok {
		_, err := fb.dir(call)
		return err
	}
	return nil
}

// fileBackend answers from the YAML directory.
type fileBackend struct {
	path  string
	files *datafile.Cache[*directory]
}

func (f *fileBackend) dir(call sdk.Call) (*directory, error) {
	d, err := f.files.Get(f.path, call.Logger)
	if err != nil {
		return nil, plugins.Errorf(plugins.Permanent, "hr directory %v", err)
	}
	return d, nil
}

func (f *fileBackend) find(call sdk.Call, user string) (*person, error) {
	d, err := f.dir(call)
	if err != nil {
		return nil, err
	}
	p, err := d.lookup(user)
	if err != nil {
		return nil, plugins.Errorf(plugins.Permanent, "%v (%s)", err, f.path)
	}
	return p, nil
}

func (f *fileBackend) status(_ context.Context, call sdk.Call, user string, at time.Time) (Status, error) {
	p, err := f.find(call, user)
	if err != nil {
		return Status{}, err
	}
	return p.statusAt(at), nil
}

func (f *fileBackend) person(_ context.Context, call sdk.Call, user string) (Person, error) {
	p, err := f.find(call, user)
	if err != nil {
		return Person{}, err
	}
	return p.Person, nil
}
