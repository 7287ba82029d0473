package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/address"
)

// settle deals with the Sender's answer: a delivered notification is
// recorded, then what it means (Delivered), then it leaves the outbox; a
// refused one is dead-lettered; one the relay did not answer after the
// whole message went out is kept, marked uncertain; any other failure is
// retried with backoff until MaxAge, then dead-lettered.
func (d *Delivery) settle(ctx context.Context, o *outgoing) (bool, error) {
	return true, d.outcome(ctx, o)
}

func (d *Delivery) outcome(ctx context.Context, o *outgoing) error {
	m, n, attempt, st, log, err := o.m, o.n, o.attempt, o.st, o.log, o.sendErr
	tag, why, unc := o.tag, o.why, o.unc
	sentKey := d.Outbox.sentKey(n.ID)
	switch {
	case err == nil:
		st.Sent++
		log.Info("notification delivered", "attempt", attempt)
		if d.Accepted != nil {
			d.Accepted(ctx, n)
		}
		// The record first, so that a crash from here on never sends again;
		// then what the delivery means (a ticket acknowledged); only then
		// the entry goes, so that nothing of it is lost to a crash between.
		// The record of what went to whom comes with it: a bounce of this
		// mail may suppress its recipient and nobody else.
		at := d.Now().UTC().Format(time.RFC3339)
		recordTx := func(p redis.Pipeliner) error {
			p.Set(ctx, sentKey, at, sentTTL)
			d.recordSentMail(ctx, p, tag, n, at, why)
			return nil
		}
		if err := d.recordSent(ctx, log, func() error { return txError(d.Outbox.rdb.TxPipelined(ctx, recordTx)) }); err != nil {
			return fmt.Errorf("record delivery of %s: %w", n.ID, err)
		}
		if err := d.delivered(ctx, n); err != nil {
			log.Warn("notification delivered, but what it means for its ticket is not recorded yet; will retry", "err", err)
			return d.noteFailure(ctx, m, attempt, "recording the delivery: "+err.Error())
		}
		if _, err := d.Outbox.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.XAck(ctx, d.Outbox.stream, d.Outbox.group, m.ID)
			p.XDel(ctx, d.Outbox.stream, m.ID)
			p.HDel(ctx, d.Outbox.errors, m.ID)
			p.HDel(ctx, d.Outbox.uncertain, m.ID)
			return nil
		}); err != nil {
			return fmt.Errorf("finish delivered outbox entry %s (%s): %w", m.ID, n.ID, err)
		}
		return nil
	case IsPermanent(err):
		st.Dead++
		log.Error("notification refused permanently, dead-lettered", "err", err, "attempt", attempt)
		if RecipientRefused(err) && d.RefusedSuppression > 0 {
			if serr := d.Outbox.Suppress(ctx, n.To, d.RefusedSuppression, "refused by the relay: "+err.Error()); serr != nil {
				log.Error("could not suppress refused recipient", "err", serr)
			}
		}
		return d.finish(ctx, m, n, err.Error())
	case DeliveryUncertain(err):
		st.Uncertain++
		log.Error("notification delivery uncertain: the relay did not answer the end of the message; not sending it again by itself",
			"err", err, "attempt", attempt, "resend_after", d.ResendUncertain, "resent_before", unc.Resent)
		u := uncertainty{At: d.Now(), Reason: err.Error(), Resent: unc.Resent}
		if d.Uncertain != nil {
			u.Untraced = d.Uncertain(ctx, n, u.At) != nil
		}
		return d.markUncertain(ctx, m, n, attempt, u, tag, why)
	case d.Now().Sub(streamTime(m.ID)) > d.MaxAge:
		st.Dead++
		log.Error("notification still failing after max age, dead-lettered", "err", err, "attempt", attempt)
		return d.finish(ctx, m, n, "gave up after "+d.MaxAge.String()+": "+err.Error())
	default:
		st.Failed++
		log.Warn("notification delivery failed, will retry", "err", err, "attempt", attempt, "next_in", d.wait(m.ID, attempt))
		return d.noteFailure(ctx, m, attempt, err.Error())
	}
}

// recordSentMail adds the record of a mail that went out, for its bounces
// (SentMail), to p; nothing when the desk has no Message-ID key (tag "").
func (d *Delivery) recordSentMail(ctx context.Context, p redis.Pipeliner, tag string, n Notification, at, suppressed string) {
	if tag == "" {
		return
	}
	p.HSet(ctx, d.Outbox.sentMailKey(tag), sentMailRecord(n, at, suppressed)...)
	p.Expire(ctx, d.Outbox.sentMailKey(tag), sentMailTTL)
}

// sentMailRecord is the record of n sent at at (RFC 3339) for its bounces
// (SentMail reads it); suppressed: the suppression it was sent despite.
func sentMailRecord(n Notification, at, suppressed string) []any {
	rec := []any{"id", n.ID, "kind", string(n.Kind), "to", address.Bare(n.To), "ticket", n.Ticket, "sent_at", at}
	if n.TicketKey != "" {
		rec = append(rec, "ticket_key", n.TicketKey)
	}
	if suppressed != "" {
		rec = append(rec, "sent_while_suppressed", suppressed)
	}
	return rec
}

// markUncertain keeps an entry whose send went out without an answer in
// the outbox, marked uncertain: not retried until an operator retries it
// or the automatic resend is due. The mail may be on its way, so its
// bounces are recognised as for a delivered one.
func (d *Delivery) markUncertain(ctx context.Context, m redis.XMessage, n Notification, attempt int64, u uncertainty, tag, suppressed string) error {
	b, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("record uncertain delivery of %s: %w", n.ID, err)
	}
	at := u.At.UTC().Format(time.RFC3339)
	last := failureNote(attempt, u.At, uncertainNote+u.Reason)
	if _, err := d.Outbox.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, d.Outbox.uncertain, m.ID, string(b))
		p.HSet(ctx, d.Outbox.errors, m.ID, last)
		p.Set(ctx, d.Outbox.uncertainKey(n.ID), at, sentTTL)
		d.recordSentMail(ctx, p, tag, n, at, suppressed)
		return nil
	}); err != nil {
		return fmt.Errorf("record uncertain delivery of %s: %w", n.ID, err)
	}
	return nil
}

func (d *Delivery) delivered(ctx context.Context, n Notification) error {
	if d.Delivered == nil {
		return nil
	}
	return d.Delivered(ctx, n)
}
