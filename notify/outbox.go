package notify

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/rediserr"
)

// Outbox is a desk's queue of outgoing mail: a Redis stream read through a
// consumer group, so that several replicas share the sending and an entry
// whose sender died is picked up again by another.
type Outbox struct {
	rdb     redis.UniversalClient
	deskID  string
	kp      string
	stream  string
	dead    string
	skipped string // notifications not sent on purpose, with the reason
	errors  string // hash: stream id -> latest temporary failure
	// uncertain is a hash: stream id -> the uncertainty (JSON) of an entry
	// whose last send went out in full without the server's answer.
	uncertain string
	group     string
}

// NewOutbox returns the outbox of one desk. Its keys share the desk's hash
// tag with the ticket store, whose commit script writes into it.
func NewOutbox(rdb redis.UniversalClient, deskID string) *Outbox {
	kp := config.KeyPrefix(deskID)
	return &Outbox{rdb: rdb, deskID: deskID, kp: kp, stream: kp + "outbox", dead: kp + "outbox:dead", skipped: kp + "outbox:skipped", errors: kp + "outbox:errors",
		uncertain: kp + "outbox:uncertain", group: "senders"}
}

// Key is the stream that producers XADD notifications to.
func (o *Outbox) Key() string { return o.stream }

// Init creates the stream and its consumer group. Starting at id 0 (not $)
// means entries queued before the first sender ever ran are still sent.
func (o *Outbox) Init(ctx context.Context) error {
	err := o.rdb.XGroupCreateMkStream(ctx, o.stream, o.group, "0").Err()
	if err != nil && !rediserr.Is(err, rediserr.BusyGroup) {
		return fmt.Errorf("create outbox group on %s: %w", o.stream, err)
	}
	return nil
}

// Secret returns the desk's Message-ID key, made at random the first time
// and kept in Redis so every replica and restart uses the same one (a
// resent mail keeps its Message-ID).
func (o *Outbox) Secret(ctx context.Context) ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("make message id secret: %w", err)
	}
	if err := o.rdb.SetNX(ctx, o.secretKey(), hex.EncodeToString(b), 0).Err(); err != nil {
		return nil, fmt.Errorf("store message id secret: %w", err)
	}
	v, err := o.rdb.Get(ctx, o.secretKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("read message id secret: %w", err)
	}
	return hex.DecodeString(v)
}

// storedSecret is the Message-ID key as Secret made it; nil when none was
// made yet. It makes none: a desk that has no key has sent no mail whose
// id can be checked.
func (o *Outbox) storedSecret(ctx context.Context) ([]byte, error) {
	v, err := o.rdb.Get(ctx, o.secretKey()).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read message id secret: %w", err)
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("read message id secret: %w", err)
	}
	return b, nil
}

// SentMail is a mail the desk delivered, as its delivery record keeps it
// for checking bounces: a bounce may only suppress the address the mail
// went to.
type SentMail struct {
	MessageID    string
	Notification string // its notification id
	Kind         Kind
	To           string // the bare address, lower case
	Ticket       string // "" for mail about no ticket (a notice)
	TicketKey    string // the ticket's key, "" for tickets from before keys
	// SentWhileSuppressed is why automatic mail to To was suppressed when
	// this mail (an agent's reply) was sent anyway; "" when it was not.
	SentWhileSuppressed string
}

// sentMailTTL is how long a delivery is remembered for its bounces: a
// relay retries a mail for up to five days before it gives up and
// bounces, and the desk may read its mailbox later than that.
const sentMailTTL = 14 * 24 * time.Hour

