package sla

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rickar/cal/v2/nl"

	"github.com/maildesk/maildesk/config"
)

// company is an office calendar with the dates the week does not know
// (issue 15, item 10): Good Friday (3 April 2026) is a workday, Christmas
// Eve and the days between Christmas and New Year are off, Ascension Day
// (Thursday 14 May 2026) is open in the morning, Saturday 10 October is an
// extra workday, and New Year's Eve closes early.
var company = config.Calendar{
	Hours:          map[string][]string{"mon-fri": {"09:00-17:00"}},
	Holidays:       "nl",
	HolidaysExcept: []string{"goede_vrijdag"},
	ExtraHolidays:  []string{"2026-11-13"},
	Closed: []config.ClosedDays{
		{From: "2026-12-24", Reason: "kerstavond"},
		{From: "2026-12-28", To: "2026-12-30", Reason: "kerstsluiting"},
	},
	Open: []config.OpenDays{
		{From: "2026-05-14", Hours: []string{"09:00-12:00"}, Reason: "Hemelvaart: ochtend open"},
		{From: "2026-10-10", Hours: []string{"10:00-12:00"}, Reason: "inhaalzaterdag"},
		{From: "2026-12-31", Hours: []string{"09:00-15:00"}, Reason: "oudejaarsdag"},
	},
}

