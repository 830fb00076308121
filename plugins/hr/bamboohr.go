package hr

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/internal/datafile"
	"github.com/soar-dev/soar/plugins/sdk"

	"github.com/soar-dev/soar/plugins/internal/httpapi"
)

// BambooHRConfig configures the bamboohr backend. BambooHR knows who is out
// but not a person's time zone or hours, so those come from here.
type BambooHRConfig struct {
	Company string `json:"company,omitempty" jsonschema:"description=Company subdomain: acme for acme.bamboohr.com"`
	// BaseURL overrides https://COMPANY.bamboohr.com (tests, proxies).
	BaseURL           string            `json:"base_url,omitempty" jsonschema:"description=API base URL (default https://COMPANY.bamboohr.com)"`
	DefaultTimezone   string            `json:"default_timezone,omitempty" jsonschema:"description=IANA zone of people whose location is not in location_timezones (default UTC)"`
	LocationTimezones map[string]string `json:"location_timezones,omitempty" jsonschema:"description=Directory location name to IANA zone (Berlin: Europe/Berlin)"`
	WorkingHours      *WorkingHours     `json:"working_hours,omitempty" jsonschema:"description=Working hours of everyone (default 09:00-17:00 mon-fri)"`
	SickTypes         []string          `json:"sick_types,omitempty" jsonschema:"description=Time-off type names that mean sick (default [Sick])"`
}

const bambooSetting = "plugins.hr.secrets." + SecretBambooHRKey

type bambooHR struct {
	cfg   BambooHRConfig
	base  string
	http  httpapi.JSONAPI
	hours datafile.Window
	wh    WorkingHours
	dirs  *directoryCache
	key   string
}

// directoryTTL bounds how stale the cached employee directory may be. An
// escalation asks hr.status for every responder it considers; the
// directory changes far more slowly than that.
const directoryTTL = 5 * time.Minute

// directoryCache keeps the last directory per API base and key.
type directoryCache struct {
	mu      sync.Mutex
	entries map[string]cachedDirectory
}

type cachedDirectory struct {
	dir     bambooDirectory
	fetched time.Time
}

func newBambooHR(cfg *BambooHRConfig, call sdk.Call, dirs *directoryCache) (*bambooHR, error) {
	if cfg == nil || (cfg.Company == "" && cfg.BaseURL == "") {
		return nil, plugins.Errorf(plugins.Permanent, "hr backend bamboohr needs plugins.hr.config.bamboohr.company (the acme of acme.bamboohr.com)")
	}
	key := call.Secrets[SecretBambooHRKey]
	if key == "" {
		return nil, plugins.Errorf(plugins.Permanent, "hr backend bamboohr needs the API key: set %s", bambooSetting)
	}
	b := &bambooHR{cfg: *cfg, base: strings.TrimRight(cfg.BaseURL, "/"), wh: defaultWorkingHours(), dirs: dirs, key: key}
	if b.base == "" {
		b.base = "https://" + url.PathEscape(cfg.Company) + ".bamboohr.com"
	}
	if cfg.WorkingHours != nil {
		b.wh = *cfg.WorkingHours
	}
	var err error
	if b.hours, err = hoursWindow(b.wh); err != nil {
		return nil, plugins.Errorf(plugins.Permanent, "plugins.hr.config.bamboohr.working_hours: %v", err)
	}
	if len(b.cfg.SickTypes) == 0 {
		b.cfg.SickTypes = []string{"Sick"}
	}
	// BambooHR's API key is the basic-auth user name; the password is
	// ignored and documented as "x".
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":x"))
	b.http = httpapi.JSONAPI{Vendor: "BambooHR", Setting: bambooSetting, Client: httpapi.DefaultClient,
		Header: http.Header{"Authorization": {auth}}, Secrets: []string{key, auth}}
	return b, nil
}

// bambooDirectory is GET /api/v1/employees/directory.
type bambooDirectory struct {
	Employees []map[string]any `json:"employees"`
}

// bambooOut is one entry of GET /api/v1/time_off/whos_out.
type bambooOut struct {
	ID         json.Number `json:"id"`
	Type       string      `json:"type"` // timeOff or holiday
	EmployeeID json.Number `json:"employeeId"`
	Name       string      `json:"name"`
	Start      string      `json:"start"`
	End        string      `json:"end"`
}

// bambooRequest is one entry of GET /api/v1/time_off/requests.
type bambooRequest struct {
	ID    json.Number `json:"id"`
	Start string      `json:"start"`
	End   string      `json:"end"`
	Type  struct {
		Name string `json:"name"`
	} `json:"type"`
}

func field(e map[string]any, key string) string {
	switch v := e[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprint(v)
	}
}

func (b *bambooHR) directory(ctx context.Context) (bambooDirectory, error) {
	sum := sha256.Sum256([]byte(b.key))
	cacheKey := b.base + "\x00" + hex.EncodeToString(sum[:])
	b.dirs.mu.Lock()
	c, ok := b.dirs.entries[cacheKey]
	b.dirs.mu.Unlock()
	if ok && time.Since(c.fetched) < directoryTTL {
		return c.dir, nil
	}
	var dir bambooDirectory
	if err := b.http.Get(ctx, b.base+"/api/v1/employees/directory", &dir); err != nil {
		return dir, err
	}
	b.dirs.mu.Lock()
	if b.dirs.entries == nil {
		b.dirs.entries = map[string]cachedDirectory{}
	}
	b.dirs.entries[cacheKey] = cachedDirectory{dir: dir, fetched: time.Now()}
	b.dirs.mu.Unlock()
	return dir, nil
}

