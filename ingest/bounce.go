package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/maildesk/maildesk/mailparse"
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

// maxBounceIDs bounds the ids of a bounce or feedback report that are
// looked up: a report names one mail, and a hostile one must not cost a
// lookup per id.
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
// The report names that address as the Final-Recipient, or, when the
// receiving side forwarded or aliased it, as the Original-Recipient with
// the address it ended at as the Final-Recipient: either is the mail the
// desk sent failing. Anything else changes nothing. Without a Suppressor
// no bounce can be checked, so none is acted on.
//
// It returns the ticket the bounce was recorded on, "" when none.
func (p *Pipeline) bounced(ctx context.Context, m *inbound) (string, error) {
	rep := m.msg.Report
	if rep == nil || m.suppress == nil {
		return "", nil
	}
	sent, found, err := p.reportedMail(ctx, m, rep.OriginalMessageID)
	if err != nil || !found {
		return "", err
	}
	var (
		failed *mailparse.ReportRecipient
		others int
		other  string
	)
	for i, r := range rep.Recipients {
		switch {
		case !r.Failed() || r.Address == "":
		case strings.EqualFold(r.Address, sent.To) || strings.EqualFold(r.Original, sent.To):
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
	if err := m.suppress.Suppress(ctx, sent.To, p.BounceSuppression, why); err != nil {
		return "", err
	}
	m.log.Warn("mail to recipient bounced: automatic mail suppressed", "recipient", sent.To, "status", failed.Status, "for", p.BounceSuppression)
	text := fmt.Sprintf("Delivery failed for mail <%s> to %s (%s %s)", sent.MessageID, sent.To, status, diag)
	if failed.Address != sent.To {
		text += "; it was forwarded there to " + truncate(failed.Address, maxStoredAddress)
	}
	return p.recordReport(ctx, m, sent, ticket.EventBounce, text)
}

// complained handles an abuse or feedback report (ARF) about a mail the
// desk sent: the recipient complained (reported it as spam, or abuse), so
// they get no automatic mail for BounceSuppression, as after a hard
// bounce, and the ticket the mail was about records the complaint. The
// report is checked like a bounce (bounced): the complained-of mail's id
// must verify, and a report that names recipients must name the one the
// mail went to (many leave them out for the complainant's privacy; the
// verified id alone then says who received the mail).
//
// It returns the ticket the complaint was recorded on, "" when none.
func (p *Pipeline) complained(ctx context.Context, m *inbound) (string, error) {
	rep := m.msg.Feedback
	if rep == nil || m.suppress == nil {
		return "", nil
	}
	sent, found, err := p.reportedMail(ctx, m, rep.OriginalMessageID)
	if err != nil || !found {
		return "", err
	}
	if len(rep.Recipients) > 0 && !slices.ContainsFunc(rep.Recipients, func(a string) bool { return strings.EqualFold(a, sent.To) }) {
		m.log.Warn("feedback report names addresses the reported mail was not sent to: not suppressed",
			"original", sent.MessageID, "sent_to", sent.To, "first", truncate(rep.Recipients[0], 200))
		return "", nil
	}
	kind := truncate(cmp.Or(rep.Type, "unspecified"), 40)
	why := "complaint " + m.now.UTC().Format(time.RFC3339) + ": feedback type " + kind + " from " + truncate(m.msg.From.Address, maxStoredAddress)
	if err := m.suppress.Suppress(ctx, sent.To, p.BounceSuppression, why); err != nil {
		return "", err
	}
	m.log.Warn("recipient reported the desk's mail (feedback report): automatic mail suppressed", "recipient", sent.To, "feedback_type", kind, "for", p.BounceSuppression)
	text := fmt.Sprintf("Complaint (feedback type %s) about mail <%s> to %s, reported by %s", kind, sent.MessageID, sent.To, truncate(m.msg.From.Address, maxStoredAddress))
	return p.recordReport(ctx, m, sent, ticket.EventComplaint, text)
}

// reportedMail finds the mail the desk sent that a bounce or feedback
// report is about: the first id that is the desk's and verifies, of the
// report's original and the ids the report answers. ok is false when none
// does (the report is about another mail, or forged).
func (p *Pipeline) reportedMail(ctx context.Context, m *inbound, original string) (notify.SentMail, bool, error) {
	tried := 0
	for _, id := range append([]string{original}, m.msg.InReplyTo...) {
		if !notify.DeskShapedMessageID(id, p.Own.MessageIDDomain) {
			continue
		}
		if tried++; tried > maxBounceIDs {
			break
		}
		s, ok, err := m.suppress.SentMail(ctx, id)
		if err != nil {
			return notify.SentMail{}, false, err
		}
		if ok {
			return s, true, nil
		}
	}
	m.log.Info("report about no mail the desk sent (unknown or forged Message-ID): ignored", "class", m.class.String(), "original", truncate(original, 200))
	return notify.SentMail{}, false, nil
}

// recordReport records a bounce or complaint on the ticket the sent mail
// was about; it returns that ticket, "" when there is none.
func (p *Pipeline) recordReport(ctx context.Context, m *inbound, sent notify.SentMail, kind, text string) (string, error) {
	if m.threads == nil || sent.Ticket == "" {
		return "", nil
	}
	if sent.SentWhileSuppressed != "" {
		text += "; it was an agent's reply, sent although automatic mail to that address was suppressed (" + sent.SentWhileSuppressed + ")"
	}
	_, err := m.threads.Append(ctx, m.dedupe, sent.Ticket, ticket.Event{
		At: m.now, Kind: kind, From: truncate(m.msg.From.Address, 254), MessageID: m.msg.MessageID, Subject: m.msg.Subject,
		Text: text,
	})
	if errors.Is(err, ticket.ErrNotFound) {
		// The ticket is gone (deleted by hand): the suppression stands, the
		// report is filed as machine mail. Failing here would fail this
		// mail on every try and hold up the mailbox.
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return sent.Ticket, nil
}
