package sla

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testconfig"
)

const base = testconfig.Base

// parseWith parses config as config.Parse does and checks it with Check,
// with the files given next to it; it returns the config or the problems
// of both.
func parseWith(t *testing.T, conf string, files, _ map[string]string) (*config.Config, config.Problems) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Parse([]byte(conf), dir, func(string) (string, bool) { return "", false })
	var ps config.Problems
	if err != nil && !errors.As(err, &ps) {
		t.Fatalf("Parse error is %T, not Problems: %v", err, err)
	}
	if cfg == nil {
		return nil, ps
	}
	Check(cfg, &ps)
	if len(ps) > 0 {
		ps.Sort()
		return nil, ps
	}
	return cfg, nil
}

// slaSection is appended to base, so it starts on line 13.
const slaSection = `calendars:
  office:
    timezone: Europe/Amsterdam
    hours:
      mon-fri: ["09:00-17:00"]
      sat: ["11:00-15:00"]
    holidays: nl
    liberation_day: lustrum
    extra_holidays: [2025-12-24]
  plain:
    hours: {mon-fri: ["8:30-12:00", "13:00-18:00"]}
plans:
  standard:
    calendar: office
    targets:
      P1: {first_response: 4h, resolution: within 3 workdays}
      P3: {first_response: 3 workdays}
  enhanced:
    calendar: plain
    targets:
      P1: {first_response: 1h30m}
    languages:
      nl: {calendar: office, outside_hours_plan: standard}
  none: {}
`

