package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/maildesk/maildesk/ticket"
)

// Suppressor stops automatic mail to an address whose mail bounced
// (notify.Outbox).
type Suppressor interface {
	Suppress(ctx context.Context, addr string, d time.Duration, reason string) error
}

// bounced handles the report of a bounce of a mail the desk sent: the
// failed recipients get no automatic mail for BounceSuppression, and the
// ticket the mail was about records the bounce. A bounce of mail the desk
// did not send (backscatter of forged mail) changes nothing: anyone can
// send a "bounce" naming any address.
//
// It returns the ticket the bounce was recorded on, "" when none.
func (p *Pipeline) bounced(ctx context.Context, m *inbound) (string, error) {
	rep := m.msg.Report
	if rep == nil {
		return "", nil
	}
	ids := append([]string{rep.OriginalMessageID}, m.msg.InReplyTo...)
	var orig string
	for _, id := range ids {
		if p.ownMessageID(id) {
			orig = id
			break
		}
	}
	if orig == "" {
		m.log.Info("bounce of a mail the desk did not send: ignored", "original", rep.OriginalMessageID)
		return "", nil
	}
	var failed []string
	for _, r := range rep.Recipients {
		if !r.Failed() || r.Address == "" {
			continue
		}
		why := strings.TrimSpace("bounced " + m.now.UTC().Format(time.RFC3339) + ": " + r.Status + " " + r.Diagnostic)
		if p.Suppress != nil {
			if err := p.Suppress.Suppress(ctx, r.Address, p.bounceSuppression(), why); err != nil {
				return "", err
			}
		}
		failed = append(failed, fmt.Sprintf("%s (%s %s)", r.Address, r.Status, r.Diagnostic))
		m.log.Warn("mail to recipient bounced: automatic mail suppressed", "recipient", r.Address, "status", r.Status, "for", p.bounceSuppression())
	}
	if len(failed) == 0 || p.Threads == nil {
		return "", nil
	}
	number, err := p.Threads.FindByMessageID(ctx, orig)
	if err != nil || number == "" {
		return "", err
	}
	_, err = p.Threads.Append(ctx, m.dedupe, number, ticket.Event{
		At: m.now, Kind: ticket.EventBounce, From: m.msg.From.Address, MessageID: m.msg.MessageID,
		Subject: m.msg.Subject, Text: "Delivery failed for mail <" + orig + "> to " + strings.Join(failed, ", "),
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
	return number, nil
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
