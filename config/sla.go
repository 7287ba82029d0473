package config

// The SLA part of the schema: calendars (when the SLA clock runs) and the
// plans' targets. The arithmetic is package sla's; the strings a person
// writes ("09:00-17:00", "mon-fri", "4h", "within 3 workdays") are parsed
// here only, so that validation and sla can never read them differently.

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Calendar is when business time counts: opening hours in a time zone, minus
// holidays.
type Calendar struct {
	// Timezone is an IANA zone name; empty = desk.timezone. Opening hours
	// are wall-clock times there, so a 09:00 opening stays 09:00 across
	// daylight-saving changes.
	Timezone string `yaml:"timezone"`
	// Hours maps days to opening hours: keys are "mon".."sun", ranges of
	// them ("mon-fri") or comma-separated lists ("mon-wed,fri"); values are
	// "HH:MM-HH:MM" ranges, several per day allowed, end at most 24:00.
	Hours map[string][]string `yaml:"hours"`
	// Holidays is "nl" (the Dutch national holidays) or empty (none).
	Holidays string `yaml:"holidays"`
	// LiberationDay is how 5 May counts with holidays "nl": "yearly" (the
	// default, as the law has it), "lustrum" (only 2025, 2030, ...: what
	// most collective agreements give) or "none".
	LiberationDay string `yaml:"liberation_day"`
	// ExtraHolidays are further closed days, "YYYY-MM-DD".
	ExtraHolidays []string `yaml:"extra_holidays"`
	// HolidaysExcept are national holidays of Holidays that are workdays
	// here, by id (goede_vrijdag; see NLHolidays).
	HolidaysExcept []string `yaml:"holidays_except"`
	// Closed are company days off: dates without opening hours.
	Closed []ClosedDays `yaml:"closed"`
	// Open are dates with their own opening hours, which replace the
	// weekday's hours and any holiday on them.
	Open []OpenDays `yaml:"open"`
	// Standby are standby periods: hours in which the desk answers the
	// tickets that arrive then, within their own first-response target.
	Standby []StandbyDays `yaml:"standby"`

	// Location is Timezone loaded by Load.
	Location *time.Location `yaml:"-"`
}

// ClosedDays is a company day off, or several: From to To, both included
// ("YYYY-MM-DD"; an empty To is From).
type ClosedDays struct {
	From   string `yaml:"from"`
	To     string `yaml:"to"`
	Reason string `yaml:"reason"`
}

// OpenDays are dates, From to To, whose opening hours are Hours instead of
// the weekday's; a holiday among them is open too.
type OpenDays struct {
	From   string   `yaml:"from"`
	To     string   `yaml:"to"`
	Hours  []string `yaml:"hours"`
	Reason string   `yaml:"reason"`
}

// StandbyDays is a standby period: on the dates From to To, the Hours are
// standby hours. A ticket that arrives in them gets FirstResponse (business
// time) when that ends before its priority's target, and its clock counts
// the standby hours as well as the opening hours. Standby hours make no
// date a workday.
type StandbyDays struct {
	From          string   `yaml:"from"`
	To            string   `yaml:"to"`
	Hours         []string `yaml:"hours"`
	FirstResponse Target   `yaml:"first_response"`
	Reason        string   `yaml:"reason"`
}

// PlanTarget is the targets of one priority. A zero Target is no target.
type PlanTarget struct {
	FirstResponse Target `yaml:"first_response"`
	Resolution    Target `yaml:"resolution"`
}

// LanguageRule changes a plan's SLA clock for tickets in one language.
// Calendar and Targets default to the plan's.
type LanguageRule struct {
	Calendar string                `yaml:"calendar"`
	Targets  map[string]PlanTarget `yaml:"targets"`
	// OutsideHoursPlan: a ticket in this language that arrives while
	// Calendar is closed gets the calendar and targets of this plan instead
	// (Kwikqy: Dutch requests outside Dutch opening hours get Standard
	// targets). Empty = no such rule.
	OutsideHoursPlan string `yaml:"outside_hours_plan"`
}

// Target is an SLA target as the config writes it: business time ("4h",
// "30m", "1h30m") or workdays ("3 workdays": the same clock time on the
// third workday after the clock starts; "within 3 workdays": closing time
// of that day). The zero Target is no target.
type Target struct {
	Business time.Duration
	Workdays int
	EndOfDay bool // "within N workdays"
}