func TestSLAConfig(t *testing.T) {
	cfg, ps := parseWith(t, base+slaSection, nil, nil)
	if ps != nil {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	office, plain := cfg.Calendars["office"], cfg.Calendars["plain"]
	if office.Location.String() != "Europe/Amsterdam" || office.LiberationDay != "lustrum" || office.ExtraHolidays[0] != "2025-12-24" {
		t.Errorf("office = %+v", office)
	}
	// A calendar without time zone is in the desk's; without holidays it
	// has no liberation_day default.
	if plain.Location != time.UTC || plain.Timezone != "UTC" || plain.LiberationDay != "" {
		t.Errorf("plain = %+v", plain)
	}
	week, err := weekOf(plain)
	if err != nil || len(week[time.Monday]) != 2 || week[time.Monday][0] != (config.ClockRange{Start: 510, End: 720}) || len(week[time.Saturday]) != 0 {
		t.Errorf("plain week = %v, %v", week, err)
	}
	std := cfg.Plans["standard"]
	if p1 := std.Targets["P1"]; mustTarget(t, p1.FirstResponse) != (Target{Business: 4 * time.Hour}) || mustTarget(t, p1.Resolution) != (Target{Workdays: 3, EndOfDay: true}) {
		t.Errorf("standard P1 = %+v", p1)
	}
	if r := cfg.Plans["enhanced"].Languages["nl"]; r.Calendar != "office" || r.OutsideHoursPlan != "standard" {
		t.Errorf("enhanced nl = %+v", r)
	}
}

func TestSLAValidation(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // replace old by new in slaSection; old "" appends new
		path     string
		line     int
		reason   string
	}{
		{name: "unknown calendar key", old: "extra_holidays:", new: "extra_holiday:", path: "calendars.office.extra_holiday", line: 21, reason: `unknown field "extra_holiday" (did you mean "extra_holidays"?)`},
		{name: "calendar name", old: "plans:\n", new: "  Spare:\n    hours: {mon: [\"09:00-10:00\"]}\nplans:\n", path: "calendars.Spare", line: 24, reason: "calendar name must be"},
		{name: "timezone", old: "timezone: Europe/Amsterdam", new: "timezone: Europe/Amsterdan", path: "calendars.office.timezone", line: 15, reason: `unknown time zone "Europe/Amsterdan"`},
		{name: "no hours", old: "    hours: {mon-fri: [\"8:30-12:00\", \"13:00-18:00\"]}\n", new: "    holidays: nl\n", path: "calendars.plain.hours", line: 22, reason: "is required"},
		{name: "empty hours", old: `{mon-fri: ["8:30-12:00", "13:00-18:00"]}`, new: `{sat: []}`, path: "calendars.plain.hours", line: 23, reason: "has no opening hours on any day"},
		{name: "day name", old: "mon-fri: [\"09:00", new: "mon-fry: [\"09:00", path: "calendars.office.hours.mon-fry", line: 17, reason: "must be days like mon, mon-fri"},
		{name: "day range backwards", old: "      sat:", new: "      sat-mon:", path: "calendars.office.hours.sat-mon", line: 18, reason: "must run forward"},
		{name: "range backwards", old: "09:00-17:00", new: "17:00-09:00", path: "calendars.office.hours.mon-fri[0]", line: 17, reason: "must end after it starts"},
		{name: "range format", old: "11:00-15:00", new: "11-15", path: "calendars.office.hours.sat[0]", line: 18, reason: "must be a range like 09:00-17:00"},
		{name: "range past 24:00", old: "11:00-15:00", new: "22:00-24:30", path: "calendars.office.hours.sat[0]", line: 18, reason: "times 00:00 to 24:00"},
		{name: "overlap", old: `sat: ["11:00-15:00"]`, new: `fri: ["16:00-18:00"]`, path: "calendars.office.hours", line: 16, reason: "Friday has overlapping hours 09:00-17:00 and 16:00-18:00"},
		{name: "hours not a list", old: `sat: ["11:00-15:00"]`, new: `sat: "11:00-15:00"`, path: "calendars.office.hours.sat", line: 18, reason: "must be a list"},
		{name: "holidays", old: "holidays: nl", new: "holidays: be", path: "calendars.office.holidays", line: 19, reason: `must be nl (the Dutch national holidays) or left out (got "be")`},
		{name: "liberation_day", old: "liberation_day: lustrum", new: "liberation_day: sometimes", path: "calendars.office.liberation_day", line: 20, reason: `must be one of yearly, lustrum, none (got "sometimes")`},
		{name: "liberation_day without nl", old: "    holidays: nl\n", path: "calendars.office.liberation_day", line: 19, reason: "applies only with holidays: nl"},
		{name: "extra holiday", old: "[2025-12-24]", new: "[24-12-2025]", path: "calendars.office.extra_holidays[0]", line: 21, reason: `must be a date like 2025-12-24 (got "24-12-2025")`},

		{name: "unknown plan key", old: "    languages:", new: "    language:", path: "plans.enhanced.language", line: 34, reason: `unknown field "language" (did you mean "languages"?)`},
		{name: "unknown calendar", old: "calendar: plain", new: "calendar: plane", path: "plans.enhanced.calendar", line: 31, reason: `unknown calendar "plane" (calendars: office, plain)`},
		{name: "target", old: "first_response: 4h,", new: "first_response: 4 hours,", path: "plans.standard.targets.P1.first_response", line: 28, reason: `must be a target like 4h, 1h30m, 3 workdays or within 3 workdays (got "4 hours")`},
		{name: "target negative", old: "first_response: 1h30m", new: "first_response: -1h", path: "plans.enhanced.targets.P1.first_response", line: 33, reason: "must be a target like"},
		{name: "resolution", old: "resolution: within 3 workdays", new: "resolution: within 3h", path: "plans.standard.targets.P1.resolution", line: 28, reason: "must be a target like"},
		{name: "target priority", old: "      P3: {first", new: "      P5: {first", path: "plans.standard.targets.P5", line: 29, reason: `must be one of P1, P2, P3, P4 (got "P5")`},
		{name: "empty target", old: "      P3: {first_response: 3 workdays}", new: "      P3: {}", path: "plans.standard.targets.P3", line: 29, reason: "needs first_response, resolution or both"},
		{name: "calendar without targets", old: "    targets:\n      P1: {first_response: 1h30m}\n", path: "plans.enhanced.targets", line: 30, reason: "is required with a calendar"},
		{name: "targets without calendar", new: "  other:\n    targets: {P1: {first_response: 1h}}\n", path: "plans.other.calendar", line: 37, reason: "is required with targets"},
		{name: "languages without calendar", new: "  other:\n    languages: {nl: {calendar: office}}\n", path: "plans.other.calendar", line: 37, reason: "is required with languages"},
		{name: "language", old: "      nl: {calendar", new: "      de: {calendar", path: "plans.enhanced.languages.de", line: 35, reason: `language must be nl or en (got "de")`},
		{name: "language calendar", old: "nl: {calendar: office", new: "nl: {calendar: offic", path: "plans.enhanced.languages.nl.calendar", line: 35, reason: `unknown calendar "offic"`},
		{name: "outside_hours_plan unknown", old: "outside_hours_plan: standard", new: "outside_hours_plan: standart", path: "plans.enhanced.languages.nl.outside_hours_plan", line: 35, reason: `unknown plan "standart" (plans: enhanced, none, standard)`},
		{name: "outside_hours_plan self", old: "outside_hours_plan: standard", new: "outside_hours_plan: enhanced", path: "plans.enhanced.languages.nl.outside_hours_plan", line: 35, reason: "must name another plan"},
		{name: "outside_hours_plan without clock", old: "outside_hours_plan: standard", new: "outside_hours_plan: none", path: "plans.enhanced.languages.nl.outside_hours_plan", line: 35, reason: `plan "none" has no SLA calendar`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			section := slaSection + tt.new
			if tt.old != "" {
				if !strings.Contains(slaSection, tt.old) {
					t.Fatalf("slaSection has no %q", tt.old)
				}
				section = strings.Replace(slaSection, tt.old, tt.new, 1)
			}
			_, ps := parseWith(t, base+section, nil, nil)
			for _, p := range ps {
				if p.Path == tt.path && p.Line == tt.line && strings.Contains(p.Reason, tt.reason) {
					if len(ps) > 1 {
						t.Errorf("one mistake gave more than one problem:\n%v", ps)
					}
					return
				}
			}
			t.Errorf("want problem at line %d, path %q, reason containing %q; got:\n%v", tt.line, tt.path, tt.reason, ps)
		})
	}
}

