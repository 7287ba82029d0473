package sla

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/maildesk/maildesk/config"
)

// Targets are the targets of one priority.
type Targets struct {
	FirstResponse Target
	Resolution    Target
}

// rules is a calendar with targets per priority: what a ticket's clock is
// computed from.
type rules struct {
	cal     *Calendar
	targets map[string]Targets
	desc    string // for Due.Rule
	// standby is the first-response target of the standby period the
	// ticket arrived in (cal then counts standby hours); zero: none.
	standby Target
	// types are the support types' targets of the plan these rules are
	// of, by type and priority; typ and typeTargets are the ticket's type
	// and its entry, which override targets per priority.
	types       map[string]map[string]Targets
	typ         string
	typeTargets map[string]Targets
}

// language is a plan's rule for tickets in one language.
type language struct {
	rules
	// outside applies instead when a ticket arrives while rules.cal is
	// closed; nil = no such rule.
	outside *rules
}

type plan struct {
	base  *rules // nil: the plan has no SLA clock
	langs map[string]*language
	cfg   config.Plan // for its types
}

// Plans are a configuration's plans with their calendars, ready to compute
// deadlines. Immutable; safe for concurrent use.
type Plans struct {
	plans map[string]*plan
}

// FromConfig builds the SLA side of a validated configuration. A plan
// without a calendar has no SLA clock: its tickets get no deadlines.
func FromConfig(cfg *config.Config) (*Plans, error) {
	cals := map[string]*Calendar{}
	for name, spec := range cfg.Calendars {
		c, err := NewCalendar(name, spec)
		if err != nil {
			return nil, err
		}
		cals[name] = c
	}
	calendar := func(what, name string) (*Calendar, error) {
		c, ok := cals[name]
		if !ok {
			return nil, fmt.Errorf("%s: unknown calendar %q", what, name)
		}
		return c, nil
	}
	ps := &Plans{plans: map[string]*plan{}}
	// First every plan's own rules, then the outside-hours fallbacks, which
	// point at other plans' rules.
	for name, p := range cfg.Plans {
		pl := &plan{langs: map[string]*language{}, cfg: p}
		ps.plans[name] = pl
		if p.Calendar == "" {
			continue
		}
		what := fmt.Sprintf("plan %q", name)
		c, err := calendar(what, p.Calendar)
		if err != nil {
			return nil, err
		}
		types := map[string]map[string]Targets{}
		for typ, st := range p.Types {
			if len(st.Targets) > 0 {
				if types[typ], err = targetsOf(st.Targets); err != nil {
					return nil, fmt.Errorf("%s, type %q: %w", what, typ, err)
				}
			}
		}
		targets, err := targetsOf(p.Targets)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		pl.base = &rules{cal: c, targets: targets, desc: what, types: types}
		for lang, r := range p.Languages {
			l := &language{rules: *pl.base}
			l.desc = fmt.Sprintf("plan %q, language %q", name, lang)
			if r.Calendar != "" {
				if l.cal, err = calendar(l.desc, r.Calendar); err != nil {
					return nil, err
				}
			}
			if len(r.Targets) > 0 {
				if l.targets, err = targetsOf(r.Targets); err != nil {
					return nil, fmt.Errorf("%s: %w", l.desc, err)
				}
			}
			pl.langs[lang] = l
		}
	}
	for name, p := range cfg.Plans {
		for lang, r := range p.Languages {
			if r.OutsideHoursPlan == "" {
				continue
			}
			fb, ok := ps.plans[r.OutsideHoursPlan]
			if !ok || fb.base == nil || r.OutsideHoursPlan == name {
				return nil, fmt.Errorf("plan %q, language %q: outside_hours_plan %q is not another plan with an SLA calendar", name, lang, r.OutsideHoursPlan)
			}
			// The other plan's rules for the same language, but never its
			// own fallback: one step, no chains or cycles.
			out := *fb.rulesFor(lang)
			out.desc = fmt.Sprintf("plan %q, language %q, arrived outside its opening hours: %s", name, lang, out.desc)
			ps.plans[name].langs[lang].outside = &out
		}
	}
	return ps, nil
}