// Limits on targets keep every deadline search short; no contract comes
// near them.
const (
	maxTargetBusiness = 2000 * time.Hour
	maxTargetWorkdays = 260
)

const targetForms = "a target like 4h, 1h30m, 3 workdays or within 3 workdays"

// ParseTarget reads a target written as a Go duration of business time
// ("4h", "30m", "1h30m"), "N workday(s)" or "within N workday(s)".
func ParseTarget(s string) (Target, error) {
	f := strings.Fields(strings.ToLower(s))
	within := len(f) > 0 && f[0] == "within"
	if within {
		f = f[1:]
	}
	if len(f) == 2 && (f[1] == "workdays" || f[1] == "workday") {
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 1 || n > maxTargetWorkdays {
			return Target{}, fmt.Errorf("workdays must be a whole number from 1 to %d (got %q)", maxTargetWorkdays, s)
		}
		return Target{Workdays: n, EndOfDay: within}, nil
	}
	if within || len(f) != 1 {
		return Target{}, fmt.Errorf("want %s (got %q)", targetForms, s)
	}
	d, err := time.ParseDuration(f[0])
	if err != nil {
		return Target{}, fmt.Errorf("want %s (got %q)", targetForms, s)
	}
	if d <= 0 || d > maxTargetBusiness {
		return Target{}, fmt.Errorf("business time must be more than 0 and at most %s (got %q)", fmtDuration(maxTargetBusiness), s)
	}
	return Target{Business: d}, nil
}

// IsZero reports whether t is no target.
func (t Target) IsZero() bool { return t == Target{} }

// String writes t so that ParseTarget reads it back.
func (t Target) String() string {
	switch {
	case t.Workdays > 0 && t.EndOfDay:
		return fmt.Sprintf("within %d %s", t.Workdays, plural(t.Workdays, "workday"))
	case t.Workdays > 0:
		return fmt.Sprintf("%d %s", t.Workdays, plural(t.Workdays, "workday"))
	case t.Business > 0:
		return fmtDuration(t.Business)
	}
	return ""
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// fmtDuration drops the zero units time.Duration.String writes ("4h0m0s").
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// UnmarshalYAML reports a bad target like Duration does, with its line.
func (t *Target) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if v, err := ParseTarget(n.Value); err == nil {
			*t = v
			return nil
		}
	}
	return nodeError(n, "must be "+targetForms)
}

func (t Target) MarshalYAML() (any, error) { return t.String(), nil }

// ClockRange is an opening range of one day in wall-clock minutes after
// midnight: [Start, End), End at most 24*60.
type ClockRange struct{ Start, End int }

func (r ClockRange) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", r.Start/60, r.Start%60, r.End/60, r.End%60)
}

// ParseClockRange reads "09:00-17:00" (hours may have one digit; 24:00 is
// the end of the day).
func ParseClockRange(s string) (ClockRange, error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return ClockRange{}, fmt.Errorf("must be a range like 09:00-17:00 (got %q)", s)
	}
	start, err1 := parseClock(from)
	end, err2 := parseClock(to)
	switch {
	case err1 != nil || err2 != nil || start == 24*60:
		return ClockRange{}, fmt.Errorf("must be a range like 09:00-17:00, times 00:00 to 24:00 (got %q)", s)
	case start >= end:
		return ClockRange{}, fmt.Errorf("must end after it starts (got %q); a range cannot run past midnight", s)
	}
	return ClockRange{start, end}, nil
}

