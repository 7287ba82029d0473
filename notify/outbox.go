package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
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
	group   string
}

// NewOutbox returns the outbox of one desk. Its keys share the desk's hash
// tag with the ticket store, whose commit script writes into it.
func NewOutbox(rdb redis.UniversalClient, deskID string) *Outbox {
	kp := config.KeyPrefix(deskID)
	return &Outbox{rdb: rdb, deskID: deskID, kp: kp, stream: kp + "outbox", dead: kp + "outbox:dead", skipped: kp + "outbox:skipped", errors: kp + "outbox:errors", group: "senders"}
}

// Key is the stream that producers XADD notifications to.
func (o *Outbox) Key() string { return o.stream }

// Init creates the stream and its consumer group. Starting at id 0 (not $)
// means entries queued before the first sender ever ran are still sent.
func (o *Outbox) Init(ctx context.Context) error {
	err := o.rdb.XGroupCreateMkStream(ctx, o.stream, o.group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
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
		SentWhileSuppressed: rec["sent_while_suppressed"]}
	// The id's own domain: that it is the desk's is the caller's check
	// (ingest knows the desk's domain); the HMAC is what cannot be forged.
	desk := Desk{ID: o.deskID, Address: "desk@" + domain, Secret: secret}
	if !VerifyMessageID(desk, id, Notification{ID: s.Notification, Kind: s.Kind, To: s.To, Ticket: s.Ticket}) {
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
	return messageIDTag(secret, n.ID), nil
}

// bareAddress is the address part of to, lower case.
func bareAddress(to string) string {
	if a, err := mail.ParseAddress(to); err == nil {
		to = a.Address
	}
	return strings.ToLower(strings.TrimSpace(to))
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

// Sender delivers one notification; *Mailer is the SMTP one.
type Sender interface {
	Send(ctx context.Context, n Notification) error
}

// Delivery drains an outbox through a Sender. Temporary failures stay
// pending in the group and are retried with exponential backoff; permanent
// ones, and temporary ones older than MaxAge, are dead-lettered.
type Delivery struct {
	Outbox   *Outbox
	Sender   Sender
	Consumer string // this replica's name in the consumer group
	Log      *slog.Logger
	// Retry is the first backoff after a temporary failure; it doubles per
	// attempt up to MaxBackoff.
	Retry      time.Duration
	MaxBackoff time.Duration
	MaxAge     time.Duration
	// Delivered is called after a notification was accepted by the server
	// and its delivery recorded, before the entry leaves the outbox: an
	// error (Redis away) keeps the entry, and the next attempt, finding it
	// sent, calls Delivered again instead of sending. It must therefore be
	// safe to repeat.
	Delivered func(ctx context.Context, n Notification) error
	// StatusLink makes the recipient's link to the ticket's status page
	// for a notification of a kind that carries one (Kind.StatusLink), at
	// each send: "" for none (the plan gives none, the recipient may not
	// have one). An error holds the mail back for a retry. nil: no links.
	StatusLink func(ctx context.Context, n Notification) (string, error)
	Now        func() time.Time
	// SendTimeout is the longest one Send may take (the SMTP timeout).
	SendTimeout time.Duration
	// Limits caps automatic mail (Kind.Automatic: everything but agents'
	// replies) per recipient (not mail to the desk's own people,
	// Kind.ToDesk) and in total; the zero value limits nothing.
	Limits Limits
	// RefusedSuppression is how long an address the relay refused
	// permanently (5xx at RCPT) gets no more automatic mail; 0 = not at all.
	RefusedSuppression time.Duration
}

// Stats counts what one Drain did.
type Stats struct {
	Sent, Skipped, Failed, Dead int
}

// sentTTL is how long a delivered id is remembered; entries can only be
// redelivered while pending, and MaxAge bounds that well below it.
const sentTTL = 7 * 24 * time.Hour

// Drain delivers the entries that are due now: new ones, then failed ones
// whose backoff has passed. It returns when nothing more is due, so a cron
// job can call it every tick.
func (d *Delivery) Drain(ctx context.Context) (Stats, error) {
	var st Stats
	// The Sender may keep its connection open across the burst; the burst
	// ends here.
	if c, ok := d.Sender.(io.Closer); ok {
		defer c.Close()
	}
	if err := d.retryDue(ctx, &st); err != nil {
		return st, err
	}
	for {
		streams, err := d.Outbox.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: d.Outbox.group, Consumer: d.Consumer,
			Streams: []string{d.Outbox.stream, ">"}, Count: 50, Block: -1,
		}).Result()
		if errors.Is(err, redis.Nil) {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("read outbox %s: %w", d.Outbox.stream, err)
		}
		if len(streams) == 0 || len(streams[0].Messages) == 0 {
			return st, nil
		}
		for _, m := range streams[0].Messages {
			// On shutdown the rest stays pending and is claimed again later.
			if ctx.Err() != nil {
				return st, nil
			}
			if err := d.deliver(ctx, m, 1, &st); err != nil {
				return st, err
			}
		}
	}
}