// targetsOf reads the targets of a plan, language or type.
func targetsOf(m map[string]config.PlanTarget) (map[string]Targets, error) {
	out := make(map[string]Targets, len(m))
	for prio, t := range m {
		first, err := ParseTarget(string(t.FirstResponse))
		if err != nil && !t.FirstResponse.IsZero() {
			return nil, fmt.Errorf("%s first_response: %w", prio, err)
		}
		res, err := ParseTarget(string(t.Resolution))
		if err != nil && !t.Resolution.IsZero() {
			return nil, fmt.Errorf("%s resolution: %w", prio, err)
		}
		out[prio] = Targets{first, res}
	}
	return out, nil
}

func (p *plan) rulesFor(lang string) *rules {
	if l, ok := p.langs[lang]; ok {
		return &l.rules
	}
	return p.base
}

// Due is the SLA clock of one ticket as computed on arrival.
type Due struct {
	Arrival  time.Time
	Priority string
	// Type is the ticket's type; "" for the plan's own targets.
	Type string
	// Start is when the clock started: the calendar's next opening at or
	// after Arrival.
	Start time.Time
	// FirstResponse and Resolution are the deadlines, in the calendar's
	// zone; the zero time where the plan sets no such target.
	FirstResponse time.Time
	Resolution    time.Time
	// Calendar and Targets are what the deadlines were computed from; nil
	// Calendar: the plan has no SLA clock, and both deadlines are zero.
	Calendar *Calendar
	Targets  Targets
	// Rule says which plan rule applied, for logs and agents.
	Rule string
	// ByType: the target is the type's own (plans.<plan>.types.<type>
	// .targets), not the plan's.
	ByType bool

	rules *rules
	// from is where the targets were counted from: Start, or later by the
	// time the clock stood still.
	from time.Time
}

// ErrUnknownType: the plan has no such type (config.Plan.TypeNames).
var ErrUnknownType = errors.New("unknown type")

// Due is DueOfType for the plan's own targets, whatever the ticket's type.
func (ps *Plans) Due(planName, priority, language string, arrival time.Time) (Due, error) {
	return ps.DueOfType(planName, "", priority, language, arrival)
}

// DueOfType computes the deadlines of a ticket of plan and type typ with
// priority (P1..P4) in
// language ("nl", "en"; a language the plan has no rule for, or "", gets the
// plan's own calendar and targets) that arrived at arrival. An unknown plan
// or priority is an error; a plan without SLA clock is not (see Due).
//
// A language rule with an outside-hours plan (Kwikqy) is decided once, on
// arrival: a Dutch request that arrives while Dutch opening hours are
// closed keeps the fallback plan's calendar and targets even after the
// desk opens. So is a standby period (the web agency): a ticket that
// arrives in a standby period's hours has its clock in the calendar with
// the standby hours counted as open, and the standby's first-response
// target when that ends before its priority's (Due.Rule says so).
//
// The type's targets (plans.<plan>.types.<type>.targets) replace those of
// the rule that applies, per priority: type over language over plan. An
// outside-hours fallback takes the other plan's rules whole, with its
// targets for a type of the same name if it declares one. typ "" is the
// plan's own targets; feature_request has no clock (a Due without
// Calendar); a type the plan does not have is ErrUnknownType.
func (ps *Plans) DueOfType(planName, typ, priority, language string, arrival time.Time) (Due, error) {
	p, ok := ps.plans[planName]
	if !ok {
		return Due{}, fmt.Errorf("unknown plan %q (plans: %s)", planName, strings.Join(ps.Names(), ", "))
	}
	if !validPriority(priority) {
		return Due{}, fmt.Errorf("unknown priority %q (want one of %s)", priority, strings.Join(config.Priorities, ", "))
	}
	if typ != "" && !p.cfg.HasType(typ) {
		return Due{}, fmt.Errorf("%w %q for plan %q (want one of %s)", ErrUnknownType, typ, planName, strings.Join(p.cfg.TypeNames(), ", "))
	}
	r := p.base
	if l, ok := p.langs[language]; ok {
		r = &l.rules
		if l.outside != nil && !l.cal.IsOpen(arrival) {
			r = l.outside
		}
	}
	d := Due{Arrival: arrival, Priority: priority, Type: typ, rules: r}
	switch {
	case !config.HasClock(typ):
		d.rules, d.Rule = nil, "feature requests have no SLA clock"
		return d, nil
	case r == nil:
		d.Rule = fmt.Sprintf("plan %q has no SLA calendar", planName)
		return d, nil
	case typ != "" && r.types[typ] != nil:
		typed := *r
		typed.typ, typed.typeTargets = typ, r.types[typ]
		r, d.rules = &typed, &typed
	}
	if sb := r.cal.standbyAt(arrival); sb != nil {
		// Called on in standby: the clock counts the standby hours, and the
		// standby's first-response target applies when it ends sooner.
		withStandby := *r
		withStandby.cal, withStandby.standby = r.cal.withStandby, sb.first
		withStandby.desc = fmt.Sprintf("%s, arrived in %s", r.desc, sb.desc)
		r, d.rules = &withStandby, &withStandby
	}
	return d.compute(priority, arrival, 0)
}

