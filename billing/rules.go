// Package billing prices recorded time as the contracts say: rate classes
// by the time of the work (from the plans' calendars), rates by support
// type and priority and by activity, rounding units, minimums per ticket,
// fair use, channel surcharges, monthly fees and standby surcharges; and
// it makes the monthly statement of a customer from that. Everything is a
// pure function of its arguments, like package sla: times are passed in,
// records are handed over by the caller, nothing is read or stored.
//
// Money is in cents (config.Money), durations in whole minutes.
package billing

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/sla"
)

// Rules are the billing rules of a configuration's plans. Immutable; safe
// for concurrent use.
type Rules struct {
	plans map[string]*Plan
	all   []string
}

// Plan is one plan's billing rules.
type Plan struct {
	name    string
	cfg     config.Billing
	plan    config.Plan
	cal     *sla.Calendar // nil: the plan's billing has no calendar
	loc     *time.Location
	classes []class
	standby []class
	// standbyRate is what standby percentages are of.
	standbyRate config.Money
}

// class is a rate class, or a row of the standby table (percent and
// minimum only).
type class struct {
	name         string
	when         []config.When
	rate         *config.Money
	percent      int
	atLeast      config.Money
	minPerRecord time.Duration
	minimum      time.Duration // standby: per stretch
}

// StandardClass names time that no class of a plan matches: it is at the
// work's own rate.
const StandardClass = "standard"

// ErrNoBilling: the plan has no billing section.
var ErrNoBilling = errors.New("no billing rules")

// FromConfig builds the billing rules of a validated configuration's
// plans; a plan without billing has none (Plan reports ErrNoBilling).
func FromConfig(cfg *config.Config) (*Rules, error) {
	r := &Rules{plans: map[string]*Plan{}}
	for name, pl := range cfg.Plans {
		r.all = append(r.all, name)
		if pl.Billing == nil {
			continue
		}
		b := *pl.Billing
		p := &Plan{name: name, cfg: b, plan: pl, loc: cfg.Desk.Location, standbyRate: b.Rate}
		if calName := pl.BillingCalendar(); calName != "" {
			spec, ok := cfg.Calendars[calName]
			if !ok {
				return nil, fmt.Errorf("plan %q billing: unknown calendar %q", name, calName)
			}
			cal, err := sla.NewCalendar(calName, spec)
			if err != nil {
				return nil, fmt.Errorf("plan %q billing: %w", name, err)
			}
			p.cal, p.loc = cal, cal.Location()
		}
		if p.loc == nil {
			p.loc = time.UTC
		}
		for i, c := range b.Classes {
			when, err := parseWhen(c.When)
			if err != nil {
				return nil, fmt.Errorf("plan %q billing: classes[%d]: %w", name, i, err)
			}
			p.classes = append(p.classes, class{name: c.Name, when: when, rate: c.Rate, percent: c.Percent,
				atLeast: c.AtLeast, minPerRecord: c.MinimumPerRecord.D()})
		}
		if b.Standby.Rate != nil {
			p.standbyRate = *b.Standby.Rate
		}
		for i, c := range b.Standby.Classes {
			when, err := parseWhen(c.When)
			if err != nil {
				return nil, fmt.Errorf("plan %q billing: standby.classes[%d]: %w", name, i, err)
			}
			p.standby = append(p.standby, class{name: c.Name, when: when, percent: c.Percent, minimum: c.Minimum.D()})
		}
		r.plans[name] = p
	}
	sort.Strings(r.all)
	return r, nil
}

