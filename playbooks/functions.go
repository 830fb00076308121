package playbooks

import (
	"fmt"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // every worker evaluates time zones from the same data, so replays agree

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// functions is the project's CEL library: business_hours, off_hours and
// hours_between. All are pure functions of their arguments, so they are safe
// inside deterministic workflow code.
func functions() cel.EnvOption {
	ts, str, i64 := cel.TimestampType, cel.StringType, cel.IntType
	days := cel.ListType(cel.StringType)
	return cel.Lib(lib{
		cel.Function("business_hours",
			cel.Overload("business_hours_timestamp_string", []*cel.Type{ts, str}, cel.BoolType,
				cel.BinaryBinding(func(t, tz ref.Val) ref.Val { return businessHours(t, tz, nil) })),
			cel.Overload("business_hours_timestamp_string_int_int_list", []*cel.Type{ts, str, i64, i64, days}, cel.BoolType,
				cel.FunctionBinding(func(args ...ref.Val) ref.Val { return businessHours(args[0], args[1], args[2:]) })),
		),
		cel.Function("off_hours",
			cel.Overload("off_hours_timestamp_string", []*cel.Type{ts, str}, cel.BoolType,
				cel.BinaryBinding(func(t, tz ref.Val) ref.Val { return negate(businessHours(t, tz, nil)) })),
			cel.Overload("off_hours_timestamp_string_int_int_list", []*cel.Type{ts, str, i64, i64, days}, cel.BoolType,
				cel.FunctionBinding(func(args ...ref.Val) ref.Val { return negate(businessHours(args[0], args[1], args[2:])) })),
		),
		cel.Function("hours_between",
			cel.Overload("hours_between_timestamp_timestamp", []*cel.Type{ts, ts}, cel.DoubleType,
				cel.BinaryBinding(func(a, b ref.Val) ref.Val {
					return types.Double(b.(types.Timestamp).Time.Sub(a.(types.Timestamp).Time).Hours())
				})),
		),
	})
}

type lib []cel.EnvOption

func (l lib) CompileOptions() []cel.EnvOption     { return l }
func (l lib) ProgramOptions() []cel.ProgramOption { return nil }

func negate(v ref.Val) ref.Val {
	if b, ok := v.(types.Bool); ok {
		return !b
	}
	return v
}

// Default working hours: Monday to Friday, 09:00 to 17:00 local time.
var defaultWorkdays = [7]bool{time.Monday: true, time.Tuesday: true, time.Wednesday: true, time.Thursday: true, time.Friday: true}

const defaultStartHour, defaultEndHour = 9, 17

// businessHours reports whether t falls in working hours in time zone tz.
// extra, when present, is start hour, end hour and weekday names; an end
// before the start describes a night shift crossing midnight.
func businessHours(t, tz ref.Val, extra []ref.Val) ref.Val {
	loc, err := location(string(tz.(types.String)))
	if err != nil {
		return types.NewErr("%v", err)
	}
	start, end, workdays := defaultStartHour, defaultEndHour, defaultWorkdays
	if len(extra) == 3 {
		start, end = int(extra[0].(types.Int)), int(extra[1].(types.Int))
		if start < 0 || start > 24 || end < 0 || end > 24 {
			return types.NewErr("business_hours: hours must be between 0 and 24, got %d and %d", start, end)
		}
		if workdays, err = weekdays(extra[2].(traits.Lister)); err != nil {
			return types.NewErr("business_hours: %v", err)
		}
	}
	local := t.(types.Timestamp).Time.In(loc)
	if !workdays[local.Weekday()] {
		return types.False
	}
	h := local.Hour()
	if start <= end {
		return types.Bool(h >= start && h < end)
	}
	return types.Bool(h >= start || h < end)
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func weekdays(l traits.Lister) ([7]bool, error) {
	var out [7]bool
	it := l.Iterator()
	for it.HasNext() == types.True {
		v := it.Next()
		s, ok := v.(types.String)
		name := strings.ToLower(string(s))
		if len(name) > 3 {
			name = name[:3]
		}
		d, known := dayNames[name]
		if !ok || !known {
			return out, fmt.Errorf("unknown weekday %v (use mon, tue, wed, thu, fri, sat, sun)", v)
		}
		out[d] = true
	}
	return out, nil
}

// locations caches time zones: LoadLocation reads the tz database on every
// call, which would dominate a condition's cost. Only valid names are stored,
// so the cache is bounded by the size of the tz database.
var locations sync.Map

func location(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("time zone %q: name an IANA zone such as Europe/Berlin or UTC", name)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (use an IANA name such as Europe/Berlin)", name)
	}
	locations.Store(name, l)
	return l, nil
}
