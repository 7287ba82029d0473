package access

import (
	"context"
	"errors"

	"github.com/maildesk/maildesk/address"
	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// Mailer makes the links the desk's mails carry (notify.Delivery
// StatusLink): a status link for each recipient of a ticket's
// acknowledgement, progress mail and agent's reply, a sign-in link for a
// SignIn mail.
type Mailer struct {
	Store *Store
	// PublicURL is http.public_url; "" makes no links.
	PublicURL string
	Plans     map[string]config.Plan
	Tickets   interface {
		Get(ctx context.Context, number string) (*ticket.Ticket, error)
	}
	// Authz judges the recipient now (authz.Live): only an authorised
	// contact of the ticket's customer, on a plan with status links, gets
	// one.
	Authz interface {
		Decide(addr string) authz.Decision
	}
}

// Link is the link n carries, "" for none.
func (m *Mailer) Link(ctx context.Context, n notify.Notification) (string, error) {
	if m.PublicURL == "" || !n.Kind.StatusLink() {
		return "", nil
	}
	addr := address.Bare(n.To)
	if n.Kind == notify.SignIn {
		// The page checked who may sign in when it queued the mail; the
		// directory may have changed since, so again.
		if _, ok := m.mayHaveLinks(addr, ""); !ok {
			return "", nil
		}
		secret, err := m.Store.SignIn(ctx, addr)
		if err != nil {
			return "", err
		}
		return SignInURL(m.PublicURL, secret), nil
	}
	t, err := m.Tickets.Get(ctx, n.Ticket)
	if errors.Is(err, ticket.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if _, ok := m.mayHaveLinks(addr, t.Customer); !ok {
		return "", nil
	}
	secret, err := m.Store.Mint(ctx, t.Number, addr)
	if err != nil {
		return "", err
	}
	return StatusURL(m.PublicURL, secret), nil
}

// mayHaveLinks reports whether addr is an authorised contact (of customer,
// when not "") on a plan with status links, and its decision.
func (m *Mailer) mayHaveLinks(addr, customer string) (authz.Decision, bool) {
	return MayHaveLinks(m.Authz.Decide(addr), m.Plans, customer)
}

// MayHaveLinks reports whether the sender of decision d may see tickets
// through links: authorised, a contact of customer (any, when ""), whose
// plan gives status links. The pages ask it at every request, so that a
// contact removed from the directory, or a plan switched off, ends every
// link at once.
func MayHaveLinks(d authz.Decision, plans map[string]config.Plan, customer string) (authz.Decision, bool) {
	if !d.Authorised || d.Customer == nil || (customer != "" && d.Customer.ID != customer) {
		return d, false
	}
	return d, plans[d.Customer.PlanName()].StatusLinks()
}
