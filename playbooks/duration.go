package playbooks

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseDuration reads a duration as Go writes them ("90s", "15m", "1h30m"),
// plus whole days ("2d", "1d12h") because that is how people talk about
// leave and silences.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q (write e.g. 90s, 15m, 1h30m or 2d)", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		if _, numErr := strconv.ParseFloat(s, 64); numErr == nil {
			return 0, fmt.Errorf("duration %q needs a unit (write e.g. %ss or %sm)", s, s, s)
		}
		return 0, fmt.Errorf("invalid duration %q (write e.g. 90s, 15m, 1h30m or 2d)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return days + d, nil
}