// Plans written before SLA existed keep working: no calendar, no clock.
func TestPlansWithoutSLA(t *testing.T) {
	cfg, ps := parseWith(t, base+"plans:\n  standaard: {default_priority: P3}\n", map[string]string{
		"contacts.yaml": "customers:\n  - {id: a, plan: standaard, contacts: [{email: a@a.example, main: true}]}\n",
	}, nil)
	if ps != nil {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	if p := cfg.Plans["standaard"]; p.Calendar != "" || p.Targets != nil || cfg.Calendars != nil {
		t.Errorf("plan = %+v, calendars %v", p, cfg.Calendars)
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in   string
		want Target
		str  string
	}{
		{"4h", Target{Business: 4 * time.Hour}, "4h"},
		{"30m", Target{Business: 30 * time.Minute}, "30m"},
		{"1h30m", Target{Business: 90 * time.Minute}, "1h30m"},
		{" 48H ", Target{Business: 48 * time.Hour}, "48h"},
		{"3 workdays", Target{Workdays: 3}, "3 workdays"},
		{"1 workday", Target{Workdays: 1}, "1 workday"},
		{"1 workdays", Target{Workdays: 1}, "1 workday"},
		{"Within  3 Workdays", Target{Workdays: 3, EndOfDay: true}, "within 3 workdays"},
		{"2000h", Target{Business: 2000 * time.Hour}, "2000h"},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.in)
		if err != nil || got != tt.want || got.String() != tt.str {
			t.Errorf("ParseTarget(%q) = %+v (%q), %v; want %+v (%q)", tt.in, got, got.String(), err, tt.want, tt.str)
		}
	}
	for _, bad := range []string{"", "4", "4 hours", "0h", "-1h", "2001h", "within 4h", "0 workdays", "261 workdays",
		"three workdays", "3 days", "within", "within 3", "3 workdays extra"} {
		if got, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q) = %+v, want an error", bad, got)
		}
	}
}

// FuzzParseTarget: targets are written by hand. No input may panic, and
// whatever parses must print back to the same target.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"4h", "1h30m", "3 workdays", "within 1 workday", "0h", "1e9h", "within", " 3\tworkdays "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTarget(s)
		if err != nil {
			return
		}
		if got.IsZero() || got.Business > maxTargetBusiness || got.Workdays > maxTargetWorkdays || got.Business < 0 || got.Workdays < 0 {
			t.Fatalf("ParseTarget(%q) = %+v out of bounds", s, got)
		}
		again, err := ParseTarget(got.String())
		if err != nil || again != got {
			t.Fatalf("ParseTarget(%q) = %+v, String %q parses to %+v, %v", s, got, got.String(), again, err)
		}
	})
}

// FuzzParseHours: the hours keys and ranges of a calendar; whatever a week
// accepts must be sorted, disjoint and within the day.
func FuzzParseHours(f *testing.F) {
	f.Add("mon-fri", "09:00-17:00", "sat", "11:00-15:00")
	f.Add("mon,wed", "8:30-12:00", "mon", "12:00-13:00")
	f.Add("sun-sat", "00:00-24:00", "fri-mon", "9-17")
	f.Fuzz(func(t *testing.T, k1, r1, k2, r2 string) {
		if r, err := config.ParseClockRange(r1); err == nil && (r.Start < 0 || r.End > 24*60 || r.Start >= r.End || r.String() == "") {
			t.Fatalf("ParseClockRange(%q) = %v", r1, r)
		}
		if days, err := config.ParseDays(k1); err == nil && (len(days) == 0 || len(days) > 7) {
			t.Fatalf("ParseDays(%q) = %v", k1, days)
		}
		week, err := weekOf(config.Calendar{Hours: map[string][]string{k1: {r1}, k2: {r2}}})
		if err != nil {
			return
		}
		for d, rs := range week {
			for i, r := range rs {
				if r.Start < 0 || r.End > 24*60 || r.Start >= r.End || i > 0 && rs[i-1].End >= r.Start {
					t.Fatalf("Week() %s = %v", time.Weekday(d), rs)
				}
			}
		}
	})
}

