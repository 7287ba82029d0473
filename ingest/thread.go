package ingest

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"

	"github.com/maildesk/maildesk/authz"
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
func mayFollowUp(t *ticket.Ticket, sender string, d authz.Decision) bool {
	if strings.EqualFold(sender, t.Contact) || slices.ContainsFunc(t.Participants, func(p string) bool { return strings.EqualFold(p, sender) }) {
		return true
	}
	return d.Authorised && d.Customer.ID == t.Customer
}

// followUp appends m to the ticket it follows up on: a reply, or an
// auto-reply (recorded, changing nothing). ok is false when m follows up
// on nothing its sender may add to: it is then judged as a new mail.
func (p *Pipeline) followUp(ctx context.Context, m *inbound) (res Result, ok bool, err error) {
	res.MessageID = m.msg.MessageID
	if m.class != Human && m.class != Generated && m.class != AutoReply {
		return res, false, nil
	}
	p.tagOnce.Do(func() {
		if p.TicketPrefix != "" {
			p.tag = tagPattern(p.TicketPrefix)
		}
	})
	t, err := p.findTicket(ctx, m.msg)
	if err != nil || t == nil || !mayFollowUp(t, m.msg.From.Address, m.decision) {
		return res, false, err
	}
	kind := ticket.EventReply
	if m.class == AutoReply {
		kind = ticket.EventAutoReply
	}
	fresh, quoted := SplitQuoted(m.msg.Text)
	src := m.src
	cr, err := p.Threads.Append(ctx, m.dedupe, t.Number, ticket.Event{
		At: m.now, Kind: kind, From: m.msg.From.Address, MessageID: m.msg.MessageID,
		Subject: m.msg.Subject, Text: fresh, Quoted: quoted, Source: &src,
	})
	if errors.Is(err, ticket.ErrNotFound) {
		// Deleted between lookup and append: judge the mail as new rather
		// than fail it on every try.
		return res, false, nil
	}
	if err != nil {
		return res, false, err
	}
	res.Outcome, res.Ticket, res.Replay, res.FollowUp, res.Class = Processed, t.Number, !cr.Created, true, m.class
	return res, true, nil
}
