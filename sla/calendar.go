// Package sla is deadline arithmetic in business time: calendars (opening
// hours in a time zone, holidays, closed, open and standby dates), targets
// ("4h", "3 workdays") and the plan rules that pick a calendar and targets
// for a ticket. Everything is a pure function of its arguments: the current
// time is always passed in. It also reads the SLA grammar of the
// configuration (grammar.go: targets, the calendars' dates and periods) and
// checks it with file and line (Check, run by configload).
package sla

import (
	"fmt"
	"sort"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/nl"

	"github.com/maildesk/maildesk/config"
)

// horizonDays bounds every search for open time. A validated calendar has
// open hours every week, so only absurd targets or times get near it.
const horizonDays = 10 * 366

// Calendar is when business time counts. It is immutable and safe for
// concurrent use.
type Calendar struct {
	name     string
	loc      *time.Location
	week     [7][]config.ClockRange
	holidays []*cal.Holiday
	excepted []*cal.Holiday // holidays_except
	// days are the closed (extra holidays among them) and open periods,
	// standby the standby periods: each sorted by date, never two on one
	// date.
	days, standby []period
	// counting: this calendar counts standby hours as open, for the clock
	// of a ticket that arrived in them. withStandby is that calendar of one
	// with standby periods; nil without.
	counting    bool
	withStandby *Calendar
}

// period is a Period in civil dates.
type period struct {
	from, to date
	kind     string
	hours    []config.ClockRange
	first    Target
	desc     string
}

// NewCalendar builds the calendar spec describes (as checked by Check;
// an empty Location is loaded from Timezone). name is for messages.
func NewCalendar(name string, spec config.Calendar) (*Calendar, error) {
	c := &Calendar{name: name, loc: spec.Location}
	if c.loc == nil {
		if spec.Timezone == "" {
			return nil, fmt.Errorf("calendar %q: no time zone", name)
		}
		loc, err := time.LoadLocation(spec.Timezone)
		if err != nil {
			return nil, fmt.Errorf("calendar %q: loading time zone: %w", name, err)
		}
		c.loc = loc
	}
	week, err := weekOf(spec)
	if err != nil {
		return nil, fmt.Errorf("calendar %q: %w", name, err)
	}
	c.week = week
	for i, s := range spec.ExtraHolidays {
		if _, err := ParseDate(s); err != nil {
			return nil, fmt.Errorf("calendar %q: extra_holidays[%d]: %w", name, i, err)
		}
	}
	except, periods, problems := exceptionsOf(spec)
	if len(problems) > 0 {
		return nil, fmt.Errorf("calendar %q: %w", name, problems[0])
	}
	switch spec.Holidays {
	case "":
	case "nl":
		c.holidays, err = dutchHolidays(spec.LiberationDay, except)
		if err != nil {
			return nil, fmt.Errorf("calendar %q: %w", name, err)
		}
		for _, id := range except {
			c.excepted = append(c.excepted, nlHolidays[id])
		}
	default:
		return nil, fmt.Errorf("calendar %q: unknown holidays %q (want nl or none)", name, spec.Holidays)
	}
	for _, p := range periods {
		q := period{from: dateOf(p.From), to: dateOf(p.To), kind: p.Kind, hours: p.Hours, first: p.FirstResponse, desc: p.String()}
		if p.Kind == PeriodStandby {
			c.standby = append(c.standby, q)
		} else {
			c.days = append(c.days, q)
		}
	}
	if len(c.standby) > 0 {
		w := *c
		w.counting = true
		c.withStandby = &w
	}
	return c, nil
}

// lustrumLiberationDay is 5 May only in years divisible by five, the day off
// most Dutch collective agreements give.
var lustrumLiberationDay = &cal.Holiday{
	Name:  "Bevrijdingsdag (lustrum)",
	Month: time.May,
	Day:   5,
	Func: func(h *cal.Holiday, year int) time.Time {
		if year%5 != 0 {
			return time.Time{}
		}
		return cal.CalcDayOfMonth(h, year)
	},
}

