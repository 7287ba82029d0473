package config

// Billing: how a plan's recorded time becomes money (plans.<plan>.billing).
// The arithmetic (splitting work at rate-class boundaries, rounding,
// statements) is package billing's; the strings a person writes here
// ("85.00", "sat-sun 08:30-18:00", "office") are parsed here only, so that
// check-config and the statements can never read them differently.

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Channels a ticket comes in by (ticket.Channel* are these): a plan's
// billing may price them differently (QiQQ: functional support by phone
// costs 15 minutes more).
const (
	ChannelMail     = "mail"
	ChannelPhone    = "phone"
	ChannelInPerson = "in_person"
)

// Channels lists every channel.
var Channels = []string{ChannelMail, ChannelPhone, ChannelInPerson}

// The built-in activities of time records: what the work was. A plan's
// billing may declare more (billing.activities) and price any of them.
const (
	ActivityRemote = "remote"
	ActivityOnSite = "on_site"
	ActivityTravel = "travel"
)

// builtinActivities are the activities every plan has.
var builtinActivities = []string{ActivityRemote, ActivityOnSite, ActivityTravel}

// DefaultBudgetWarnAt is billing.budget_warn_at when it is not set: the
// share of a ticket's budget, in percent, at which agents are warned (the
// same share as escalation.warn_at's default).
const DefaultBudgetWarnAt = 75

// Money is an amount in cents, written as a number of the currency's units
// with at most two decimals ("85", "32.50"). Never a float: 0.1 + 0.2 is
// exact here.
type Money int64

// maxMoney bounds amounts in the configuration: a rate or fee above a
// million is a typo, and the bound keeps every product of a rate, a
// percentage and minutes far inside int64.
const maxMoney = Money(100_000_000) // 1,000,000.00

// ParseMoney reads an amount: digits with an optional '.' and one or two
// decimals. No sign, no thousands separators, no currency symbol: the
// currency is billing.currency.
func ParseMoney(s string) (Money, error) {
	s = strings.TrimSpace(s)
	whole, frac, dot := strings.Cut(s, ".")
	bad := func() (Money, error) {
		return 0, fmt.Errorf("must be an amount like 85, 85.00 or 32.50, at most two decimals and at most %s (got %q)", maxMoney, s)
	}
	if whole == "" || len(whole) > 7 || !digits(whole) || dot && (len(frac) < 1 || len(frac) > 2 || !digits(frac)) {
		return bad()
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	var f int64
	if frac != "" {
		f, _ = strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			f *= 10
		}
	}
	m := Money(w*100 + f)
	if m > maxMoney {
		return bad()
	}
	return m, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// String writes m as ParseMoney reads it, always with two decimals: "32.50".
func (m Money) String() string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Sprintf("%s%d.%02d", sign, m/100, m%100)
}

// UnmarshalYAML reads the literal text of the value, so that 32.50 written
// without quotes is exactly 3250 cents and not a float's approximation.
func (m *Money) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if v, err := ParseMoney(n.Value); err == nil {
			*m = v
			return nil
		}
	}
	return nodeError(n, "must be an amount like 85, 85.00 or 32.50 (at most two decimals, no currency sign)")
}

func (m Money) MarshalYAML() (any, error) { return m.String(), nil }

