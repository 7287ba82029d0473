package config

import (
	"slices"
	"testing"
	"time"
)

func TestParseDaysAndRanges(t *testing.T) {
	days, err := ParseDays("mon-wed, fri,sun")
	if want := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Friday, time.Sunday}; err != nil || !slices.Equal(days, want) {
		t.Errorf("ParseDays = %v, %v", days, err)
	}
	for _, bad := range []string{"", "mon-", "monday", "fri-mon", "mon-fri,wed", "mon,,tue"} {
		if _, err := ParseDays(bad); err == nil {
			t.Errorf("ParseDays(%q): no error", bad)
		}
	}
	for in, want := range map[string]ClockRange{"09:00-17:00": {540, 1020}, "8:30 - 12:00": {510, 720}, "00:00-24:00": {0, 1440}} {
		if got, err := ParseClockRange(in); err != nil || got != want {
			t.Errorf("ParseClockRange(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "9-17", "09:00", "17:00-09:00", "09:00-09:00", "24:00-24:00", "09:60-10:00", "23:00-24:01", "-1:00-02:00", "+9:00-10:00", "09:00-17:00-18:00", "009:00-10:00"} {
		if r, err := ParseClockRange(bad); err == nil {
			t.Errorf("ParseClockRange(%q) = %v, want an error", bad, r)
		}
	}
}