func parseClock(s string) (int, error) {
	s = strings.TrimSpace(s)
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, fmt.Errorf("not HH:MM: %q", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || h[0] == '+' || h[0] == '-' || m[0] == '+' || m[0] == '-' ||
		hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("not a time of day: %q", s)
	}
	return hh*60 + mm, nil
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseDays reads the key of an hours entry: "mon", "mon-fri" or a
// comma-separated list of those. Ranges run forward within one week
// (mon..sun); "sat-sun" is fine, "fri-mon" is not.
func ParseDays(s string) ([]time.Weekday, error) {
	// Monday first, as the week runs in the countries the desk serves.
	order := func(d time.Weekday) int { return (int(d) + 6) % 7 }
	var days []time.Weekday
	for part := range strings.SplitSeq(strings.ToLower(s), ",") {
		from, to, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, ok1 := dayNames[strings.TrimSpace(from)]
		b, ok2 := a, true
		if isRange {
			b, ok2 = dayNames[strings.TrimSpace(to)]
		}
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("must be days like mon, mon-fri or mon-fri,sat (got %q)", s)
		}
		if order(b) < order(a) {
			return nil, fmt.Errorf("day range %q must run forward from mon to sun", part)
		}
		for i := order(a); i <= order(b); i++ {
			d := time.Weekday((i + 1) % 7)
			if slices.Contains(days, d) {
				return nil, fmt.Errorf("names %s twice (got %q)", d, s)
			}
			days = append(days, d)
		}
	}
	return days, nil
}

// Week is the calendar's opening hours per weekday (index time.Weekday),
// each day's ranges sorted, touching ranges joined. It fails on a bad key or
// range, on overlapping ranges and when no day has any hours: such a
// calendar would never let a deadline come.
func (c Calendar) Week() ([7][]ClockRange, error) {
	var week [7][]ClockRange
	keys := make([]string, 0, len(c.Hours))
	for k := range c.Hours {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		days, err := ParseDays(k)
		if err != nil {
			return week, fmt.Errorf("hours %q: %w", k, err)
		}
		for _, s := range c.Hours[k] {
			r, err := ParseClockRange(s)
			if err != nil {
				return week, fmt.Errorf("hours %q: %w", k, err)
			}
			for _, d := range days {
				week[d] = append(week[d], r)
			}
		}
	}
	open := false
	for d := range week {
		merged, err := mergeRanges(week[d])
		if err != nil {
			return week, fmt.Errorf("%s has %w", time.Weekday(d), err)
		}
		week[d] = merged
		open = open || len(merged) > 0
	}
	if !open {
		return week, fmt.Errorf("has no opening hours on any day")
	}
	return week, nil
}

// mergeRanges sorts rs (in place) and joins touching ranges; overlapping
// ones are an error ("overlapping hours ...").
func mergeRanges(rs []ClockRange) ([]ClockRange, error) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Start < rs[j].Start })
	var merged []ClockRange
	for _, r := range rs {
		if n := len(merged); n > 0 && r.Start <= merged[n-1].End {
			if r.Start < merged[n-1].End {
				return nil, fmt.Errorf("overlapping hours %s and %s", merged[n-1], r)
			}
			merged[n-1].End = r.End
			continue
		}
		merged = append(merged, r)
	}
	return merged, nil
}

// ParseDate reads an extra holiday, "YYYY-MM-DD".
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("must be a date like 2025-12-24 (got %q)", s)
	}
	return t, nil
}

// NLHolidays are the ids of the Dutch national holidays of holidays: nl, in
// the order of the year, for holidays_except. They are rickar/cal's names,
// lower-case with underscores (package sla checks that they match).
var NLHolidays = []string{
	"nieuwjaarsdag", "goede_vrijdag", "tweede_paasdag", "koningsdag", "bevrijdingsdag",
	"hemelvaartsdag", "tweede_pinksterdag", "eerste_kerstdag", "tweede_kerstdag",
}

// Kinds of Period.
const (
	PeriodClosed  = "closed"
	PeriodOpen    = "open"
	PeriodStandby = "standby"
)

// maxPeriodDays bounds one closed, open or standby entry: a longer one is
// a mistyped year far more often than a plan.
const maxPeriodDays = 366

// Period is a closed, open or standby entry (an extra holiday is a closed
// one) as package sla uses it.
type Period struct {
	Kind  string // PeriodClosed, PeriodOpen or PeriodStandby
	Field string // where it is written: "closed[0]", "extra_holidays[2]"
	// From and To are the first and last date, midnight UTC.
	From, To time.Time
	// Hours are the open or standby hours of each date, sorted and joined;
	// none for closed dates.
	Hours         []ClockRange
	FirstResponse Target // standby only
	Reason        string
}

