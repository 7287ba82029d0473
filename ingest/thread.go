package ingest

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/mailparse"
	"github.com/maildesk/maildesk/ticket"
)

// Threads is the part of the ticket store that threading needs.
type Threads interface {
	FindByMessageID(ctx context.Context, ids ...string) (string, error)
	Get(ctx context.Context, number string) (*ticket.Ticket, error)
	Append(ctx context.Context, dedupe, number string, e ticket.Event) (ticket.Result, error)
	// Apply changes a ticket (a customer's reply reopening it); false when
	// c.Dedupe was applied before.
	Apply(ctx context.Context, number string, c ticket.Change, notes [][]string) (bool, error)
}

// clockResumer is a ClockStarter that can also restart a paused clock.
type clockResumer interface {
	Resume(ctx context.Context, number string, at time.Time) error
}

// tagPattern matches the desk's subject tag ("[SD-12]") anywhere in a
// subject, whatever prefixes (Re:, AW:, Antw:, Fwd:, Doorst:) came before.
func tagPattern(prefix string) *regexp.Regexp {
	return regexp.MustCompile(`(?i)\[\s*` + regexp.QuoteMeta(prefix) + `\s*-\s*(\d{1,12})\s*\]`)
}

// findTicket returns the existing ticket a mail follows up on, or nil. The
// threading headers are tried before the subject tag: they cannot be typed
// wrong, and the desk knows every id it has seen or sent.
func (p *Pipeline) findTicket(ctx context.Context, m *inbound) (*ticket.Ticket, error) {
	msg := m.msg
	ids := make([]string, 0, 1+len(msg.References))
	ids = append(ids, msg.InReplyTo...)
	// Newest reference first: in a long thread it is the closest.
	refs := slices.Clone(msg.References)
	slices.Reverse(refs)
	ids = append(ids, refs...)
	var number string
	if len(ids) > 0 {
		// Only a mail with ids to look up waits for its turn at Redis
		// here: most new mail has none, and is committed with the mails
		// around it in one round trip.
		var err error
		if number, err = m.threads.FindByMessageID(ctx, ids...); err != nil {
			return nil, err
		}
	}
	if number == "" && p.tag != nil {
		if m := p.tag.FindStringSubmatch(msg.Subject); m != nil {
			number = strings.ToUpper(p.TicketPrefix) + "-" + strings.TrimLeft(m[1], "0")
		}
	}
	if number == "" {
		return nil, nil
	}
	t, err := m.threads.Get(ctx, number)
	if errors.Is(err, ticket.ErrNotFound) {
		// A tag of a ticket that does not exist (a typo, another desk's
		// prefix): judge the mail as new.
		return nil, nil
	}
	return t, err
}

// mayFollowUp: only those the directory authorises for the ticket's
// customer now may add to it; anyone else quoting a tag (a stranger, or a
// contact since removed, even the one who opened it) is judged as a new
// mail. Being the ticket's contact or a participant once is no lasting
// right: removing a contact must end their access.
func mayFollowUp(t *ticket.Ticket, d authz.Decision) bool {
	return d.Authorised && d.Customer != nil && d.Customer.ID == t.Customer
}

func (p *Pipeline) initTag() {
	p.tagOnce.Do(func() {
		if p.TicketPrefix != "" {
			p.tag = tagPattern(p.TicketPrefix)
		}
	})
}