// SentMail returns the mail the desk delivered with Message-ID id (without
// brackets); ok is false when it delivered none: the id has another shape,
// no delivery is recorded under its HMAC atom, or the id made again from
// the record under the desk's secret differs (VerifyMessageID).
func (o *Outbox) SentMail(ctx context.Context, id string) (_ SentMail, ok bool, _ error) {
	tag, domain, ok := splitMessageID(id)
	if !ok {
		return SentMail{}, false, nil
	}
	rec, err := o.rdb.HGetAll(ctx, o.sentMailKey(tag)).Result()
	if err != nil {
		return SentMail{}, false, fmt.Errorf("look up sent mail %s: %w", tag, err)
	}
	if len(rec) == 0 {
		return SentMail{}, false, nil
	}
	secret, err := o.storedSecret(ctx)
	if err != nil || secret == nil {
		return SentMail{}, false, err
	}
	s := SentMail{MessageID: id, Notification: rec["id"], Kind: Kind(rec["kind"]), To: rec["to"], Ticket: rec["ticket"],
		TicketKey: rec["ticket_key"], SentWhileSuppressed: rec["sent_while_suppressed"]}
	// The id's own domain: that it is the desk's is the caller's check
	// (ingest knows the desk's domain); the HMAC is what cannot be forged.
	desk := Desk{ID: o.deskID, Address: "desk@" + domain, Secret: secret}
	if !VerifyMessageID(desk, id, Notification{ID: s.Notification, Kind: s.Kind, To: s.To, Ticket: s.Ticket, TicketKey: s.TicketKey}) {
		return SentMail{}, false, nil
	}
	return s, true, nil
}

// sentTag is the HMAC atom of the Message-ID n is sent with, "" when the
// desk has no Message-ID key (then no id the desk sends can be checked,
// and none is recorded).
func (o *Outbox) sentTag(ctx context.Context, n Notification) (string, error) {
	secret, err := o.storedSecret(ctx)
	if err != nil || secret == nil {
		return "", err
	}
	return messageIDTag(secret, n.ID, n.TicketKey), nil
}

// Enqueue queues n for delivery. Its ID must be stable (the same alert
// queued twice is sent once: delivery skips ids it has sent).
func (o *Outbox) Enqueue(ctx context.Context, n Notification) error {
	if n.ID == "" {
		return fmt.Errorf("queue %s notification to %s: %w: empty id", n.Kind, n.To, ErrInvalidNotification)
	}
	f := n.Fields()
	vals := make([]any, len(f))
	for i, v := range f {
		vals[i] = v
	}
	if err := o.rdb.XAdd(ctx, &redis.XAddArgs{Stream: o.stream, Values: vals}).Err(); err != nil {
		return fmt.Errorf("queue notification %s: %w", n.ID, err)
	}
	return nil
}

// Depth is the number of notifications not yet delivered or dead-lettered.
func (o *Outbox) Depth(ctx context.Context) (int64, error) {
	n, err := o.rdb.XLen(ctx, o.stream).Result()
	if err != nil {
		return 0, fmt.Errorf("outbox depth: %w", err)
	}
	return n, nil
}

// Suppress stops automatic mail to addr for d: its mail bounced. Automatic
// entries for it are skipped (and recorded as such) until then; agents'
// replies are still sent.
func (o *Outbox) Suppress(ctx context.Context, addr string, d time.Duration, reason string) error {
	if err := o.rdb.Set(ctx, o.suppressKey(addr), reason, d).Err(); err != nil {
		return fmt.Errorf("suppress mail to %s: %w", addr, err)
	}
	return nil
}

// suppressed returns why mail to addr is suppressed, "" when it is not.
func (o *Outbox) suppressed(ctx context.Context, addr string) (string, error) {
	r, err := o.rdb.Get(ctx, o.suppressKey(addr)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("check suppression of %s: %w", addr, err)
	}
	return r, nil
}

