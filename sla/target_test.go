package sla

import (
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
)

// Workday targets count the workdays after the arrival's date (issue 15,
// item 1): a mail at 17:00 is not a workday later than one at 16:59, and a
// mail on Friday evening, Saturday or Sunday is due on the same day. The
// Oxineo contract (seed 004): "Wij streven ernaar om alle tickets binnen 3
// dagen op te halen", written "within 3 workdays".
func TestWorkdayTargets(t *testing.T) {
	tests := []struct {
		name   string
		cal    config.Calendar
		target string
		at     string
		want   string
	}{
		// within 3 workdays: closing time of the third workday after the
		// arrival's date. Monday 2 March 2026.
		{"within: Monday a minute before closing", nlOffice, "within 3 workdays", "2026-03-02T16:59:00+01:00", "2026-03-05T17:00:00+01:00"},
		{"within: Monday at closing", nlOffice, "within 3 workdays", "2026-03-02T17:00:00+01:00", "2026-03-05T17:00:00+01:00"},
		{"within: Monday a minute after closing", nlOffice, "within 3 workdays", "2026-03-02T17:01:00+01:00", "2026-03-05T17:00:00+01:00"},
		{"within: Monday before opening", nlOffice, "within 3 workdays", "2026-03-02T08:59:00+01:00", "2026-03-05T17:00:00+01:00"},
		{"within: Monday at midnight", nlOffice, "within 3 workdays", "2026-03-02T00:00:00+01:00", "2026-03-05T17:00:00+01:00"},
		{"within: Monday at the last minute", nlOffice, "within 3 workdays", "2026-03-02T23:59:00+01:00", "2026-03-05T17:00:00+01:00"},
		{"within: Friday a minute before closing", nlOffice, "within 3 workdays", "2026-03-06T16:59:00+01:00", "2026-03-11T17:00:00+01:00"},
		{"within: Friday evening", nlOffice, "within 3 workdays", "2026-03-06T17:30:00+01:00", "2026-03-11T17:00:00+01:00"},
		{"within: Saturday", nlOffice, "within 3 workdays", "2026-03-07T10:00:00+01:00", "2026-03-11T17:00:00+01:00"},
		{"within: Sunday", nlOffice, "within 3 workdays", "2026-03-08T10:00:00+01:00", "2026-03-11T17:00:00+01:00"},
		{"within: Sunday at the last minute", nlOffice, "within 3 workdays", "2026-03-08T23:59:00+01:00", "2026-03-11T17:00:00+01:00"},
		{"within: given in UTC, Saturday in Amsterdam", nlOffice, "within 3 workdays", "2026-03-06T23:30:00Z", "2026-03-11T17:00:00+01:00"},
		// Christmas Eve 2026 is a Thursday, Christmas and Boxing Day Friday
		// and Saturday.
		{"within: Christmas Eve afternoon", nlOffice, "within 3 workdays", "2026-12-24T16:00:00+01:00", "2026-12-30T17:00:00+01:00"},
		{"within: Christmas Eve evening", nlOffice, "within 3 workdays", "2026-12-24T17:30:00+01:00", "2026-12-30T17:00:00+01:00"},
		{"within: Christmas Day", nlOffice, "within 3 workdays", "2026-12-25T10:00:00+01:00", "2026-12-30T17:00:00+01:00"},
		// King's Day 2026 is Monday 27 April.
		{"within: King's Day eve, Friday evening", nlOffice, "within 3 workdays", "2026-04-24T17:30:00+02:00", "2026-04-30T17:00:00+02:00"},
		{"within: on King's Day", nlOffice, "within 3 workdays", "2026-04-27T10:00:00+02:00", "2026-04-30T17:00:00+02:00"},
		{"within: Ascension eve", nlOffice, "within 1 workday", "2026-05-13T17:30:00+02:00", "2026-05-15T17:00:00+02:00"},
		// Summer time starts Sunday 29 March 2026, ends Sunday 25 October.
		{"within: Friday evening before spring DST", nlOffice, "within 3 workdays", "2026-03-27T17:30:00+01:00", "2026-04-01T17:00:00+02:00"},
		{"within: on the spring DST Sunday", nlOffice, "within 3 workdays", "2026-03-29T03:30:00+02:00", "2026-04-01T17:00:00+02:00"},
		{"within: Friday evening before autumn DST", nlOffice, "within 3 workdays", "2026-10-23T17:30:00+02:00", "2026-10-28T17:00:00+01:00"},
		{"within: 24/7 over spring DST ends at midnight", allWeek, "within 1 workday", "2026-03-28T12:00:00+01:00", "2026-03-30T00:00:00+02:00"},
		{"within: 24/7 over autumn DST ends at midnight", allWeek, "within 1 workday", "2026-10-24T12:00:00+02:00", "2026-10-26T00:00:00+01:00"},
		{"within: lunch break", split, "within 1 workday", "2026-03-02T12:30:00+01:00", "2026-03-03T17:00:00+01:00"},

		// N workdays: the arrival's clock time on the N-th workday after
		// its date; after closing or on a closed day, closing time.
		{"workdays: Monday a minute before closing", nlOffice, "3 workdays", "2026-03-02T16:59:00+01:00", "2026-03-05T16:59:00+01:00"},
		{"workdays: Monday at closing", nlOffice, "3 workdays", "2026-03-02T17:00:00+01:00", "2026-03-05T17:00:00+01:00"},
		{"workdays: Monday a minute after closing", nlOffice, "3 workdays", "2026-03-02T17:01:00+01:00", "2026-03-05T17:00:00+01:00"},
		{"workdays: Monday before opening counts from opening", nlOffice, "3 workdays", "2026-03-02T08:59:00+01:00", "2026-03-05T09:00:00+01:00"},
		{"workdays: Monday at opening", nlOffice, "3 workdays", "2026-03-02T09:00:00+01:00", "2026-03-05T09:00:00+01:00"},
		{"workdays: Friday a minute before closing", nlOffice, "3 workdays", "2026-03-06T16:59:00+01:00", "2026-03-11T16:59:00+01:00"},
		{"workdays: Friday evening", nlOffice, "3 workdays", "2026-03-06T17:30:00+01:00", "2026-03-11T17:00:00+01:00"},
		{"workdays: Saturday", nlOffice, "3 workdays", "2026-03-07T10:00:00+01:00", "2026-03-11T17:00:00+01:00"},
		{"workdays: Sunday", nlOffice, "3 workdays", "2026-03-08T23:59:00+01:00", "2026-03-11T17:00:00+01:00"},
		{"workdays: one from Saturday", nlOffice, "1 workday", "2026-03-07T10:00:00+01:00", "2026-03-09T17:00:00+01:00"},
		{"workdays: Christmas Eve afternoon", nlOffice, "3 workdays", "2026-12-24T16:00:00+01:00", "2026-12-30T16:00:00+01:00"},
		{"workdays: Christmas Eve evening", nlOffice, "3 workdays", "2026-12-24T17:30:00+01:00", "2026-12-30T17:00:00+01:00"},
		{"workdays: over spring DST", nlOffice, "3 workdays", "2026-03-27T10:00:00+01:00", "2026-04-01T10:00:00+02:00"},
		{"workdays: Friday evening before spring DST", nlOffice, "3 workdays", "2026-03-27T17:30:00+01:00", "2026-04-01T17:00:00+02:00"},
		{"workdays: over autumn DST", nlOffice, "1 workday", "2026-10-23T10:00:00+02:00", "2026-10-26T10:00:00+01:00"},
		{"workdays: 24/7 over spring DST", allWeek, "1 workday", "2026-03-28T12:00:00+01:00", "2026-03-29T12:00:00+02:00"},
		{"workdays: 24/7 into the hour clocks skip", allWeek, "1 workday", "2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00"},
		// (time.Date takes the second 02:30 of the autumn DST night.)
		{"workdays: 24/7 into the hour clocks repeat", allWeek, "1 workday", "2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+01:00"},
		// Premium's Saturday 11:00-15:00: a clock time it does not cover
		// moves to its closing, or to its opening when it opens later.
		{"workdays: into a shorter Saturday", englishPrm, "1 workday", "2026-03-06T21:00:00+01:00", "2026-03-07T15:00:00+01:00"},
		{"workdays: before a later opening", englishPrm, "1 workday", "2026-03-06T07:00:00+01:00", "2026-03-07T11:00:00+01:00"},
		{"workdays: Friday after closing into Saturday", englishPrm, "1 workday", "2026-03-06T22:30:00+01:00", "2026-03-07T15:00:00+01:00"},
		{"workdays: lunch break moves to the earlier closing", split, "1 workday", "2026-03-02T12:30:00+01:00", "2026-03-03T12:00:00+01:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCalendar(t, tt.cal)
			target, err := ParseTarget(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			got, err := target.Deadline(c, ts(t, tt.at))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(ts(t, tt.want)) || got.Location() != c.Location() {
				t.Errorf("%s from %s = %s, want %s", tt.target, tt.at, got.Format(time.RFC3339), tt.want)
			}
		})
	}
}

