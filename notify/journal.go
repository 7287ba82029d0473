package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wneessen/go-mail"

	"github.com/maildesk/maildesk/address"
)

// The trace of sent mail (issue 16): every mail the desk sends is, once the
// relay accepted it, appended to a folder of the desk's own mailbox with
// these header fields, so that what was sent is known when Redis is not
// (restored from an older backup, crashed before its fsync). They are on
// the copy only, never on the mail that goes out.
const (
	// TraceHeaderID is the notification's id ("SD-675/ack").
	TraceHeaderID = "X-Maildesk-Outbox-Id"
	// TraceHeaderKind is its Kind.
	TraceHeaderKind = "X-Maildesk-Kind"
	// TraceHeaderTicket and TraceHeaderTicketKey name the ticket it is
	// about (absent for mail about none).
	TraceHeaderTicket    = "X-Maildesk-Ticket"
	TraceHeaderTicketKey = "X-Maildesk-Ticket-Key"
	// TraceHeaderTo is the recipient's bare address.
	TraceHeaderTo = "X-Maildesk-To"
	// TraceHeaderSentAt is when the relay accepted it (RFC 3339), or when
	// its delivery became uncertain.
	TraceHeaderSentAt = "X-Maildesk-Sent-At"
	// TraceHeaderDelivery is TraceUncertain on the copy of a mail the relay
	// took in full without answering (DeliveryUncertain): it may have been
	// delivered, or not. Absent on the copy of a mail the relay accepted.
	TraceHeaderDelivery = "X-Maildesk-Delivery"
	TraceUncertain      = "uncertain"
)

// TraceCopy is the mail n as the relay accepted it at sentAt (rendered again:
// the same Message-ID, subject and text), with the trace header fields on
// top, to be kept in the desk's mailbox. uncertain: the relay did not
// answer it (sentAt is when that was found), and the copy says so.
func (m *Mailer) TraceCopy(n Notification, sentAt time.Time, uncertain bool) ([]byte, error) {
	msg, err := m.buildMsg(n)
	if err != nil {
		return nil, err
	}
	msg.SetDateWithValue(sentAt)
	delivery := ""
	if uncertain {
		delivery = TraceUncertain
	}
	for _, h := range [][2]string{
		{TraceHeaderID, n.ID}, {TraceHeaderKind, string(n.Kind)}, {TraceHeaderTicket, n.Ticket},
		{TraceHeaderTicketKey, n.TicketKey}, {TraceHeaderTo, address.Bare(n.To)},
		{TraceHeaderSentAt, sentAt.UTC().Format(time.RFC3339)}, {TraceHeaderDelivery, delivery},
	} {
		if h[1] != "" {
			msg.SetGenHeader(mail.Header(h[0]), h[1])
		}
	}
	var b bytes.Buffer
	if _, err := msg.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("trace copy of %q: %w", n.ID, err)
	}
	return b.Bytes(), nil
}

// tracedKey marks that the trace of notification id is kept; the copy of
// an uncertain delivery has its own, so that the copy of the same mail
// accepted later is kept too.
func (o *Outbox) tracedKey(id string, uncertain bool) string {
	if uncertain {
		return o.kp + "traced-uncertain:" + id
	}
	return o.kp + "traced:" + id
}

// Traced reports whether the trace of notification id (of its uncertain
// delivery: uncertain) was kept already: a delivery finished again
// (Delivered after a retry) keeps no second copy.
func (o *Outbox) Traced(ctx context.Context, id string, uncertain bool) (bool, error) {
	n, err := o.rdb.Exists(ctx, o.tracedKey(id, uncertain)).Result()
	if err != nil {
		return false, fmt.Errorf("check trace of %s: %w", id, err)
	}
	return n == 1, nil
}

// MarkTraced records that the trace of notification id (of its uncertain
// delivery: uncertain) is kept.
func (o *Outbox) MarkTraced(ctx context.Context, id string, uncertain bool) error {
	if err := o.rdb.Set(ctx, o.tracedKey(id, uncertain), "1", sentTTL).Err(); err != nil {
		return fmt.Errorf("record trace of %s: %w", id, err)
	}
	return nil
}

// DeliveryRecordAge is how long the outbox remembers a delivery (and so
// how far back the journal compares what was sent with Redis).
const DeliveryRecordAge = sentTTL

