package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// Suppressor knows the mail the desk delivered and stops automatic mail
// to an address whose mail bounced (notify.Outbox).
type Suppressor interface {
	// SentMail returns the mail the desk delivered with Message-ID id,
	// after checking the id's HMAC against the delivery record; ok is
	// false when the desk delivered no such mail.
	SentMail(ctx context.Context, id string) (s notify.SentMail, ok bool, err error)
	Suppress(ctx context.Context, addr string, d time.Duration, reason string) error
}

// maxBounceIDs bounds the ids of a bounce that are looked up: a report
// names one mail, and a hostile one must not cost a lookup per id.
const maxBounceIDs = 4

// bounced handles the report of a bounce of a mail the desk sent: its
// recipient gets no automatic mail for BounceSuppression, and the ticket
// the mail was about records the bounce.
//
// Anyone can send a "bounce", naming any Message-ID of the desk's public
// shape and any addresses. So the bounced id must verify (its HMAC under
// the desk's secret, against the record the delivery kept of it), and only
// the address that mail went to is suppressed: other addresses the report
// lists were never sent that mail, and a report cannot speak for them.
// Anything else changes nothing. Without a Suppressor no bounce can be
// checked, so none is acted on.
//
// It returns the ticket the bounce was recorded on, "" when none.
func (p *Pipeline) bounced(ctx context.Context, m *inbound) (string, error) {
	rep := m.msg.Report
	if rep == nil || p.Suppress == nil {
		return "", nil
	}
	var (
		sent  notify.SentMail
		found bool
		tried int
	)
	for _, id := range append([]string{rep.OriginalMessageID}, m.msg.InReplyTo...) {
		if !p.ownMessageID(id) {
			continue
		}
		if tried++; tried > maxBounceIDs {
			break
		}
		s, ok, err := p.Suppress.SentMail(ctx, id)
		if err != nil {
			return "", err
		}
		if ok {
			sent, found = s, true
			break
		}
	}
	if !found {
		m.log.Info("bounce of no mail the desk sent (unknown or forged Message-ID): ignored", "original", truncate(rep.OriginalMessageID, 200))
		return "", nil
	}
	var (
		failed *ReportRecipient
		others int
		other  string
	)
	for i, r := range rep.Recipients {
		switch {
		case !r.Failed() || r.Address == "":
		case strings.EqualFold(r.Address, sent.To):
			if failed == nil {
				failed = &rep.Recipients[i]
			}
		default:
			if others++; other == "" {
				other = r.Address
			}
		}
	}
	if others > 0 {
		m.log.Warn("bounce lists addresses the bounced mail was not sent to: not suppressed",
			"original", sent.MessageID, "sent_to", sent.To, "others", others, "first", truncate(other, 200))
	}
	if failed == nil {
		return "", nil
	}
	// The report's words are the reporting server's (or its forger's):
	// bounded before they are stored.
	status, diag := truncate(failed.Status, 40), truncate(failed.Diagnostic, 500)
	why := strings.TrimSpace("bounced " + m.now.UTC().Format(time.RFC3339) + ": " + status + " " + diag)
	if err := p.Suppress.Suppress(ctx, sent.To, p.bounceSuppression(), why); err != nil {
		return "", err
	}
	m.log.Warn("mail to recipient bounced: automatic mail suppressed", "recipient", sent.To, "status", failed.Status, "for", p.bounceSuppression())
	if p.Threads == nil || sent.Ticket == "" {
		return "", nil
	}
	text := fmt.Sprintf("Delivery failed for mail <%s> to %s (%s %s)", sent.MessageID, sent.To, status, diag)
	if sent.SentWhileSuppressed != "" {
		text += "; it was an agent's reply, sent although automatic mail to that address was suppressed (" + sent.SentWhileSuppressed + ")"
	}
	_, err := p.Threads.Append(ctx, m.dedupe, sent.Ticket, ticket.Event{
		At: m.now, Kind: ticket.EventBounce, From: truncate(m.msg.From.Address, 254), MessageID: m.msg.MessageID, Subject: m.msg.Subject,
		Text: text,
	})
	if errors.Is(err, ticket.ErrNotFound) {
		// The ticket is gone (deleted by hand): the suppression stands, the
		// bounce is filed as machine mail. Failing here would fail this
		// mail on every try and hold up the mailbox.
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return sent.Ticket, nil
}

// ownMessageID: the desk's own outgoing ids carry ".maildesk." and its domain.
func (p *Pipeline) ownMessageID(id string) bool {
	return id != "" && p.Own.MessageIDDomain != "" && strings.Contains(id, ".maildesk.") &&
		strings.HasSuffix(strings.ToLower(id), "@"+strings.ToLower(p.Own.MessageIDDomain))
}

func (p *Pipeline) bounceSuppression() time.Duration {
	if p.BounceSuppression > 0 {
		return p.BounceSuppression
	}
	return 72 * time.Hour
}