// uncertainties returns the entries whose delivery is uncertain, by stream
// id (decodeUncertainty).
func (o *Outbox) uncertainties(ctx context.Context, now time.Time) (map[string]uncertainty, error) {
	all, err := o.rdb.HGetAll(ctx, o.uncertain).Result()
	if err != nil {
		return nil, fmt.Errorf("read uncertain deliveries %s: %w", o.uncertain, err)
	}
	// The failure notes are read only for records that lack their moment
	// (rare): the whole errors hash may be long.
	var short []string
	for id, v := range all {
		if !hasMoment(v) {
			short = append(short, id)
		}
	}
	notes := make([]any, len(short))
	if len(short) > 0 {
		if notes, err = o.rdb.HMGet(ctx, o.errors, short...).Result(); err != nil {
			return nil, fmt.Errorf("read outbox errors %s: %w", o.errors, err)
		}
	}
	out := make(map[string]uncertainty, len(all))
	for id, v := range all {
		out[id] = decodeUncertainty(v, "", now)
	}
	for i, id := range short {
		note, _ := notes[i].(string)
		out[id] = decodeUncertainty(all[id], note, now)
	}
	return out, nil
}

// uncertaintyOf returns the uncertainty of entry id, of notification nid,
// at its attempt-th try; ok is false when its delivery is not uncertain.
// An uncertainty of the notification a repair put back (RestoreUncertain)
// becomes the entry's here, once, with its failure note (the latest fact
// about the entry): the mail may have gone out before Redis lost its record.
func (o *Outbox) uncertaintyOf(ctx context.Context, id, nid string, attempt int64, now time.Time) (_ uncertainty, ok bool, _ error) {
	var v, note, restored *redis.StringCmd
	_, err := o.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		v = p.HGet(ctx, o.uncertain, id)
		note = p.HGet(ctx, o.errors, id)
		restored = p.Get(ctx, o.restoredKey(nid))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return uncertainty{}, false, fmt.Errorf("read uncertain delivery of %s: %w", id, err)
	}
	if v.Err() == nil {
		return decodeUncertainty(v.Val(), note.Val(), now), true, nil
	}
	if restored.Err() != nil {
		return uncertainty{}, false, nil
	}
	at, err := time.Parse(time.RFC3339, restored.Val())
	if err != nil {
		at = now
	}
	u := uncertainty{At: at, Reason: restoredReason}
	b, err := json.Marshal(u)
	if err == nil {
		_, err = o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSetNX(ctx, o.uncertain, id, string(b))
			p.HSet(ctx, o.errors, id, failureNote(attempt, at, uncertainNote+u.Reason))
			p.Del(ctx, o.restoredKey(nid))
			return nil
		})
	}
	if err != nil {
		return uncertainty{}, false, fmt.Errorf("restore uncertain delivery of %s to %s: %w", nid, id, err)
	}
	return u, true, nil
}

// restoredReason is the reason of an uncertainty a repair put back from
// the mailbox journal (Outbox.RestoreUncertain).
const restoredReason = "the relay did not answer the end of the message (restored from the mailbox journal)"

// decodeUncertainty reads the uncertainty record v of an entry whose
// latest failure note (errors hash) is note. A record without its moment
// (not the JSON markUncertain writes: made by hand, damaged) takes it from
// the note markUncertain wrote with it, so that `outbox list` and
// resend_uncertain_after count from when the delivery became uncertain;
// without such a note it counts as uncertain since now (the caller's
// clock, the Delivery's in the sender): kept from being
// resent blindly, and an operator sees it. retry_pending.lua reads the
// moment the same way.
func decodeUncertainty(v, note string, now time.Time) uncertainty {
	var u uncertainty
	if err := json.Unmarshal([]byte(v), &u); err != nil {
		u = uncertainty{Reason: "unreadable record: " + v}
	}
	if u.At.IsZero() {
		if at, ok := notedUncertainty(note); ok {
			u.At = at
		} else {
			u.At = now
		}
	}
	return u
}

// hasMoment reports whether the uncertainty record v carries its moment.
func hasMoment(v string) bool {
	var u uncertainty
	return json.Unmarshal([]byte(v), &u) == nil && !u.At.IsZero()
}

