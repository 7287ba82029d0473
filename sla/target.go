package sla

import (
	"errors"
	"fmt"
	"time"
)

// Deadline is when t runs out for a ticket that arrived at arrival:
//   - business time: that much open time after the calendar's next opening
//     (arrival if open then; Calendar.Add);
//   - "within N workdays": closing time of the N-th workday after the
//     arrival's date (Friday evening, Saturday and Sunday all end on
//     Wednesday with N = 3);
//   - "N workdays": the arrival's clock time on that N-th workday; before
//     the arrival date's opening its opening time, after its closing or on
//     a date without hours closing time (Calendar.addWorkdays).
func (t Target) Deadline(c *Calendar, arrival time.Time) (time.Time, error) {
	var d time.Time
	switch {
	case t.Workdays > 0:
		d = c.addWorkdays(arrival, t.Workdays, t.EndOfDay)
	case t.Business > 0:
		d = c.Add(arrival, t.Business)
	default:
		return time.Time{}, errors.New("computing a deadline: no target")
	}
	if d.IsZero() {
		return d, fmt.Errorf("computing the %s deadline from %s in calendar %q: no opening hours within ten years",
			t, arrival.Format(time.RFC3339), c.name)
	}
	return d, nil
}

// Recompute is the deadline under target t for a ticket whose target changes
// at `at` (the desk re-classified its priority, or resumed a paused clock)
// when used business time has already counted against it since its clock
// started. That time counts towards the new target: the clock is taken back
// by used from at (to the latest instant with that much open time until at)
// and t runs from there; with nothing used, t runs from at itself (so a
// workday target counts from at's date). A target that is already used up
// gives a deadline before at, so the ticket is overdue at once, as the
// contract has it. Due.Recompute counts from the arrival instead when no
// pause came between.
func (t Target) Recompute(c *Calendar, at time.Time, used time.Duration) (time.Time, error) {
	if used <= 0 {
		return t.Deadline(c, at)
	}
	start := c.Add(at, -used)
	if start.IsZero() {
		return start, fmt.Errorf("recomputing the %s deadline at %s in calendar %q: %s of business time does not fit in ten years",
			t, at.Format(time.RFC3339), c.name, used)
	}
	return t.Deadline(c, start)
}