// String describes p for people: "closed 2026-12-24 to 2026-12-31
// (kerstsluiting)", "standby 2026-12-05 08:30-18:00, first response 30m".
func (p Period) String() string {
	var b strings.Builder
	b.WriteString(p.Kind + " " + p.From.Format(time.DateOnly))
	if !p.To.Equal(p.From) {
		b.WriteString(" to " + p.To.Format(time.DateOnly))
	}
	for i, r := range p.Hours {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(" " + r.String())
	}
	if !p.FirstResponse.IsZero() {
		b.WriteString(", first response " + p.FirstResponse.String())
	}
	if p.Reason != "" {
		b.WriteString(" (" + p.Reason + ")")
	}
	return b.String()
}

// FieldProblem is something wrong with one field of a calendar; Field is
// below the calendar ("closed[1].to", "holidays_except[0]").
type FieldProblem struct{ Field, Reason string }

func (p FieldProblem) Error() string { return p.Field + ": " + p.Reason }

// Exceptions checks and reads what a calendar says about particular dates:
// holidays_except and the closed, open and standby entries with the extra
// holidays. Periods are sorted by From. Every problem is returned, each
// once, at the field that has it; an entry with a problem of its own is
// left out of the periods. Without problems, closed (and extra holidays)
// and open entries never share a date, nor do two standby entries.
func (c Calendar) Exceptions() (except []string, periods []Period, problems []FieldProblem) {
	add := func(field, format string, args ...any) {
		problems = append(problems, FieldProblem{field, fmt.Sprintf(format, args...)})
	}
	except = c.holidaysExcept(add)

	var days, standby []Period
	for i, s := range c.ExtraHolidays {
		if d, err := ParseDate(s); err == nil {
			days = append(days, Period{Kind: PeriodClosed, Field: fmt.Sprintf("extra_holidays[%d]", i), From: d, To: d, Reason: "extra holiday"})
		} // reported by validateSLA
	}
	for i, e := range c.Closed {
		p := Period{Kind: PeriodClosed, Field: fmt.Sprintf("closed[%d]", i), Reason: e.Reason}
		if dates(&p, e.From, e.To, add) {
			days = append(days, p)
		}
	}
	for i, e := range c.Open {
		p := Period{Kind: PeriodOpen, Field: fmt.Sprintf("open[%d]", i), Reason: e.Reason}
		if ok := dates(&p, e.From, e.To, add); hours(&p, e.Hours, add) && ok {
			days = append(days, p)
		}
	}
	for i, e := range c.Standby {
		p := Period{Kind: PeriodStandby, Field: fmt.Sprintf("standby[%d]", i), Reason: e.Reason, FirstResponse: e.FirstResponse}
		ok := dates(&p, e.From, e.To, add)
		ok = hours(&p, e.Hours, add) && ok
		switch {
		case e.FirstResponse.IsZero():
			add(p.Field+".first_response", "is required: the time in which a ticket that arrives in standby hours is answered (30m)")
			ok = false
		case e.FirstResponse.Workdays > 0:
			add(p.Field+".first_response", "must be business time like 30m or 1h (got %q): standby dates are no workdays", e.FirstResponse)
			ok = false
		}
		if ok {
			standby = append(standby, p)
		}
	}
	overlaps(days, add)
	overlaps(standby, add)
	periods = append(days, standby...)
	sort.SliceStable(periods, func(i, j int) bool { return periods[i].From.Before(periods[j].From) })
	return except, periods, problems
}

func (c Calendar) holidaysExcept(add func(field, format string, args ...any)) []string {
	if len(c.HolidaysExcept) == 0 {
		return nil
	}
	switch c.Holidays {
	case "nl":
	case "":
		add("holidays_except", "applies only with holidays: nl")
		return nil
	default:
		return nil // holidays is reported
	}
	var except []string
	for i, id := range c.HolidaysExcept {
		field := fmt.Sprintf("holidays_except[%d]", i)
		switch {
		case id == "bevrijdingsdag":
			add(field, "Liberation Day is set by liberation_day: none (or lustrum)")
		case slices.Contains(except, id):
			add(field, "names %s twice", id)
		case slices.Contains(NLHolidays, id):
			except = append(except, id)
		default:
			hint := ""
			if s := Suggest(id, slices.Clone(NLHolidays)); s != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", s)
			}
			ids := slices.DeleteFunc(slices.Clone(NLHolidays), func(id string) bool { return id == "bevrijdingsdag" })
			add(field, "unknown holiday %q%s; the holidays of nl to except are %s", id, hint, strings.Join(ids, ", "))
		}
	}
	return except
}

