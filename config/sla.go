package config

// The SLA part of the schema: calendars (when the SLA clock runs) and the
// plans' targets, as text. Package sla reads the targets and the calendars'
// dates and checks them (sla.Check); the clock ranges and day lists
// ("09:00-17:00", "mon-fri") are read here, as values that the calendars'
// hours and the billing classes' when both write.

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

	// Location is Timezone loaded (the desk's when empty) by sla.Check.
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
// "30m", "1h30m") or workdays ("3 workdays", "within 3 workdays"). Package
// sla reads it (sla.ParseTarget) and checks it. Empty is no target.
type Target string

// TargetForms is how a target is written, for problems.
const TargetForms = "a target like 4h, 1h30m, 3 workdays or within 3 workdays"

// IsZero reports whether t is no target.
func (t Target) IsZero() bool { return t == "" }

// UnmarshalYAML takes a single value; sla.Check reads it.
func (t *Target) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*t = Target(n.Value)
		return nil
	}
	return nodeError(n, "must be "+TargetForms)
}

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

// validateSLA checks the SLA parts of plans: the calendars they name, the
// targets' priorities, the languages' rules. What the calendars and targets
// say is package sla's to read (sla.Check).
func (l *loader) validateSLA() {
	c := l.c
	calNames := sortedKeys(l.cfg.Calendars)
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

func (l *loader) validateTargets(path string, targets map[string]PlanTarget) {
	for _, prio := range sortedKeys(targets) {
		t, ppath := targets[prio], path+"."+prio
		switch {
		case prio == "" || !ValidPriority(prio):
			l.c.Addf(ppath, "must be one of P1, P2, P3, P4 (got %q)", prio)
		// An empty target written in the file is reported by sla.Check.
		case t.FirstResponse.IsZero() && t.Resolution.IsZero() &&
			!l.c.Set(ppath+".first_response") && !l.c.Set(ppath+".resolution"):
			l.c.Add(ppath, "needs first_response, resolution or both")
		}
	}
}
