package billing

import (
	"slices"
	"time"

	"github.com/maildesk/maildesk/config"
)

// Segment is a part of a stretch of time that is all in one class.
type Segment struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Class string    `json:"class"`
	// class is the index into the classes split by; -1: none matched.
	class int
}

// Minutes is the segment's length in whole minutes.
func (s Segment) Minutes() int { return int(s.End.Sub(s.Start) / time.Minute) }

// Split cuts the work from start to end at every boundary of the plan's
// rate classes (16:30-17:45 on a Friday at Oxineo: 16:30-17:00 office
// hours, 17:00-17:45 outside them), in order; neighbouring parts of one
// class are one segment.
func (p *Plan) Split(start, end time.Time) []Segment { return p.split(p.classes, start, end) }

// split cuts start..end by the classes cs. Between two neighbouring
// boundaries nothing a class asks about changes (the calendar's opening,
// holiday and standby state, the day, the clock ranges of the classes), so
// the class at a part's start is the class of the whole part.
func (p *Plan) split(cs []class, start, end time.Time) []Segment {
	if !end.After(start) {
		return nil
	}
	cuts := p.boundaries(cs, start, end)
	var out []Segment
	from := start
	for _, to := range append(cuts, end) {
		ci := p.classAt(cs, from)
		if n := len(out); n > 0 && out[n-1].class == ci {
			out[n-1].End = to
		} else {
			out = append(out, Segment{Start: from, End: to, Class: className(cs, ci), class: ci})
		}
		from = to
	}
	return out
}

// boundaries are the instants strictly between start and end at which the
// class of a moment may change, sorted and each once.
func (p *Plan) boundaries(cs []class, start, end time.Time) []time.Time {
	var out []time.Time
	add := func(t time.Time) {
		if t.After(start) && t.Before(end) {
			out = append(out, t)
		}
	}
	if p.cal != nil {
		out = append(out, p.cal.Edges(start, end)...)
	}
	var ranges []config.ClockRange
	for _, c := range cs {
		for _, w := range c.when {
			if w.Hours != nil {
				ranges = append(ranges, *w.Hours)
			}
		}
	}
	// Midnights (days change) and the classes' clock times, on every date
	// the stretch touches, as wall-clock times in the plan's zone: a
	// 22:00 boundary stays 22:00 across daylight-saving changes.
	y, m, d := start.In(p.loc).Date()
	for day := time.Date(y, m, d, 0, 0, 0, 0, p.loc); day.Before(end); {
		add(day)
		for _, r := range ranges {
			add(time.Date(day.Year(), day.Month(), day.Day(), 0, r.Start, 0, 0, p.loc))
			add(time.Date(day.Year(), day.Month(), day.Day(), 0, r.End, 0, 0, p.loc))
		}
		day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, p.loc)
	}
	slices.SortFunc(out, time.Time.Compare)
	return slices.CompactFunc(out, time.Time.Equal)
}
