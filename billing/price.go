package billing

import (
	"fmt"
	"slices"
	"time"

	"github.com/maildesk/maildesk/config"
)

// Record is a time record as billing prices it.
type Record struct {
	ID       string    `json:"id"`
	Agent    string    `json:"agent,omitempty"`
	Start    time.Time `json:"start"`
	Minutes  int       `json:"minutes"`
	Activity string    `json:"activity"`
	Billable bool      `json:"billable"`
	Note     string    `json:"note,omitempty"`
}

// End is when the record's work ended.
func (r Record) End() time.Time { return r.Start.Add(time.Duration(r.Minutes) * time.Minute) }

// Ticket is a ticket as billing prices it: what its rate depends on, and
// all its time records (of every month: a ticket's minimum and fair use
// look at all of them).
type Ticket struct {
	Number   string
	Subject  string
	Type     string
	Priority string
	Channel  string
	Records  []Record
}

// Kinds of Line.
const (
	LineWork    = "work"    // recorded time in one class and activity
	LineMinimum = "minimum" // what a ticket's minimum adds
	LineChannel = "channel" // what its channel adds (QiQQ: functional support by phone)
	LineFee     = "fee"     // the monthly fee
	LineStandby = "standby" // a stretch of standby
)

// Line is one priced line of a statement.
type Line struct {
	Kind     string `json:"kind"`
	Class    string `json:"class,omitempty"`
	Activity string `json:"activity,omitempty"`
	// Rate is per hour; 0 for a fee.
	Rate config.Money `json:"rate_cents"`
	// Recorded is the time recorded, Billed the time charged (rounded,
	// with minimums), in minutes.
	Recorded int          `json:"recorded_minutes"`
	Billed   int          `json:"billed_minutes"`
	Amount   config.Money `json:"amount_cents"`
	// Free says why a line with billed time costs nothing ("fair use",
	// a free type, a record marked not billable); "" when it is charged.
	Free string `json:"free,omitempty"`
	// Detail says more: the period of a fee or a standby stretch, the
	// rule a line comes from.
	Detail string `json:"detail,omitempty"`
	// From and To are the stretch of a standby line.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`

	record string // the record a line of its own belongs to
	order  time.Time
}

// RecordLine is a time record with the segments it was split into.
type RecordLine struct {
	Record
	Segments []Segment `json:"segments"`
}

// TicketStatement is what one ticket costs in a period.
type TicketStatement struct {
	Number   string       `json:"number"`
	Subject  string       `json:"subject,omitempty"`
	Type     string       `json:"type"`
	Priority string       `json:"priority"`
	Channel  string       `json:"channel"`
	Records  []RecordLine `json:"records"`
	Lines    []Line       `json:"lines"`
	// Recorded is the time of all the period's records, Billable of those
	// that are billable, Billed what is charged; in minutes.
	Recorded int          `json:"recorded_minutes"`
	Billable int          `json:"billable_minutes"`
	Billed   int          `json:"billed_minutes"`
	Amount   config.Money `json:"amount_cents"`
	// Notes are the rules that applied, for people.
	Notes []string `json:"notes,omitempty"`
}

// Quote prices one piece of work as a ticket of type typ, priority and
// channel with only this record would be charged in its month: what
// `maildesk billing quote` shows.
func (p *Plan) Quote(typ, priority, channel string, r Record) TicketStatement {
	from, to := MonthOf(r.Start, p.loc).Bounds(p.loc)
	return p.PriceTicket(Ticket{Number: "-", Type: typ, Priority: priority, Channel: channel, Records: []Record{r}}, from, to)
}

// billable reports whether r's time is charged: the record says so and its
// activity is a billable one.
func (p *Plan) billable(r Record) bool {
	return r.Billable && p.plan.ActivityBillable(r.Activity)
}