func (o *Outbox) setUncertainty(ctx context.Context, id string, u uncertainty) error {
	b, err := json.Marshal(u)
	if err == nil {
		err = o.rdb.HSet(ctx, o.uncertain, id, string(b)).Err()
	}
	if err != nil {
		return fmt.Errorf("record uncertain delivery of %s: %w", id, err)
	}
	return nil
}

// Sender delivers one notification; *Mailer is the SMTP one.
type Sender interface {
	Send(ctx context.Context, n Notification) error
}

// Delivery drains an outbox through a Sender. Temporary failures stay
// pending in the group and are retried with exponential backoff; permanent
// ones, and temporary ones older than MaxAge, are dead-lettered. A send the
// server never answered after the whole message went out is "delivery
// uncertain": it stays in the outbox, marked, and is sent again only when
// an operator retries it or, once, after ResendUncertain.
type Delivery struct {
	Outbox   *Outbox
	Sender   Sender
	Consumer string // this replica's name in the consumer group
	// Log is where deliveries are logged; nil: slog.Default().
	Log *slog.Logger
	// Retry is the first backoff after a temporary failure (0: 30 s); it
	// doubles per attempt up to MaxBackoff (0: 1 h). A temporary failure
	// older than MaxAge (0: 48 h) is dead-lettered.
	Retry      time.Duration
	MaxBackoff time.Duration
	MaxAge     time.Duration
	// Delivered is called after a notification was accepted by the server
	// and its delivery recorded, before the entry leaves the outbox: an
	// error (Redis away) keeps the entry, and the next attempt, finding it
	// sent, calls Delivered again instead of sending. It must therefore be
	// safe to repeat, and safe to call from several goroutines.
	Delivered func(ctx context.Context, n Notification) error
	// Accepted, when set, is told of a notification the server accepted
	// at once, before anything is recorded in Redis: the journal keeps its
	// trace outside Redis then (issue 16), so that a Redis losing this
	// moment does not lose that it was sent. Best effort: Delivered follows.
	Accepted func(ctx context.Context, n Notification)
	// Uncertain, when set, is told of a notification the server took in
	// full without answering (DeliveryUncertain), before its uncertainty
	// is recorded in Redis: the journal keeps its trace, marked uncertain,
	// so that a repair after Redis lost the record does not send it again
	// blindly (Outbox.RestoreUncertain). at is when the delivery became
	// uncertain. An error (the trace not kept) marks the record untraced:
	// Uncertain is then told again when the entry's backoff has passed,
	// until the trace is kept.
	Uncertain func(ctx context.Context, n Notification, at time.Time) error
	// StatusLink makes the recipient's link to the ticket's status page
	// for a notification of a kind that carries one (Kind.StatusLink), at
	// each send: "" for none (the plan gives none, the recipient may not
	// have one). An error holds the mail back for a retry. nil: no links.
	StatusLink func(ctx context.Context, n Notification) (string, error)
	// Now is the clock of the delivery records; nil: time.Now.
	Now func() time.Time
	// SendTimeout is the SMTP timeout (smtp.timeout); the claim that keeps
	// other replicas from sending a notification being sent lasts a few of
	// it, and is renewed while the send goes on.
	SendTimeout time.Duration
	// Limits caps automatic mail (Kind.Automatic: everything but agents'
	// replies) per recipient (not mail to the desk's own people,
	// Kind.ToDesk) and in total; the zero value limits nothing.
	Limits Limits
	// RefusedSuppression is how long an address the relay refused
	// permanently (5xx at RCPT) gets no more automatic mail; 0 = not at all.
	RefusedSuppression time.Duration
	// Workers is how many notifications may be sent at the same time,
	// each on its own connection (the Sender must allow concurrent Sends):
	// a send still going on after Overtake (0: 1 s) no longer holds up the
	// next, so that one transaction the relay is slow to answer does not
	// hold up the others. 0 is 1.
	Workers  int
	Overtake time.Duration
	// ResendUncertain is how long after a delivery became uncertain it is
	// sent once more by itself; 0: only when an operator retries it.
	ResendUncertain time.Duration
	// StopGrace is how long sends in progress may go on once Drain's
	// context ends (shutdown) before they are cut off; 0 is 5 s. A send
	// cut off after the message went out is delivery uncertain.
	StopGrace time.Duration
	// Poll is how often Drain looks for new and due entries while a send
	// is still in progress; 0 is 1 s.
	Poll time.Duration
}