// nlHolidays are cal's nl.Holidays by their ids in NLHolidays.
var nlHolidays = map[string]*cal.Holiday{
	"nieuwjaarsdag":      nl.Nieuwjaar,
	"goede_vrijdag":      nl.GoedeVrijdag,
	"tweede_paasdag":     nl.TweedePaasdag,
	"koningsdag":         nl.Koningsdag,
	"bevrijdingsdag":     nl.BevrijdingsDag,
	"hemelvaartsdag":     nl.Hemelvaart,
	"tweede_pinksterdag": nl.TweedePinksterDag,
	"eerste_kerstdag":    nl.EersteKerstdag,
	"tweede_kerstdag":    nl.TweedeKerstdag,
}

// dutchHolidays is cal's nl.Holidays (which has Liberation Day every year)
// with Liberation Day as configured, without the holidays except names.
func dutchHolidays(liberation string, except []string) ([]*cal.Holiday, error) {
	skip := map[*cal.Holiday]bool{nl.BevrijdingsDag: true}
	for _, id := range except {
		h, ok := nlHolidays[id]
		if !ok || h == nl.BevrijdingsDag {
			return nil, fmt.Errorf("holidays_except: no holiday %q", id)
		}
		skip[h] = true
	}
	var hs []*cal.Holiday
	for _, h := range nl.Holidays {
		if !skip[h] {
			hs = append(hs, h)
		}
	}
	switch liberation {
	case "", "yearly":
		hs = append(hs, nl.BevrijdingsDag)
	case "lustrum":
		hs = append(hs, lustrumLiberationDay)
	case "none":
	default:
		return nil, fmt.Errorf("unknown liberation_day %q (want yearly, lustrum or none)", liberation)
	}
	return hs, nil
}

// Name is the calendar's name in the config.
func (c *Calendar) Name() string { return c.name }

// Location is the calendar's time zone; deadlines are returned in it.
func (c *Calendar) Location() *time.Location { return c.loc }

// date is a civil date: holidays and weekdays belong to dates, not instants.
type date struct {
	y int
	m time.Month
	d int
}

func dateOf(t time.Time) date {
	y, m, d := t.Date()
	return date{y, m, d}
}

// add moves n days; computed in UTC, where every day has 24 hours.
func (d date) add(n int) date {
	return dateOf(time.Date(d.y, d.m, d.d+n, 12, 0, 0, 0, time.UTC))
}

func (d date) weekday() time.Weekday {
	return time.Date(d.y, d.m, d.d, 12, 0, 0, 0, time.UTC).Weekday()
}

func (d date) before(e date) bool {
	if d.y != e.y {
		return d.y < e.y
	}
	if d.m != e.m {
		return d.m < e.m
	}
	return d.d < e.d
}

func (d date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.y, d.m, d.d) }

// find is the period of ps on d, or nil: a binary search, as ps are sorted
// and disjoint.
func find(ps []period, d date) *period {
	i := sort.Search(len(ps), func(i int) bool { return !ps[i].to.before(d) })
	if i < len(ps) && !d.before(ps[i].from) {
		return &ps[i]
	}
	return nil
}

// Holiday names the holiday on t's date in the calendar's zone, or "": a
// national holiday's name, or the closed period (extra holidays among
// them) it is in. A date with its own open hours has none.
func (c *Calendar) Holiday(t time.Time) string {
	d := dateOf(t.In(c.loc))
	if p := find(c.days, d); p != nil {
		if p.kind == PeriodOpen {
			return ""
		}
		return p.desc
	}
	return c.holiday(d)
}

// holiday is the national holiday on d, or "".
func (c *Calendar) holiday(d date) string { return holidayOn(c.holidays, d) }

func holidayOn(hs []*cal.Holiday, d date) string {
	for _, h := range hs {
		// cal's dates are midnight in cal.DefaultLoc; only the date counts.
		if _, obs := h.Calc(d.y); !obs.IsZero() && dateOf(obs) == d {
			return h.Name
		}
	}
	return ""
}

