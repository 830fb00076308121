package hr

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/soar-dev/soar/plugins/internal/datafile"
)

// The directory file (see examples/data/hr.yaml) is written for people:
//
//	defaults:
//	  timezone: Europe/Berlin
//	  working_hours: {start: "09:00", end: "17:00", days: [mon-fri]}
//	people:
//	  - id: alice
//	    name: Alice Adams
//	    timezone: Europe/Berlin
//	    manager: soc-manager
//	    travel:
//	      - {countries: [GB], from: 2026-12-07, until: 2026-12-11}
//	    time_off:
//	      - {kind: vacation, from: 2026-12-21, until: 2027-01-04}
//
// Dates without a time cover whole days in the person's time zone, both
// ends included; a date-time with an offset (2026-12-07T14:00:00+01:00) or
// without one (2026-12-07T14:00, the person's local time) is an exact
// instant, and `until` is then the first instant no longer covered.

type fileDoc struct {
	Defaults yaml.Node   `yaml:"defaults"`
	People   []yaml.Node `yaml:"people"`
}

type fileDefaults struct {
	Timezone     yaml.Node `yaml:"timezone"`
	WorkingHours yaml.Node `yaml:"working_hours"`
}

type filePerson struct {
	ID           yaml.Node   `yaml:"id"`
	Name         string      `yaml:"name"`
	Email        string      `yaml:"email"`
	Phone        string      `yaml:"phone"`
	Title        string      `yaml:"title"`
	Department   string      `yaml:"department"`
	Location     string      `yaml:"location"`
	Timezone     yaml.Node   `yaml:"timezone"`
	WorkingHours yaml.Node   `yaml:"working_hours"`
	Manager      yaml.Node   `yaml:"manager"`
	Travel       []yaml.Node `yaml:"travel"`
	TimeOff      []yaml.Node `yaml:"time_off"`
}

type fileHours struct {
	Start yaml.Node `yaml:"start"`
	End   yaml.Node `yaml:"end"`
	Days  yaml.Node `yaml:"days"`
}

type fileTravel struct {
	Countries yaml.Node `yaml:"countries"`
	From      yaml.Node `yaml:"from"`
	Until     yaml.Node `yaml:"until"`
	Note      string    `yaml:"note"`
}

type fileTimeOff struct {
	Kind  yaml.Node `yaml:"kind"`
	From  yaml.Node `yaml:"from"`
	Until yaml.Node `yaml:"until"`
	Note  string    `yaml:"note"`
}

// directory is a fully validated HR file; it is built whole or not at all.
type directory struct {
	people map[string]*person
	order  []string
}

type person struct {
	Person
	loc             *time.Location
	hours           datafile.Window
	travel, timeOff []period
}

// period is a half-open interval [from, until) with the text it came from.
type period struct {
	from, until         time.Time
	fromText, untilText string
	countries           []string // travel only
	kind, note          string
}

func (p period) contains(t time.Time) bool { return !t.Before(p.from) && t.Before(p.until) }