// withDefaults is a copy of d with its unset fields at the defaults their
// comments give: Drain works on it, so that a Delivery written as a
// literal needs none of them, and the methods read the fields as they are.
func (d *Delivery) withDefaults() *Delivery {
	c := *d
	c.Log = cmp.Or(c.Log, slog.Default())
	if c.Now == nil {
		c.Now = time.Now
	}
	positive := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	positive(&c.Retry, 30*time.Second)
	positive(&c.MaxBackoff, time.Hour)
	positive(&c.MaxAge, 48*time.Hour)
	positive(&c.Overtake, time.Second)
	positive(&c.StopGrace, 5*time.Second)
	positive(&c.Poll, time.Second)
	c.Workers = max(c.Workers, 1)
	return &c
}

// Stats counts what one Drain did.
type Stats struct {
	Sent, Skipped, Failed, Dead int
	// Uncertain counts sends the server did not answer after the whole
	// message went out.
	Uncertain int
}

func (s *Stats) add(o Stats) {
	s.Sent += o.Sent
	s.Skipped += o.Skipped
	s.Failed += o.Failed
	s.Dead += o.Dead
	s.Uncertain += o.Uncertain
}

// sentTTL is how long a delivered id is remembered; entries can only be
// redelivered while pending, and MaxAge bounds that well below it.
const sentTTL = 7 * 24 * time.Hour

// uncertainty is what the outbox keeps of an entry whose delivery is
// uncertain (Outbox.uncertain).
type uncertainty struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	// Resent: the one automatic resend has been used.
	Resent bool `json:"resent,omitempty"`
	// Retry: it is being sent again (an operator's retry, or the automatic
	// resend), with the usual retries; until then it waits.
	Retry bool `json:"retry,omitempty"`
	// Untraced: its trace could not be kept (Delivery.Uncertain failed);
	// the entry is looked at again with the usual backoff to keep it
	// (uncertain_traced.lua takes the mark out).
	Untraced bool `json:"untraced,omitempty"`
}

// resendDue reports whether an entry with uncertainty u is to be sent now.
func (d *Delivery) resendDue(u uncertainty, now time.Time) bool {
	return u.Retry || d.ResendUncertain > 0 && !u.Resent && !now.Before(u.At.Add(d.ResendUncertain))
}

// Drain delivers the entries that are due now: new ones, then failed ones
// whose backoff has passed, Workers at a time. It returns when nothing more
// is due and no send is in progress, so a cron job can call it every tick;
// while a send is in progress it keeps looking for new and due entries, so
// that a relay slow to answer one mail does not hold back the next.
func (d *Delivery) Drain(ctx context.Context) (Stats, error) {
	d = d.withDefaults()
	// The Sender may keep its connections open across the burst; the burst
	// ends here.
	if c, ok := d.Sender.(io.Closer); ok {
		defer c.Close()
	}
	p := d.startWorkers(ctx)
	err := d.produce(ctx, p)
	return p.finish(err)
}