// Exceptions describes, in date order, what made the dates from a's to
// b's (in the calendar's zone) differ from their weekday's hours: national
// holidays, closed and open periods (each once), holidays the calendar
// does not close for, and, in the calendar of a ticket that arrived in
// standby, standby periods. "maildesk sla due" shows them with a deadline.
// Empty when b is before a or nothing applied.
func (c *Calendar) Exceptions(a, b time.Time) []string {
	var out []string
	seen := map[*period]bool{}
	note := func(p *period) {
		if !seen[p] {
			out = append(out, p.desc)
			seen[p] = true
		}
	}
	end := dateOf(b.In(c.loc))
	d := dateOf(a.In(c.loc))
	for i := 0; i < horizonDays && !end.before(d); i, d = i+1, d.add(1) {
		switch p := find(c.days, d); {
		case p != nil:
			note(p)
		case c.holiday(d) != "":
			if len(c.week[d.weekday()]) > 0 {
				out = append(out, fmt.Sprintf("%s %s: holiday", d, c.holiday(d)))
			}
		default:
			if h := holidayOn(c.excepted, d); h != "" && len(c.week[d.weekday()]) > 0 {
				out = append(out, fmt.Sprintf("%s %s: open (holidays_except)", d, h))
			}
		}
		if c.counting {
			if p := find(c.standby, d); p != nil {
				note(p)
			}
		}
	}
	return out
}

// span is one opening range of one date as instants.
type span struct{ start, end time.Time }

// hours are the opening hours of date d: an open period's, none on a
// closed date or a holiday, else the weekday's.
func (c *Calendar) hours(d date) []config.ClockRange {
	if p := find(c.days, d); p != nil {
		return p.hours // none when closed
	}
	rs := c.week[d.weekday()]
	if len(rs) == 0 || c.holiday(d) != "" {
		return nil
	}
	return rs
}

// spans appends the ranges of date d in which the clock runs to buf: the
// opening hours, and in a calendar that counts them the standby hours.
// Each boundary is the wall-clock time on that date, so a day with a
// daylight-saving change has its ranges at the right instants and a
// 00:00-24:00 range is 23 or 25 hours long.
func (c *Calendar) spans(d date, buf []span) []span {
	rs := c.hours(d)
	if c.counting {
		if p := find(c.standby, d); p != nil {
			rs = union(rs, p.hours)
		}
	}
	return c.appendSpans(d, rs, buf)
}

// workSpans is spans without standby hours: what makes a date a workday.
func (c *Calendar) workSpans(d date, buf []span) []span {
	return c.appendSpans(d, c.hours(d), buf)
}

func (c *Calendar) appendSpans(d date, rs []config.ClockRange, buf []span) []span {
	for _, r := range rs {
		buf = append(buf, span{
			time.Date(d.y, d.m, d.d, 0, r.Start, 0, 0, c.loc),
			time.Date(d.y, d.m, d.d, 0, r.End, 0, 0, c.loc),
		})
	}
	return buf
}

