package ingest

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"

	"github.com/maildesk/maildesk/ticket"
)

// Threads is the part of the ticket store that threading needs.
type Threads interface {
	FindByMessageID(ctx context.Context, ids ...string) (string, error)
	Get(ctx context.Context, number string) (*ticket.Ticket, error)
	Append(ctx context.Context, dedupe, number string, e ticket.Event) (ticket.Result, error)
}

// tagPattern matches the desk's subject tag ("[SD-12]") anywhere in a
// subject, whatever prefixes (Re:, AW:, Antw:, Fwd:, Doorst:) came before.
func tagPattern(prefix string) *regexp.Regexp {
	return regexp.MustCompile(`(?i)\[\s*` + regexp.QuoteMeta(prefix) + `\s*-\s*(\d{1,12})\s*\]`)
}

// findTicket returns the existing ticket a mail follows up on, or nil. The
// threading headers are tried before the subject tag: they cannot be typed
// wrong, and the desk knows every id it has seen or sent.
func (p *Pipeline) findTicket(ctx context.Context, msg *Message) (*ticket.Ticket, error) {
	ids := make([]string, 0, 1+len(msg.References))
	ids = append(ids, msg.InReplyTo...)
	// Newest reference first: in a long thread it is the closest.
	refs := slices.Clone(msg.References)
	slices.Reverse(refs)
	ids = append(ids, refs...)
	number, err := p.Threads.FindByMessageID(ctx, ids...)
	if err != nil {
		return nil, err
	}
	if number == "" && p.tag != nil {
		if m := p.tag.FindStringSubmatch(msg.Subject); m != nil {
			number = strings.ToUpper(p.TicketPrefix) + "-" + strings.TrimLeft(m[1], "0")
		}
	}
	if number == "" {
		return nil, nil
	}
	t, err := p.Threads.Get(ctx, number)
	if errors.Is(err, ticket.ErrNotFound) {
		// A tag of a ticket that does not exist (a typo, another desk's
		// prefix): judge the mail as new.
		return nil, nil
	}
	return t, err
}

// mayFollowUp: only the ticket's customer's contacts and its participants
// may add to it; anyone else quoting a tag is judged as a new mail.
func (p *Pipeline) mayFollowUp(t *ticket.Ticket, sender string) bool {
	if strings.EqualFold(sender, t.Contact) {
		return true
	}
	d := p.Authz.Decide(sender)
	return d.Authorised && d.Customer.ID == t.Customer
}
