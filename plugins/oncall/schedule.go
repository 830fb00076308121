package oncall

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/soar-dev/soar/plugins/internal/datafile"
)

// The on-call file (see examples/data/oncall.yaml) follows PagerDuty's model:
//
//	responders:
//	  - {id: anna, name: Anna Schmidt, email: anna@example.com, phone: "+49 …", timezone: Europe/Berlin}
//	schedules:
//	  - id: soc-primary
//	    timezone: Europe/Berlin          # handoffs and restrictions are in this zone
//	    layers:                          # a later layer wins where it has someone
//	      - name: weekly 24x7
//	        start: 2026-01-05T09:00      # first handoff (local time)
//	        rotation: weekly             # daily, weekly, 3d, 2w (calendar) or 12h (elapsed)
//	        users: [anna, ella, ben, finn]
//	      - name: EU business hours
//	        rotation: daily
//	        start: 2026-01-05T09:00
//	        users: [anna, ben]
//	        restrictions: [{days: [mon-fri], from: "09:00", to: "17:00"}]
//	    overrides:                       # a later override wins
//	      - {user: ben, from: 2026-12-24T00:00, until: 2026-12-27T00:00}
//	policies:
//	  - id: soc-primary
//	    tiers:
//	      - schedules: [soc-primary]
//	      - responders: [tier2-lead-eu]
//
// Calendar rotations hand off at the same local time every day, also across
// DST changes; hour rotations hand off every N elapsed hours.

type fileDoc struct {
	Responders []yaml.Node `yaml:"responders"`
	Schedules  []yaml.Node `yaml:"schedules"`
	Policies   []yaml.Node `yaml:"policies"`
}

type fileResponder struct {
	ID       yaml.Node `yaml:"id"`
	Name     string    `yaml:"name"`
	Email    string    `yaml:"email"`
	Phone    string    `yaml:"phone"`
	Timezone yaml.Node `yaml:"timezone"`
}

type fileSchedule struct {
	ID          yaml.Node   `yaml:"id"`
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	Timezone    yaml.Node   `yaml:"timezone"`
	Layers      []yaml.Node `yaml:"layers"`
	Overrides   []yaml.Node `yaml:"overrides"`
}

type fileLayer struct {
	Name         string      `yaml:"name"`
	Timezone     yaml.Node   `yaml:"timezone"`
	Start        yaml.Node   `yaml:"start"`
	End          yaml.Node   `yaml:"end"`
	Rotation     yaml.Node   `yaml:"rotation"`
	Users        []yaml.Node `yaml:"users"`
	Restrictions []yaml.Node `yaml:"restrictions"`
}

type fileRestriction struct {
	Days yaml.Node `yaml:"days"`
	From yaml.Node `yaml:"from"`
	To   yaml.Node `yaml:"to"`
}

type fileOverride struct {
	User  yaml.Node `yaml:"user"`
	From  yaml.Node `yaml:"from"`
	Until yaml.Node `yaml:"until"`
	Note  string    `yaml:"note"`
}

type filePolicy struct {
	ID          yaml.Node   `yaml:"id"`
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	Tiers       []yaml.Node `yaml:"tiers"`
}

type fileTier struct {
	Schedules  []yaml.Node `yaml:"schedules"`
	Responders []yaml.Node `yaml:"responders"`
}

// roster is a fully validated on-call file; it is built whole or not at all.
type roster struct {
	responders map[string]Responder
	schedules  map[string]*schedule
	policies   map[string]*policy
	// File order, for listing.
	scheduleOrder, policyOrder []string
}

type schedule struct {
	id, name, description string
	loc                   *time.Location
	layers                []layer
	overrides             []override
}

type layer struct {
	name         string
	loc          *time.Location
	start, end   time.Time     // end zero: open-ended
	days         int           // calendar rotation length in days, or
	length       time.Duration // elapsed rotation length
	users        []string
	restrictions []datafile.Window
}

type override struct {
	user        string
	from, until time.Time
}

type policy struct {
	id, name, description string
	tiers                 []tierSpec
}