func TestCalendarExceptions(t *testing.T) {
	c := mustCalendar(t, company)
	open := []struct {
		at   string
		open bool
	}{
		{"2026-04-03T10:00:00+02:00", true},  // Good Friday, excepted
		{"2026-04-06T10:00:00+02:00", false}, // Easter Monday is still closed
		{"2026-12-23T16:00:00+01:00", true},
		{"2026-12-24T10:00:00+01:00", false}, // closed, one date
		{"2026-12-28T10:00:00+01:00", false}, // closed range: first date
		{"2026-12-30T16:59:00+01:00", false}, // last date
		{"2026-12-31T14:59:00+01:00", true},  // open with its own hours
		{"2026-12-31T15:00:00+01:00", false},
		{"2026-05-14T11:00:00+02:00", true}, // a holiday with open hours
		{"2026-05-14T12:00:00+02:00", false},
		{"2026-10-10T11:00:00+02:00", true}, // an open Saturday
		{"2026-10-17T11:00:00+02:00", false},
		{"2026-11-13T11:00:00+01:00", false}, // extra holiday
	}
	for _, tt := range open {
		if got := c.IsOpen(ts(t, tt.at)); got != tt.open {
			t.Errorf("IsOpen(%s) = %v, want %v", tt.at, got, tt.open)
		}
	}

	deadlines := []struct {
		name, target, at, want string
	}{
		{"over Good Friday", "4h", "2026-04-02T15:00:00+02:00", "2026-04-03T11:00:00+02:00"},
		{"Good Friday is a workday", "within 1 workday", "2026-04-02T17:30:00+02:00", "2026-04-03T17:00:00+02:00"},
		{"the short Ascension Day", "4h", "2026-05-13T16:00:00+02:00", "2026-05-14T12:00:00+02:00"},
		{"after the short Ascension Day", "5h", "2026-05-13T16:00:00+02:00", "2026-05-15T10:00:00+02:00"},
		{"the short Ascension Day is a workday", "1 workday", "2026-05-13T16:00:00+02:00", "2026-05-14T12:00:00+02:00"},
		{"into the open Saturday", "1h", "2026-10-09T16:30:00+02:00", "2026-10-10T10:30:00+02:00"},
		{"the open Saturday is a workday", "within 1 workday", "2026-10-09T17:30:00+02:00", "2026-10-10T12:00:00+02:00"},
		{"a workday from the open Saturday", "1 workday", "2026-10-10T11:00:00+02:00", "2026-10-12T11:00:00+02:00"},
		{"an extra holiday", "within 1 workday", "2026-11-12T10:00:00+01:00", "2026-11-16T17:00:00+01:00"},
		// 23 December: 1h left; 24 closed; 25, 26 Christmas; 28-30 closed;
		// 31 open 09:00-15:00; 1 January New Year.
		{"over the Christmas closure", "4h", "2026-12-23T16:00:00+01:00", "2026-12-31T12:00:00+01:00"},
		{"over the Christmas closure into the new year", "8h", "2026-12-23T16:00:00+01:00", "2027-01-04T10:00:00+01:00"},
		{"within workdays over the closure", "within 1 workday", "2026-12-23T17:30:00+01:00", "2026-12-31T15:00:00+01:00"},
		{"on a closed day", "within 2 workdays", "2026-12-29T10:00:00+01:00", "2027-01-04T17:00:00+01:00"},
		{"same time on a shorter day", "1 workday", "2026-12-23T16:00:00+01:00", "2026-12-31T15:00:00+01:00"},
	}
	for _, tt := range deadlines {
		target, err := ParseTarget(tt.target)
		if err != nil {
			t.Fatal(err)
		}
		got, err := target.Deadline(c, ts(t, tt.at))
		if err != nil || !got.Equal(ts(t, tt.want)) {
			t.Errorf("%s: %s from %s = %s, %v; want %s", tt.name, tt.target, tt.at, got.Format(time.RFC3339), err, tt.want)
		}
		if target.Business > 0 {
			if b := c.Between(ts(t, tt.at), got); b != target.Business {
				t.Errorf("%s: Between = %s, want %s", tt.name, b, target.Business)
			}
			if back := c.Add(got, -target.Business); !back.Equal(c.NextOpen(ts(t, tt.at))) {
				t.Errorf("%s: Add back = %s", tt.name, back)
			}
		}
	}

	holidays := map[string]string{
		"2026-04-03T10:00:00+02:00": "",
		"2026-04-06T10:00:00+02:00": "Tweede Paasdag",
		"2026-05-14T10:00:00+02:00": "",
		"2026-12-29T10:00:00+01:00": "closed 2026-12-28 to 2026-12-30 (kerstsluiting)",
		"2026-11-13T10:00:00+01:00": "closed 2026-11-13 (extra holiday)",
	}
	for at, want := range holidays {
		if got := c.Holiday(ts(t, at)); got != want {
			t.Errorf("Holiday(%s) = %q, want %q", at, got, want)
		}
	}

	got := c.Exceptions(ts(t, "2026-12-20T00:00:00+01:00"), ts(t, "2027-01-04T12:00:00+01:00"))
	want := []string{
		"closed 2026-12-24 (kerstavond)",
		"2026-12-25 Eerste Kerstdag: holiday",
		"closed 2026-12-28 to 2026-12-30 (kerstsluiting)",
		"open 2026-12-31 09:00-15:00 (oudejaarsdag)",
		"2027-01-01 Nieuwjaarsdag: holiday",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Exceptions over Christmas =\n%q\nwant\n%q", got, want)
	}
	if got := c.Exceptions(ts(t, "2026-04-01T00:00:00+02:00"), ts(t, "2026-04-07T00:00:00+02:00")); !slices.Equal(got,
		[]string{"2026-04-03 Goede Vrijdag: open (holidays_except)", "2026-04-06 Tweede Paasdag: holiday"}) {
		t.Errorf("Exceptions at Easter = %q", got)
	}
	if got := c.Exceptions(ts(t, "2026-03-02T10:00:00+01:00"), ts(t, "2026-03-01T10:00:00+01:00")); got != nil {
		t.Errorf("Exceptions backwards = %q", got)
	}
}

// webAgency is seed 003: workdays 08:30-18:00 and standby periods with
// "binnen 30 minuten in actie": a weekend (5-6 December 2026), the
// evenings and nights of the week after it (Monday 7, 18:00, to Saturday
// 12, 08:30), and Christmas.
var webAgencyStandby = func() config.Calendar {
	thirty := config.Target("30m")
	return config.Calendar{
		Hours:    map[string][]string{"mon-fri": {"08:30-18:00"}},
		Holidays: "nl",
		Standby: []config.StandbyDays{
			{From: "2026-12-05", To: "2026-12-06", Hours: []string{"08:30-18:00"}, FirstResponse: thirty, Reason: "weekend"},
			{From: "2026-12-07", Hours: []string{"18:00-24:00"}, FirstResponse: thirty, Reason: "avond/nacht"},
			{From: "2026-12-08", To: "2026-12-11", Hours: []string{"00:00-08:30", "18:00-24:00"}, FirstResponse: thirty, Reason: "avond/nacht"},
			{From: "2026-12-12", Hours: []string{"00:00-08:30"}, FirstResponse: thirty, Reason: "avond/nacht"},
			{From: "2026-12-25", To: "2026-12-26", Hours: []string{"00:00-24:00"}, FirstResponse: thirty, Reason: "feestdag"},
		},
	}
}()