// Billing is how a plan's recorded time is priced and what else its
// customers pay each month.
type Billing struct {
	// Currency is the ISO 4217 code amounts are in (EUR).
	Currency string `yaml:"currency"`
	// Calendar names the calendar whose opening hours, holidays and
	// standby periods decide the rate classes (office, holiday, standby);
	// empty: the plan's calendar. Its time zone also places days and
	// clock times, and the months of statements.
	Calendar string `yaml:"calendar"`
	// Rate is the plan's standard hourly rate: the rate of work whose type
	// and priority have none in Rates, and the base of percentages.
	// Required; 0 for support that is free (Kwikqy's standard support).
	Rate Money `yaml:"rate"`
	// Rates are hourly rates per support type and priority (QiQQ:
	// "Uurtarief: €65 / €85 / €125").
	Rates map[string]map[string]Money `yaml:"rates"`
	// FreeTypes are types whose time is never charged (QiQQ: technical
	// support on its own services "kosteloos").
	FreeTypes []string `yaml:"free_types"`
	// Unit is what billed time is rounded up to, per ticket and rate line
	// (QiQQ, Oxineo: 15m); 0: whole minutes.
	Unit Duration `yaml:"unit"`
	// Minimum is the least time charged per ticket (Oxineo: 15m).
	Minimum Duration `yaml:"minimum"`
	// FairUse: tickets done in a short time are free (QiQQ: about 5
	// minutes).
	FairUse FairUse `yaml:"fair_use"`
	// Classes are the rate classes by time of work, the first whose when
	// matches applies; time none matches is at the rate (class
	// "standard").
	Classes []RateClass `yaml:"classes"`
	// Activities price what the work was (travel, on_site, remote and any
	// declared here), by key.
	Activities map[string]Activity `yaml:"activities"`
	// Channels add time to tickets that came in by a channel (QiQQ:
	// functional support by phone +15 minutes), by channel.
	Channels map[string]ChannelRule `yaml:"channels"`
	// MonthlyFee is charged every month of the customer's term (Oxineo:
	// €275); ProRata charges a month the term covers in part by its days
	// (Kwikqy: "the Fees for that month will be calculated pro rata").
	MonthlyFee Money `yaml:"monthly_fee"`
	ProRata    bool  `yaml:"pro_rata"`
	// Budget is the time a ticket may take without the customer's
	// permission (Oxineo: 2 hours); 0: none. At BudgetWarnAt percent of it
	// (default DefaultBudgetWarnAt), and at all of it, the assignee and
	// the agents are told.
	Budget       Duration `yaml:"budget"`
	BudgetWarnAt int      `yaml:"budget_warn_at"`
	// Standby are the surcharges of agreed standby periods (the calendar's
	// standby entries), by class (the web agency: weekend 50% min. 4 h).
	Standby StandbyBilling `yaml:"standby"`
}

// FairUse makes short tickets free.
type FairUse struct {
	// UpTo: a ticket whose billable recorded time is at most this is free.
	UpTo Duration `yaml:"up_to"`
	// Channels: per type, the channels a ticket of that type must have
	// come in by to be free (QiQQ: "functioneel per e-mail/website,
	// technisch per telefoon"); a type not listed: any.
	Channels map[string][]string `yaml:"channels"`
}

// RateClass prices work done at certain times.
type RateClass struct {
	// Name is shown on statements ("kantooruren", "avond").
	Name string `yaml:"name"`
	// When are the times the class applies at, any of them: "office" (the
	// calendar's opening hours), "holiday" (its holidays and closed days),
	// "standby" (its standby hours), days ("sat-sun", "sun"), a clock
	// range ("22:00-24:00"), or days and a range ("sat-sun 08:30-18:00").
	// Empty: always (only the last class may be so).
	When []string `yaml:"when"`
	// Rate is the class's hourly rate; Percent instead makes it a share of
	// the work's own rate (by type and priority); neither: the work's own
	// rate. AtLeast raises what either gives to at least this (QiQQ:
	// evening work is at least €85 an hour, Direct stays €125).
	Rate    *Money `yaml:"rate"`
	Percent int    `yaml:"percent"`
	AtLeast Money  `yaml:"at_least"`
	// MinimumPerRecord: a time record's work in this class counts as at
	// least this (the web agency: a call-out in standby at least an hour).
	MinimumPerRecord Duration `yaml:"minimum_per_record"`
}

// Activity prices one kind of work.
type Activity struct {
	// Billable: false keeps the activity's time off the bill (it is still
	// recorded); default true.
	Billable *bool `yaml:"billable"`
	// Percent of the rate the time's class gives (QiQQ travel: "tegen de
	// helft van het op dat moment geldende uurtarief"), or Rate instead.
	Percent int    `yaml:"percent"`
	Rate    *Money `yaml:"rate"`
	// MinimumAmount is the least one record of it costs (QiQQ travel:
	// "met een minimum van €32,50").
	MinimumAmount Money `yaml:"minimum_amount"`
}

// IsBillable reports Billable, true when unset.
func (a Activity) IsBillable() bool { return a.Billable == nil || *a.Billable }

// ChannelRule adds time to a ticket that came in by a channel.
type ChannelRule struct {
	// Extra is added once per ticket, at the ticket's rate.
	Extra Duration `yaml:"extra"`
	// Types it applies to; empty: all.
	Types []string `yaml:"types"`
}

// StandbyBilling prices the standby periods of the billing calendar.
type StandbyBilling struct {
	// Rate the percentages are of; empty: billing.rate ("standaard
	// uurtarief").
	Rate *Money `yaml:"rate"`
	// Classes by time, the first whose when matches applies; standby time
	// no class matches is not charged.
	Classes []StandbyClass `yaml:"classes"`
}

