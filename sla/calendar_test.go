package sla

import (
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
)

// The Dutch dates the tests rely on (checked against cal's nl package):
// 2025: Koningsdag on Saturday 26 April (27 is a Sunday), Bevrijdingsdag
// Monday 5 May (a lustrum year), Hemelvaart 29 May, Christmas Thursday 25
// and Friday 26 December; summer time from 30 March to 26 October.
// 2026: Koningsdag Monday 27 April, Bevrijdingsdag Tuesday 5 May,
// Hemelvaart Thursday 14 May, Christmas Friday 25 December; summer time
// from 29 March to 25 October.

func mustCalendar(t testing.TB, spec config.Calendar) *Calendar {
	t.Helper()
	if spec.Timezone == "" {
		spec.Timezone = "Europe/Amsterdam"
	}
	c, err := NewCalendar("test", spec)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ts parses an RFC 3339 time; tests write the offset that is in force, so
// a wrong assumption about daylight saving shows as a wrong offset.
func ts(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var (
	nlOffice   = config.Calendar{Hours: map[string][]string{"mon-fri": {"09:00-17:00"}}, Holidays: "nl"}
	nlLustrum  = config.Calendar{Hours: map[string][]string{"mon-fri": {"09:00-17:00"}}, Holidays: "nl", LiberationDay: "lustrum"}
	englishPrm = config.Calendar{Hours: map[string][]string{"mon-fri": {"09:00-22:00"}, "sat": {"11:00-15:00"}}, Holidays: "nl"}
	allWeek    = config.Calendar{Hours: map[string][]string{"mon-sun": {"00:00-24:00"}}}
	split      = config.Calendar{Hours: map[string][]string{"mon-fri": {"13:00-17:00", "08:00-12:00"}}}
)

func TestAdd(t *testing.T) {
	tests := []struct {
		name     string
		cal      config.Calendar
		from     string
		d        time.Duration
		want     string
		backward bool // also check that Add(want, -d) returns to from
	}{
		{"inside hours", nlOffice, "2026-03-02T10:00:00+01:00", 4 * time.Hour, "2026-03-02T14:00:00+01:00", true},
		{"before opening", nlOffice, "2026-03-02T07:30:00+01:00", 4 * time.Hour, "2026-03-02T13:00:00+01:00", false},
		{"runs out at closing time", nlOffice, "2026-03-02T13:00:00+01:00", 4 * time.Hour, "2026-03-02T17:00:00+01:00", true},
		{"at closing time", nlOffice, "2026-03-06T17:00:00+01:00", 4 * time.Hour, "2026-03-09T13:00:00+01:00", false},
		{"Friday afternoon", nlOffice, "2026-03-06T15:00:00+01:00", 4 * time.Hour, "2026-03-09T11:00:00+01:00", true},
		{"given in UTC", nlOffice, "2026-03-06T14:00:00Z", 4 * time.Hour, "2026-03-09T11:00:00+01:00", true},
		{"lunch break", split, "2026-03-02T11:00:00+01:00", 2 * time.Hour, "2026-03-02T14:00:00+01:00", true},
		{"zero is the next opening", nlOffice, "2026-03-07T10:00:00+01:00", 0, "2026-03-09T09:00:00+01:00", false},
		{"Liberation Day yearly", nlOffice, "2026-05-04T15:00:00+02:00", 4 * time.Hour, "2026-05-06T11:00:00+02:00", true},
		{"Liberation Day lustrum, 2026 is no lustrum", nlLustrum, "2026-05-04T15:00:00+02:00", 4 * time.Hour, "2026-05-05T11:00:00+02:00", true},
		{"Liberation Day lustrum 2025", nlLustrum, "2025-05-02T15:00:00+02:00", 4 * time.Hour, "2025-05-06T11:00:00+02:00", true},
		// Summer time starts on Sunday 29 March 2026: that day has 23 hours.
		{"24/7 over spring DST", allWeek, "2026-03-28T12:00:00+01:00", 24 * time.Hour, "2026-03-29T13:00:00+02:00", true},
		{"24/7 over autumn DST", allWeek, "2026-10-24T12:00:00+02:00", 24 * time.Hour, "2026-10-25T11:00:00+01:00", true},
		{"office hours over spring DST", nlOffice, "2026-03-27T15:00:00+01:00", 8 * time.Hour, "2026-03-30T15:00:00+02:00", true},
		{"King's Day on Saturday 2025 closes Premium's Saturday", englishPrm, "2025-04-25T21:00:00+02:00", 2 * time.Hour, "2025-04-28T10:00:00+02:00", true},
		{"an ordinary Premium Saturday", englishPrm, "2025-04-11T21:00:00+02:00", 2 * time.Hour, "2025-04-12T12:00:00+02:00", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCalendar(t, tt.cal)
			from, want := ts(t, tt.from), ts(t, tt.want)
			got := c.Add(from, tt.d)
			if !got.Equal(want) || got.Location() != c.Location() {
				t.Fatalf("Add(%s, %s) = %s, want %s in %s", tt.from, tt.d, got.Format(time.RFC3339), tt.want, c.Location())
			}
			if b := c.Between(from, got); b != tt.d {
				t.Errorf("Between(from, Add(from, d)) = %s, want %s", b, tt.d)
			}
			if tt.backward {
				if back := c.Add(got, -tt.d); !back.Equal(from) {
					t.Errorf("Add(%s, -%s) = %s, want %s", tt.want, tt.d, back.Format(time.RFC3339), tt.from)
				}
			}
		})
	}
}

func TestBetween(t *testing.T) {
	c := mustCalendar(t, nlOffice)
	tests := []struct {
		a, b string
		want time.Duration
	}{
		{"2026-03-06T15:00:00+01:00", "2026-03-09T11:00:00+01:00", 4 * time.Hour},
		{"2026-03-02T07:00:00+01:00", "2026-03-02T08:00:00+01:00", 0},
		{"2026-03-02T12:00:00+01:00", "2026-03-02T10:00:00+01:00", 0}, // b before a
		{"2026-04-24T16:00:00+02:00", "2026-04-28T10:00:00+02:00", 2 * time.Hour},
		{"2026-03-27T16:00:00+01:00", "2026-03-30T10:00:00+02:00", 2 * time.Hour},
		{"2025-12-24T16:00:00+01:00", "2025-12-29T10:00:00+01:00", 2 * time.Hour},
		{"2026-03-02T00:00:00+01:00", "2026-03-09T00:00:00+01:00", 40 * time.Hour},
	}
	for _, tt := range tests {
		if got := c.Between(ts(t, tt.a), ts(t, tt.b)); got != tt.want {
			t.Errorf("Between(%s, %s) = %s, want %s", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestIsOpenAndHolidays(t *testing.T) {
	office, premium := mustCalendar(t, nlOffice), mustCalendar(t, englishPrm)
	tests := []struct {
		cal  *Calendar
		at   string
		open bool
	}{
		{office, "2026-03-02T09:00:00+01:00", true},
		{office, "2026-03-02T16:59:59+01:00", true},
		{office, "2026-03-02T17:00:00+01:00", false}, // ranges exclude their end
		{office, "2026-03-02T08:30:00Z", true},       // 09:30 in Amsterdam
		{office, "2026-03-07T11:00:00+01:00", false},
		{premium, "2026-03-07T11:00:00+01:00", true},
		{premium, "2026-03-07T15:00:00+01:00", false},
		{office, "2026-04-27T10:00:00+02:00", false}, // Koningsdag
		{office, "2026-05-14T10:00:00+02:00", false}, // Hemelvaart
		{office, "2025-12-26T10:00:00+01:00", false},
		{premium, "2025-04-26T12:00:00+02:00", false}, // Koningsdag on Saturday
	}
	for _, tt := range tests {
		if got := tt.cal.IsOpen(ts(t, tt.at)); got != tt.open {
			t.Errorf("IsOpen(%s) = %v, want %v", tt.at, got, tt.open)
		}
	}
	// A UTC instant late on 26 April is 27 April in Amsterdam: the day is
	// judged in the calendar's zone, not in the zone the time comes in.
	if h := office.Holiday(ts(t, "2026-04-26T22:30:00Z")); h != "Koningsdag" {
		t.Errorf("Holiday(2026-04-26T22:30Z) = %q, want Koningsdag", h)
	}
	extra := mustCalendar(t, config.Calendar{Hours: nlOffice.Hours, ExtraHolidays: []string{"2026-03-03"}})
	if got := extra.Add(ts(t, "2026-03-02T16:00:00+01:00"), 2*time.Hour); !got.Equal(ts(t, "2026-03-04T10:00:00+01:00")) {
		t.Errorf("extra holiday ignored: %s", got)
	}
}

func TestNewCalendarErrors(t *testing.T) {
	for name, spec := range map[string]config.Calendar{
		"no hours":        {Timezone: "UTC"},
		"only empty days": {Timezone: "UTC", Hours: map[string][]string{"mon": {}}},
		"bad range":       {Timezone: "UTC", Hours: map[string][]string{"mon": {"17:00-09:00"}}},
		"overlap":         {Timezone: "UTC", Hours: map[string][]string{"mon-fri": {"09:00-17:00"}, "fri": {"16:00-18:00"}}},
		"bad zone":        {Timezone: "Mars/Olympus", Hours: map[string][]string{"mon": {"09:00-17:00"}}},
		"no zone":         {Hours: map[string][]string{"mon": {"09:00-17:00"}}},
		"bad holidays":    {Timezone: "UTC", Hours: map[string][]string{"mon": {"09:00-17:00"}}, Holidays: "be"},
		"bad extra date":  {Timezone: "UTC", Hours: map[string][]string{"mon": {"09:00-17:00"}}, ExtraHolidays: []string{"24-12-2026"}},
	} {
		if _, err := NewCalendar("x", spec); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// Add and Between agree on every input, and Add never returns a closed
// instant as the start of a clock.
func FuzzAdd(f *testing.F) {
	f.Add(int64(1772443800), int64(4*time.Hour), uint8(0))
	f.Add(int64(1774692000), int64(24*time.Hour), uint8(1))
	f.Add(int64(1745607600), int64(2*time.Hour), uint8(2))
	// With the dates the week does not know, and a clock that counts
	// standby hours.
	f.Add(int64(1798095600), int64(9*time.Hour), uint8(4))
	f.Add(int64(1765098000), int64(90*time.Minute), uint8(5))
	standby := webAgencyCalendar(f).withStandby
	cals := []*Calendar{mustCalendar(f, nlOffice), mustCalendar(f, allWeek), mustCalendar(f, englishPrm), mustCalendar(f, split),
		mustCalendar(f, company), standby}
	f.Fuzz(func(t *testing.T, unix, d int64, which uint8) {
		c := cals[int(which)%len(cals)]
		// 1970..2100, up to a year of business time.
		from := time.Unix(unix%(130*365*86400), 0)
		if from.Before(time.Unix(0, 0)) {
			from = from.Add(130 * 365 * 86400 * time.Second)
		}
		dur := time.Duration(d % int64(2000*time.Hour))
		if dur < 0 {
			dur = -dur
		}
		got := c.Add(from, dur)
		if got.IsZero() {
			t.Fatalf("Add(%s, %s) found no time", from, dur)
		}
		if b := c.Between(from, got); b != dur {
			t.Fatalf("Between(%s, Add = %s) = %s, want %s", from, got, b, dur)
		}
		open := c.NextOpen(from)
		if !c.IsOpen(open) || c.Between(from, open) != 0 {
			t.Fatalf("NextOpen(%s) = %s is not the next opening", from, open)
		}
		if back := c.Add(got, -dur); !back.Equal(open) {
			t.Fatalf("Add(Add(%s, %s), -%[2]s) = %s, want NextOpen = %s", from, dur, back, open)
		}
	})
}