// PriceTicket prices the records of t that started from `from` up to
// `to`. Work is split at rate-class boundaries; per record, a class's
// minimum_per_record applies; per line (class, activity and rate) the
// billed time is rounded up to the unit; an activity's minimum_amount
// makes each of its records a line of its own. The ticket's minimum and
// channel surcharge are charged once, in the period of its first billable
// record; a ticket whose billable time (in all periods) is within fair use
// costs nothing, as does a free type's.
func (p *Plan) PriceTicket(t Ticket, from, to time.Time) TicketStatement {
	ts := TicketStatement{Number: t.Number, Subject: t.Subject, Type: t.Type, Priority: t.Priority, Channel: t.Channel}
	base := p.BaseRate(t.Type, t.Priority)
	recs := slices.Clone(t.Records)
	slices.SortStableFunc(recs, func(a, b Record) int { return a.Start.Compare(b.Start) })
	var allBillable int
	var firstBillable time.Time
	for _, r := range recs {
		if p.billable(r) {
			allBillable += r.Minutes
			if firstBillable.IsZero() {
				firstBillable = r.Start
			}
		}
	}
	first := !firstBillable.IsZero() && !firstBillable.Before(from) && firstBillable.Before(to)
	fair := p.fairUse(t, allBillable)

	type key struct {
		class, activity, record string
		rate                    config.Money
		billable                bool
	}
	lines := map[key]*Line{}
	var order []key
	pre := map[key]int{} // billed minutes before rounding
	for _, r := range recs {
		if r.Start.Before(from) || !r.Start.Before(to) {
			continue
		}
		rl := RecordLine{Record: r, Segments: p.Split(r.Start, r.End())}
		ts.Records = append(ts.Records, rl)
		ts.Recorded += r.Minutes
		billable := p.billable(r)
		if billable {
			ts.Billable += r.Minutes
		}
		// Per class within the record: its minutes, and what counts.
		type part struct {
			ci      int
			minutes int
			start   time.Time
		}
		var parts []part
		for _, s := range rl.Segments {
			i := slices.IndexFunc(parts, func(x part) bool { return x.ci == s.class })
			if i < 0 {
				parts = append(parts, part{ci: s.class, start: s.Start})
				i = len(parts) - 1
			}
			parts[i].minutes += s.Minutes()
		}
		for _, pt := range parts {
			rate := p.activityRate(r.Activity, p.classRate(pt.ci, base))
			k := key{class: className(p.classes, pt.ci), activity: r.Activity, rate: rate, billable: billable}
			if billable && p.cfg.Activities[r.Activity].MinimumAmount > 0 {
				k.record = r.ID
			}
			l, ok := lines[k]
			if !ok {
				l = &Line{Kind: LineWork, Class: k.class, Activity: r.Activity, Rate: rate, record: k.record, order: pt.start}
				lines[k] = l
				order = append(order, k)
			}
			l.Recorded += pt.minutes
			counted := pt.minutes
			if billable && pt.ci >= 0 && p.classes[pt.ci].minPerRecord > 0 {
				counted = max(counted, int(p.classes[pt.ci].minPerRecord/time.Minute))
			}
			pre[k] += counted
		}
	}
	unit := int(p.Unit() / time.Minute)
	var firstRate *config.Money
	for _, k := range order {
		l := lines[k]
		switch {
		case !k.billable:
			l.Free = "not billable"
		default:
			l.Billed = roundUp(pre[k], unit)
			l.Amount = amount(l.Rate, l.Billed)
			if k.record != "" {
				if m := p.cfg.Activities[k.activity].MinimumAmount; l.Amount < m {
					l.Amount = m
					l.Detail = "minimum " + m.String() + " " + p.cfg.Currency
				}
			}
			if firstRate == nil {
				firstRate = &l.Rate
			}
		}
		ts.Lines = append(ts.Lines, *l)
	}
	if unit > 1 && ts.Billable > 0 {
		ts.Notes = append(ts.Notes, fmt.Sprintf("billed time rounded up to units of %s per rate line", fmtMinutes(unit)))
	}
	extra := 0
	if first && !fair && !p.Free(t.Type) {
		if r, ok := p.cfg.Channels[t.Channel]; ok && (len(r.Types) == 0 || slices.Contains(r.Types, t.Type)) {
			extra = int(r.Extra.D() / time.Minute)
			ts.Lines = append(ts.Lines, Line{Kind: LineChannel, Rate: base, Billed: extra, Amount: amount(base, extra),
				Detail: fmt.Sprintf("%s added for a ticket taken by %s", fmtMinutes(extra), t.Channel)})
		}
		if minimum := int(p.cfg.Minimum.D() / time.Minute); minimum > 0 {
			billed := extra
			for _, l := range ts.Lines {
				if l.Kind == LineWork {
					billed += l.Billed
				}
			}
			if billed < minimum {
				rate := base
				if firstRate != nil {
					rate = *firstRate
				}
				top := minimum - billed
				ts.Lines = append(ts.Lines, Line{Kind: LineMinimum, Rate: rate, Billed: top, Amount: amount(rate, top),
					Detail: fmt.Sprintf("at least %s per ticket", fmtMinutes(minimum))})
			}
		}
	}
	switch {
	case fair:
		ts.Notes = append(ts.Notes, fmt.Sprintf("fair use: %s in all, at most %s, costs nothing", fmtMinutes(allBillable), fmtMinutes(int(p.cfg.FairUse.UpTo.D()/time.Minute))))
	case p.Free(t.Type):
		ts.Notes = append(ts.Notes, fmt.Sprintf("type %s is free of charge", t.Type))
	}
	for i := range ts.Lines {
		l := &ts.Lines[i]
		if l.Free == "" && (fair || p.Free(t.Type)) && l.Billed > 0 {
			l.Free, l.Amount = "fair use", 0
			if !fair {
				l.Free = "free type " + t.Type
			}
		}
		ts.Billed += l.Billed
		ts.Amount += l.Amount
	}
	return ts
}

// fairUse reports whether t is free under fair use: its billable time in
// all is within fair_use.up_to, and it came in by a channel its type
// allows.
func (p *Plan) fairUse(t Ticket, billable int) bool {
	f := p.cfg.FairUse
	if f.UpTo <= 0 || billable <= 0 || time.Duration(billable)*time.Minute > f.UpTo.D() {
		return false
	}
	if chans, ok := f.Channels[t.Type]; ok && !slices.Contains(chans, t.Channel) {
		return false
	}
	return true
}

func roundUp(minutes, unit int) int {
	if unit <= 1 || minutes%unit == 0 {
		return minutes
	}
	return (minutes/unit + 1) * unit
}

// fmtMinutes writes minutes as people do: "45m", "2h", "1h15m".
func fmtMinutes(m int) string {
	switch {
	case m%60 == 0 && m != 0:
		return fmt.Sprintf("%dh", m/60)
	case m > 60:
		return fmt.Sprintf("%dh%02dm", m/60, m%60)
	}
	return fmt.Sprintf("%dm", m)
}