// Delivered reports, for each notification id, whether the outbox has its
// delivery on record, in one round trip. uncertain (nil: none) says which
// ids the journal holds the trace of an uncertain delivery of: for those
// the record of that uncertainty counts too.
func (o *Outbox) Delivered(ctx context.Context, ids []string, uncertain []bool) ([]bool, error) {
	out := make([]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	cmds := make([]*redis.IntCmd, len(ids))
	_, err := o.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			if i < len(uncertain) && uncertain[i] {
				cmds[i] = p.Exists(ctx, o.sentKey(id), o.uncertainKey(id))
			} else {
				cmds[i] = p.Exists(ctx, o.sentKey(id))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("check deliveries of %d notifications: %w", len(ids), err)
	}
	for i, c := range cmds {
		out[i] = c.Val() >= 1
	}
	return out, nil
}

// RestoreDelivered puts back the delivery record of a mail the desk sent
// at sentAt (found in the trace): the outbox then finishes an entry of it
// without sending it again, and a bounce of it is still recognised. Its
// trace is marked kept.
func (o *Outbox) RestoreDelivered(ctx context.Context, n Notification, sentAt time.Time) error {
	return o.restore(ctx, n, sentAt, false)
}

// RestoreUncertain puts back the record of a mail whose delivery became
// uncertain at at (found in the trace): the next outbox entry of it,
// queued again by the repair or left from before the loss, waits as
// uncertain from at (for an operator, or resend_uncertain_after) instead
// of being sent blindly, and a bounce of it is still recognised. Its
// trace is marked kept.
func (o *Outbox) RestoreUncertain(ctx context.Context, n Notification, at time.Time) error {
	return o.restore(ctx, n, at, true)
}

// restore is RestoreDelivered and RestoreUncertain: the records of a
// delivery (uncertain or not) at at, while they would still be kept.
func (o *Outbox) restore(ctx context.Context, n Notification, at time.Time, uncertain bool) error {
	what := "delivery"
	if uncertain {
		what = "uncertain delivery"
	}
	left := sentTTL - time.Since(at)
	if left <= 0 {
		return nil
	}
	if n.ID == "" {
		return fmt.Errorf("restore %s: notification without id", what)
	}
	tag, err := o.sentTag(ctx, n)
	if err != nil {
		return err
	}
	stamp := at.UTC().Format(time.RFC3339)
	_, err = o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if uncertain {
			p.SetNX(ctx, o.uncertainKey(n.ID), stamp, left)
			p.SetNX(ctx, o.restoredKey(n.ID), stamp, left)
		} else {
			p.SetNX(ctx, o.sentKey(n.ID), stamp, left)
		}
		p.Set(ctx, o.tracedKey(n.ID, uncertain), "1", left)
		if mailLeft := sentMailTTL - time.Since(at); tag != "" && mailLeft > 0 {
			p.HSet(ctx, o.sentMailKey(tag), sentMailRecord(n, stamp, "")...)
			p.Expire(ctx, o.sentMailKey(tag), mailLeft)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore %s record of %s: %w", what, n.ID, err)
	}
	if uncertain {
		return o.adoptRestored(ctx, n.ID, at)
	}
	return nil
}

// adoptRestored makes an uncertainty of notification nid that a repair put
// back (at: when it became uncertain) the record of each outbox entry of
// it left from before the loss, now rather than at its next claim: an
// entry waiting out the backoff of an earlier failure shows as uncertain
// in `outbox list` meanwhile, and an operator's retry of it is a resend
// (retry_pending.lua), not taken back by that claim. The entry the repair
// queues later takes it over at its claim (uncertaintyOf), which
// restoredKey, kept, tells it. The outbox is read whole: a repair is rare.
func (o *Outbox) adoptRestored(ctx context.Context, nid string, at time.Time) error {
	var ids []string
	if err := o.scan(ctx, o.stream, func(m redis.XMessage) bool {
		if id, _ := m.Values["id"].(string); id == nid {
			ids = append(ids, m.ID)
		}
		return true
	}); err != nil {
		return fmt.Errorf("find the outbox entries of %s: %w", nid, err)
	}
	if len(ids) == 0 {
		return nil
	}
	notes, err := o.rdb.HMGet(ctx, o.errors, ids...).Result()
	if err != nil {
		return fmt.Errorf("read outbox errors %s: %w", o.errors, err)
	}
	b, err := json.Marshal(uncertainty{At: at, Reason: restoredReason})
	if err != nil {
		return fmt.Errorf("restore uncertain delivery of %s: %w", nid, err)
	}
	_, err = o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			p.HSetNX(ctx, o.uncertain, id, string(b))
			// The failure note of its last try gives way, as at the claim;
			// the attempt it counts stays (Entry.Sending).
			if note, _ := notes[i].(string); note != "" {
				p.HSet(ctx, o.errors, id, failureNote(notedAttempt(note), at, uncertainNote+restoredReason))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore uncertain delivery of %s to its outbox entries: %w", nid, err)
	}
	return nil
}

// Held is a Sender that lets Hold keep mail back: while Hold returns an
// error for a notification, sending it fails with that error, a temporary
// failure (the entry waits in the outbox and is tried again).
type Held struct {
	Sender Sender
	Hold   func(n Notification) error
}

// Send sends n unless it is held.
func (h Held) Send(ctx context.Context, n Notification) error {
	if err := h.Hold(n); err != nil {
		return err
	}
	return h.Sender.Send(ctx, n)
}

// Close closes the Sender's connection, when it keeps one.
func (h Held) Close() error {
	if c, ok := h.Sender.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// IsAlarm reports whether k is mail to the desk's operators about the desk
// itself (an unreachable server, an expiring credential): it goes out also
// while mail to customers is held.
func (k Kind) IsAlarm() bool {
	return k == AlarmDown || k == AlarmUp || k == CredentialExpiry
}