// union is the ranges in a or b, sorted and joined; a and b are sorted and
// joined themselves.
func union(a, b []config.ClockRange) []config.ClockRange {
	out := make([]config.ClockRange, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		var r config.ClockRange
		if len(b) == 0 || len(a) > 0 && a[0].Start <= b[0].Start {
			r, a = a[0], a[1:]
		} else {
			r, b = b[0], b[1:]
		}
		if n := len(out); n > 0 && r.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}

// standbyAt is the standby period whose hours t is in, or nil.
func (c *Calendar) standbyAt(t time.Time) *period {
	t = t.In(c.loc)
	d := dateOf(t)
	p := find(c.standby, d)
	if p == nil {
		return nil
	}
	var buf [4]span
	for _, s := range c.appendSpans(d, p.hours, buf[:0]) {
		if !t.Before(s.start) && t.Before(s.end) {
			return p
		}
	}
	return nil
}

// IsOpen reports whether t is within opening hours. Ranges include their
// start and exclude their end: at 17:00 a 09:00-17:00 desk is closed.
func (c *Calendar) IsOpen(t time.Time) bool {
	t = t.In(c.loc)
	var buf [4]span
	for _, s := range c.spans(dateOf(t), buf[:0]) {
		if !t.Before(s.start) && t.Before(s.end) {
			return true
		}
	}
	return false
}

// NextOpen is t when the calendar is open at t, else the next opening: the
// moment an SLA clock that was started at t begins to run. The zero time
// means no opening within ten years.
func (c *Calendar) NextOpen(t time.Time) time.Time { return c.Add(t, 0) }

// Add returns the instant at which d of business time has passed since t,
// in the calendar's zone. When d runs out exactly at a closing time, that
// closing time is the result (not the next opening). A negative d goes back
// in time: Add(t, -d) is the latest instant from which d of business time
// runs until t. The zero time means the search ran past ten years.
func (c *Calendar) Add(t time.Time, d time.Duration) time.Time {
	if d < 0 {
		return c.sub(t, -d)
	}
	t = t.In(c.loc)
	day := dateOf(t)
	var buf [4]span
	for range horizonDays {
		for _, s := range c.spans(day, buf[:0]) {
			if !s.end.After(t) {
				continue
			}
			from := s.start
			if t.After(from) {
				from = t
			}
			left := s.end.Sub(from)
			if d <= left {
				return from.Add(d)
			}
			d -= left
		}
		day = day.add(1)
	}
	return time.Time{}
}

func (c *Calendar) sub(t time.Time, d time.Duration) time.Time {
	t = t.In(c.loc)
	day := dateOf(t)
	var buf [4]span
	for range horizonDays {
		ss := c.spans(day, buf[:0])
		for i := len(ss) - 1; i >= 0; i-- {
			s := ss[i]
			if !s.start.Before(t) {
				continue
			}
			to := s.end
			if t.Before(to) {
				to = t
			}
			left := to.Sub(s.start)
			if d <= left {
				return to.Add(-d)
			}
			d -= left
		}
		day = day.add(-1)
	}
	return time.Time{}
}

// Between is the business time from a to b: how much of a target has been
// used. It is 0 when b is not after a.
func (c *Calendar) Between(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	a, b = a.In(c.loc), b.In(c.loc)
	var sum time.Duration
	var buf [4]span
	last := dateOf(b)
	for day := dateOf(a); ; day = day.add(1) {
		for _, s := range c.spans(day, buf[:0]) {
			from, to := s.start, s.end
			if a.After(from) {
				from = a
			}
			if b.Before(to) {
				to = b
			}
			if to.After(from) {
				sum += to.Sub(from)
			}
		}
		if day == last {
			return sum
		}
	}
}

// addWorkdays is the deadline of "n workdays" (endOfDay: "within n
// workdays") from t: a date of the n-th workday (a date with opening hours;
// standby hours make none) after t's date in the calendar's zone.
//
// "within n workdays" ends at that day's closing time. "n workdays" ends at
// t's clock time on that day; t before its date's opening counts as the
// opening, and t after its date's closing or on a date without opening
// hours as closing time, which ends at that day's closing time too. A
// clock time the day's hours do not cover moves to the nearest earlier
// closing (a Saturday with shorter hours ends at its closing time, a lunch
// break at its start), or to the opening when the day opens later.
//
// So the deadline never goes back as t goes forward (Monday 16:59 and
// 17:00 both end on Thursday, Friday evening and the weekend on Wednesday),
// and where workdays have the same hours "n workdays" moves by no more
// business time than t.
func (c *Calendar) addWorkdays(t time.Time, n int, endOfDay bool) time.Time {
	t = t.In(c.loc)
	day := dateOf(t)
	var buf [4]span
	ss := c.workSpans(day, buf[:0])
	// keep: the deadline keeps a clock time (h:m:s.ns), not closing time.
	keep := !endOfDay && len(ss) > 0 && t.Before(ss[len(ss)-1].end)
	if keep && t.Before(ss[0].start) {
		t = ss[0].start
	}
	h, m, sec := t.Clock()
	for range horizonDays {
		day = day.add(1)
		ss = c.workSpans(day, buf[:0])
		if len(ss) == 0 {
			continue
		}
		if n--; n > 0 {
			continue
		}
		if !keep {
			return ss[len(ss)-1].end
		}
		want := time.Date(day.y, day.m, day.d, h, m, sec, t.Nanosecond(), c.loc)
		if wh, wm, ws := want.Clock(); wh != h || wm != m || ws != sec {
			// The clock time does not exist on this day (clocks were put
			// forward): the first instant after the gap.
			want, _ = want.ZoneBounds()
		}
		best := ss[0].start
		for _, s := range ss {
			if want.Before(s.start) {
				break
			}
			if !want.After(s.end) {
				return want
			}
			best = s.end
		}
		return best
	}
	return time.Time{}
}