// followUp appends m to the ticket it follows up on: a reply, or an
// auto-reply (recorded, changing nothing). ok is false when m follows up
// on nothing its sender may add to: it is then judged as a new mail.
//
// A reply (a person's, or a monitoring system's) on a ticket the desk
// waits on or resolved lately puts it back in progress; on a closed one,
// or one resolved more than ReopenDays ago, ok is false and m.linkTo is
// set: the mail starts a new ticket that links to the old one. Feature
// requests are closed when made: replies on them are only recorded.
func (p *Pipeline) followUp(ctx context.Context, m *inbound) (res Result, ok bool, err error) {
	res.MessageID = m.msg.MessageID
	if m.class != Human && m.class != Generated && m.class != AutoReply {
		return res, false, nil
	}
	p.initTag()
	t, err := p.findTicket(ctx, m)
	if err != nil || t == nil || !mayFollowUp(t, m.decision) {
		return res, false, err
	}
	reply := m.class != AutoReply
	if reply && t.Type != ticket.TypeFeatureRequest && p.finished(t, m) {
		m.linkTo = t.Number
		return res, false, nil
	}
	kind := ticket.EventReply
	if !reply {
		kind = ticket.EventAutoReply
	}
	fresh, quoted := mailparse.SplitQuoted(m.msg.Text)
	src := m.src
	cr, err := m.threads.Append(ctx, m.dedupe, t.Number, ticket.Event{
		At: m.now, Kind: kind, From: m.msg.From.Address, MessageID: m.msg.MessageID,
		Subject: m.msg.Subject, Text: fresh, Quoted: quoted, Source: &src, Attachments: storedAttachments(m.msg),
		Channel: m.channel(),
	})
	if errors.Is(err, ticket.ErrNotFound) {
		// Deleted between lookup and append: judge the mail as new rather
		// than fail it on every try.
		return res, false, nil
	}
	if err != nil {
		return res, false, err
	}
	if reply && t.Type == ticket.TypeFeatureRequest && t.Status == ticket.StatusClosed {
		// The customer may be saying it is no feature request at all (the
		// desk designates them, Kwikqy 2.5): put it in front of the agents
		// (the dashboard, and a mail to each) rather than only recording
		// it. Idempotent by its own key, mails included; machine mail
		// tells nobody.
		var notes [][]string
		if m.class == Human {
			notes = p.featureReplyNotes(t, m, fresh)
		}
		applied, err := m.threads.Apply(ctx, t.Number, featureReplyChange(t, m.msg.From.Address, m.msg.MessageID, m.dedupe, m.now), notes)
		if err != nil && !errors.Is(err, ticket.ErrNotFound) {
			return res, false, err
		}
		if applied {
			m.log.Info("reply on a closed feature request put in front of the agents", "ticket", t.Number, "mailed", len(notes))
			if m.class == Human && len(notes) == 0 {
				m.log.Warn("no desk.agents to mail about a reply on a closed feature request: it shows on the dashboard only", "ticket", t.Number)
			}
		}
	}
	if reply && t.Type != ticket.TypeFeatureRequest {
		// Also after a replayed append: the step has its own key, so that a
		// crash between the two leaves nothing undone and nothing twice.
		if err := p.resume(ctx, m, t); err != nil {
			return res, false, err
		}
		if m.class == Human {
			// A person's reply waits for an agent: the dashboard shows it
			// first until an agent acts on the ticket (reply, note, change).
			_, err := m.threads.Apply(ctx, t.Number, ticket.Change{At: m.now, NeedsAgent: true, Dedupe: m.dedupe + " #needs-agent"}, nil)
			if err != nil && !errors.Is(err, ticket.ErrNotFound) {
				return res, false, err
			}
		}
	}
	res.Outcome, res.Ticket, res.Replay, res.FollowUp, res.Class = Processed, t.Number, !cr.Created, true, m.class
	return res, true, nil
}

// finished: a reply on t must start a new ticket, t being closed or
// resolved too long ago (or ReopenDays being 0).
func (p *Pipeline) finished(t *ticket.Ticket, m *inbound) bool {
	switch t.Status {
	case ticket.StatusClosed:
		return true
	case ticket.StatusResolved:
		return p.ReopenDays <= 0 || t.ResolvedAt == nil || m.now.Sub(*t.ResolvedAt) > time.Duration(p.ReopenDays)*24*time.Hour
	}
	return false
}

// resume puts t back in progress after the customer's reply when the desk
// was waiting for them or had resolved it, and restarts its SLA clock.
// It is idempotent on the mail: a replay changes nothing.
func (p *Pipeline) resume(ctx context.Context, m *inbound, t *ticket.Ticket) error {
	for attempt := 0; ; attempt++ {
		if t.Status != ticket.StatusWaitingCustomer && t.Status != ticket.StatusResolved {
			return nil
		}
		why := "the customer replied"
		if t.Status == ticket.StatusResolved {
			why = "reopened by the customer's reply"
		}
		applied, err := m.threads.Apply(ctx, t.Number, ticket.Change{
			At: m.now, ExpectStatus: t.Status, Status: ticket.StatusInProgress, Dedupe: m.dedupe + " #reopen",
			Event: &ticket.Event{At: m.now, Kind: ticket.EventChange, From: m.msg.From.Address, MessageID: m.msg.MessageID,
				Changes: []ticket.FieldChange{{Field: "status", Old: t.Status, New: ticket.StatusInProgress, Reason: why}}},
		}, nil)
		switch {
		case errors.Is(err, ticket.ErrConflict) && attempt < 2:
			// An agent changed it meanwhile: judge its new status.
			if t, err = m.threads.Get(ctx, t.Number); err != nil {
				return err
			}
			continue
		case errors.Is(err, ticket.ErrConflict), errors.Is(err, ticket.ErrNotFound):
			// The reply is recorded; the ticket is someone else's business now.
			m.log.Warn("reply recorded, status left as it is", "ticket", t.Number, "err", err)
			return nil
		case err != nil:
			return err
		}
		if !applied {
			return nil
		}
		m.log.Info("customer's reply puts the ticket back in progress", "ticket", t.Number, "was", t.Status)
		if c := m.resumer; c != nil && t.SLA != nil {
			// The change is made; a clock left paused is logged, not retried
			// (the mail is done): the next status change sets it right.
			if err := c.Resume(ctx, t.Number, m.now); err != nil {
				m.log.Error("SLA clock not resumed", "ticket", t.Number, "err", err)
			}
		}
		return nil
	}
}