// produce hands the due entries to the workers until none is due and none
// is being sent, ctx ends or a worker failed.
func (d *Delivery) produce(ctx context.Context, p *workers) error {
	// Where the last round's look through the pending entries stopped: the
	// next goes on from there, so that a long queue of failures is paged
	// through once, not once per round.
	resume := "-"
	for {
		// Rounds of at most fairRound retries and fairRound new entries:
		// a flood of new mail (an outage at a customer) does not keep the
		// mail that failed before it waiting beyond its backoff, nor a
		// long queue of retries the new mail.
		moreDue, err := d.retryDue(ctx, p, fairRound, &resume)
		if err != nil {
			return err
		}
		moreNew, err := d.readNew(ctx, p, fairRound)
		if err != nil {
			return err
		}
		if ctx.Err() != nil || p.failed() {
			return nil
		}
		if moreDue || moreNew {
			continue
		}
		if p.busy() == 0 {
			return nil
		}
		// Looked at again when the sends in progress are all done (one more
		// round finds what came meanwhile), and every poll while one lasts.
		t := time.NewTimer(d.Poll)
		select {
		case <-ctx.Done():
		case <-p.fail:
		case <-p.idle:
		case <-t.C:
		}
		t.Stop()
	}
}

// fairRound is how many retries, and how many new entries, one round of
// produce hands out before it turns to the other.
const fairRound = 50

// readNew hands up to limit entries no sender has read yet to the workers;
// more: there may be more.
func (d *Delivery) readNew(ctx context.Context, p *workers, limit int) (more bool, _ error) {
	for range limit {
		if ctx.Err() != nil || p.failed() {
			return false, nil
		}
		streams, err := d.Outbox.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: d.Outbox.group, Consumer: d.Consumer,
			// One at a time, as a worker takes it: an entry read is one
			// being sent, so that `outbox list` can tell it from one tried
			// and waiting (a batch read would count as tried entries that
			// wait in this process for a worker).
			Streams: []string{d.Outbox.stream, ">"}, Count: 1, Block: -1,
		}).Result()
		if errors.Is(err, redis.Nil) {
			return false, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			return false, fmt.Errorf("read outbox %s: %w", d.Outbox.stream, err)
		}
		if len(streams) == 0 || len(streams[0].Messages) == 0 {
			return false, nil
		}
		for _, m := range streams[0].Messages {
			// On shutdown the rest stays pending and is claimed again later.
			if !p.submit(ctx, m, 1) {
				return false, nil
			}
		}
	}
	return true, nil
}

// retryDue claims failed entries whose backoff has passed, and uncertain
// ones an operator retried or whose automatic resend is due. Pending
// entries of a replica that died are claimed the same way. It hands out
// up to limit, looking from *resume on (a stream id, or "-"), and leaves
// in *resume where it stopped ("-" when it got to the end); more: there
// may be more due.
func (d *Delivery) retryDue(ctx context.Context, p *workers, limit int, resume *string) (more bool, _ error) {
	now := d.Now()
	unc, err := d.Outbox.uncertainties(ctx, now)
	if err != nil {
		return false, err
	}
	handed := 0
	// Paged, so that a long queue of failures (a relay down for an hour)
	// cannot hide the entries behind its first page.
	for start := *resume; ; {
		pend, err := d.Outbox.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: d.Outbox.stream, Group: d.Outbox.group, Idle: d.Retry, Start: start, End: "+", Count: 100,
		}).Result()
		if err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			return false, fmt.Errorf("list pending outbox entries: %w", err)
		}
		for _, pe := range pend {
			if ctx.Err() != nil || p.failed() {
				return false, nil
			}
			if handed == limit {
				*resume = pe.ID
				return true, nil
			}
			if p.inFlight(pe.ID) {
				continue
			}
			if u, ok := unc[pe.ID]; ok && !d.resendDue(u, now) && !u.Untraced {
				continue
			}
			wait := d.wait(pe.ID, pe.RetryCount)
			if pe.Idle < wait {
				continue
			}
			msgs, err := d.Outbox.rdb.XClaim(ctx, &redis.XClaimArgs{
				Stream: d.Outbox.stream, Group: d.Outbox.group, Consumer: d.Consumer,
				MinIdle: wait, Messages: []string{pe.ID},
			}).Result()
			if err != nil {
				if ctx.Err() != nil {
					return false, nil
				}
				return false, fmt.Errorf("claim outbox entry %s: %w", pe.ID, err)
			}
			for _, m := range msgs {
				if !p.submit(ctx, m, pe.RetryCount+1) {
					return false, nil
				}
				handed++
			}
		}
		if len(pend) < 100 {
			if *resume != "-" {
				// Begun midway: what was due before it is looked at next.
				*resume = "-"
				return true, nil
			}
			return false, nil
		}
		start = "(" + pend[len(pend)-1].ID
	}
}