func parseWhen(ss []string) ([]config.When, error) {
	out := make([]config.When, 0, len(ss))
	for _, s := range ss {
		w, err := config.ParseWhen(s)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// Plan is the billing of plan name: an error for an unknown plan, or
// ErrNoBilling for one without billing rules.
func (r *Rules) Plan(name string) (*Plan, error) {
	if p, ok := r.plans[name]; ok {
		return p, nil
	}
	if slices.Contains(r.all, name) {
		return nil, fmt.Errorf("plan %q: %w (plans.%s.billing)", name, ErrNoBilling, name)
	}
	return nil, fmt.Errorf("unknown plan %q (plans: %s)", name, strings.Join(r.all, ", "))
}

// Name is the plan's name.
func (p *Plan) Name() string { return p.name }

// Currency is the ISO 4217 code of the plan's amounts.
func (p *Plan) Currency() string { return p.cfg.Currency }

// Location is the time zone the plan's billing places days, clock times
// and months in: its calendar's, else the desk's.
func (p *Plan) Location() *time.Location { return p.loc }

// Unit is the rounding unit of billed time; a minute when none is set.
func (p *Plan) Unit() time.Duration { return max(p.cfg.Unit.D(), time.Minute) }

// BaseRate is the hourly rate of work on a ticket of type typ with
// priority: billing.rates.<typ>.<priority>, else billing.rate; 0 for a
// free type (Free says so).
func (p *Plan) BaseRate(typ, priority string) config.Money {
	if p.Free(typ) {
		return 0
	}
	if r, ok := p.cfg.Rates[typ][priority]; ok {
		return r
	}
	return p.cfg.Rate
}

// Free reports whether time on tickets of type typ is never charged
// (billing.free_types).
func (p *Plan) Free(typ string) bool { return slices.Contains(p.cfg.FreeTypes, typ) }

// classAt is the index of the rate class of the moment t, -1 for none
// (StandardClass).
func (p *Plan) classAt(cs []class, t time.Time) int {
	for i, c := range cs {
		if len(c.when) == 0 {
			return i
		}
		for _, w := range c.when {
			if p.matches(w, t) {
				return i
			}
		}
	}
	return -1
}

// matches reports whether t is a moment w describes.
func (p *Plan) matches(w config.When, t time.Time) bool {
	switch {
	case w.Office:
		return p.cal != nil && p.cal.IsOpen(t)
	case w.Holiday:
		return p.cal != nil && p.cal.Holiday(t) != ""
	case w.Standby:
		return p.cal != nil && p.cal.InStandby(t)
	}
	lt := t.In(p.loc)
	if w.Days != nil && !slices.Contains(w.Days, lt.Weekday()) {
		return false
	}
	if w.Hours != nil {
		m := lt.Hour()*60 + lt.Minute()
		return m >= w.Hours.Start && m < w.Hours.End
	}
	return true
}

// classRate is the hourly rate class ci (-1: StandardClass) gives work
// whose own rate is base.
func (p *Plan) classRate(ci int, base config.Money) config.Money {
	if ci < 0 {
		return base
	}
	c := p.classes[ci]
	r := base
	switch {
	case c.rate != nil:
		r = *c.rate
	case c.percent != 0:
		r = percentOf(base, c.percent)
	}
	return max(r, c.atLeast)
}

// activityRate is the hourly rate of activity a in a class whose rate is
// classRate.
func (p *Plan) activityRate(a string, classRate config.Money) config.Money {
	act := p.cfg.Activities[a]
	switch {
	case act.Rate != nil:
		return *act.Rate
	case act.Percent != 0:
		return percentOf(classRate, act.Percent)
	}
	return classRate
}

func className(cs []class, i int) string {
	if i < 0 {
		return StandardClass
	}
	return cs[i].name
}

// percentOf is pct percent of m, to the cent (half up).
func percentOf(m config.Money, pct int) config.Money {
	return config.Money(mulDiv(int64(m), int64(pct), 100))
}

// amount is what minutes cost at an hourly rate, to the cent (half up).
func amount(rate config.Money, minutes int) config.Money {
	return config.Money(mulDiv(int64(rate), int64(minutes), 60))
}

// mulDiv is a*b/c for non-negative a, b and positive c, rounded half up.
// The configuration bounds rates (a million) and percentages (1000), and
// a month has under 50,000 minutes: a*b stays far inside int64.
func mulDiv(a, b, c int64) int64 {
	p := a * b
	q, r := p/c, p%c
	if 2*r >= c {
		q++
	}
	return q
}
