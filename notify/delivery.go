package notify

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// The stages of delivering one outbox entry, in their order. As
// Alertmanager composes its notify pipeline from stages, deliver passes an
// entry through these; each either hands it on or ends its delivery
// (done), having finished, skipped, held back, dead-lettered or left it.
// The order is the protocol: nothing is sent before the claim; the
// suppression and the limits are looked at under the claim, so that one
// replica counts an entry; the delivery is recorded before the entry
// leaves the outbox (settle).
var deliveryStages = []deliveryStage{
	(*Delivery).decode,      // delivery.go
	(*Delivery).alreadySent, // delivery.go
	(*Delivery).claim,       // delivery_claim.go
	(*Delivery).suppress,    // delivery.go
	(*Delivery).admit,       // delivery_admit.go
	(*Delivery).send,        // delivery_send.go
	(*Delivery).settle,      // delivery_settle.go
}

// deliveryStage is one step of delivering o. done: o's delivery ends here
// (err says whether it ended in a failure that stops the Drain).
type deliveryStage func(d *Delivery, ctx context.Context, o *outgoing) (done bool, err error)

// outgoing is one outbox entry on its way through the stages, with what
// the earlier stages found out about it.
type outgoing struct {
	m       redis.XMessage
	attempt int64
	st      *Stats
	sendCtx context.Context // the send's; ends StopGrace after the Drain's
	log     *slog.Logger

	n Notification // decode
	// unc is the entry's uncertainty when uncertain (claim).
	unc       uncertainty
	uncertain bool
	restored  bool   // a repair restored an uncertainty of n (alreadySent)
	why       string // why mail to n.To is suppressed, for a reply sent anyway (suppress)
	tag       string // the HMAC atom of its Message-ID (admit)
	sendErr   error  // the Sender's answer (send)
	// release are run when the delivery ends, the last first: the claim's.
	release []func()
}

func (o *outgoing) end() {
	for i := len(o.release) - 1; i >= 0; i-- {
		o.release[i]()
	}
}

// deliver sends one entry. Redis is written under ctx without its
// cancellation: once begun, an entry is finished even on shutdown
// (abandoning it after the server accepted the mail would send it twice).
// The send itself runs under sendCtx, which ends StopGrace after ctx.
func (d *Delivery) deliver(ctx, sendCtx context.Context, m redis.XMessage, attempt int64, st *Stats) error {
	ctx = context.WithoutCancel(ctx)
	o := &outgoing{m: m, attempt: attempt, st: st, sendCtx: sendCtx, log: d.Log.With("outbox_entry", m.ID)}
	defer o.end()
	for _, stage := range deliveryStages {
		if done, err := stage(d, ctx, o); done || err != nil {
			return err
		}
	}
	return nil
}

// decode reads the notification of the entry; one that cannot be read is
// dead-lettered.
func (d *Delivery) decode(ctx context.Context, o *outgoing) (bool, error) {
	n, err := FromFields(o.m.Values)
	if err != nil {
		o.st.Dead++
		o.log.Error("outbox entry unreadable, dead-lettered", "err", err)
		return true, d.finish(ctx, o.m, n, "unreadable entry: "+err.Error())
	}
	o.n = n
	o.log = o.log.With("notification", n.ID, "kind", n.Kind, "ticket", n.Ticket, "to", n.To)
	return false, nil
}

// alreadySent finishes an entry sent before, when the process died (or
// Redis went away) before the entry was finished: it finishes what the
// delivery means, not the sending. No claim is needed for that; a dead
// sender's claim may still stand. The claim stage asks again under the
// claim.
func (d *Delivery) alreadySent(ctx context.Context, o *outgoing) (bool, error) {
	var done, restored *redis.IntCmd
	// With the delivery record, in the same round trip: whether a repair
	// restored an uncertainty of it (claim).
	if _, err := d.Outbox.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		done = p.Exists(ctx, d.Outbox.sentKey(o.n.ID))
		restored = p.Exists(ctx, d.Outbox.restoredKey(o.n.ID))
		return nil
	}); err != nil {
		return true, fmt.Errorf("check delivery record of %s: %w", o.n.ID, err)
	}
	o.restored = restored.Val() == 1
	if done.Val() != 1 {
		return false, nil
	}
	if err := d.delivered(ctx, o.n); err != nil {
		o.log.Warn("notification delivered, but what it means for its ticket is not recorded yet; will retry", "err", err)
		return true, d.noteFailure(ctx, o.m, o.attempt, "recording the delivery: "+err.Error())
	}
	o.st.Skipped++
	o.log.Info("notification already delivered, not sending again")
	return true, d.finish(ctx, o.m, o.n, "")
}

// suppress skips automatic mail to a recipient whose mail bounced
// (Outbox.Suppress).
func (d *Delivery) suppress(ctx context.Context, o *outgoing) (bool, error) {
	why, err := d.Outbox.suppressed(ctx, o.n.To)
	if err != nil {
		return true, err
	}
	if why != "" && o.n.Kind.Automatic() {
		o.st.Skipped++
		o.log.Warn("notification skipped: recipient suppressed", "reason", why)
		return true, d.finishTo(ctx, d.Outbox.skipped, o.m, o.n, "recipient suppressed: "+why)
	}
	// Suppression keeps the desk's automatic mail from an address that
	// bounced. An agent's reply is a person's answer: skipping it would
	// leave the agent believing the customer was answered. It is sent; if
	// it bounces again, that bounce lands on the ticket, where the agent
	// sees it.
	if why != "" {
		o.log.Warn("agent's reply sent although automatic mail to the recipient is suppressed", "reason", why)
	}
	o.why = why
	return false, nil
}