type tierSpec struct {
	schedules, responders []string
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]*$`)

func parseRoster(data []byte) (*roster, error) {
	root, err := datafile.Parse(data)
	if err != nil {
		return nil, err
	}
	var doc fileDoc
	if err := datafile.DecodeStrict(root, &doc); err != nil {
		return nil, err
	}
	r := &roster{responders: map[string]Responder{}, schedules: map[string]*schedule{}, policies: map[string]*policy{}}
	for i := range doc.Responders {
		n := &doc.Responders[i]
		var fr fileResponder
		if err := datafile.DecodeStrict(n, &fr); err != nil {
			return nil, err
		}
		id, err := parseID(n, &fr.ID, "responder")
		if err != nil {
			return nil, err
		}
		if _, dup := r.responders[id]; dup {
			return nil, datafile.ErrorAt(n, "responder %q is listed twice", id)
		}
		resp := Responder{ID: id, Name: fr.Name, Email: fr.Email, Phone: fr.Phone}
		if fr.Timezone.Kind != 0 {
			loc, err := datafile.ParseZone(&fr.Timezone)
			if err != nil {
				return nil, err
			}
			resp.Timezone = loc.String()
		}
		if resp.Name == "" {
			resp.Name = id
		}
		r.responders[id] = resp
	}
	for i := range doc.Schedules {
		s, err := r.parseSchedule(&doc.Schedules[i])
		if err != nil {
			return nil, err
		}
		if _, dup := r.schedules[s.id]; dup {
			return nil, datafile.ErrorAt(&doc.Schedules[i], "schedule %q is listed twice", s.id)
		}
		r.schedules[s.id] = s
		r.scheduleOrder = append(r.scheduleOrder, s.id)
	}
	for i := range doc.Policies {
		p, err := r.parsePolicy(&doc.Policies[i])
		if err != nil {
			return nil, err
		}
		if _, dup := r.policies[p.id]; dup {
			return nil, datafile.ErrorAt(&doc.Policies[i], "policy %q is listed twice", p.id)
		}
		r.policies[p.id] = p
		r.policyOrder = append(r.policyOrder, p.id)
	}
	if len(r.schedules) == 0 && len(r.policies) == 0 {
		return nil, datafile.ErrorAt(root, "no schedules and no policies: add a `schedules:` or `policies:` list")
	}
	return r, nil
}

func parseID(parent, n *yaml.Node, what string) (string, error) {
	if n.Kind == 0 {
		return "", datafile.ErrorAt(parent, "%s has no id", what)
	}
	if !idPattern.MatchString(n.Value) {
		return "", datafile.ErrorAt(n, "%s id %q must be letters, digits and . _ @ + - (no spaces)", what, n.Value)
	}
	return n.Value, nil
}

func (r *roster) responderRef(n *yaml.Node) (string, error) {
	if _, ok := r.responders[n.Value]; !ok {
		return "", datafile.ErrorAt(n, "%q is not in responders", n.Value)
	}
	return n.Value, nil
}

func (r *roster) parseSchedule(n *yaml.Node) (*schedule, error) {
	var fs fileSchedule
	if err := datafile.DecodeStrict(n, &fs); err != nil {
		return nil, err
	}
	id, err := parseID(n, &fs.ID, "schedule")
	if err != nil {
		return nil, err
	}
	s := &schedule{id: id, name: fs.Name, description: fs.Description, loc: time.UTC}
	if s.name == "" {
		s.name = id
	}
	if fs.Timezone.Kind == 0 {
		return nil, datafile.ErrorAt(n, "schedule %s needs a timezone (its handoff times and restrictions are local times)", id)
	}
	if s.loc, err = datafile.ParseZone(&fs.Timezone); err != nil {
		return nil, err
	}
	if len(fs.Layers) == 0 {
		return nil, datafile.ErrorAt(n, "schedule %s has no layers", id)
	}
	for i := range fs.Layers {
		l, err := r.parseLayer(&fs.Layers[i], s.loc)
		if err != nil {
			return nil, err
		}
		s.layers = append(s.layers, l)
	}
	for i := range fs.Overrides {
		on := &fs.Overrides[i]
		var fo fileOverride
		if err := datafile.DecodeStrict(on, &fo); err != nil {
			return nil, err
		}
		if fo.User.Kind == 0 || fo.From.Kind == 0 || fo.Until.Kind == 0 {
			return nil, datafile.ErrorAt(on, "an override needs user, from and until")
		}
		o := override{}
		if o.user, err = r.responderRef(&fo.User); err != nil {
			return nil, err
		}
		if o.from, err = parseInstant(&fo.From, s.loc, false); err != nil {
			return nil, err
		}
		if o.until, err = parseInstant(&fo.Until, s.loc, true); err != nil {
			return nil, err
		}
		if !o.until.After(o.from) {
			return nil, datafile.ErrorAt(&fo.Until, "until %s is not after from %s", fo.Until.Value, fo.From.Value)
		}
		s.overrides = append(s.overrides, o)
	}
	return s, nil
}

func (r *roster) parseLayer(n *yaml.Node, loc *time.Location) (layer, error) {
	var fl fileLayer
	if err := datafile.DecodeStrict(n, &fl); err != nil {
		return layer{}, err
	}
	l := layer{name: fl.Name, loc: loc}
	var err error
	if fl.Timezone.Kind != 0 {
		if l.loc, err = datafile.ParseZone(&fl.Timezone); err != nil {
			return l, err
		}
	}
	if fl.Start.Kind == 0 || fl.Rotation.Kind == 0 || len(fl.Users) == 0 {
		return l, datafile.ErrorAt(n, "a layer needs start (first handoff), rotation and users")
	}
	if l.start, err = parseInstant(&fl.Start, l.loc, false); err != nil {
		return l, err
	}
	if fl.End.Kind != 0 {
		if l.end, err = parseInstant(&fl.End, l.loc, false); err != nil {
			return l, err
		}
		if !l.end.After(l.start) {
			return l, datafile.ErrorAt(&fl.End, "end %s is not after start %s", fl.End.Value, fl.Start.Value)
		}
	}
	if l.days, l.length, err = parseRotation(fl.Rotation.Value); err != nil {
		return l, datafile.ErrorAt(&fl.Rotation, "%v", err)
	}
	for i := range fl.Users {
		u, err := r.responderRef(&fl.Users[i])
		if err != nil {
			return l, err
		}
		l.users = append(l.users, u)
	}
	for i := range fl.Restrictions {
		rn := &fl.Restrictions[i]
		var fr fileRestriction
		if err := datafile.DecodeStrict(rn, &fr); err != nil {
			return l, err
		}
		w, err := parseWindow(rn, &fr)
		if err != nil {
			return l, err
		}
		l.restrictions = append(l.restrictions, w)
	}
	return l, nil
}

func parseWindow(n *yaml.Node, fr *fileRestriction) (datafile.Window, error) {
	var w datafile.Window
	if fr.From.Kind == 0 || fr.To.Kind == 0 {
		return w, datafile.ErrorAt(n, "a restriction needs from and to, e.g. {days: [mon-fri], from: \"09:00\", to: \"17:00\"}")
	}
	var err error
	if w.Start, err = datafile.ParseClock(fr.From.Value); err != nil {
		return w, datafile.ErrorAt(&fr.From, "%v", err)
	}
	if w.End, err = datafile.ParseClock(fr.To.Value); err != nil {
		return w, datafile.ErrorAt(&fr.To, "%v", err)
	}
	days := []string{"mon-sun"}
	if fr.Days.Kind != 0 {
		if err := fr.Days.Decode(&days); err != nil {
			var one string
			if fr.Days.Decode(&one) != nil {
				return w, datafile.ErrorAt(&fr.Days, "days must be a list such as [mon-fri] or [sat, sun]")
			}
			days = []string{one}
		}
	}
	if w.Days, err = datafile.ParseDays(days); err != nil {
		return w, datafile.ErrorAt(&fr.Days, "%v", err)
	}
	return w, nil
}

var rotationPattern = regexp.MustCompile(`^(\d+)\s*([hdw])$`)

// parseRotation reads daily, weekly, Nd, Nw (calendar days) or Nh (hours).
func parseRotation(s string) (days int, length time.Duration, err error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "daily":
		return 1, 0, nil
	case "weekly":
		return 7, 0, nil
	}
	m := rotationPattern.FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	if m == nil {
		return 0, 0, fmt.Errorf("rotation %q: use daily, weekly, a number of days or weeks (3d, 2w) or of hours (12h)", s)
	}
	n, _ := strconv.Atoi(m[1])
	if n <= 0 || n > 1000 {
		return 0, 0, fmt.Errorf("rotation %q: the length must be between 1 and 1000", s)
	}
	switch m[2] {
	case "h":
		return 0, time.Duration(n) * time.Hour, nil
	case "w":
		return 7 * n, 0, nil
	default:
		return n, 0, nil
	}
}

func (r *roster) parsePolicy(n *yaml.Node) (*policy, error) {
	var fp filePolicy
	if err := datafile.DecodeStrict(n, &fp); err != nil {
		return nil, err
	}
	id, err := parseID(n, &fp.ID, "policy")
	if err != nil {
		return nil, err
	}
	p := &policy{id: id, name: fp.Name, description: fp.Description}
	if p.name == "" {
		p.name = id
	}
	if len(fp.Tiers) == 0 {
		return nil, datafile.ErrorAt(n, "policy %s has no tiers", id)
	}
	for i := range fp.Tiers {
		tn := &fp.Tiers[i]
		var ft fileTier
		if err := datafile.DecodeStrict(tn, &ft); err != nil {
			return nil, err
		}
		if len(ft.Schedules)+len(ft.Responders) == 0 {
			return nil, datafile.ErrorAt(tn, "tier %d of policy %s names no schedules and no responders", i+1, id)
		}
		var t tierSpec
		for j := range ft.Schedules {
			sn := &ft.Schedules[j]
			if _, ok := r.schedules[sn.Value]; !ok {
				return nil, datafile.ErrorAt(sn, "schedule %q is not defined (policies come after the schedules they use)", sn.Value)
			}
			t.schedules = append(t.schedules, sn.Value)
		}
		for j := range ft.Responders {
			id, err := r.responderRef(&ft.Responders[j])
			if err != nil {
				return nil, err
			}
			t.responders = append(t.responders, id)
		}
		p.tiers = append(p.tiers, t)
	}
	return p, nil
}

const dateLayout = "2006-01-02"

// parseInstant reads a date, a local date-time or an RFC 3339 instant. A
// date is local midnight, except as the until of a period (untilDay), where
// it includes that whole local day, as the hr directory's dates do: until
// 2026-12-27 ends at midnight after the 27th.
func parseInstant(n *yaml.Node, loc *time.Location, untilDay bool) (time.Time, error) {
	s := strings.TrimSpace(n.Value)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseInLocation(dateLayout, s, loc); err == nil {
		if untilDay {
			return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc), nil
		}
		return d, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, datafile.ErrorAt(n, "%q is not a date-time (2026-01-05T09:00 in the schedule's zone, or 2026-01-05T09:00:00+01:00)", n.Value)
}

// onCall is who the schedule has on call at t: the last override covering
// t, else the last layer with someone on call, else nobody.
func (s *schedule) onCall(t time.Time) (string, bool) {
	for i := len(s.overrides) - 1; i >= 0; i-- {
		if o := s.overrides[i]; !t.Before(o.from) && t.Before(o.until) {
			return o.user, true
		}
	}
	for i := len(s.layers) - 1; i >= 0; i-- {
		if u, ok := s.layers[i].onCall(t); ok {
			return u, true
		}
	}
	return "", false
}

func (l *layer) onCall(t time.Time) (string, bool) {
	if t.Before(l.start) || (!l.end.IsZero() && !t.Before(l.end)) {
		return "", false
	}
	if len(l.restrictions) > 0 {
		local := t.In(l.loc)
		in := false
		for _, w := range l.restrictions {
			in = in || w.Contains(local)
		}
		if !in {
			return "", false
		}
	}
	k := l.turn(t)
	return l.users[k%int64(len(l.users))], true
}

// turn is the number of handoffs between the layer's start and t.
func (l *layer) turn(t time.Time) int64 {
	if l.length > 0 {
		return int64(t.Sub(l.start) / l.length)
	}
	start := l.start.In(l.loc)
	handoff := func(k int64) time.Time {
		return time.Date(start.Year(), start.Month(), start.Day()+int(k)*l.days, start.Hour(), start.Minute(), start.Second(), 0, l.loc)
	}
	// Days between the local dates, then correct for the time of day.
	local := t.In(l.loc)
	civil := func(x time.Time) int64 {
		return time.Date(x.Year(), x.Month(), x.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400
	}
	k := (civil(local) - civil(start)) / int64(l.days)
	for k > 0 && handoff(k).After(t) {
		k--
	}
	for !handoff(k + 1).After(t) {
		k++
	}
	return k
}
