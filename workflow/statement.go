package workflow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/maildesk/maildesk/billing"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ticket"
)

// Statements makes customers' monthly statements from the time recorded
// on their tickets (billing.Plan.Statement), for `maildesk billing
// statement` and the API alike.
type Statements struct {
	Store *ticket.Store
	Rules *billing.Rules
	// Customer looks up a customer in the current directory.
	Customer func(id string) *config.Customer
	// Desk is desk.name, Language desk.language.
	Desk, Language string
	Now            func() time.Time
}

// Make is customer's statement for month m, and the language to write it
// in: its main contact's, else the desk's. An unknown customer is
// ErrNotFound, one whose plan has no billing ErrInvalid.
func (s *Statements) Make(ctx context.Context, customer string, m billing.Month) (billing.Statement, string, error) {
	var c *config.Customer
	if s.Customer != nil {
		c = s.Customer(customer)
	}
	if c == nil {
		return billing.Statement{}, "", fmt.Errorf("statement: %w: unknown customer %q", ErrNotFound, customer)
	}
	p, err := s.Rules.Plan(c.PlanName())
	if errors.Is(err, billing.ErrNoBilling) {
		return billing.Statement{}, "", fmt.Errorf("statement of %s: %w: %w", c.ID, ErrInvalid, err)
	}
	if err != nil {
		return billing.Statement{}, "", fmt.Errorf("statement of %s: %w", c.ID, err)
	}
	from, to := m.Bounds(p.Location())
	numbers, err := s.Store.TimeTickets(ctx, c.ID, from, to)
	if err != nil {
		return billing.Statement{}, "", err
	}
	tickets := make([]billing.Ticket, 0, len(numbers))
	for _, n := range numbers {
		t, err := s.Store.Get(ctx, n)
		if errors.Is(err, ticket.ErrNotFound) {
			// Time indexed for a ticket that is gone (removed by
			// retention) cannot be priced without its type: skip it.
			continue
		}
		if err != nil {
			return billing.Statement{}, "", err
		}
		recs, err := s.Store.TimeRecords(ctx, n)
		if err != nil {
			return billing.Statement{}, "", err
		}
		tickets = append(tickets, BillingTicket(t, recs))
	}
	st := p.Statement(c, m, tickets)
	st.Desk = s.Desk
	if s.Now != nil {
		st.MadeAt = s.Now()
	} else {
		st.MadeAt = time.Now()
	}
	lang := s.Language
	if mc := c.MainContact(); mc != nil {
		lang = cmp.Or(mc.Language, lang)
	}
	return st, cmp.Or(lang, "en"), nil
}

// BillingTicket is t with its time records as package billing prices
// them; void records count nowhere.
func BillingTicket(t *ticket.Ticket, recs []ticket.TimeRecord) billing.Ticket {
	bt := billing.Ticket{Number: t.Number, Subject: t.Subject, Type: t.Type, Priority: t.Priority, Channel: t.Channel}
	for _, r := range recs {
		if r.VoidedAt != nil {
			continue
		}
		bt.Records = append(bt.Records, billing.Record{ID: r.ID, Agent: r.Agent, Start: r.Start, Minutes: r.Minutes,
			Activity: r.Activity, Billable: r.Billable, Note: r.Note})
	}
	return bt
}

// ParseDuration reads the length of a piece of work as agents write it:
// a Go duration ("45m", "1h30m", "2h") or hours and minutes ("1:30").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if h, m, ok := strings.Cut(s, ":"); ok && len(m) == 2 && h != "" && len(h) <= 2 {
		if d, err := time.ParseDuration(h + "h" + m + "m"); err == nil && d >= 0 && !strings.ContainsAny(h+m, "+-.") {
			return d, nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && len(s) <= 16 {
		return d, nil
	}
	return 0, fmt.Errorf("%w: %q is no duration: write 45m, 1h30m or 1:30", ErrInvalid, s)
}