// Recompute is d for a new priority set at `at` (the desk re-classified the
// ticket). The rule chosen on arrival stays (calendar, language,
// outside-hours and standby decisions); the business time between Start
// and at counts towards the new targets, which gives the deadlines the
// ticket would have had with this priority from its arrival.
func (d Due) Recompute(priority string, at time.Time) (Due, error) {
	if !validPriority(priority) {
		return d, fmt.Errorf("unknown priority %q (want one of %s)", priority, strings.Join(config.Priorities, ", "))
	}
	if d.rules == nil {
		d.Priority = priority
		return d, nil
	}
	return d.compute(priority, at, d.Calendar.Between(d.Start, at))
}

// At is d for priority at `at` when only `used` business time has counted
// since Start: the clock stood still meanwhile (waiting for the customer).
// Resuming a paused clock and re-classifying a paused-before ticket both
// come here; used is never more than the business time since Start.
func (d Due) At(priority string, at time.Time, used time.Duration) (Due, error) {
	if !validPriority(priority) {
		return d, fmt.Errorf("unknown priority %q (want one of %s)", priority, strings.Join(config.Priorities, ", "))
	}
	if d.rules == nil {
		d.Priority = priority
		return d, nil
	}
	return d.compute(priority, at, min(used, d.Calendar.Between(d.Start, at)))
}

// WarnAt is when share (0 to 1) of the first-response time has passed, in
// business time; zero without a first-response deadline.
func (d Due) WarnAt(share float64) time.Time {
	if d.Calendar == nil || d.FirstResponse.IsZero() || d.from.IsZero() {
		return time.Time{}
	}
	total := d.Calendar.Between(d.from, d.FirstResponse)
	return d.Calendar.Add(d.from, time.Duration(float64(total)*share))
}

// compute fills in the deadlines for priority from rule d.rules, with used
// business time already spent at `at` (for Due: at is the arrival, used 0).
// When used is all the business time since Start (the clock never stood
// still), the targets count from the arrival, as if priority had been the
// ticket's from the start: a workday target keeps counting from the
// arrival's date.
func (d Due) compute(priority string, at time.Time, used time.Duration) (Due, error) {
	r := d.rules
	d.Priority, d.Calendar, d.Targets, d.Rule = priority, r.cal, r.targets[priority], r.desc
	t, byType := r.typeTargets[priority]
	if d.ByType = byType; byType {
		d.Targets, d.Rule = t, fmt.Sprintf("%s, type %q", r.desc, r.typ)
	}
	d.FirstResponse, d.Resolution = time.Time{}, time.Time{}
	if d.Start.IsZero() {
		if d.Start = r.cal.NextOpen(d.Arrival); d.Start.IsZero() {
			return d, fmt.Errorf("%s: calendar %q has no opening hours within ten years of %s", r.desc, r.cal.name, d.Arrival.Format(time.RFC3339))
		}
	}
	if used >= r.cal.Between(d.Start, at) {
		at, used = d.Arrival, 0
	}
	d.from = r.cal.Add(at, -max(used, 0))
	for _, x := range []struct {
		t   Target
		out *time.Time
	}{{d.Targets.FirstResponse, &d.FirstResponse}, {d.Targets.Resolution, &d.Resolution}, {r.standby, nil}} {
		if x.t.IsZero() {
			continue
		}
		v, err := x.t.Recompute(r.cal, at, used)
		switch {
		case err != nil:
			return d, fmt.Errorf("%s, %s: %w", r.desc, priority, err)
		case x.out != nil:
			*x.out = v
		case d.FirstResponse.IsZero() || v.Before(d.FirstResponse):
			// The standby's target, when it ends before the priority's.
			d.FirstResponse, d.Targets.FirstResponse = v, x.t
		}
	}
	return d, nil
}

// Names lists the plans, sorted.
func (ps *Plans) Names() []string {
	names := make([]string, 0, len(ps.plans))
	for n := range ps.plans {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func validPriority(p string) bool { return slices.Contains(config.Priorities, p) }