// workers send the entries produce hands them, Workers at a time.
type workers struct {
	d        *Delivery
	jobs     chan job
	sendCtx  context.Context
	stopSend func() bool
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	idle     chan struct{} // the last send in progress finished (buffered: a wake-up)
	fail     chan struct{} // closed at the first error

	mu       sync.Mutex
	inflight map[string]bool
	st       Stats
	err      error
}

type job struct {
	m       redis.XMessage
	attempt int64
	done    chan struct{} // closed when it is finished
}

func (d *Delivery) startWorkers(ctx context.Context) *workers {
	// Sends run on after ctx ends, for StopGrace: a mail whose reply is
	// about to come should not become uncertain because of a shutdown.
	sendCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &workers{
		d: d, jobs: make(chan job), sendCtx: sendCtx, cancel: cancel,
		idle: make(chan struct{}, 1), fail: make(chan struct{}), inflight: map[string]bool{},
	}
	p.stopSend = context.AfterFunc(ctx, func() { time.AfterFunc(d.StopGrace, cancel) })
	for range d.Workers {
		p.wg.Go(func() {
			for j := range p.jobs {
				p.run(ctx, j)
			}
		})
	}
	return p
}

// submit hands m to a worker, waiting for a free one; false: stop
// producing (ctx ended or a worker failed). An entry already being sent
// here is not handed out twice.
func (p *workers) submit(ctx context.Context, m redis.XMessage, attempt int64) bool {
	p.mu.Lock()
	if p.inflight[m.ID] {
		p.mu.Unlock()
		return true
	}
	p.inflight[m.ID] = true
	p.mu.Unlock()
	j := job{m, attempt, make(chan struct{})}
	select {
	case p.jobs <- j:
	case <-ctx.Done():
		p.mu.Lock()
		delete(p.inflight, m.ID)
		p.mu.Unlock()
		return false
	case <-p.fail:
		p.mu.Lock()
		delete(p.inflight, m.ID)
		p.mu.Unlock()
		return false
	}
	// One send at a time while the relay answers promptly: then a crash
	// catches at most one mail between the relay's acceptance and its
	// record (sent twice). One that takes longer than Overtake (a relay
	// slow to answer the end of DATA) is left to its worker and the next
	// begins.
	t := time.NewTimer(p.d.Overtake)
	defer t.Stop()
	select {
	case <-j.done:
	case <-t.C:
	case <-ctx.Done():
		return false
	case <-p.fail:
		return false
	}
	return true
}

func (p *workers) run(ctx context.Context, j job) {
	var st Stats
	err := p.d.deliver(ctx, p.sendCtx, j.m, j.attempt, &st)
	defer close(j.done)
	p.mu.Lock()
	delete(p.inflight, j.m.ID)
	idle := len(p.inflight) == 0
	p.st.add(st)
	if err != nil && p.err == nil {
		p.err = err
		close(p.fail)
	}
	p.mu.Unlock()
	if idle {
		select {
		case p.idle <- struct{}{}:
		default:
		}
	}
}

func (p *workers) inFlight(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inflight[id]
}

func (p *workers) busy() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inflight)
}

func (p *workers) failed() bool {
	select {
	case <-p.fail:
		return true
	default:
		return false
	}
}

// finish waits for the sends in progress and returns what all did; err is
// the producer's, reported before a worker's.
func (p *workers) finish(err error) (Stats, error) {
	close(p.jobs)
	p.wg.Wait()
	p.stopSend()
	p.cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		err = p.err
	}
	return p.st, err
}