var (
	idPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]*$`)
	countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)
)

// defaultWorkingHours apply when neither the person nor the file's
// defaults say otherwise.
func defaultWorkingHours() WorkingHours {
	return WorkingHours{Start: "09:00", End: "17:00", Days: []string{"mon", "tue", "wed", "thu", "fri"}}
}

func parseDirectory(data []byte) (*directory, error) {
	root, err := datafile.Parse(data)
	if err != nil {
		return nil, err
	}
	var doc fileDoc
	if err := datafile.DecodeStrict(root, &doc); err != nil {
		return nil, err
	}
	defZone, defHours := time.UTC, defaultWorkingHours()
	if doc.Defaults.Kind != 0 {
		var d fileDefaults
		if err := datafile.DecodeStrict(&doc.Defaults, &d); err != nil {
			return nil, err
		}
		if d.Timezone.Kind != 0 {
			if defZone, err = datafile.ParseZone(&d.Timezone); err != nil {
				return nil, err
			}
		}
		if d.WorkingHours.Kind != 0 {
			if defHours, _, err = parseHours(&d.WorkingHours); err != nil {
				return nil, err
			}
		}
	}
	if len(doc.People) == 0 {
		return nil, datafile.ErrorAt(root, "no people: add a `people:` list")
	}
	dir := &directory{people: map[string]*person{}}
	managers := map[string]*yaml.Node{}
	for i := range doc.People {
		p, mgr, err := parsePerson(&doc.People[i], defZone, defHours)
		if err != nil {
			return nil, err
		}
		if _, dup := dir.people[p.ID]; dup {
			return nil, datafile.ErrorAt(&doc.People[i], "person %q is listed twice", p.ID)
		}
		dir.people[p.ID] = p
		dir.order = append(dir.order, p.ID)
		if mgr != nil {
			managers[p.ID] = mgr
		}
	}
	for _, id := range dir.order {
		if m := managers[id]; m != nil {
			if _, ok := dir.people[m.Value]; !ok {
				return nil, datafile.ErrorAt(m, "manager %q of %s is not in the file", m.Value, id)
			}
		}
	}
	return dir, nil
}

func parseHours(n *yaml.Node) (WorkingHours, datafile.Window, error) {
	var h fileHours
	if err := datafile.DecodeStrict(n, &h); err != nil {
		return WorkingHours{}, datafile.Window{}, err
	}
	wh := WorkingHours{Start: h.Start.Value, End: h.End.Value}
	var w datafile.Window
	var err error
	if h.Start.Kind == 0 || h.End.Kind == 0 {
		return wh, w, datafile.ErrorAt(n, "working_hours needs start and end, e.g. {start: \"09:00\", end: \"17:00\", days: [mon-fri]}")
	}
	if w.Start, err = datafile.ParseClock(h.Start.Value); err != nil {
		return wh, w, datafile.ErrorAt(&h.Start, "%v", err)
	}
	if w.End, err = datafile.ParseClock(h.End.Value); err != nil {
		return wh, w, datafile.ErrorAt(&h.End, "%v", err)
	}
	days := []string{"mon-fri"}
	if h.Days.Kind != 0 {
		days = nil
		if err := h.Days.Decode(&days); err != nil {
			var one string
			if h.Days.Decode(&one) != nil {
				return wh, w, datafile.ErrorAt(&h.Days, "days must be a list such as [mon-fri] or [mon, wed, fri]")
			}
			days = []string{one}
		}
	}
	if w.Days, err = datafile.ParseDays(days); err != nil {
		return wh, w, datafile.ErrorAt(&h.Days, "%v", err)
	}
	for i, on := range w.Days {
		if on {
			wh.Days = append(wh.Days, datafile.DayName(time.Weekday(i)))
		}
	}
	// Monday first reads better than the Weekday order.
	if len(wh.Days) > 0 && wh.Days[0] == "sun" {
		wh.Days = append(wh.Days[1:], "sun")
	}
	return wh, w, nil
}

func parsePerson(n *yaml.Node, defZone *time.Location, defHours WorkingHours) (*person, *yaml.Node, error) {
	var fp filePerson
	if err := datafile.DecodeStrict(n, &fp); err != nil {
		return nil, nil, err
	}
	if !idPattern.MatchString(fp.ID.Value) {
		if fp.ID.Kind == 0 {
			return nil, nil, datafile.ErrorAt(n, "person has no id")
		}
		return nil, nil, datafile.ErrorAt(&fp.ID, "id %q must be letters, digits and . _ @ + - (no spaces)", fp.ID.Value)
	}
	p := &person{Person: Person{
		ID: fp.ID.Value, Name: fp.Name, Email: fp.Email, Phone: fp.Phone, Title: fp.Title,
		Department: fp.Department, Location: fp.Location, Manager: fp.Manager.Value,
		Travel: []Travel{}, TimeOff: []Leave{},
	}}
	if p.Name == "" {
		p.Name = p.ID
	}
	p.loc = defZone
	if fp.Timezone.Kind != 0 {
		var err error
		if p.loc, err = datafile.ParseZone(&fp.Timezone); err != nil {
			return nil, nil, err
		}
	}
	p.Timezone = p.loc.String()
	var err error
	if fp.WorkingHours.Kind != 0 {
		if p.WorkingHours, p.hours, err = parseHours(&fp.WorkingHours); err != nil {
			return nil, nil, err
		}
	} else {
		p.WorkingHours = defHours
		if p.hours, err = hoursWindow(defHours); err != nil {
			return nil, nil, datafile.ErrorAt(n, "default working hours: %v", err)
		}
	}
	for i := range fp.Travel {
		var ft fileTravel
		if err := datafile.DecodeStrict(&fp.Travel[i], &ft); err != nil {
			return nil, nil, err
		}
		per, err := parsePeriod(&fp.Travel[i], &ft.From, &ft.Until, p.loc)
		if err != nil {
			return nil, nil, err
		}
		if ft.Countries.Kind == 0 {
			return nil, nil, datafile.ErrorAt(&fp.Travel[i], "travel needs countries, e.g. countries: [GB]")
		}
		var countries []string
		if err := ft.Countries.Decode(&countries); err != nil || len(countries) == 0 {
			return nil, nil, datafile.ErrorAt(&ft.Countries, "countries must be a list of ISO 3166 alpha-2 codes, e.g. [GB, IE]")
		}
		for j, c := range countries {
			countries[j] = strings.ToUpper(strings.TrimSpace(c))
			if !countryPattern.MatchString(countries[j]) {
				return nil, nil, datafile.ErrorAt(&ft.Countries, "%q is not an ISO 3166 alpha-2 country code (GB, US, DE …)", c)
			}
		}
		per.countries, per.note = countries, ft.Note
		p.travel = append(p.travel, per)
		p.Travel = append(p.Travel, Travel{Countries: countries, From: per.fromText, Until: per.untilText, Note: ft.Note})
	}
	for i := range fp.TimeOff {
		var fo fileTimeOff
		if err := datafile.DecodeStrict(&fp.TimeOff[i], &fo); err != nil {
			return nil, nil, err
		}
		per, err := parsePeriod(&fp.TimeOff[i], &fo.From, &fo.Until, p.loc)
		if err != nil {
			return nil, nil, err
		}
		per.kind = strings.ToLower(strings.TrimSpace(fo.Kind.Value))
		if per.kind == "" {
			return nil, nil, datafile.ErrorAt(&fp.TimeOff[i], "time_off needs a kind: sick, vacation, parental, …")
		}
		per.note = fo.Note
		p.timeOff = append(p.timeOff, per)
		p.TimeOff = append(p.TimeOff, Leave{Kind: per.kind, From: per.fromText, Until: per.untilText, Note: fo.Note})
	}
	var mgr *yaml.Node
	if fp.Manager.Kind != 0 {
		mgr = &fp.Manager
	}
	return p, mgr, nil
}

func hoursWindow(h WorkingHours) (datafile.Window, error) {
	var w datafile.Window
	var err error
	if w.Start, err = datafile.ParseClock(h.Start); err != nil {
		return w, err
	}
	if w.End, err = datafile.ParseClock(h.End); err != nil {
		return w, err
	}
	w.Days, err = datafile.ParseDays(h.Days)
	return w, err
}

const (
	dateLayout      = "2006-01-02"
	localTimeLayout = "2006-01-02T15:04"
)

// parsePeriod reads from/until in loc: a date covers the whole local day
// (until inclusive), a date-time is an exact instant (until exclusive).
func parsePeriod(n, from, until *yaml.Node, loc *time.Location) (period, error) {
	if from.Kind == 0 || until.Kind == 0 {
		return period{}, datafile.ErrorAt(n, "a period needs from and until (dates like 2026-12-07, both days included)")
	}
	f, err := parseInstant(from, loc, false)
	if err != nil {
		return period{}, err
	}
	u, err := parseInstant(until, loc, true)
	if err != nil {
		return period{}, err
	}
	if !u.After(f) {
		return period{}, datafile.ErrorAt(until, "until %s is not after from %s", until.Value, from.Value)
	}
	return period{from: f, until: u, fromText: from.Value, untilText: until.Value}, nil
}

func parseInstant(n *yaml.Node, loc *time.Location, end bool) (time.Time, error) {
	s := strings.TrimSpace(n.Value)
	if d, err := time.ParseInLocation(dateLayout, s, loc); err == nil {
		if end {
			return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc), nil
		}
		return d, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{localTimeLayout, "2006-01-02 15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, datafile.ErrorAt(n, "%q is not a date (2026-12-07) or date-time (2026-12-07T14:00 or 2026-12-07T14:00:00+01:00)", n.Value)
}

// statusAt is the person's HR status at t: sick or on leave first, then
// traveling, then working or off duty by their local working hours.
func (p *person) statusAt(t time.Time) Status {
	local := t.In(p.loc)
	s := Status{
		User: p.ID, Name: p.Name, Timezone: p.Timezone, LocalTime: local.Format(time.RFC3339),
		WorkingHours: p.WorkingHours, InWorkingHours: p.hours.Contains(local), Manager: p.Manager,
	}
	var leave *period
	for i := range p.timeOff {
		o := &p.timeOff[i]
		if o.contains(t) && (leave == nil || (o.kind == "sick" && leave.kind != "sick")) {
			leave = o
		}
	}
	for i := range p.travel {
		if tr := &p.travel[i]; tr.contains(t) {
			s.Travel = &Travel{Countries: tr.countries, From: tr.fromText, Until: tr.untilText, Note: tr.note}
			break
		}
	}
	switch {
	case leave != nil && leave.kind == "sick":
		s.Status = StatusSick
	case leave != nil:
		s.Status = StatusOnLeave
	case s.Travel != nil:
		s.Status = StatusTraveling
	case s.InWorkingHours:
		s.Status = StatusWorking
	default:
		s.Status = StatusOffDuty
	}
	if leave != nil {
		s.Leave = &Leave{Kind: leave.kind, From: leave.fromText, Until: leave.untilText, Note: leave.note}
	}
	return s
}

func (d *directory) lookup(user string) (*person, error) {
	if p, ok := d.people[user]; ok {
		return p, nil
	}
	// Alerts often carry the login (alice@example.com) rather than the id.
	for _, id := range d.order {
		if p := d.people[id]; p.Email != "" && strings.EqualFold(p.Email, user) {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no person %q in the HR directory", user)
}