// StandbyClass is one row of a standby table: "Weekend 08:30 uur - 18:00
// uur, 50% van standaard uurtarief, minimaal 4 uur".
type StandbyClass struct {
	Name    string   `yaml:"name"`
	When    []string `yaml:"when"`
	Percent int      `yaml:"percent"`
	// Minimum is the least charged for one stretch of standby in this
	// class (a weekend day, an evening and the night after it).
	Minimum Duration `yaml:"minimum"`
}

// When is one entry of a class's when, parsed. The zero When is always.
type When struct {
	Office, Holiday, Standby bool
	// Days: nil for every day.
	Days []time.Weekday
	// Hours: nil for the whole day.
	Hours *ClockRange
}

// The keywords of when.
const (
	WhenOffice  = "office"
	WhenHoliday = "holiday"
	WhenStandby = "standby"
)

const whenForms = `office, holiday, standby, days (sat-sun), a clock range (22:00-24:00) or days and a range (sat-sun 08:30-18:00)`

// ParseWhen reads one entry of when.
func ParseWhen(s string) (When, error) {
	f := strings.Fields(strings.ToLower(s))
	switch {
	case len(f) == 1 && f[0] == WhenOffice:
		return When{Office: true}, nil
	case len(f) == 1 && f[0] == WhenHoliday:
		return When{Holiday: true}, nil
	case len(f) == 1 && f[0] == WhenStandby:
		return When{Standby: true}, nil
	case len(f) == 1 && strings.Contains(f[0], ":"):
		r, err := ParseClockRange(f[0])
		if err != nil {
			return When{}, err
		}
		return When{Hours: &r}, nil
	case len(f) == 1 || len(f) == 2:
		days, err := ParseDays(f[0])
		if err != nil {
			return When{}, fmt.Errorf("want %s: %w", whenForms, err)
		}
		w := When{Days: days}
		if len(f) == 2 {
			r, err := ParseClockRange(f[1])
			if err != nil {
				return When{}, err
			}
			w.Hours = &r
		}
		return w, nil
	}
	return When{}, fmt.Errorf("want %s (got %q)", whenForms, s)
}

// NeedsCalendar reports whether w asks the calendar (office, holiday,
// standby) rather than only the clock.
func (w When) NeedsCalendar() bool { return w.Office || w.Holiday || w.Standby }

// ActivityKey normalises how an agent writes an activity ("On site",
// "on-site") to its key ("on_site"), as TypeKey does for types.
func ActivityKey(s string) string { return TypeKey(s) }

// ActivityNames lists the activities a time record on plan p may have:
// the built-in ones and billing.activities, sorted.
func (p Plan) ActivityNames() []string {
	names := slices.Clone(builtinActivities)
	if p.Billing != nil {
		for _, a := range sortedKeys(p.Billing.Activities) {
			if !slices.Contains(names, a) {
				names = append(names, a)
			}
		}
	}
	slices.Sort(names)
	return names
}

// HasActivity reports whether a is one of p's activities.
func (p Plan) HasActivity(a string) bool { return slices.Contains(p.ActivityNames(), a) }

// UnknownActivityError says that a is not one of a plan's activities, and
// which are.
func (p Plan) UnknownActivityError(plan, a string) error {
	return fmt.Errorf("unknown activity %q for plan %q (want one of %s)", a, plan, strings.Join(p.ActivityNames(), ", "))
}

// ActivityBillable reports whether time of activity a on p is billable by
// default (billing.activities.<a>.billable).
func (p Plan) ActivityBillable(a string) bool {
	if p.Billing == nil {
		return true
	}
	return p.Billing.Activities[a].IsBillable()
}

// TimeBudget is the time a ticket on p may take without permission and
// the share (percent) at which agents are warned; 0: no budget.
func (p Plan) TimeBudget() (time.Duration, int) {
	if p.Billing == nil || p.Billing.Budget <= 0 {
		return 0, 0
	}
	return p.Billing.Budget.D(), cmp.Or(p.Billing.BudgetWarnAt, DefaultBudgetWarnAt)
}

