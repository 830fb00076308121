package datafile

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// DayName is the short lower-case name of d, as ParseDays reads it: "mon".
func DayName(d time.Weekday) string { return weekdays[d] }

// ParseDays reads day names and ranges such as ["mon-fri", "sun"] into a
// set indexed by time.Weekday.
func ParseDays(items []string) ([7]bool, error) {
	var set [7]bool
	day := func(s string) (int, error) {
		for i, d := range weekdays {
			if strings.EqualFold(strings.TrimSpace(s), d) {
				return i, nil
			}
		}
		return 0, fmt.Errorf("unknown day %q (use mon, tue, wed, thu, fri, sat, sun or a range like mon-fri)", s)
	}
	for _, item := range items {
		from, to, isRange := strings.Cut(item, "-")
		a, err := day(from)
		if err != nil {
			return set, err
		}
		b := a
		if isRange {
			if b, err = day(to); err != nil {
				return set, err
			}
		}
		for i := a; ; i = (i + 1) % 7 {
			set[i] = true
			if i == b {
				break
			}
		}
	}
	return set, nil
}

// ParseClock reads "HH:MM" (00:00–24:00) as minutes after midnight.
func ParseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh*60+mm > 24*60 {
		return 0, fmt.Errorf("%q is not a time of day like 09:00", s)
	}
	return hh*60 + mm, nil
}

// Window is a weekly recurring period of local time: on each listed day
// from Start to End. An End at or before the Start runs past midnight, and
// then the listed day is the day the window opens.
type Window struct {
	Days       [7]bool // indexed by time.Weekday, as ParseDays returns
	Start, End int     // minutes after local midnight, as ParseClock returns
}

// Contains reports whether local, a time in the window's zone, is inside.
func (w Window) Contains(local time.Time) bool {
	mins := local.Hour()*60 + local.Minute()
	today := int(local.Weekday())
	yesterday := (today + 6) % 7
	if w.Start < w.End {
		return w.Days[today] && mins >= w.Start && mins < w.End
	}
	return (w.Days[today] && mins >= w.Start) || (w.Days[yesterday] && mins < w.End)
}
