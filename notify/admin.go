package notify

// Operator access to the outbox: what waits to be sent, what was given up
// on or skipped, and requeueing or dropping one entry. The CLI (maildesk
// outbox) and the HTTP API use these; the delivery itself is in outbox.go.

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/address"
	"github.com/maildesk/maildesk/internal/rediserr"
)

// Queue names where an outbox entry is: waiting in the outbox, or recorded
// in the dead-letter or the skipped stream.
type Queue string

const (
	QueueOutbox  Queue = "outbox"
	QueueDead    Queue = "dead"
	QueueSkipped Queue = "skipped"
)

// What Retry and Drop refuse; the error text names the id and why.
var (
	ErrUnknownEntry     = errors.New("no such outbox entry")
	ErrAmbiguousEntry   = errors.New("ambiguous outbox entry")
	ErrAlreadyDelivered = errors.New("already delivered")
	ErrSuppressedTo     = errors.New("recipient suppressed")
	ErrBeingSent        = errors.New("being sent")
	ErrUnreadableEntry  = errors.New("unreadable outbox entry")
)

// adminError is an error with its own text that still matches one of the
// sentinels above with errors.Is.
type adminError struct {
	kind error
	msg  string
}

func (e *adminError) Error() string { return e.msg }
func (e *adminError) Unwrap() error { return e.kind }

