package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/maildesk/maildesk/notify"
)

// outboxHoldFor is how long the outbox is not drained at all after Redis
// stopped being known to be in step with the journal: the comparison
// usually takes a second or so.
const outboxHoldFor = time.Minute

// HoldsOutbox reports whether the outbox should not be drained at now:
// Redis may have lost the records of what was sent, so it waits for the
// comparison with the mailbox. A hold that lasts (the mailbox unreachable)
// drains again, and Hold lets only the operators' alarms through.
func (j *Journal) HoldsOutbox(now time.Time) bool {
	return j.Holding() && now.Sub(j.Status().Since) < outboxHoldFor
}

// Hold keeps n back while Redis is not known to be in step with the
// mailbox journal: it may have lost the records of what was sent. The
// operators' alarms go anyway. It is the Hold of a notify.Held.
func (j *Journal) Hold(n notify.Notification) error {
	if j.Holding() && !n.Kind.IsAlarm() {
		return errors.New("held: redis not yet compared with the mailbox journal")
	}
	return nil
}

// TraceCopier renders the copy of a sent mail kept in the journal
// (notify.Mailer).
type TraceCopier interface {
	TraceCopy(n notify.Notification, sentAt time.Time, uncertain bool) ([]byte, error)
}

// SentTrace keeps a copy of each delivered mail in imap.sent_mailbox: what
// the journal knows was sent when Redis has forgotten it.
type SentTrace struct {
	Journal *Journal
	Copies  TraceCopier
	Log     *slog.Logger
}

// Keep stores the trace of n. A copy that cannot be rendered is logged and
// not retried (it was rendered for sending: a retry changes nothing); a
// failure to store it is returned.
func (t SentTrace) Keep(ctx context.Context, n notify.Notification) error {
	return t.keep(ctx, n, time.Now(), false)
}

func (t SentTrace) keep(ctx context.Context, n notify.Notification, at time.Time, uncertain bool) error {
	raw, err := t.Copies.TraceCopy(n, at, uncertain)
	if err != nil {
		t.Log.Warn("no trace of a sent mail: cannot render its copy", "notification", n.ID, "ticket", n.Ticket, "err", err)
		return nil
	}
	if err := t.Journal.Trace(ctx, n, raw, at, uncertain); err != nil {
		return fmt.Errorf("mail %s sent, its trace not kept yet: %w", n.ID, err)
	}
	return nil
}

// Uncertain keeps the trace of a mail the server took in full without
// answering at at, marked uncertain (notify.Delivery.Uncertain): it may
// have been delivered, so a repair must not send it again blindly. The
// outbox tells it again while it returns an error.
func (t SentTrace) Uncertain(ctx context.Context, n notify.Notification, at time.Time) error {
	err := t.keep(ctx, n, at, true)
	if err != nil {
		t.Log.Warn("mail's delivery uncertain, its trace not kept yet; trying again after the entry's backoff", "notification", n.ID, "ticket", n.Ticket, "err", err)
	}
	return err
}

// Accepted keeps the trace of a mail the server just accepted, before
// Redis records its delivery (notify.Delivery.Accepted); if that fails it
// is tried again when the delivery is recorded.
func (t SentTrace) Accepted(ctx context.Context, n notify.Notification) {
	if err := t.Keep(ctx, n); err != nil {
		t.Log.Warn("mail sent, its trace not kept yet; trying again when its delivery is recorded", "notification", n.ID, "err", err)
	}
}