// exceptionsSection is appended to base, so it starts on line 13: the dates
// a calendar's week does not know (issue 15, item 10).
const exceptionsSection = `calendars:
  office:
    hours: {mon-fri: ["09:00-17:00"]}
    holidays: nl
    extra_holidays: [2026-11-13]
    holidays_except: [goede_vrijdag, tweede_pinksterdag]
    closed:
      - {from: 2026-12-24, reason: kerstavond}
      - {from: 2026-12-28, to: 2026-12-30}
    open:
      - {from: 2026-12-31, hours: ["09:00-15:00"], reason: oudejaarsdag}
      - {from: 2026-10-10, to: 2026-10-10, hours: ["10:00-12:00", "12:00-13:00"]}
    standby:
      - {from: 2026-12-05, to: 2026-12-06, hours: ["08:30-18:00"], first_response: 30m, reason: weekend}
      - {from: 2026-12-07, hours: ["00:00-08:30", "18:00-24:00"], first_response: 1h}
plans:
  standard:
    calendar: office
    targets: {P1: {first_response: 4h}}
`

func TestCalendarExceptionsConfig(t *testing.T) {
	cfg, ps := parseWith(t, base+exceptionsSection, nil, nil)
	if ps != nil {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	office := cfg.Calendars["office"]
	except, periods, problems := exceptionsOf(office)
	if problems != nil || !slices.Equal(except, []string{"goede_vrijdag", "tweede_pinksterdag"}) {
		t.Errorf("except %v, problems %v", except, problems)
	}
	var got []string
	for _, p := range periods {
		got = append(got, p.Field+": "+p.String())
	}
	want := []string{
		"open[1]: open 2026-10-10 10:00-13:00",
		"extra_holidays[0]: closed 2026-11-13 (extra holiday)",
		"standby[0]: standby 2026-12-05 to 2026-12-06 08:30-18:00, first response 30m (weekend)",
		"standby[1]: standby 2026-12-07 00:00-08:30, 18:00-24:00, first response 1h",
		"closed[0]: closed 2026-12-24 (kerstavond)",
		"closed[1]: closed 2026-12-28 to 2026-12-30",
		"open[0]: open 2026-12-31 09:00-15:00 (oudejaarsdag)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("periods:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCalendarExceptionsValidation(t *testing.T) {
	tests := []struct {
		name, old, new, path string
		line                 int
		reason               string
	}{
		{"holidays_except without nl", "    holidays: nl\n", "", "calendars.office.holidays_except", 17, "applies only with holidays: nl"},
		{"unknown holiday", "[goede_vrijdag,", "[goede_vrydag,", "calendars.office.holidays_except[0]", 18, `unknown holiday "goede_vrydag" (did you mean "goede_vrijdag"?); the holidays of nl to except are nieuwjaarsdag, goede_vrijdag, tweede_paasdag, koningsdag, hemelvaartsdag,`},
		{"unknown holiday, nothing like it", "[goede_vrijdag,", "[pasen,", "calendars.office.holidays_except[0]", 18, `unknown holiday "pasen"; the holidays of nl to except are`},
		{"Liberation Day", "tweede_pinksterdag]", "bevrijdingsdag]", "calendars.office.holidays_except[1]", 18, "liberation_day: none"},
		{"holiday twice", "tweede_pinksterdag]", "goede_vrijdag]", "calendars.office.holidays_except[1]", 18, "names goede_vrijdag twice"},
		{"closed without from", "{from: 2026-12-28, to: 2026-12-30}", "{to: 2026-12-30}", "calendars.office.closed[1].from", 21, "is required: the first date"},
		{"closed bad from", "{from: 2026-12-28,", "{from: 28-12-2026,", "calendars.office.closed[1].from", 21, `must be a date like 2025-12-24 (got "28-12-2026")`},
		{"closed bad to", "to: 2026-12-30}", "to: 2026-12-32}", "calendars.office.closed[1].to", 21, `must be a date like 2025-12-24 (got "2026-12-32")`},
		{"closed to before from", "to: 2026-12-30}", "to: 2026-12-20}", "calendars.office.closed[1].to", 21, "must not be before from (2026-12-28 to 2026-12-20)"},
		{"closed too long", "to: 2026-12-30}", "to: 2062-12-30}", "calendars.office.closed[1].to", 21, "makes a period of 13152 days, at most 366 (is the year right?)"},
		{"closed twice", "{from: 2026-12-28, to: 2026-12-30}", "{from: 2026-12-20, to: 2026-12-30}", "calendars.office.closed[0]", 20, "shares dates with closed[1] (2026-12-20 to 2026-12-30)"},
		{"open on a closed date", "{from: 2026-12-31, hours", "{from: 2026-12-30, hours", "calendars.office.open[0]", 23, "shares dates with closed[1] (2026-12-28 to 2026-12-30): a date is either closed or open with its own hours"},
		{"extra holiday on a closed date", "extra_holidays: [2026-11-13]", "extra_holidays: [2026-12-29]", "calendars.office.extra_holidays[0]", 17, "shares dates with closed[1] (2026-12-28 to 2026-12-30)"},
		{"open twice", "{from: 2026-10-10, to: 2026-10-10,", "{from: 2026-12-31, to: 2026-12-31,", "calendars.office.open[1]", 24, "shares dates with open[0] (2026-12-31 to 2026-12-31): a date has one set of opening hours"},
		{"open without hours", `hours: ["09:00-15:00"], reason`, "reason", "calendars.office.open[0].hours", 23, `is required: ranges like ["09:00-17:00"]`},
		{"open bad hours", `["09:00-15:00"]`, `["15:00-09:00"]`, "calendars.office.open[0].hours[0]", 23, "must end after it starts"},
		{"open overlapping hours", `"12:00-13:00"]`, `"11:00-13:00"]`, "calendars.office.open[1].hours", 24, "has overlapping hours 10:00-12:00 and 11:00-13:00"},
		{"standby without target", ", first_response: 1h}", "}", "calendars.office.standby[1].first_response", 27, "is required"},
		{"standby in workdays", "first_response: 1h}", "first_response: 1 workday}", "calendars.office.standby[1].first_response", 27, `must be business time like 30m or 1h (got "1 workday")`},
		{"standby bad target", "first_response: 1h}", "first_response: soon}", "calendars.office.standby[1].first_response", 27, "must be a target like"},
		{"standby twice", "{from: 2026-12-07, hours", "{from: 2026-12-06, hours", "calendars.office.standby[1]", 27, "shares dates with standby[0] (2026-12-05 to 2026-12-06): give one entry the hours of both"},
		{"standby without hours", `hours: ["00:00-08:30", "18:00-24:00"], `, "", "calendars.office.standby[1].hours", 27, "is required"},
		{"unknown key", "reason: weekend", "reasn: weekend", "calendars.office.standby[0].reasn", 26, `unknown field "reasn" (did you mean "reason"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(exceptionsSection, tt.old) {
				t.Fatalf("exceptionsSection has no %q", tt.old)
			}
			_, ps := parseWith(t, base+strings.Replace(exceptionsSection, tt.old, tt.new, 1), nil, nil)
			if len(ps) == 1 && ps[0].Path == tt.path && ps[0].Line == tt.line && strings.Contains(ps[0].Reason, tt.reason) {
				return
			}
			t.Errorf("want one problem at line %d, path %q, reason containing %q; got:\n%v", tt.line, tt.path, tt.reason, ps)
		})
	}
}

func mustTarget(t *testing.T, s config.Target) Target {
	t.Helper()
	v, err := ParseTarget(string(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A type's target is read as the plan's are (moved from config's
// TestSupportTypesValidation with the grammar).
func TestTypeTargetChecked(t *testing.T) {
	const head = "  x:\n    calendar: office\n    targets: {P1: {first_response: 1h}}\n"
	_, ps := parseWith(t, base+slaSection+head+"    default_type: a\n    types: {a: {targets: {P1: {first_response: soon}}}}\n", nil, nil)
	if len(ps) != 1 || ps[0].Path != "plans.x.types.a.targets.P1.first_response" || ps[0].Line == 0 ||
		ps[0].Reason != `must be a target like 4h, 1h30m, 3 workdays or within 3 workdays (got "soon")` {
		t.Errorf("want one problem at plans.x.types.a.targets.P1.first_response; got:\n%v", ps)
	}
}
