package sla

// The SLA grammar: what the config's targets ("4h", "within 3 workdays")
// and calendars' dates (holidays, closed, open and standby periods) say,
// read here only, so that the check of the config (Check) and the
// arithmetic can never read them differently. The schema is config's
// (config.Calendar, config.PlanTarget); so are the clock ranges and day
// lists of opening hours, which billing's classes write too.

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/maildesk/maildesk/config"
)

// Target is a first-response or resolution target as ParseTarget reads a
// config.Target: business time ("4h", "30m", "1h30m") or workdays ("3
// workdays": the same clock time on the third workday after the clock
// starts; "within 3 workdays": closing time of that day). The zero Target
// is no target.
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

const targetForms = config.TargetForms

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
		return Target{}, fmt.Errorf("business time must be more than 0 and at most %s (got %q)", config.FormatDuration(maxTargetBusiness), s)
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
		return config.FormatDuration(t.Business)
	}
	return ""
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// weekOf is the calendar's opening hours per weekday (index time.Weekday),
// each day's ranges sorted, touching ranges joined. It fails on a bad key or
// range, on overlapping ranges and when no day has any hours: such a
// calendar would never let a deadline come.
func weekOf(c config.Calendar) ([7][]config.ClockRange, error) {
	var week [7][]config.ClockRange
	keys := make([]string, 0, len(c.Hours))
	for k := range c.Hours {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		days, err := config.ParseDays(k)
		if err != nil {
			return week, fmt.Errorf("hours %q: %w", k, err)
		}
		for _, s := range c.Hours[k] {
			r, err := config.ParseClockRange(s)
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
func mergeRanges(rs []config.ClockRange) ([]config.ClockRange, error) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Start < rs[j].Start })
	var merged []config.ClockRange
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
// lower-case with underscores (a test checks that they match).
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
// one) as the calendar uses it.
type Period struct {
	Kind  string // PeriodClosed, PeriodOpen or PeriodStandby
	Field string // where it is written: "closed[0]", "extra_holidays[2]"
	// From and To are the first and last date, midnight UTC.
	From, To time.Time
	// Hours are the open or standby hours of each date, sorted and joined;
	// none for closed dates.
	Hours         []config.ClockRange
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

// exceptionsOf checks and reads what a calendar says about particular dates:
// holidays_except and the closed, open and standby entries with the extra
// holidays. Periods are sorted by From. Every problem is returned, each
// once, at the field that has it; an entry with a problem of its own is
// left out of the periods. Without problems, closed (and extra holidays)
// and open entries never share a date, nor do two standby entries.
func exceptionsOf(c config.Calendar) (except []string, periods []Period, problems []FieldProblem) {
	add := func(field, format string, args ...any) {
		problems = append(problems, FieldProblem{field, fmt.Sprintf(format, args...)})
	}
	except = holidaysExcept(c, add)

	var days, standby []Period
	for i, s := range c.ExtraHolidays {
		if d, err := ParseDate(s); err == nil {
			days = append(days, Period{Kind: PeriodClosed, Field: fmt.Sprintf("extra_holidays[%d]", i), From: d, To: d, Reason: "extra holiday"})
		} // reported by Check
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
		p := Period{Kind: PeriodStandby, Field: fmt.Sprintf("standby[%d]", i), Reason: e.Reason}
		ok := dates(&p, e.From, e.To, add)
		ok = hours(&p, e.Hours, add) && ok
		first, err := ParseTarget(string(e.FirstResponse))
		p.FirstResponse = first
		switch {
		case e.FirstResponse.IsZero():
			add(p.Field+".first_response", "is required: the time in which a ticket that arrives in standby hours is answered (30m)")
			ok = false
		case err != nil:
			add(p.Field+".first_response", "must be %s", targetForms)
			ok = false
		case first.Workdays > 0:
			add(p.Field+".first_response", "must be business time like 30m or 1h (got %q): standby dates are no workdays", first)
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

func holidaysExcept(c config.Calendar, add func(field, format string, args ...any)) []string {
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
			if s := config.Suggest(id, slices.Clone(NLHolidays)); s != "" {
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
	rs := make([]config.ClockRange, 0, len(hs))
	for i, s := range hs {
		r, err := config.ParseClockRange(s)
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
