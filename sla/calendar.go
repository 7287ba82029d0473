// Package sla is deadline arithmetic in business time: calendars (opening
// hours in a time zone, holidays), targets ("4h", "3 workdays") and the
// plan rules that pick a calendar and targets for a ticket. Everything is a
// pure function of its arguments: the current time is always passed in.
package sla

import (
	"fmt"
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
	extra    map[date]bool
}

// NewCalendar builds the calendar spec describes (as validated by config;
// an empty Location is loaded from Timezone). name is for messages.
func NewCalendar(name string, spec config.Calendar) (*Calendar, error) {
	c := &Calendar{name: name, loc: spec.Location, extra: map[date]bool{}}
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
	week, err := spec.Week()
	if err != nil {
		return nil, fmt.Errorf("calendar %q: %w", name, err)
	}
	c.week = week
	switch spec.Holidays {
	case "":
	case "nl":
		c.holidays, err = dutchHolidays(spec.LiberationDay)
		if err != nil {
			return nil, fmt.Errorf("calendar %q: %w", name, err)
		}
	default:
		return nil, fmt.Errorf("calendar %q: unknown holidays %q (want nl or none)", name, spec.Holidays)
	}
	for _, s := range spec.ExtraHolidays {
		t, err := config.ParseDate(s)
		if err != nil {
			return nil, fmt.Errorf("calendar %q: extra holiday: %w", name, err)
		}
		c.extra[dateOf(t)] = true
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

// dutchHolidays is cal's nl.Holidays (which has Liberation Day every year)
// with Liberation Day as configured.
func dutchHolidays(liberation string) ([]*cal.Holiday, error) {
	var hs []*cal.Holiday
	for _, h := range nl.Holidays {
		if h != nl.BevrijdingsDag {
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

// Holiday names the holiday on t's date in the calendar's zone, or "".
func (c *Calendar) Holiday(t time.Time) string {
	return c.holiday(dateOf(t.In(c.loc)))
}

func (c *Calendar) holiday(d date) string {
	if c.extra[d] {
		return "extra holiday"
	}
	for _, h := range c.holidays {
		// cal's dates are midnight in cal.DefaultLoc; only the date counts.
		if _, obs := h.Calc(d.y); !obs.IsZero() && dateOf(obs) == d {
			return h.Name
		}
	}
	return ""
}

// span is one opening range of one date as instants.
type span struct{ start, end time.Time }

// spans appends the opening ranges of date d to buf. Each boundary is the
// wall-clock time on that date, so a day with a daylight-saving change has
// its ranges at the right instants and a 00:00-24:00 range is 23 or 25
// hours long.
func (c *Calendar) spans(d date, buf []span) []span {
	rs := c.week[d.weekday()]
	if len(rs) == 0 || c.holiday(d) != "" {
		return buf
	}
	for _, r := range rs {
		buf = append(buf, span{
			time.Date(d.y, d.m, d.d, 0, r.Start, 0, 0, c.loc),
			time.Date(d.y, d.m, d.d, 0, r.End, 0, 0, c.loc),
		})
	}
	return buf
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

// addWorkdays is the deadline of "n workdays" from t: the clock starts at
// NextOpen(t) and the deadline is the n-th workday (a date with opening
// hours) after the start's date, at the start's clock time (endOfDay: at
// that workday's closing time). A clock time outside that day's hours moves
// to the nearest earlier boundary of them (a Saturday with shorter hours
// ends at its closing time, not on Monday), or to its opening when the day
// opens later.
func (c *Calendar) addWorkdays(t time.Time, n int, endOfDay bool) time.Time {
	start := c.NextOpen(t)
	if start.IsZero() {
		return start
	}
	day := dateOf(start)
	var buf [4]span
	for range horizonDays {
		day = day.add(1)
		ss := c.spans(day, buf[:0])
		if len(ss) == 0 {
			continue
		}
		if n--; n > 0 {
			continue
		}
		if endOfDay {
			return ss[len(ss)-1].end
		}
		want := time.Date(day.y, day.m, day.d, start.Hour(), start.Minute(), start.Second(), start.Nanosecond(), c.loc)
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