func refuse(kind error, format string, args ...any) error {
	return &adminError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Entry is a notification waiting in the outbox: new, or tried and failed
// temporarily (it is then pending in the consumer group until its backoff
// has passed).
type Entry struct {
	StreamID     string
	Notification Notification
	// Invalid says why the entry cannot be decoded ("" when it can); the
	// delivery will dead-letter it.
	Invalid  string
	QueuedAt time.Time
	// Attempts is the consumer group's delivery count: 0 when no sender
	// has read the entry yet.
	Attempts int64
	// Consumer is the sender (replica) holding the entry, "" when new;
	// Idle is the time since it was last handed to a sender.
	Consumer string
	Idle     time.Duration
	// RetryRequested: an operator's Retry made the entry due; Idle is then
	// the artificial value Retry set (see retryNowIdle), not a real wait.
	RetryRequested bool
	// LastError is the error of the last failed send, when recorded.
	LastError string
	// Uncertain: the last send went out in full but the relay never
	// answered it (DeliveryUncertain). The entry waits, since
	// UncertainSince, for an operator's Retry or the automatic resend;
	// Resent says that the automatic resend was used already. Resending
	// says it is being sent again (retried like any failed entry).
	Uncertain, Resent, Resending bool
	UncertainSince               time.Time
	// Sending: the entry was handed to a sender (Consumer) for its
	// Attempts-th try and no outcome of that try is recorded yet: it is
	// being sent, or its sender died in the attempt (then Idle grows
	// until another sender claims it).
	Sending bool
}

// States of an entry waiting in the outbox (Entry.State).
const (
	StateNew       = "new"       // no sender has tried it yet
	StateSending   = "sending"   // handed to a sender, no outcome yet
	StateRetrying  = "retrying"  // failed temporarily or held back: sent again after its backoff
	StateUncertain = "uncertain" // delivery uncertain: waits for an operator or the automatic resend
)

// State is where e stands: StateNew, StateSending, StateRetrying or
// StateUncertain.
func (e Entry) State() string {
	switch {
	case e.Uncertain && !e.Resending:
		return StateUncertain
	case e.Attempts == 0 && e.Consumer == "":
		return StateNew
	case e.Sending:
		return StateSending
	}
	return StateRetrying
}

// Record is an entry of the dead-letter or the skipped stream.
type Record struct {
	StreamID     string
	Notification Notification
	Invalid      string // as in Entry
	Reason       string
	At           time.Time
	// OutboxID is the id the notification had in the outbox.
	OutboxID string
}

// The keys delivery and the admin scripts share: one definition each, so
// that they cannot drift apart.
func (o *Outbox) sentKey(id string) string    { return o.kp + "sent:" + id }
func (o *Outbox) sendingKey(id string) string { return o.kp + "sending:" + id }

// suppressKey is the key of to's suppression: canonical (address.Key),
// so that every spelling, and the erasure, finds it.
func (o *Outbox) suppressKey(to string) string { return o.kp + "suppress:" + address.Key(to) }
func (o *Outbox) secretKey() string            { return o.kp + "secret" }

// uncertainKey records, for the mailbox journal, that the delivery of
// notification id became uncertain (markUncertain): the uncertainty
// hash is by stream id, the journal knows notification ids. restoredKey is
// such a record put back by a repair (RestoreUncertain), taken over by
// an outbox entry of the notification queued after it (uncertaintyOf);
// the entries there were already get theirs at once (adoptRestored).
func (o *Outbox) uncertainKey(id string) string { return o.kp + "uncertain:" + id }
func (o *Outbox) restoredKey(id string) string  { return o.kp + "uncertain-restored:" + id }

// sentMailKey is the delivery record of a mail for its bounces, under the
// HMAC atom of its Message-ID: the one part of the id only the desk can
// compute, and the only part the delivery knows without the desk's domain.
func (o *Outbox) sentMailKey(tag string) string { return o.kp + "sentmail:" + tag }

func (o *Outbox) queueKey(q Queue) string {
	switch q {
	case QueueDead:
		return o.dead
	case QueueSkipped:
		return o.skipped
	}
	return o.stream
}

// List returns what waits to be sent, oldest first, with each entry's
// delivery count, idle time and last recorded error. It reads one
// consistent snapshot (MULTI).
func (o *Outbox) List(ctx context.Context) ([]Entry, error) {
	var (
		rng       *redis.XMessageSliceCmd
		pend      *redis.XPendingExtCmd
		errs, unc *redis.MapStringStringCmd
	)
	_, err := o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		rng = p.XRange(ctx, o.stream, "-", "+")
		pend = p.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: o.stream, Group: o.group, Start: "-", End: "+", Count: 1<<31 - 1,
		})
		errs = p.HGetAll(ctx, o.errors)
		unc = p.HGetAll(ctx, o.uncertain)
		return nil
	})
	// Before the first sender ran there is no group: nothing was tried.
	if err != nil && !isNoGroup(err) {
		return nil, fmt.Errorf("list outbox %s: %w", o.stream, err)
	}
	if err := rng.Err(); err != nil {
		return nil, fmt.Errorf("list outbox %s: %w", o.stream, err)
	}
	if err := errs.Err(); err != nil {
		return nil, fmt.Errorf("read outbox errors %s: %w", o.errors, err)
	}
	if err := unc.Err(); err != nil {
		return nil, fmt.Errorf("read uncertain deliveries %s: %w", o.uncertain, err)
	}
	pending := map[string]redis.XPendingExt{}
	if pend.Err() == nil {
		for _, p := range pend.Val() {
			pending[p.ID] = p
		}
	} else if !isNoGroup(pend.Err()) {
		return nil, fmt.Errorf("list pending outbox entries: %w", pend.Err())
	}
	out := make([]Entry, 0, len(rng.Val()))
	for _, m := range rng.Val() {
		e := Entry{StreamID: m.ID, QueuedAt: streamTime(m.ID), LastError: errs.Val()[m.ID]}
		var err error
		if e.Notification, err = FromFields(m.Values); err != nil {
			e.Invalid = err.Error()
		}
		if p, ok := pending[m.ID]; ok {
			e.Attempts, e.Consumer, e.Idle = p.RetryCount, p.Consumer, p.Idle
			e.Sending = notedAttempt(e.LastError) < p.RetryCount
			// No entry really waits years: only Retry sets such idle times.
			e.RetryRequested = p.Idle > retryNowIdle/2
		}
		if v, ok := unc.Val()[m.ID]; ok {
			// The list has no clock of its own: it is read now.
			u := decodeUncertainty(v, e.LastError, time.Now())
			e.Uncertain, e.Resent, e.Resending, e.UncertainSince = true, u.Resent, u.Retry, u.At
		}
		out = append(out, e)
	}
	return out, nil
}

// ListDead returns the dead letters with their stream ids, oldest first.
// (Dead returns the same without the ids.)
func (o *Outbox) ListDead(ctx context.Context) ([]Record, error) {
	return o.listRecords(ctx, o.dead)
}

