package notify

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/maildesk/maildesk/ticket"
)

// SentTickets records what a delivered mail means for its ticket
// (ticket.Store).
type SentTickets interface {
	RecordSent(ctx context.Context, messageID, number string) error
	MarkAcknowledged(ctx context.Context, number string, at time.Time) error
}

// MessageIDs gives the Message-ID a notification is sent with (Mailer).
type MessageIDs interface {
	MessageID(n Notification) (string, error)
}

// MessageID is the Message-ID n is sent with, under the desk's secret as
// the Mailer has it.
func (m *Mailer) MessageID(n Notification) (string, error) {
	return MessageID(m.desk, n)
}

// SentBook is the bookkeeping of delivered mail: a reply to it threads by
// its Message-ID, and an acknowledgement is done.
type SentBook struct {
	Tickets SentTickets
	IDs     MessageIDs
	// Now is the business clock an acknowledgement is dated by.
	Now func() time.Time
	Log *slog.Logger
}

// Record records the delivery of n for its ticket. It is safe to repeat
// (Delivery.Delivered is called again after an error).
func (b SentBook) Record(ctx context.Context, n Notification) error {
	if n.Ticket == "" {
		return nil
	}
	id, err := b.IDs.MessageID(n)
	if err != nil {
		// Not something a retry changes: threading by this id is lost.
		b.Log.Warn("cannot compute message id of sent mail", "ticket", n.Ticket, "notification", n.ID, "err", err)
	} else if err := b.Tickets.RecordSent(ctx, id, n.Ticket); err != nil {
		return err
	}
	if n.Kind == Ack {
		if err := b.Tickets.MarkAcknowledged(ctx, n.Ticket, b.Now()); err != nil && !errors.Is(err, ticket.ErrNotFound) {
			return err
		}
	}
	return nil
}