// retryDue claims failed entries whose backoff has passed. Pending entries
// of a replica that died are claimed the same way.
func (d *Delivery) retryDue(ctx context.Context, st *Stats) error {
	retry := d.retry()
	// Paged, so that a long queue of failures (a relay down for an hour)
	// cannot hide the entries behind its first page.
	for start := "-"; ; {
		pend, err := d.Outbox.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: d.Outbox.stream, Group: d.Outbox.group, Idle: retry, Start: start, End: "+", Count: 100,
		}).Result()
		if err != nil {
			return fmt.Errorf("list pending outbox entries: %w", err)
		}
		for _, p := range pend {
			if ctx.Err() != nil {
				return nil
			}
			wait := d.wait(p.ID, p.RetryCount)
			if p.Idle < wait {
				continue
			}
			msgs, err := d.Outbox.rdb.XClaim(ctx, &redis.XClaimArgs{
				Stream: d.Outbox.stream, Group: d.Outbox.group, Consumer: d.Consumer,
				MinIdle: wait, Messages: []string{p.ID},
			}).Result()
			if err != nil {
				return fmt.Errorf("claim outbox entry %s: %w", p.ID, err)
			}
			for _, m := range msgs {
				if err := d.deliver(ctx, m, p.RetryCount+1, st); err != nil {
					return err
				}
			}
		}
		if len(pend) < 100 {
			return nil
		}
		start = "(" + pend[len(pend)-1].ID
	}
}

func (d *Delivery) deliver(ctx context.Context, m redis.XMessage, attempt int64, st *Stats) error {
	// Once begun, an entry is finished even on shutdown: abandoning it after
	// the server accepted the mail would send it twice.
	ctx = context.WithoutCancel(ctx)
	log := d.log().With("outbox_entry", m.ID)
	n, err := FromFields(m.Values)
	if err != nil {
		st.Dead++
		log.Error("outbox entry unreadable, dead-lettered", "err", err)
		return d.finish(ctx, m, n, "unreadable entry: "+err.Error())
	}
	log = log.With("notification", n.ID, "kind", n.Kind, "ticket", n.Ticket, "to", n.To)
	// Sent before, then the process died (or Redis went away) before the
	// entry was finished: finish what the delivery means, not the sending.
	// No claim is needed for that; a dead sender's claim may still stand.
	sentKey := d.Outbox.sentKey(n.ID)
	alreadySent := func() (bool, error) {
		done, err := d.Outbox.rdb.Exists(ctx, sentKey).Result()
		if err != nil {
			return false, fmt.Errorf("check delivery record of %s: %w", n.ID, err)
		}
		return done == 1, nil
	}
	finishSent := func() error {
		if err := d.delivered(ctx, n); err != nil {
			log.Warn("notification delivered, but what it means for its ticket is not recorded yet; will retry", "err", err)
			return d.noteFailure(ctx, m, attempt, "recording the delivery: "+err.Error())
		}
		st.Skipped++
		log.Info("notification already delivered, not sending again")
		return d.finish(ctx, m, n, "")
	}
	if sent, err := alreadySent(); err != nil || sent {
		if err != nil {
			return err
		}
		return finishSent()
	}
	// The group gives an entry to one replica, but a replica whose sends are
	// slow can have an entry claimed away (retryDue) while it still sends
	// it: a claim per notification keeps the second one from sending too.
	claim := d.Outbox.sendingKey(n.ID)
	got, err := d.Outbox.rdb.SetNX(ctx, claim, d.Consumer, d.claimTTL()).Result()
	if err != nil {
		return fmt.Errorf("claim notification %s: %w", n.ID, err)
	}
	if !got {
		log.Info("notification being sent by another replica, leaving it")
		return nil
	}
	// Released only while still ours: an expired claim may be another's.
	defer releaseScript.Run(context.WithoutCancel(ctx), d.Outbox.rdb, []string{claim}, d.Consumer)
	// Again under the claim: the other sender may have finished between
	// the first check and the claim.
	if sent, err := alreadySent(); err != nil || sent {
		if err != nil {
			return err
		}
		return finishSent()
	}
	why, err := d.Outbox.suppressed(ctx, n.To)
	if err != nil {
		return err
	}
	if why != "" && n.Kind.Automatic() {
		st.Skipped++
		log.Warn("notification skipped: recipient suppressed", "reason", why)
		return d.finishTo(ctx, d.Outbox.skipped, m, n, "recipient suppressed: "+why)
	}
	// Suppression keeps the desk's automatic mail from an address that
	// bounced. An agent's reply is a person's answer: skipping it would
	// leave the agent believing the customer was answered. It is sent; if
	// it bounces again, that bounce lands on the ticket, where the agent
	// sees it.
	if why != "" {
		log.Warn("agent's reply sent although automatic mail to the recipient is suppressed", "reason", why)
	}
	// Before the send, so that a Redis failure here leaves nothing sent
	// that the record then misses.
	tag, err := d.Outbox.sentTag(ctx, n)
	if err != nil {
		return err
	}
	// The limits are for automatic mail: an agent's reply is a person's
	// answer and is neither held back nor skipped by them.
	var verdict verdict
	if n.Kind.Automatic() {
		if verdict, err = d.Limits.admit(ctx, d.Outbox, n, d.now()); err != nil {
			return err
		}
	}
	switch {
	case verdict.global:
		// A flood of legitimate mail (an outage, many tickets at once) is
		// slowed down, not dropped: the entry stays pending and comes back
		// with the retries.
		st.Failed++
		log.Warn("notification held back: desk-wide limit reached", "limit", verdict.reason)
		return d.noteFailure(ctx, m, attempt, "held back: "+verdict.reason)
	case verdict.reason != "":
		st.Skipped++
		log.Warn("notification skipped: recipient rate limit", "limit", verdict.reason)
		return d.finishTo(ctx, d.Outbox.skipped, m, n, "rate limited: "+verdict.reason)
	}
	if d.StatusLink != nil && n.Kind.StatusLink() {
		// Minted now, for this send only: the link is a capability, and
		// the outbox entry (in Redis) must not hold it.
		if n.StatusURL, err = d.StatusLink(ctx, n); err != nil {
			st.Failed++
			log.Warn("notification held back: its status link could not be made", "err", err)
			return d.noteFailure(ctx, m, attempt, "making the status link: "+err.Error())
		}
	}
	err = d.Sender.Send(ctx, n)
	switch {
	case err == nil:
		st.Sent++
		log.Info("notification delivered", "attempt", attempt)
		// The record first, so that a crash from here on never sends again;
		// then what the delivery means (a ticket acknowledged); only then
		// the entry goes, so that nothing of it is lost to a crash between.
		// The record of what went to whom comes with it: a bounce of this
		// mail may suppress its recipient and nobody else.
		at := d.now().UTC().Format(time.RFC3339)
		if _, err := d.Outbox.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, sentKey, at, sentTTL)
			if tag != "" {
				rec := []any{"id", n.ID, "kind", string(n.Kind), "to", bareAddress(n.To), "ticket", n.Ticket, "sent_at", at}
				if why != "" {
					rec = append(rec, "sent_while_suppressed", why)
				}
				p.HSet(ctx, d.Outbox.sentMailKey(tag), rec...)
				p.Expire(ctx, d.Outbox.sentMailKey(tag), sentMailTTL)
			}
			return nil
		}); err != nil {
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
	case d.now().Sub(streamTime(m.ID)) > d.maxAge():
		st.Dead++
		log.Error("notification still failing after max age, dead-lettered", "err", err, "attempt", attempt)
		return d.finish(ctx, m, n, "gave up after "+d.maxAge().String()+": "+err.Error())
	default:
		st.Failed++
		log.Warn("notification delivery failed, will retry", "err", err, "attempt", attempt, "next_in", d.wait(m.ID, attempt))
		return d.noteFailure(ctx, m, attempt, err.Error())
	}
}