// dates reads from and to into p; false (and problems) when they are not
// a range of at most maxPeriodDays dates.
func dates(p *Period, from, to string, add func(field, format string, args ...any)) bool {
	f, err := ParseDate(from)
	switch {
	case from == "":
		add(p.Field+".from", "is required: the first date, like 2026-12-24")
		return false
	case err != nil:
		add(p.Field+".from", "%s", err)
		return false
	}
	t := f
	if to != "" {
		if t, err = ParseDate(to); err != nil {
			add(p.Field+".to", "%s", err)
			return false
		}
	}
	switch n := int(t.Sub(f).Hours()/24) + 1; {
	case t.Before(f):
		add(p.Field+".to", "must not be before from (%s to %s)", from, to)
		return false
	case n > maxPeriodDays:
		add(p.Field+".to", "makes a period of %d days, at most %d (is the year right?)", n, maxPeriodDays)
		return false
	}
	p.From, p.To = f, t
	return true
}

// hours reads the hours of an open or standby entry into p.
func hours(p *Period, hs []string, add func(field, format string, args ...any)) bool {
	if len(hs) == 0 {
		add(p.Field+".hours", `is required: ranges like ["09:00-17:00"]`)
		return false
	}
	ok := true
	rs := make([]ClockRange, 0, len(hs))
	for i, s := range hs {
		r, err := ParseClockRange(s)
		if err != nil {
			add(fmt.Sprintf("%s.hours[%d]", p.Field, i), "%s", err)
			ok = false
		}
		rs = append(rs, r)
	}
	if !ok {
		return false
	}
	merged, err := mergeRanges(rs)
	if err != nil {
		add(p.Field+".hours", "has %s", err)
		return false
	}
	p.Hours = merged
	return true
}

// overlaps reports each period that shares a date with an earlier one (by
// From): one sort and one pass, each compared with the one reaching
// furthest so far.
func overlaps(ps []Period, add func(field, format string, args ...any)) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].From.Before(ps[j].From) })
	far := -1
	for i, p := range ps {
		if far >= 0 && !p.From.After(ps[far].To) {
			q := ps[far]
			advice := ""
			switch {
			case p.Kind == PeriodStandby:
				advice = ": give one entry the hours of both"
			case p.Kind != q.Kind:
				advice = ": a date is either closed or open with its own hours"
			case p.Kind == PeriodOpen:
				advice = ": a date has one set of opening hours"
			}
			add(p.Field, "shares dates with %s (%s to %s)%s", q.Field,
				q.From.Format(time.DateOnly), q.To.Format(time.DateOnly), advice)
		}
		if far < 0 || p.To.After(ps[far].To) {
			far = i
		}
	}
}

