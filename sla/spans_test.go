package sla

import (
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
)

// The web agency's calendar with a weekend day and an evening and night of
// standby, for what billing asks of a calendar.
func standbyCalendar(t *testing.T) *Calendar {
	t.Helper()
	return mustCalendar(t, config.Calendar{Timezone: "Europe/Amsterdam", Hours: map[string][]string{"mon-fri": {"08:30-18:00"}},
		Holidays: "nl", Standby: []config.StandbyDays{
			{From: "2026-12-05", Hours: []string{"08:30-18:00"}, FirstResponse: config.Target("30m")},
			{From: "2026-12-07", Hours: []string{"18:00-24:00"}, FirstResponse: config.Target("30m")},
			{From: "2026-12-08", Hours: []string{"00:00-08:30"}, FirstResponse: config.Target("30m")},
		}})
}

func TestEdges(t *testing.T) {
	c := standbyCalendar(t)
	ams := c.Location()
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, ams)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	show := func(ts []time.Time) string {
		var out []string
		for _, x := range ts {
			out = append(out, x.In(ams).Format("01-02 15:04"))
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct{ from, to, want string }{
		// Friday afternoon into Saturday's standby: closing, midnight,
		// the standby's start and end.
		{"2026-12-04 16:00", "2026-12-05 20:00", "12-04 18:00 12-05 00:00 12-05 08:30 12-05 18:00"},
		// Strictly inside: the ends themselves are no edges.
		{"2026-12-04 08:30", "2026-12-04 18:00", ""},
		// Monday evening's standby runs into Tuesday's night: 18:00 is both
		// closing and the standby's start, once.
		{"2026-12-07 17:00", "2026-12-08 09:00", "12-07 18:00 12-08 00:00 12-08 08:30"},
		{"2026-12-07 17:00", "2026-12-07 17:00", ""},
	} {
		if got := show(c.Edges(at(tc.from), at(tc.to))); got != tc.want {
			t.Errorf("Edges(%s, %s) = %q, want %q", tc.from, tc.to, got, tc.want)
		}
	}
	if !c.InStandby(at("2026-12-05 10:00")) || c.InStandby(at("2026-12-05 18:00")) || c.InStandby(at("2026-12-04 10:00")) || !c.InStandby(at("2026-12-08 00:00")) {
		t.Error("InStandby")
	}
	// An evening and the night after it are one stretch; cut to the range.
	var got []string
	for _, s := range c.StandbyHours(at("2026-12-01 00:00"), at("2026-12-08 06:00")) {
		got = append(got, s.Start.In(ams).Format("01-02 15:04")+"/"+s.End.In(ams).Format("01-02 15:04"))
	}
	if strings.Join(got, " ") != "12-05 08:30/12-05 18:00 12-07 18:00/12-08 06:00" {
		t.Errorf("StandbyHours %v", got)
	}
	if hs := mustCalendar(t, config.Calendar{Timezone: "UTC", Hours: map[string][]string{"mon": {"09:00-17:00"}}}).StandbyHours(at("2026-12-01 00:00"), at("2026-12-31 00:00")); hs != nil {
		t.Errorf("no standby: %v", hs)
	}
}
