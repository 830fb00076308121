package datafile

import (
	"testing"
	"time"
)

func TestParseDays(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   []string
		want string // sun..sat as 0/1
		ok   bool
	}{
		{[]string{"mon-fri"}, "0111110", true},
		{[]string{"fri-mon"}, "1100011", true},
		{[]string{"sat", "SUN"}, "1000001", true},
		{[]string{"mon-mon"}, "0100000", true},
		{[]string{"monday"}, "", false},
		{[]string{"mon-"}, "", false},
	} {
		set, err := ParseDays(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("%v: error %v", tt.in, err)
			continue
		}
		got := ""
		for _, on := range set {
			got += map[bool]string{true: "1", false: "0"}[on]
		}
		if tt.ok && got != tt.want {
			t.Errorf("%v = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestWindow(t *testing.T) {
	t.Parallel()
	day := func(wd time.Weekday, hh, mm int) time.Time {
		// 2026-12-06 is a Sunday.
		return time.Date(2026, 12, 6+int(wd), hh, mm, 0, 0, time.UTC)
	}
	allWeek, _ := ParseDays([]string{"mon-sun"})
	friday, _ := ParseDays([]string{"fri"})
	for _, tt := range []struct {
		w    Window
		at   time.Time
		want bool
	}{
		{Window{allWeek, 9 * 60, 17 * 60}, day(time.Monday, 9, 0), true},
		{Window{allWeek, 9 * 60, 17 * 60}, day(time.Monday, 17, 0), false},
		{Window{allWeek, 0, 24 * 60}, day(time.Monday, 23, 59), true},
		{Window{friday, 22 * 60, 6 * 60}, day(time.Friday, 21, 59), false},
		{Window{friday, 22 * 60, 6 * 60}, day(time.Friday, 22, 0), true},
		{Window{friday, 22 * 60, 6 * 60}, day(time.Saturday, 5, 59), true},
		{Window{friday, 22 * 60, 6 * 60}, day(time.Saturday, 6, 0), false},
		{Window{friday, 22 * 60, 6 * 60}, day(time.Thursday, 23, 0), false},
	} {
		if got := tt.w.Contains(tt.at); got != tt.want {
			t.Errorf("%+v contains %s = %v, want %v", tt.w, tt.at.Format("Mon 15:04"), got, tt.want)
		}
	}
}