// BillingCalendar is the name of the calendar p's billing counts in:
// billing.calendar, else the plan's; "" for none.
func (p Plan) BillingCalendar() string {
	if p.Billing != nil && p.Billing.Calendar != "" {
		return p.Billing.Calendar
	}
	return p.Calendar
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// Limits of billing's durations and shares: beyond them it is a typo.
const (
	maxBillingDuration = 24 * time.Hour
	maxPercent         = 1000
)

// validateBilling checks every plan's billing. It runs after validateSLA:
// the calendars it names must be known.
func (l *loader) validateBilling() {
	for _, name := range sortedKeys(l.cfg.Plans) {
		p := l.cfg.Plans[name]
		if p.Billing == nil {
			continue
		}
		l.validatePlanBilling("plans."+name+".billing", p)
	}
}

func (l *loader) validatePlanBilling(path string, p Plan) {
	c, b := l.c, p.Billing
	switch {
	case b.Currency == "":
		c.Add(path+".currency", "is required: the ISO 4217 code of the amounts, like EUR")
	case !currencyRE.MatchString(b.Currency):
		c.Addf(path+".currency", "must be an ISO 4217 code of three capital letters, like EUR (got %q)", b.Currency)
	}
	if !c.Set(path + ".rate") {
		c.Add(path+".rate", "is required: the standard hourly rate (0 for free support), like 85.00")
	}
	cal := p.BillingCalendar()
	switch {
	case b.Calendar != "" && !hasKey(l.cfg.Calendars, b.Calendar):
		c.Addf(path+".calendar", "unknown calendar %q (calendars: %s)", b.Calendar, strings.Join(sortedKeys(l.cfg.Calendars), ", "))
		cal = "-" // reported
	}
	for _, typ := range sortedKeys(b.Rates) {
		tpath := path + ".rates." + typ
		if !p.HasType(typ) {
			c.Addf(tpath, "unknown type %q (the plan's types: %s)", typ, strings.Join(p.TypeNames(), ", "))
			continue
		}
		for _, pr := range sortedKeys(b.Rates[typ]) {
			switch {
			case pr == "" || !ValidPriority(pr):
				c.Addf(tpath+"."+pr, "must be one of %s (got %q)", PriorityList(), pr)
			case !p.TypeAllows(typ, pr):
				c.Addf(tpath+"."+pr, "type %s has no priority %s (it has %s)", typ, pr, strings.Join(p.TypePriorities(typ), ", "))
			}
		}
	}
	for i, typ := range b.FreeTypes {
		fpath := fmt.Sprintf("%s.free_types[%d]", path, i)
		switch {
		case !p.HasType(typ):
			c.Addf(fpath, "unknown type %q (the plan's types: %s)", typ, strings.Join(p.TypeNames(), ", "))
		case slices.Contains(b.FreeTypes[:i], typ):
			c.Addf(fpath, "names %s twice", typ)
		}
	}
	l.wholeMinutes(path+".unit", b.Unit)
	l.wholeMinutes(path+".minimum", b.Minimum)
	l.wholeMinutes(path+".fair_use.up_to", b.FairUse.UpTo)
	l.wholeMinutes(path+".budget", b.Budget)
	if b.FairUse.UpTo == 0 && len(b.FairUse.Channels) > 0 {
		c.Add(path+".fair_use.up_to", "is required with fair_use.channels: the time up to which a ticket is free")
	}
	for _, typ := range sortedKeys(b.FairUse.Channels) {
		fpath := path + ".fair_use.channels." + typ
		if !p.HasType(typ) {
			c.Addf(fpath, "unknown type %q (the plan's types: %s)", typ, strings.Join(p.TypeNames(), ", "))
			continue
		}
		if len(b.FairUse.Channels[typ]) == 0 {
			c.Add(fpath, "must name at least one channel; leave the type out for any")
		}
		for i, ch := range b.FairUse.Channels[typ] {
			if !slices.Contains(Channels, ch) {
				c.Addf(fmt.Sprintf("%s[%d]", fpath, i), "unknown channel %q (want one of %s)", ch, strings.Join(Channels, ", "))
			}
		}
	}
	if b.BudgetWarnAt != 0 && (b.BudgetWarnAt < 1 || b.BudgetWarnAt > 99) {
		c.Addf(path+".budget_warn_at", "must be a percentage from 1 to 99 (got %d)", b.BudgetWarnAt)
	}
	if b.BudgetWarnAt != 0 && b.Budget == 0 {
		c.Add(path+".budget_warn_at", "goes with budget: the time a ticket may take without permission")
	}
	if b.ProRata && b.MonthlyFee == 0 {
		c.Add(path+".pro_rata", "goes with monthly_fee: the fee to charge by the days of a month")
	}
	names := map[string]int{}
	for i, rc := range b.Classes {
		cpath := fmt.Sprintf("%s.classes[%d]", path, i)
		l.className(cpath, rc.Name, names, i)
		l.validateWhen(cpath, rc.When, cal, i == len(b.Classes)-1)
		switch {
		case rc.Rate != nil && rc.Percent != 0:
			c.Add(cpath+".percent", "set either rate (the class's own rate) or percent (of the work's rate), not both")
		case rc.Percent != 0:
			l.percent(cpath+".percent", rc.Percent)
		}
		l.wholeMinutes(cpath+".minimum_per_record", rc.MinimumPerRecord)
	}
	for _, a := range sortedKeys(b.Activities) {
		act, apath := b.Activities[a], path+".activities."+a
		if !typeKeyRE.MatchString(a) {
			c.Addf(apath, "activity name must be 1 to 63 lower-case letters, digits or '_', starting with a letter (got %q): agents write it in #time", a)
		}
		switch {
		case act.Rate != nil && act.Percent != 0:
			c.Add(apath+".percent", "set either rate or percent (of the class's rate), not both")
		case act.Percent != 0:
			l.percent(apath+".percent", act.Percent)
		}
		if !act.IsBillable() && (act.Rate != nil || act.Percent != 0 || act.MinimumAmount != 0) {
			c.Add(apath+".billable", "is false, so the activity's rate, percent and minimum_amount never apply: remove them or the billable: false")
		}
	}
	for _, ch := range sortedKeys(b.Channels) {
		r, cpath := b.Channels[ch], path+".channels."+ch
		if !slices.Contains(Channels, ch) {
			c.Addf(cpath, "unknown channel %q (want one of %s)", ch, strings.Join(Channels, ", "))
			continue
		}
		if r.Extra <= 0 {
			c.Add(cpath+".extra", "is required: the time added to a ticket that came in by "+ch+", like 15m")
		}
		l.wholeMinutes(cpath+".extra", r.Extra)
		for i, typ := range r.Types {
			if !p.HasType(typ) {
				c.Addf(fmt.Sprintf("%s.types[%d]", cpath, i), "unknown type %q (the plan's types: %s)", typ, strings.Join(p.TypeNames(), ", "))
			}
		}
	}
	spath := path + ".standby"
	if len(b.Standby.Classes) == 0 && b.Standby.Rate != nil {
		c.Add(spath+".classes", "is required with standby.rate: the rows of the standby table")
	}
	if len(b.Standby.Classes) > 0 && cal == "" {
		c.Add(spath, "needs a calendar (billing.calendar or the plan's calendar) with the standby periods")
	}
	snames := map[string]int{}
	for i, sc := range b.Standby.Classes {
		cpath := fmt.Sprintf("%s.classes[%d]", spath, i)
		l.className(cpath, sc.Name, snames, i)
		l.validateWhen(cpath, sc.When, cal, i == len(b.Standby.Classes)-1)
		if sc.Percent == 0 {
			c.Add(cpath+".percent", "is required: the share of the standby rate charged per hour of standby, like 50")
		} else {
			l.percent(cpath+".percent", sc.Percent)
		}
		l.wholeMinutes(cpath+".minimum", sc.Minimum)
	}
}

// className checks a class's name: required, unique in its list.
func (l *loader) className(path, name string, seen map[string]int, i int) {
	switch j, dup := seen[name]; {
	case strings.TrimSpace(name) == "":
		l.c.Add(path+".name", "is required: what statements call the class")
	case dup:
		l.c.Addf(path+".name", "%q is also the name of entry %d", name, j)
	default:
		seen[name] = i
	}
}

// validateWhen checks a class's when; cal is the billing calendar's name
// ("" none, "-" already reported). Only the last class may have none.
func (l *loader) validateWhen(path string, when []string, cal string, last bool) {
	if len(when) == 0 && !last {
		l.c.Add(path+".when", "is empty, so it applies at all times and the classes after it never do: give it times, or make it the last")
	}
	for i, s := range when {
		wpath := fmt.Sprintf("%s.when[%d]", path, i)
		w, err := ParseWhen(s)
		switch {
		case err != nil:
			l.c.Add(wpath, err.Error())
		case w.NeedsCalendar() && cal == "":
			l.c.Addf(wpath, "%q needs a calendar: set billing.calendar or the plan's calendar", s)
		}
	}
}

func (l *loader) percent(path string, p int) {
	if p < 1 || p > maxPercent {
		l.c.Addf(path, "must be a percentage from 1 to %d (got %d)", maxPercent, p)
	}
}

// wholeMinutes checks a billing duration: whole minutes, 0 to a day.
func (l *loader) wholeMinutes(path string, d Duration) {
	switch {
	case d < 0:
		l.c.Addf(path, "must not be negative (got %s)", d)
	case d.D()%time.Minute != 0:
		l.c.Addf(path, "must be whole minutes (got %s)", d)
	case d.D() > maxBillingDuration:
		l.c.Addf(path, "must be at most %s (got %s)", FormatDuration(maxBillingDuration), d)
	}
}
