package sla

// What billing asks of a calendar: where its state changes within a
// stretch of work, whether a moment is in standby hours, and the standby
// hours of a month. Pure functions of their arguments, like the rest.

import (
	"slices"
	"time"
)

// Span is the instants from Start up to, not including, End.
type Span struct{ Start, End time.Time }

// InStandby reports whether t is within the hours of one of the
// calendar's standby periods.
func (c *Calendar) InStandby(t time.Time) bool { return c.standbyAt(t) != nil }

// Edges are the instants strictly between a and b at which what the
// calendar says about a moment may change: a date begins (midnight in the
// calendar's zone), opening hours begin or end, standby hours begin or end.
// Sorted, each once; none when b is not after a.
func (c *Calendar) Edges(a, b time.Time) []time.Time {
	if !b.After(a) {
		return nil
	}
	var out []time.Time
	add := func(t time.Time) {
		if t.After(a) && t.Before(b) {
			out = append(out, t)
		}
	}
	var buf [8]span
	last := dateOf(b.In(c.loc))
	d := dateOf(a.In(c.loc))
	for i := 0; i < horizonDays && !last.before(d); i, d = i+1, d.add(1) {
		add(time.Date(d.y, d.m, d.d, 0, 0, 0, 0, c.loc))
		ss := c.appendSpans(d, c.hours(d), buf[:0])
		if p := find(c.standby, d); p != nil {
			ss = c.appendSpans(d, p.hours, ss)
		}
		for _, s := range ss {
			add(s.start)
			add(s.end)
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return slices.CompactFunc(out, time.Time.Equal)
}

// StandbyHours are the standby hours between a and b, cut to them, in
// order; hours that touch are one span, so that an evening and the night
// after it (18:00-24:00 and 00:00-08:30 on the next date) are one stretch.
func (c *Calendar) StandbyHours(a, b time.Time) []Span {
	if !b.After(a) || len(c.standby) == 0 {
		return nil
	}
	var out []Span
	var buf [4]span
	last := dateOf(b.In(c.loc))
	d := dateOf(a.In(c.loc))
	for i := 0; i < horizonDays && !last.before(d); i, d = i+1, d.add(1) {
		p := find(c.standby, d)
		if p == nil {
			continue
		}
		for _, s := range c.appendSpans(d, p.hours, buf[:0]) {
			start, end := s.start, s.end
			if start.Before(a) {
				start = a
			}
			if end.After(b) {
				end = b
			}
			if !end.After(start) {
				continue
			}
			if n := len(out); n > 0 && !start.After(out[n-1].End) {
				if end.After(out[n-1].End) {
					out[n-1].End = end
				}
				continue
			}
			out = append(out, Span{start, end})
		}
	}
	return out
}