// validateSLA checks calendars and the SLA parts of plans. It runs after
// validateDesk (a calendar's time zone defaults to the desk's) and
// validatePlans.
func (l *loader) validateSLA() {
	c := l.c
	calNames := sortedKeys(l.cfg.Calendars)
	for _, name := range calNames {
		cal, path := l.cfg.Calendars[name], "calendars."+name
		if !ValidID(name) {
			c.Addf(path, "calendar name %s (got %q)", IDRule, name)
		}
		switch cal.Timezone {
		case "":
			cal.Timezone, cal.Location = l.cfg.Desk.Timezone, l.cfg.Desk.Location
		case "Local":
			c.Add(path+".timezone", "must name a time zone such as Europe/Amsterdam, not Local")
		default:
			loc, err := time.LoadLocation(cal.Timezone)
			if err != nil {
				c.Addf(path+".timezone", "unknown time zone %q (want e.g. Europe/Amsterdam or UTC)", cal.Timezone)
			}
			cal.Location = loc
		}
		l.validateHours(path+".hours", cal)
		if cal.Holidays != "" && cal.Holidays != "nl" {
			c.Addf(path+".holidays", "must be nl (the Dutch national holidays) or left out (got %q)", cal.Holidays)
		}
		if cal.Holidays == "nl" {
			if cal.LiberationDay == "" {
				cal.LiberationDay = "yearly"
			}
			l.oneOf(path+".liberation_day", cal.LiberationDay, "yearly", "lustrum", "none")
		} else if cal.Holidays == "" && cal.LiberationDay != "" {
			c.Add(path+".liberation_day", `applies only with holidays: nl`)
		}
		for i, s := range cal.ExtraHolidays {
			if _, err := ParseDate(s); err != nil {
				c.Add(fmt.Sprintf("%s.extra_holidays[%d]", path, i), err.Error())
			}
		}
		_, _, problems := cal.Exceptions()
		for _, p := range problems {
			c.Add(path+"."+p.Field, p.Reason)
		}
		l.cfg.Calendars[name] = cal
	}

	have := "calendars: " + strings.Join(calNames, ", ")
	if len(calNames) == 0 {
		have = "no calendars section"
	}
	for _, name := range sortedKeys(l.cfg.Plans) {
		p, path := l.cfg.Plans[name], "plans."+name
		switch {
		case p.Calendar != "" && !hasKey(l.cfg.Calendars, p.Calendar):
			c.Addf(path+".calendar", "unknown calendar %q (%s)", p.Calendar, have)
		case p.Calendar != "" && len(p.Targets) == 0:
			c.Add(path+".targets", "is required with a calendar: the targets per priority (P1: {first_response: 4h})")
		case p.Calendar == "" && len(p.Targets) > 0:
			c.Add(path+".calendar", "is required with targets: the calendar their business time counts in")
		case p.Calendar == "" && len(p.Languages) > 0:
			c.Add(path+".calendar", "is required with languages: they change the plan's calendar or targets")
		}
		l.validateTargets(path+".targets", p.Targets)
		for _, lang := range sortedKeys(p.Languages) {
			r, lpath := p.Languages[lang], path+".languages."+lang
			if lang != "nl" && lang != "en" {
				c.Addf(lpath, "language must be nl or en (got %q)", lang)
			}
			if r.Calendar != "" && !hasKey(l.cfg.Calendars, r.Calendar) {
				c.Addf(lpath+".calendar", "unknown calendar %q (%s)", r.Calendar, have)
			}
			l.validateTargets(lpath+".targets", r.Targets)
			switch fb, ok := l.cfg.Plans[r.OutsideHoursPlan]; {
			case r.OutsideHoursPlan == "":
			case !ok:
				c.Addf(lpath+".outside_hours_plan", "unknown plan %q (plans: %s)", r.OutsideHoursPlan, strings.Join(sortedKeys(l.cfg.Plans), ", "))
			case r.OutsideHoursPlan == name:
				c.Add(lpath+".outside_hours_plan", "must name another plan")
			case fb.Calendar == "":
				c.Addf(lpath+".outside_hours_plan", "plan %q has no SLA calendar and targets to fall back to", r.OutsideHoursPlan)
			}
		}
	}
}

// validateHours reports each bad key and range at its own line, and what
// only the whole week shows (overlaps, no hours at all) at hours.
func (l *loader) validateHours(path string, cal Calendar) {
	if len(cal.Hours) == 0 {
		l.c.Add(path, `is required: opening hours like mon-fri: ["09:00-17:00"]`)
		return
	}
	bad := false
	for _, k := range sortedKeys(cal.Hours) {
		kpath := path + "." + k
		if _, err := ParseDays(k); err != nil {
			l.c.Add(kpath, err.Error())
			bad = true
		}
		for i, s := range cal.Hours[k] {
			if _, err := ParseClockRange(s); err != nil {
				l.c.Add(fmt.Sprintf("%s[%d]", kpath, i), err.Error())
				bad = true
			}
		}
	}
	if !bad {
		if _, err := cal.Week(); err != nil {
			l.c.Add(path, err.Error())
		}
	}
}

func (l *loader) validateTargets(path string, targets map[string]PlanTarget) {
	for _, prio := range sortedKeys(targets) {
		t, ppath := targets[prio], path+"."+prio
		switch {
		case prio == "" || !ValidPriority(prio):
			l.c.Addf(ppath, "must be one of P1, P2, P3, P4 (got %q)", prio)
		// A target that failed to decode is zero too, and already reported.
		case t.FirstResponse.IsZero() && t.Resolution.IsZero() &&
			!l.c.set(ppath+".first_response") && !l.c.set(ppath+".resolution"):
			l.c.Add(ppath, "needs first_response, resolution or both")
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}