func webAgencyCalendar(t testing.TB) *Calendar { return mustCalendar(t, webAgencyStandby) }

func webAgency(t testing.TB) *Plans {
	t.Helper()
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	standby := webAgencyStandby
	standby.Location = ams
	plain := standby
	plain.Standby = nil
	tg := targets(t, "1h", "4h", "within 1 workday", "3 workdays")
	res := config.Target("within 1 workday")
	p2 := tg["P2"]
	p2.Resolution = res
	tg["P2"] = p2
	ps, err := FromConfig(&config.Config{
		Calendars: map[string]config.Calendar{"werkdagen": plain, "standby": standby},
		Plans: map[string]config.Plan{
			"standard": {Calendar: "werkdagen", Targets: tg},
			"standby":  {Calendar: "standby", Targets: tg},
			"fast":     {Calendar: "standby", Targets: targets(t, "15m")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestStandby(t *testing.T) {
	ps := webAgency(t)
	tests := []struct {
		name, plan, prio, at, want string
		target                     string // the first-response target that applied
		standby                    bool
	}{
		{"weekend standby: 30 minutes", "standby", "P2", "2026-12-05T10:00:00+01:00", "2026-12-05T10:30:00+01:00", "30m", true},
		{"weekend standby over its end: into the next standby day", "standby", "P1", "2026-12-05T17:50:00+01:00", "2026-12-06T08:50:00+01:00", "30m", true},
		{"last weekend standby minutes: into Monday's opening", "standby", "P1", "2026-12-06T17:50:00+01:00", "2026-12-07T08:50:00+01:00", "30m", true},
		{"before the standby hours: the ordinary clock", "standby", "P1", "2026-12-05T07:00:00+01:00", "2026-12-07T09:30:00+01:00", "1h", false},
		{"at the end of the standby hours: the ordinary clock", "standby", "P1", "2026-12-05T18:00:00+01:00", "2026-12-07T09:30:00+01:00", "1h", false},
		{"another plan's calendar has no standby", "standard", "P2", "2026-12-05T10:00:00+01:00", "2026-12-07T12:30:00+01:00", "4h", false},
		{"Monday before the evening standby: the ordinary clock", "standby", "P1", "2026-12-07T17:50:00+01:00", "2026-12-08T09:20:00+01:00", "1h", false},
		{"Monday evening standby", "standby", "P3", "2026-12-07T18:00:00+01:00", "2026-12-07T18:30:00+01:00", "30m", true},
		{"night standby over midnight", "standby", "P4", "2026-12-08T23:50:00+01:00", "2026-12-09T00:20:00+01:00", "30m", true},
		{"night standby into the opening", "standby", "P2", "2026-12-09T08:20:00+01:00", "2026-12-09T08:50:00+01:00", "30m", true},
		{"last night of the week: into Monday", "standby", "P2", "2026-12-12T08:20:00+01:00", "2026-12-14T08:50:00+01:00", "30m", true},
		{"Christmas Day standby", "standby", "P4", "2026-12-25T03:00:00+01:00", "2026-12-25T03:30:00+01:00", "30m", true},
		{"a priority target sooner than the standby's stays", "fast", "P1", "2026-12-05T17:50:00+01:00", "2026-12-06T08:35:00+01:00", "15m", true},
		{"a priority without target gets the standby's", "fast", "P3", "2026-12-05T10:00:00+01:00", "2026-12-05T10:30:00+01:00", "30m", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ps.Due(tt.plan, tt.prio, "", ts(t, tt.at))
			if err != nil {
				t.Fatal(err)
			}
			if got := d.FirstResponse.Format(time.RFC3339); got != tt.want {
				t.Errorf("Due(%s, %s, %s) = %s, want %s (%s)", tt.plan, tt.prio, tt.at, got, tt.want, d.Rule)
			}
			if got := d.Targets.FirstResponse.String(); got != tt.target {
				t.Errorf("target %s, want %s", got, tt.target)
			}
			if strings.Contains(d.Rule, "arrived in standby") != tt.standby {
				t.Errorf("rule %q, want standby %v", d.Rule, tt.standby)
			}
		})
	}
}

// A standby ticket's clock counts standby hours for all its targets, but
// standby days are no workdays; the choice made on arrival stays when the
// priority changes or the clock stands still.
func TestStandbyClock(t *testing.T) {
	ps := webAgency(t)
	d, err := ps.Due("standby", "P2", "", ts(t, "2026-12-05T10:00:00+01:00"))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Start.Equal(ts(t, "2026-12-05T10:00:00+01:00")) || !d.Calendar.IsOpen(d.Start) {
		t.Errorf("Start = %s in a calendar open then: %v", d.Start, d.Calendar.IsOpen(d.Start))
	}
	if want := ts(t, "2026-12-07T18:00:00+01:00"); !d.Resolution.Equal(want) {
		t.Errorf("resolution within 1 workday = %s, want Monday's closing %s", d.Resolution, want)
	}
	if !strings.Contains(d.Rule, `plan "standby", arrived in standby 2026-12-05 to 2026-12-06 08:30-18:00, first response 30m (weekend)`) {
		t.Errorf("rule %q", d.Rule)
	}
	if w, want := d.WarnAt(0.5), ts(t, "2026-12-05T10:15:00+01:00"); !w.Equal(want) {
		t.Errorf("warn at %s, want %s", w, want)
	}
	if got := d.Calendar.Exceptions(d.Arrival, d.FirstResponse); !slices.Equal(got, []string{"standby 2026-12-05 to 2026-12-06 08:30-18:00, first response 30m (weekend)"}) {
		t.Errorf("Exceptions = %q", got)
	}
	// P4 (3 workdays) at 10:10: the standby's 30 minutes still apply.
	r, err := d.Recompute("P4", ts(t, "2026-12-05T10:10:00+01:00"))
	if err != nil || !r.FirstResponse.Equal(ts(t, "2026-12-05T10:30:00+01:00")) {
		t.Errorf("Recompute = %s, %v", r.FirstResponse, err)
	}
	// Paused at 10:10 after 10 minutes, resumed at 11:00: 20 left.
	r, err = d.At("P2", ts(t, "2026-12-05T11:00:00+01:00"), 10*time.Minute)
	if err != nil || !r.FirstResponse.Equal(ts(t, "2026-12-05T11:20:00+01:00")) {
		t.Errorf("At after a pause = %s, %v", r.FirstResponse, err)
	}
	// The ordinary calendar has no standby hours.
	plain, _ := ps.Due("standby", "P2", "", ts(t, "2026-12-05T07:00:00+01:00"))
	if plain.Calendar.IsOpen(ts(t, "2026-12-05T10:00:00+01:00")) {
		t.Error("standby hours open in the ordinary clock")
	}
}

func TestHolidayIDs(t *testing.T) {
	if len(nlHolidays) != len(NLHolidays) || len(nl.Holidays) != len(NLHolidays) {
		t.Fatalf("%d ids in sla, %d in config, %d holidays in cal's nl", len(nlHolidays), len(NLHolidays), len(nl.Holidays))
	}
	for i, h := range nl.Holidays {
		id := NLHolidays[i]
		if nlHolidays[id] != h || id != strings.ReplaceAll(strings.ToLower(h.Name), " ", "_") {
			t.Errorf("NLHolidays[%d] = %s, cal's holiday is %q", i, id, h.Name)
		}
	}
}

func TestNewCalendarExceptionErrors(t *testing.T) {
	hours := map[string][]string{"mon-fri": {"09:00-17:00"}}
	for name, spec := range map[string]config.Calendar{
		"except without nl": {Timezone: "UTC", Hours: hours, HolidaysExcept: []string{"goede_vrijdag"}},
		"unknown holiday":   {Timezone: "UTC", Hours: hours, Holidays: "nl", HolidaysExcept: []string{"pasen"}},
		"closed bad date":   {Timezone: "UTC", Hours: hours, Closed: []config.ClosedDays{{From: "24-12-2026"}}},
		"open and closed":   {Timezone: "UTC", Hours: hours, Closed: []config.ClosedDays{{From: "2026-12-24"}}, Open: []config.OpenDays{{From: "2026-12-24", Hours: []string{"09:00-12:00"}}}},
		"standby no target": {Timezone: "UTC", Hours: hours, Standby: []config.StandbyDays{{From: "2026-12-24", Hours: []string{"09:00-12:00"}}}},
	} {
		if _, err := NewCalendar("x", spec); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
