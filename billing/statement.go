package billing

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/sla"
)

// Month is a calendar month.
type Month struct {
	Year  int
	Month time.Month
}

// ParseMonth reads "2026-11".
func ParseMonth(s string) (Month, error) {
	t, err := time.Parse("2006-01", strings.TrimSpace(s))
	if err != nil {
		return Month{}, fmt.Errorf("%q is no month: write it like 2026-11", s)
	}
	return Month{t.Year(), t.Month()}, nil
}

// MonthOf is the month t is in, in loc.
func MonthOf(t time.Time, loc *time.Location) Month {
	y, m, _ := t.In(loc).Date()
	return Month{y, m}
}

func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, m.Month) }

// Bounds are the first instant of m in loc and the first of the month
// after it.
func (m Month) Bounds(loc *time.Location) (from, to time.Time) {
	return time.Date(m.Year, m.Month, 1, 0, 0, 0, 0, loc), time.Date(m.Year, m.Month+1, 1, 0, 0, 0, 0, loc)
}

// Days is how many days m has.
func (m Month) Days() int { return time.Date(m.Year, m.Month+1, 0, 12, 0, 0, 0, time.UTC).Day() }

// MarshalText writes m as ParseMonth reads it.
func (m Month) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// Statement is what a customer is charged for one month: the time
// recorded on its tickets (a record belongs to the month its work started
// in, in the plan's zone), the monthly fee and the standby surcharges.
type Statement struct {
	// Desk is who sends it (desk.name); MadeAt when it was made. The caller
	// sets both: the statement itself is a function of the records.
	Desk         string    `json:"desk,omitempty"`
	MadeAt       time.Time `json:"made_at,omitzero"`
	Customer     string    `json:"customer"`
	CustomerName string    `json:"customer_name,omitempty"`
	Plan         string    `json:"plan"`
	Month        Month     `json:"month"`
	// From and To are the month's bounds in the plan's zone.
	From     time.Time         `json:"from"`
	To       time.Time         `json:"to"`
	Currency string            `json:"currency"`
	Tickets  []TicketStatement `json:"tickets"`
	// Fees are the monthly fee and the standby surcharges.
	Fees []Line `json:"fees"`
	// Recorded, Billable and Billed add up the tickets', in minutes.
	Recorded int          `json:"recorded_minutes"`
	Billable int          `json:"billable_minutes"`
	Billed   int          `json:"billed_minutes"`
	Total    config.Money `json:"total_cents"`
}

// Statement is customer c's statement for month m, from its tickets with
// all their time records (tickets without records in m are left out).
func (p *Plan) Statement(c *config.Customer, m Month, tickets []Ticket) Statement {
	from, to := m.Bounds(p.loc)
	s := Statement{Customer: c.ID, CustomerName: c.Name, Plan: p.name, Month: m, From: from, To: to, Currency: p.cfg.Currency,
		Tickets: []TicketStatement{}, Fees: []Line{}}
	for _, t := range tickets {
		ts := p.PriceTicket(t, from, to)
		if len(ts.Records) == 0 {
			continue
		}
		s.Tickets = append(s.Tickets, ts)
	}
	slices.SortFunc(s.Tickets, func(a, b TicketStatement) int { return compareNumbers(a.Number, b.Number) })
	if fee, ok := p.monthlyFee(c, m); ok {
		s.Fees = append(s.Fees, fee)
	}
	s.Fees = append(s.Fees, p.standbyLines(from, to)...)
	for _, ts := range s.Tickets {
		s.Recorded += ts.Recorded
		s.Billable += ts.Billable
		s.Billed += ts.Billed
		s.Total += ts.Amount
	}
	for _, f := range s.Fees {
		s.Total += f.Amount
	}
	return s
}

// monthlyFee is the fee line of month m for customer c: the whole fee when
// c's term (judged on dates in the desk's zone) covers any day of m, or
// with pro_rata its share by days. The term's days are civil dates (in
// the desk's zone, as Customer.Term judges them).
func (p *Plan) monthlyFee(c *config.Customer, m Month) (Line, bool) {
	fee := p.cfg.MonthlyFee
	if fee == 0 {
		return Line{}, false
	}
	first, last := 1, m.Days()
	day := func(s string) (Month, int, bool) {
		t, err := sla.ParseDate(s)
		if err != nil {
			return Month{}, 0, false
		}
		return Month{t.Year(), t.Month()}, t.Day(), true
	}
	if fm, fd, ok := day(c.ActiveFrom); ok {
		switch {
		case after(fm, m):
			return Line{}, false
		case fm == m:
			first = fd
		}
	}
	if um, ud, ok := day(c.ActiveUntil); ok {
		switch {
		case after(m, um):
			return Line{}, false
		case um == m:
			last = ud
		}
	}
	if last < first {
		return Line{}, false
	}
	l := Line{Kind: LineFee, Amount: fee, Detail: fmt.Sprintf("monthly fee %s", m)}
	if covered := last - first + 1; p.cfg.ProRata && covered < m.Days() {
		l.Amount = config.Money(mulDiv(int64(fee), int64(covered), int64(m.Days())))
		l.Detail = fmt.Sprintf("monthly fee %s, pro rata %d of %d days (%s to %s)", m, covered, m.Days(),
			fmt.Sprintf("%s-%02d", m, first), fmt.Sprintf("%s-%02d", m, last))
	}
	return l, true
}

func after(a, b Month) bool {
	return a.Year > b.Year || a.Year == b.Year && a.Month > b.Month
}

// standbyLines are the surcharges of the standby hours that start in
// [from, to): each stretch of standby (hours that touch are one) is cut by
// the standby classes, and each piece of one class costs its percentage of
// the standby rate per hour, at least its minimum. Standby time no class
// matches costs nothing.
func (p *Plan) standbyLines(from, to time.Time) []Line {
	if p.cal == nil || len(p.standby) == 0 {
		return nil
	}
	// A stretch that starts in the month may run into the next.
	var out []Line
	for _, st := range p.cal.StandbyHours(from.AddDate(0, 0, -7), to.AddDate(0, 0, 7)) {
		if st.Start.Before(from) || !st.Start.Before(to) {
			continue
		}
		for _, seg := range p.split(p.standby, st.Start, st.End) {
			if seg.class < 0 {
				continue
			}
			c := p.standby[seg.class]
			rate := percentOf(p.standbyRate, c.percent)
			billed := max(seg.Minutes(), int(c.minimum/time.Minute))
			l := Line{Kind: LineStandby, Class: c.name, Rate: rate, Recorded: seg.Minutes(), Billed: billed, Amount: amount(rate, billed),
				From: seg.Start, To: seg.End,
				Detail: fmt.Sprintf("standby %s to %s, %d%% of %s", seg.Start.In(p.loc).Format("2006-01-02 15:04"),
					seg.End.In(p.loc).Format("2006-01-02 15:04"), c.percent, p.standbyRate)}
			if billed > seg.Minutes() {
				l.Detail += ", minimum " + fmtMinutes(billed)
			}
			out = append(out, l)
		}
	}
	return out
}

// compareNumbers orders ticket numbers by prefix, then numerically: SD-9
// before SD-10.
func compareNumbers(a, b string) int {
	pa, na, _ := strings.Cut(a, "-")
	pb, nb, _ := strings.Cut(b, "-")
	if c := strings.Compare(pa, pb); c != 0 {
		return c
	}
	ia, err1 := strconv.Atoi(na)
	ib, err2 := strconv.Atoi(nb)
	if err1 != nil || err2 != nil {
		return strings.Compare(a, b)
	}
	return ia - ib
}