// The deadline never goes back when the arrival goes forward, and in a
// calendar whose workdays have the same hours "N workdays" moves by no more
// business time than the arrival does: no arrival a minute later costs a
// workday. (Where workdays differ, as Premium's Saturday 11:00-15:00, the
// clock time on another day is another share of it: Saturday 11:00 is due
// Monday 11:00, two business hours after Friday 22:00's Saturday 15:00;
// and a 24-hour calendar's 23-hour spring DST Sunday maps on a 24-hour
// Monday.)
func TestWorkdayTargetsContinuous(t *testing.T) {
	for _, spec := range []config.Calendar{nlOffice, englishPrm, split, allWeek} {
		c := mustCalendar(t, spec)
		uniform := len(spec.Hours) == 1 && spec.Hours["mon-sun"] == nil
		for _, s := range []string{"1 workday", "3 workdays", "within 1 workday", "within 3 workdays"} {
			target, _ := ParseTarget(s)
			// Two weeks around Christmas 2025 and spring DST 2026, by the
			// minute.
			for _, from := range []string{"2025-12-19T00:00:00+01:00", "2026-03-26T00:00:00+01:00"} {
				at := ts(t, from)
				prev, _ := target.Deadline(c, at)
				for range 14 * 24 * 60 {
					at = at.Add(time.Minute)
					got, err := target.Deadline(c, at)
					if err != nil {
						t.Fatal(err)
					}
					if got.Before(prev) {
						t.Fatalf("%s: %s from %s = %s, earlier than %s a minute before", spec.Hours, s, at, got, prev)
					}
					if uniform && !target.EndOfDay && c.Between(prev, got) > time.Minute {
						t.Fatalf("%s: %s from %s = %s, %s of business time after %s a minute before", spec.Hours, s, at, got, c.Between(prev, got), prev)
					}
					prev = got
				}
			}
		}
	}
}