// noteFailure keeps the latest temporary failure of a pending entry for
// `maildesk outbox list`.
func (d *Delivery) noteFailure(ctx context.Context, m redis.XMessage, attempt int64, reason string) error {
	v := failureNote(attempt, d.Now(), reason)
	if err := d.Outbox.rdb.HSet(ctx, d.Outbox.errors, m.ID, v).Err(); err != nil {
		return fmt.Errorf("record failure of outbox entry %s: %w", m.ID, err)
	}
	return nil
}

// failureNote is how the outcome of a try that did not deliver is kept in
// the outbox's errors hash: "attempt N at TIME: reason". List reads N back
// (notedAttempt) to tell a try that ended from one still going on.
func failureNote(attempt int64, at time.Time, reason string) string {
	return fmt.Sprintf("attempt %d at %s: %s", attempt, at.UTC().Format(time.RFC3339), reason)
}

// uncertainNote starts the reason of the failure note of a delivery that
// became uncertain (markUncertain); notedUncertainty and
// retry_pending.lua find it by it.
const uncertainNote = "delivery uncertain: "

// notedUncertainty is the moment of failure note v when it is the note of
// a delivery that became uncertain; ok is false otherwise.
func notedUncertainty(v string) (at time.Time, ok bool) {
	rest, ok := strings.CutPrefix(v, "attempt ")
	if !ok {
		return time.Time{}, false
	}
	if _, rest, ok = strings.Cut(rest, " at "); !ok {
		return time.Time{}, false
	}
	stamp, reason, ok := strings.Cut(rest, ": ")
	if !ok || !strings.HasPrefix(reason, uncertainNote) {
		return time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339, stamp)
	return at, err == nil
}

// notedAttempt is the attempt number of a failureNote; 0 when v is none.
func notedAttempt(v string) int64 {
	n, ok := strings.CutPrefix(v, "attempt ")
	if !ok {
		return 0
	}
	end := strings.IndexFunc(n, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		n = n[:end]
	}
	a, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return 0
	}
	return a
}

// finish removes an entry from the outbox; with a reason it is kept in the
// dead-letter stream first.
func (d *Delivery) finish(ctx context.Context, m redis.XMessage, n Notification, reason string) error {
	return d.finishTo(ctx, d.Outbox.dead, m, n, reason)
}

// finishTo removes an entry from the outbox, keeping it with its reason in
// stream when a reason is given.
func (d *Delivery) finishTo(ctx context.Context, stream string, m redis.XMessage, n Notification, reason string) error {
	_, err := d.Outbox.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if reason != "" {
			vals := map[string]any{"reason": reason, "outbox_id": m.ID}
			for k, v := range m.Values {
				vals[k] = v
			}
			p.XAdd(ctx, &redis.XAddArgs{Stream: stream, MaxLen: 100000, Approx: true, Values: vals})
		}
		p.XAck(ctx, d.Outbox.stream, d.Outbox.group, m.ID)
		p.XDel(ctx, d.Outbox.stream, m.ID)
		p.HDel(ctx, d.Outbox.errors, m.ID)
		p.HDel(ctx, d.Outbox.uncertain, m.ID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove outbox entry %s (%s): %w", m.ID, n.ID, err)
	}
	return nil
}

// wait is how long entry id waits after its attempt-th try: the backoff,
// spread by up to half again, so that entries that failed together (a
// relay outage) do not all come back in the same second. The spread is a
// hash of the entry, so every replica computes the same wait.
func (d *Delivery) wait(id string, attempt int64) time.Duration {
	b := d.backoff(attempt)
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%d", id, attempt)
	return b + time.Duration(float64(b)*0.5*float64(h.Sum32()%1024)/1024)
}

func (d *Delivery) backoff(attempt int64) time.Duration {
	b := d.Retry
	for i := int64(1); i < attempt && b < d.MaxBackoff; i++ {
		b *= 2
	}
	return min(b, d.MaxBackoff)
}

// streamTime is the time Redis gave a stream entry id ("ms-seq").
func streamTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	v, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(v)
}