// ListSkipped returns the skipped notifications with their stream ids,
// oldest first.
func (o *Outbox) ListSkipped(ctx context.Context) ([]Record, error) {
	return o.listRecords(ctx, o.skipped)
}

func (o *Outbox) listRecords(ctx context.Context, stream string) ([]Record, error) {
	var out []Record
	err := o.scan(ctx, stream, func(m redis.XMessage) bool {
		out = append(out, toRecord(m))
		return true
	})
	if out == nil {
		out = []Record{}
	}
	return out, err
}

func toRecord(m redis.XMessage) Record {
	r := Record{StreamID: m.ID, At: streamTime(m.ID)}
	var err error
	if r.Notification, err = FromFields(m.Values); err != nil {
		r.Invalid = err.Error()
	}
	r.Reason, _ = m.Values["reason"].(string)
	r.OutboxID, _ = m.Values["outbox_id"].(string)
	return r
}

// scan calls fn for each entry of stream, oldest first, reading pages so
// that a long dead-letter stream is not read in one reply; fn returning
// false stops.
func (o *Outbox) scan(ctx context.Context, stream string, fn func(redis.XMessage) bool) error {
	start := "-"
	for {
		msgs, err := o.rdb.XRangeN(ctx, stream, start, "+", 500).Result()
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		for _, m := range msgs {
			if !fn(m) {
				return nil
			}
		}
		if len(msgs) < 500 {
			return nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// found is one entry an operator's id names.
type found struct {
	queue Queue
	msg   redis.XMessage
	n     Notification
	bad   error // FromFields' complaint
}

func (f found) describe() string {
	name := map[Queue]string{QueueOutbox: "outbox entry", QueueDead: "dead letter", QueueSkipped: "skipped entry"}[f.queue]
	return name + " " + f.msg.ID
}

var streamIDPattern = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// locate finds the one entry id names: a stream id ("1718000000000-0") in
// the outbox, the dead letters or the skipped stream, or a notification id
// ("SD-4/ack", which always contains a slash and so never looks like a
// stream id) in any of them.
//
// Each stream numbers its entries itself, so entries written in the same
// millisecond to two of them can have the same id; a stream id can be
// qualified with its queue ("dead:1718000000000-0") to pick one. Qualified
// ids are what ambiguous-id errors suggest, and what a program that took
// the id from ListDead or ListSkipped should pass.
//
// A notification id found nowhere but with a delivery record is refused
// with ErrAlreadyDelivered, refusal saying what was not done.
func (o *Outbox) locate(ctx context.Context, id, refusal string) (found, error) {
	queues := []Queue{QueueOutbox, QueueDead, QueueSkipped}
	sid := id
	if q, rest, ok := strings.Cut(id, ":"); ok && streamIDPattern.MatchString(rest) &&
		(Queue(q) == QueueOutbox || Queue(q) == QueueDead || Queue(q) == QueueSkipped) {
		queues, sid = []Queue{Queue(q)}, rest
	}
	var hits []found
	add := func(q Queue, m redis.XMessage) {
		n, err := FromFields(m.Values)
		hits = append(hits, found{queue: q, msg: m, n: n, bad: err})
	}
	byStreamID := streamIDPattern.MatchString(sid)
	for _, q := range queues {
		key := o.queueKey(q)
		if byStreamID {
			msgs, err := o.rdb.XRange(ctx, key, sid, sid).Result()
			if err != nil {
				return found{}, fmt.Errorf("look up %s in %s: %w", id, key, err)
			}
			for _, m := range msgs {
				add(q, m)
			}
			continue
		}
		err := o.scan(ctx, key, func(m redis.XMessage) bool {
			if v, _ := m.Values["id"].(string); v == id {
				add(q, m)
			}
			return true
		})
		if err != nil {
			return found{}, err
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		if !byStreamID && id != "" {
			at, err := o.rdb.Get(ctx, o.sentKey(id)).Result()
			if err == nil {
				return found{}, refuse(ErrAlreadyDelivered, "%s was delivered at %s; %s", id, at, refusal)
			}
			if !errors.Is(err, redis.Nil) {
				return found{}, fmt.Errorf("check delivery record of %s: %w", id, err)
			}
		}
		return found{}, refuse(ErrUnknownEntry, "%s: no such outbox entry, dead letter, skipped entry or notification", id)
	}
	var where []string
	for _, h := range hits {
		where = append(where, fmt.Sprintf("%s (%s:%s)", h.describe(), h.queue, h.msg.ID))
	}
	return found{}, refuse(ErrAmbiguousEntry, "%s names %d entries: %s; give one as QUEUE:STREAM-ID", id, len(hits), strings.Join(where, ", "))
}

// Action is what Retry or Drop did to one entry.
type Action struct {
	// Queue and StreamID are where the entry was found.
	Queue        Queue
	StreamID     string
	Notification Notification
	// NewID is the entry's new stream id: in the outbox when a dead or
	// skipped one was requeued, in the dead letters when a waiting one
	// was dropped. Empty otherwise.
	NewID string
	// Retry of a waiting entry: Attempts is its delivery count so far,
	// Consumer the sender holding it ("" when no sender read it yet: it is
	// sent on the next run anyway).
	Attempts int64
	Consumer string
	// Unsuppressed: the recipient's suppression was lifted.
	Unsuppressed bool
	// Uncertain: Retry made an entry whose delivery was uncertain go out
	// again (the recipient may get it twice).
	Uncertain bool
	// Reason of a deleted dead or skipped record.
	Reason string
}

// retryNowIdle is the idle time a retried pending entry is given: longer
// than any backoff, so the delivery's next run claims it.
const retryNowIdle = 10 * 365 * 24 * time.Hour

// Retry sends one notification again. id is a stream id, optionally
// qualified ("dead:1718000000000-0"), or a notification id (see locate).
//
// A dead or skipped one is put back in the outbox with its original fields
// and removed from its stream, in one script that first checks it is still
// there: a second Retry finds nothing and queues no second copy.
//
// A waiting one is made due now. It stays the same entry: Retry sets the
// idle time Redis keeps for it in the consumer group (XCLAIM to its current
// sender with IDLE and JUSTID, which leaves the delivery count alone) to
// longer than any backoff, so the next run's retryDue claims and sends it.
// Re-adding it as a new entry would do the same, but reset its attempts and
// its age, and with the age the MaxAge after which the delivery gives up:
// an operator's retry must not make a failing mail be retried forever. An
// entry no sender has read yet is due already; it is left as it is.
//
// A waiting entry whose delivery is uncertain (Entry.Uncertain) is sent
// again only this way, or once by the automatic resend: Retry is the
// operator's decision that a second copy is better than none.
//
// Nothing already delivered is queued again: with the delivery record
// (sent:<id>) present Retry refuses (ErrAlreadyDelivered), and it never
// deletes that record. Automatic mail to a suppressed recipient would
// only be skipped again, so Retry refuses (ErrSuppressedTo) unless
// unsuppress is set, which lifts the suppression; an agent's reply, which
// is sent to a suppressed address anyway, is not refused.
func (o *Outbox) Retry(ctx context.Context, id string, unsuppress bool) (Action, error) {
	f, err := o.locate(ctx, id, "not requeued")
	if err != nil {
		return Action{}, err
	}
	a := Action{Queue: f.queue, StreamID: f.msg.ID, Notification: f.n}
	if f.bad != nil {
		return a, refuse(ErrUnreadableEntry, "%s (%s) is unreadable (%v); it would only be dead-lettered again: drop it", id, f.describe(), f.bad)
	}
	lift := "0"
	switch {
	case unsuppress:
		lift = "1"
	case !f.n.Kind.Automatic():
		// Delivery sends an agent's reply to a suppressed address anyway.
		lift = "-"
	}
	var res []any
	if f.queue == QueueOutbox {
		res, err = retryPendingScript.Run(ctx, o.rdb,
			[]string{o.stream, o.sentKey(f.n.ID), o.suppressKey(f.n.To), o.uncertain, o.errors},
			f.msg.ID, f.n.ID, lift, o.group, retryNowIdle.Milliseconds()).Slice()
	} else {
		res, err = requeueScript.Run(ctx, o.rdb,
			[]string{o.queueKey(f.queue), o.stream, o.sentKey(f.n.ID), o.suppressKey(f.n.To)},
			f.msg.ID, f.n.ID, lift).Slice()
	}
	if err != nil {
		return a, fmt.Errorf("retry %s (%s): %w", f.n.ID, f.describe(), err)
	}
	switch str(res, 0) {
	case "gone":
		return a, refuse(ErrUnknownEntry, "%s: %s is gone (retried, dropped or sent meanwhile)", id, f.describe())
	case "sent":
		return a, refuse(ErrAlreadyDelivered, "%s was delivered at %s; not requeued", f.n.ID, str(res, 1))
	case "suppressed":
		return a, refuse(ErrSuppressedTo, "%s: mail to %s is suppressed (%s); it would be skipped again: retry with unsuppress to lift that", f.n.ID, f.n.To, str(res, 1))
	case "ok": // requeued
		a.NewID = str(res, 1)
		a.Unsuppressed = num(res, 2) == 1
	case "new":
		a.Unsuppressed = num(res, 1) == 1
	case "due":
		a.Unsuppressed = num(res, 1) == 1
		a.Consumer = str(res, 2)
		a.Attempts = num(res, 3)
		a.Uncertain = num(res, 4) == 1
	default:
		return a, fmt.Errorf("retry %s: unexpected script reply %v", f.n.ID, res)
	}
	return a, nil
}

// Drop removes one entry for good. A waiting one is acknowledged and
// deleted from the outbox and recorded in the dead letters with reason
// "dropped by operator: <reason>", in one script, so nothing vanishes
// without a record; one a sender is sending at this moment is refused
// (ErrBeingSent). A dead or skipped one is deleted from its stream: that is
// the operator's explicit choice (the returned Action says what it was).
func (o *Outbox) Drop(ctx context.Context, id, reason string) (Action, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Action{}, fmt.Errorf("drop %s: a reason is required", id)
	}
	f, err := o.locate(ctx, id, "nothing to drop")
	if err != nil {
		return Action{}, err
	}
	a := Action{Queue: f.queue, StreamID: f.msg.ID, Notification: f.n}
	if f.queue != QueueOutbox {
		a.Reason, _ = f.msg.Values["reason"].(string)
		n, err := o.rdb.XDel(ctx, o.queueKey(f.queue), f.msg.ID).Result()
		if err != nil {
			return a, fmt.Errorf("delete %s: %w", f.describe(), err)
		}
		if n == 0 {
			return a, refuse(ErrUnknownEntry, "%s: %s is gone (retried or dropped meanwhile)", id, f.describe())
		}
		return a, nil
	}
	res, err := dropPendingScript.Run(ctx, o.rdb,
		[]string{o.stream, o.dead, o.sendingKey(f.n.ID), o.errors, o.uncertain},
		f.msg.ID, f.n.ID, "dropped by operator: "+reason, o.group).Slice()
	if err != nil {
		return a, fmt.Errorf("drop %s: %w", f.describe(), err)
	}
	switch str(res, 0) {
	case "gone":
		return a, refuse(ErrUnknownEntry, "%s: %s is gone (sent or dropped meanwhile)", id, f.describe())
	case "busy":
		return a, refuse(ErrBeingSent, "%s is being sent by %s right now; not dropped (try again when that send has finished)", id, str(res, 1))
	case "ok":
		a.NewID = str(res, 1)
		return a, nil
	}
	return a, fmt.Errorf("drop %s: unexpected script reply %v", id, res)
}

func isNoGroup(err error) bool {
	return rediserr.Is(err, rediserr.NoGroup)
}

func str(res []any, i int) string {
	if i < len(res) {
		s, _ := res[i].(string)
		return s
	}
	return ""
}

func num(res []any, i int) int64 {
	if i < len(res) {
		n, _ := res[i].(int64)
		return n
	}
	return 0
}

//go:embed entry.lua
var entrySrc string

//go:embed requeue.lua
var requeueSrc string

//go:embed retry_pending.lua
var retryPendingSrc string

//go:embed drop_pending.lua
var dropPendingSrc string

//go:embed uncertain_traced.lua
var uncertainTracedSrc string

var (
	uncertainTracedScript = redis.NewScript(uncertainTracedSrc)
	requeueScript         = redis.NewScript(entrySrc + requeueSrc)
	retryPendingScript    = redis.NewScript(entrySrc + retryPendingSrc)
	dropPendingScript     = redis.NewScript(entrySrc + dropPendingSrc)
)