func (d *Delivery) delivered(ctx context.Context, n Notification) error {
	if d.Delivered == nil {
		return nil
	}
	return d.Delivered(ctx, n)
}

// noteFailure keeps the latest temporary failure of a pending entry for
// `maildesk outbox list`.
func (d *Delivery) noteFailure(ctx context.Context, m redis.XMessage, attempt int64, reason string) error {
	v := fmt.Sprintf("attempt %d at %s: %s", attempt, d.now().UTC().Format(time.RFC3339), reason)
	if err := d.Outbox.rdb.HSet(ctx, d.Outbox.errors, m.ID, v).Err(); err != nil {
		return fmt.Errorf("record failure of outbox entry %s: %w", m.ID, err)
	}
	return nil
}

// releaseScript deletes a claim only if it still holds this consumer's name.
var releaseScript = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

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
	b := d.retry()
	for i := int64(1); i < attempt && b < d.maxBackoff(); i++ {
		b *= 2
	}
	return min(b, d.maxBackoff())
}

// claimTTL outlasts the longest send (the SMTP timeout covers dial and
// send), so a claim only expires when its replica died.
func (d *Delivery) claimTTL() time.Duration {
	if d.SendTimeout > 0 {
		return 2*d.SendTimeout + time.Minute
	}
	return 5 * time.Minute
}

func (d *Delivery) retry() time.Duration {
	if d.Retry > 0 {
		return d.Retry
	}
	return 30 * time.Second
}

func (d *Delivery) maxBackoff() time.Duration {
	if d.MaxBackoff > 0 {
		return d.MaxBackoff
	}
	return time.Hour
}

func (d *Delivery) maxAge() time.Duration {
	if d.MaxAge > 0 {
		return d.MaxAge
	}
	return 48 * time.Hour
}

func (d *Delivery) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Delivery) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
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