func (b *bambooHR) employee(ctx context.Context, user string) (Person, error) {
	dir, err := b.directory(ctx)
	if err != nil {
		return Person{}, err
	}
	// An id or a full e-mail names one person. A bare local part may name
	// several (alice@corp and alice@subsidiary): guessing one could answer
	// with the wrong person's leave and silence an alert.
	var exact, byLocal []map[string]any
	for _, e := range dir.Employees {
		email := field(e, "workEmail")
		local, _, _ := strings.Cut(email, "@")
		switch {
		case field(e, "id") == user || strings.EqualFold(email, user):
			exact = append(exact, e)
		case local != "" && strings.EqualFold(local, user):
			byLocal = append(byLocal, e)
		}
	}
	matches := exact
	if len(matches) == 0 {
		matches = byLocal
	}
	if len(matches) > 1 {
		var who []string
		for _, e := range matches {
			who = append(who, field(e, "workEmail")+" (id "+field(e, "id")+")")
		}
		return Person{}, plugins.Errorf(plugins.Permanent, "%q matches %d employees in the BambooHR directory: %s; use the full work e-mail or the employee id",
			user, len(matches), strings.Join(who, ", "))
	}
	for _, e := range matches {
		email := field(e, "workEmail")
		loc := b.zone(field(e, "location"))
		phone := field(e, "mobilePhone")
		if phone == "" {
			phone = field(e, "workPhone")
		}
		return Person{
			ID: field(e, "id"), Name: field(e, "displayName"), Email: email, Phone: phone,
			Title: field(e, "jobTitle"), Department: field(e, "department"), Location: field(e, "location"),
			Timezone: loc.String(), WorkingHours: b.wh, Travel: []Travel{}, TimeOff: []Leave{},
		}, nil
	}
	return Person{}, plugins.Errorf(plugins.Permanent, "no employee %q in the BambooHR directory (matched by id, work e-mail or its local part)", user)
}

func (b *bambooHR) zone(location string) *time.Location {
	name := b.cfg.LocationTimezones[location]
	if name == "" {
		name = b.cfg.DefaultTimezone
	}
	if loc, err := time.LoadLocation(name); err == nil && name != "" {
		return loc
	}
	return time.UTC
}

func (b *bambooHR) person(ctx context.Context, call sdk.Call, user string) (Person, error) {
	p, err := b.employee(ctx, user)
	if err != nil {
		return Person{}, err
	}
	today := time.Now().In(b.zone(p.Location)).Format(dateLayout)
	out, err := b.whosOut(ctx, today)
	if err != nil {
		return Person{}, err
	}
	for _, o := range out {
		if o.Type == "timeOff" && o.EmployeeID.String() == p.ID {
			kind, err := b.kind(ctx, p.ID, o, today)
			if err != nil {
				return Person{}, err
			}
			p.TimeOff = append(p.TimeOff, Leave{Kind: kind, From: o.Start, Until: o.End})
		}
	}
	return p, nil
}

func (b *bambooHR) whosOut(ctx context.Context, day string) ([]bambooOut, error) {
	q := url.Values{"start": {day}, "end": {day}, "filter": {"off"}}
	var out []bambooOut
	err := b.http.Get(ctx, b.base+"/api/v1/time_off/whos_out?"+q.Encode(), &out)
	return out, err
}

// kind finds the time-off type of a who's-out entry, which itself only says
// "timeOff": the request it names carries the type (Vacation, Sick …).
func (b *bambooHR) kind(ctx context.Context, employee string, o bambooOut, day string) (string, error) {
	q := url.Values{"start": {day}, "end": {day}, "employeeId": {employee}, "status": {"approved"}}
	var reqs []bambooRequest
	if err := b.http.Get(ctx, b.base+"/api/v1/time_off/requests?"+q.Encode(), &reqs); err != nil {
		return "", err
	}
	for _, r := range reqs {
		if r.ID == o.ID {
			if slices.ContainsFunc(b.cfg.SickTypes, func(s string) bool { return strings.EqualFold(s, r.Type.Name) }) {
				return "sick", nil
			}
			return strings.ToLower(r.Type.Name), nil
		}
	}
	return "time off", nil
}

func (b *bambooHR) status(ctx context.Context, call sdk.Call, user string, at time.Time) (Status, error) {
	p, err := b.employee(ctx, user)
	if err != nil {
		return Status{}, err
	}
	loc := b.zone(p.Location)
	local := at.In(loc)
	day := local.Format(dateLayout)
	s := Status{
		User: p.ID, Name: p.Name, Timezone: p.Timezone, LocalTime: local.Format(time.RFC3339),
		WorkingHours: b.wh, InWorkingHours: b.hours.Contains(local), Status: StatusOffDuty,
	}
	if s.InWorkingHours {
		s.Status = StatusWorking
	}
	out, err := b.whosOut(ctx, day)
	if err != nil {
		return Status{}, err
	}
	for _, o := range out {
		switch {
		case o.Type == "holiday" && o.Start <= day && day <= o.End:
			// A company holiday is a day off, not leave.
			if s.Status == StatusWorking {
				s.Status = StatusOffDuty
			}
		case o.Type == "timeOff" && o.EmployeeID.String() == p.ID && o.Start <= day && day <= o.End:
			kind, err := b.kind(ctx, p.ID, o, day)
			if err != nil {
				return Status{}, err
			}
			s.Leave = &Leave{Kind: kind, From: o.Start, Until: o.End}
			s.Status = StatusOnLeave
			if kind == "sick" {
				s.Status = StatusSick
				return s, nil
			}
		}
	}
	return s, nil
}
