package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/internal/testserver"
)

// scripted answers Send with a preset outcome per recipient, standing in for
// an SMTP server's replies (mailer_test covers real SMTP).
type scripted struct {
	mu    sync.Mutex
	reply map[string][]error // per recipient, consumed in order; last repeats
	sent  []string
}

func (s *scripted) Send(_ context.Context, n Notification) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, n.ID)
	rs := s.reply[n.To]
	if len(rs) == 0 {
		return nil
	}
	err := rs[0]
	if len(rs) > 1 {
		s.reply[n.To] = rs[1:]
	}
	return err
}

func (s *scripted) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, x := range s.sent {
		if x == id {
			n++
		}
	}
	return n
}

var (
	errTemp = errors.New("dial tcp 127.0.0.1:25: connection refused")
	errPerm = fmt.Errorf("render: %w", ErrInvalidNotification)
)

// newOutbox is an initialised outbox of desk "acme-it" on a real Redis.
func newOutbox(t testing.TB) (*Outbox, *redis.Client) {
	t.Helper()
	srv := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	ob := NewOutbox(rdb, "acme-it")
	if err := ob.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ob, rdb
}

// enqueue adds n to the outbox as a producer would; id "" lets Redis pick.
func enqueue(t testing.TB, rdb *redis.Client, ob *Outbox, id string, n Notification) {
	t.Helper()
	vals := []any{}
	for _, f := range n.Fields() {
		vals = append(vals, f)
	}
	if err := rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: ob.Key(), ID: id, Values: vals}).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestDrainRetriesAndDeadLetters(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	if err := ob.Init(ctx); err != nil {
		t.Fatalf("second Init must tolerate the existing group: %v", err)
	}
	add := func(n Notification) { enqueue(t, rdb, ob, "", n) }
	add(Notification{ID: "SD-1/ack", Kind: Ack, To: "ok@x", Ticket: "SD-1"})
	add(Notification{ID: "SD-2/ack", Kind: Ack, To: "flaky@x", Ticket: "SD-2"})
	add(Notification{ID: "SD-3/ack", Kind: Ack, To: "gone@x", Ticket: "SD-3"})
	add(Notification{ID: "SD-4/ack", Kind: Ack, To: "ok@x", Ticket: "SD-4"})
	// SD-4 was delivered by a replica that died before acking it.
	rdb.Set(ctx, "md:{acme-it}:sent:SD-4/ack", "x", time.Hour)

	sender := &scripted{reply: map[string][]error{"flaky@x": {errTemp, nil}, "gone@x": {errPerm}}}
	var delivered []string
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: 50 * time.Millisecond,
		Delivered: func(_ context.Context, n Notification) error { delivered = append(delivered, n.ID); return nil }}

	st, err := d.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st != (Stats{Sent: 1, Skipped: 1, Failed: 1, Dead: 1}) {
		t.Fatalf("first drain %+v", st)
	}
	if n, _ := ob.Depth(ctx); n != 1 {
		t.Fatalf("depth %d, want the failed one still queued", n)
	}
	// Before the backoff has passed nothing is retried.
	if st, _ := d.Drain(ctx); st != (Stats{}) {
		t.Fatalf("drain before backoff did %+v", st)
	}
	time.Sleep(80 * time.Millisecond)
	if st, err := d.Drain(ctx); err != nil || st != (Stats{Sent: 1}) {
		t.Fatalf("retry drain %+v %v", st, err)
	}
	if n, _ := ob.Depth(ctx); n != 0 {
		t.Fatalf("depth %d after retry", n)
	}
	if sender.count("SD-4/ack") != 0 || sender.count("SD-1/ack") != 1 || sender.count("SD-2/ack") != 2 {
		t.Fatalf("sends %v", sender.sent)
	}
	// SD-4's delivery is finished again (its sender died before that).
	if strings.Join(delivered, " ") != "SD-1/ack SD-4/ack SD-2/ack" {
		t.Fatalf("delivered hook saw %v", delivered)
	}
	dead, err := ob.ListDead(ctx)
	if err != nil || len(dead) != 1 || dead[0].Notification.ID != "SD-3/ack" || dead[0].Reason == "" {
		t.Fatalf("dead letters %+v %v", dead, err)
	}
}

// A temporary failure that outlives MaxAge is dead-lettered, not retried forever.
func TestDrainGivesUpAfterMaxAge(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	// An id from 1970: the entry is "old".
	enqueue(t, rdb, ob, "1000-1", Notification{ID: "SD-9/ack", Kind: Ack, To: "flaky@x"})
	d := &Delivery{Outbox: ob, Sender: &scripted{reply: map[string][]error{"flaky@x": {errTemp}}}, Consumer: "t1", MaxAge: time.Hour}
	st, err := d.Drain(ctx)
	if err != nil || st != (Stats{Dead: 1}) {
		t.Fatalf("drain %+v %v", st, err)
	}
}

func TestBackoffDoublesToCap(t *testing.T) {
	d := &Delivery{Retry: time.Second, MaxBackoff: 10 * time.Second}
	want := []time.Duration{time.Second, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for attempt, w := range want {
		if got := d.backoff(int64(attempt)); got != w {
			t.Errorf("backoff(%d) = %v, want %v", attempt, got, w)
		}
	}
}

// Entries that failed together come back spread out, each by at most half
// its backoff again, the same on every replica.
func TestWaitIsJittered(t *testing.T) {
	d := &Delivery{Retry: time.Minute, MaxBackoff: time.Hour}
	seen := map[time.Duration]bool{}
	for i := range 50 {
		id := fmt.Sprintf("17000000000%02d-0", i)
		w := d.wait(id, 3)
		if b := d.backoff(3); w < b || w >= b+b/2 {
			t.Fatalf("wait %v outside [%v, %v)", w, b, b+b/2)
		}
		if w != d.wait(id, 3) {
			t.Fatal("wait differs between calls")
		}
		seen[w] = true
	}
	if len(seen) < 40 {
		t.Errorf("only %d different waits for 50 entries", len(seen))
	}
}

// Mail to an address whose earlier mail bounced is skipped and recorded,
// not sent and not silently dropped.
func TestDrainSkipsSuppressed(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	if err := ob.Suppress(ctx, "Gone@X", time.Hour, "bounced: 550 5.1.1 no such user"); err != nil {
		t.Fatal(err)
	}
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "gone@x", Ticket: "SD-1"})
	enqueue(t, rdb, ob, "", Notification{ID: "SD-2/ack", Kind: Ack, To: "ok@x", Ticket: "SD-2"})
	sender := &scripted{}
	st, err := (&Delivery{Outbox: ob, Sender: sender, Consumer: "t"}).Drain(ctx)
	if err != nil || st != (Stats{Sent: 1, Skipped: 1}) {
		t.Fatalf("drain %+v %v", st, err)
	}
	if sender.count("SD-1/ack") != 0 {
		t.Fatal("mail to a suppressed address was sent")
	}
	sk, err := ob.ListSkipped(ctx)
	if err != nil || len(sk) != 1 || sk[0].Notification.ID != "SD-1/ack" || !strings.Contains(sk[0].Reason, "550 5.1.1") {
		t.Fatalf("skipped %+v %v", sk, err)
	}
}

// An entry another replica is still sending (its claim is held) is left
// alone, even when it was claimed away from that replica.
func TestDrainLeavesEntryBeingSentElsewhere(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "jan@x", Ticket: "SD-1"})
	rdb.Set(ctx, "md:{acme-it}:sending:SD-1/ack", "replica-a", time.Minute)
	sender := &scripted{}
	st, err := (&Delivery{Outbox: ob, Sender: sender, Consumer: "replica-b"}).Drain(ctx)
	if err != nil || sender.count("SD-1/ack") != 0 || st.Sent != 0 {
		t.Fatalf("sent an entry another replica is sending: %+v %v", st, err)
	}
	if n, _ := ob.Depth(ctx); n != 1 {
		t.Fatalf("depth %d: the entry must stay for its retry", n)
	}
}

func TestSecretIsMadeOnceAndKept(t *testing.T) {
	ob, _ := newOutbox(t)
	s1, err := ob.Secret(context.Background())
	if err != nil || len(s1) != 32 {
		t.Fatalf("secret %x %v", s1, err)
	}
	s2, _ := NewOutbox(ob.rdb, "acme-it").Secret(context.Background())
	if string(s1) != string(s2) {
		t.Fatal("a second replica got another secret")
	}
}

// A flood of automatic mail to one address (a loop, abuse) stops at the
// recipient's limit and is recorded as skipped; the desk-wide cap holds
// mail back instead, to send when there is room.
func TestDrainRateLimits(t *testing.T) {
	ctx := context.Background()
	t.Run("per recipient", func(t *testing.T) {
		ob, rdb := newOutbox(t)
		for i := range 4 {
			enqueue(t, rdb, ob, "", Notification{ID: fmt.Sprintf("rej/%d", i), Kind: Rejection, To: "Loop@X"})
		}
		enqueue(t, rdb, ob, "", Notification{ID: "rej/other", Kind: Rejection, To: "other@x"})
		sender := &scripted{}
		d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1",
			Limits: Limits{PerRecipient: []Rate{{Window: time.Hour, Max: 5}, {Window: 10 * time.Minute, Max: 2}}}}
		st, err := d.Drain(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st != (Stats{Sent: 3, Skipped: 2}) {
			t.Fatalf("drain %+v, want 2 to loop@x, 1 to other@x, 2 skipped", st)
		}
		skipped, err := ob.ListSkipped(ctx)
		if err != nil || len(skipped) != 2 {
			t.Fatalf("skipped %+v %v", skipped, err)
		}
		if want := "rate limited: 2 per 10m0s to loop@x"; skipped[0].Reason != want {
			t.Errorf("reason %q, want %q", skipped[0].Reason, want)
		}
	})
	t.Run("a retry is not counted twice", func(t *testing.T) {
		ob, rdb := newOutbox(t)
		enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "jan@x", Ticket: "SD-1"})
		enqueue(t, rdb, ob, "", Notification{ID: "SD-2/ack", Kind: Ack, To: "jan@x", Ticket: "SD-2"})
		sender := &scripted{reply: map[string][]error{"jan@x": {errTemp, nil}}}
		d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: 20 * time.Millisecond,
			Limits: Limits{PerRecipient: []Rate{{Window: time.Hour, Max: 2}}}}
		if st, err := d.Drain(ctx); err != nil || st != (Stats{Sent: 1, Failed: 1}) {
			t.Fatalf("first drain %+v %v", st, err)
		}
		time.Sleep(40 * time.Millisecond)
		if st, err := d.Drain(ctx); err != nil || st != (Stats{Sent: 1}) {
			t.Fatalf("retry drain %+v %v: the failed attempt must not use up the limit", st, err)
		}
	})
	t.Run("desk cap holds back", func(t *testing.T) {
		ob, rdb := newOutbox(t)
		enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "a@x", Ticket: "SD-1"})
		enqueue(t, rdb, ob, "", Notification{ID: "SD-2/ack", Kind: Ack, To: "b@x", Ticket: "SD-2"})
		sender := &scripted{}
		d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: 20 * time.Millisecond,
			Limits: Limits{Desk: []Rate{{Window: 300 * time.Millisecond, Max: 1}}}}
		if st, err := d.Drain(ctx); err != nil || st != (Stats{Sent: 1, Failed: 1}) {
			t.Fatalf("first drain %+v %v", st, err)
		}
		if n, _ := ob.Depth(ctx); n != 1 {
			t.Fatalf("depth %d: the held-back mail must wait in the outbox", n)
		}
		if e, _ := rdb.HGetAll(ctx, "md:{acme-it}:outbox:errors").Result(); len(e) != 1 {
			t.Errorf("last errors %v, want the hold-back recorded", e)
		}
		time.Sleep(350 * time.Millisecond)
		if st, err := d.Drain(ctx); err != nil || st != (Stats{Sent: 1}) {
			t.Fatalf("drain after the window %+v %v", st, err)
		}
		if e, _ := rdb.HGetAll(ctx, "md:{acme-it}:outbox:errors").Result(); len(e) != 0 {
			t.Errorf("last errors %v left after delivery", e)
		}
	})
}

// An agent's reply is not automatic mail: limits that hold back or skip
// automatic mail neither stop it nor count it, while updates to the same
// recipient stay limited.
func TestDrainRateLimitsSpareAgentReplies(t *testing.T) {
	ctx := context.Background()
	ob, rdb := newOutbox(t)
	add := func(id string, k Kind, to string) {
		n := Notification{ID: id, Kind: k, To: to, Ticket: "SD-1", Text: "Hallo", Changes: []Change{{Field: ChangeStatus, New: "in_progress"}}}
		enqueue(t, rdb, ob, "", n)
	}
	add("SD-1/ack", Ack, "jan@x")                   // uses up jan's limit and half the desk's
	add("SD-1/reply/1/jan@x", AgentReply, "jan@x")  // over jan's limit: sent
	add("SD-1/reply/2/jan@x", AgentReply, "jan@x")  // likewise
	add("SD-1/progress/1/jan@x", Progress, "jan@x") // over jan's limit: skipped
	add("SD-1/progress/1/piet@x", Progress, "piet@x")
	add("SD-1/reply/3/kees@x", AgentReply, "kees@x") // the desk is full now: sent
	add("SD-1/ack/kees@x", Ack, "kees@x")            // the desk is full: held back
	sender := &scripted{}
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: time.Hour,
		Limits: Limits{PerRecipient: []Rate{{Window: time.Hour, Max: 1}}, Desk: []Rate{{Window: time.Hour, Max: 2}}}}
	st, err := d.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st != (Stats{Sent: 5, Skipped: 1, Failed: 1}) {
		t.Fatalf("drain %+v, want the three replies, the ack and piet's update sent", st)
	}
	for _, id := range []string{"SD-1/reply/1/jan@x", "SD-1/reply/2/jan@x", "SD-1/reply/3/kees@x"} {
		if sender.count(id) != 1 {
			t.Errorf("reply %s sent %d times", id, sender.count(id))
		}
	}
	if sender.count("SD-1/progress/1/jan@x") != 0 || sender.count("SD-1/ack/kees@x") != 0 {
		t.Errorf("automatic mail over the limits sent: %v", sender.sent)
	}
	// Replies are not counted against the automatic mail.
	if n, _ := rdb.ZCard(ctx, "md:{acme-it}:rate:desk").Result(); n != 2 {
		t.Errorf("desk window holds %d, want the ack and the update", n)
	}
	if n, _ := rdb.Exists(ctx, "md:{acme-it}:rate:kees@x").Result(); n != 0 {
		t.Errorf("kees's reply was counted")
	}
}

// An address the relay refuses permanently gets no automatic mail for a
// while, like one that bounced.
func TestDrainSuppressesRefusedRecipient(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "gone@x", Ticket: "SD-1"})
	refused := &SMTPError{Stage: StageRcpt, Code: 550, Err: errors.New("550 5.1.1 no such user")}
	d := &Delivery{Outbox: ob, Sender: &scripted{reply: map[string][]error{"gone@x": {refused}}}, Consumer: "t1",
		RefusedSuppression: time.Hour}
	if st, err := d.Drain(ctx); err != nil || st != (Stats{Dead: 1}) {
		t.Fatalf("drain %+v %v", st, err)
	}
	why, err := ob.suppressed(ctx, "gone@x")
	if err != nil || !strings.Contains(why, "550 5.1.1") {
		t.Fatalf("suppression %q %v", why, err)
	}
}

// One connection serves a whole drain: the sender is closed when it ends.
func TestDrainClosesSenderAfterBurst(t *testing.T) {
	ob, rdb := newOutbox(t)
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "a@x", Ticket: "SD-1"})
	s := &closingSender{}
	d := &Delivery{Outbox: ob, Sender: s, Consumer: "t1"}
	if _, err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.closed != 1 {
		t.Errorf("sender closed %d times, want 1", s.closed)
	}
}

type closingSender struct {
	scripted
	closed int
}

func (c *closingSender) Close() error { c.closed++; return nil }

// What a delivery means (a ticket acknowledged) is recorded before the
// entry leaves the outbox: when that fails (Redis away), the entry stays,
// and the next attempt records it without sending the mail again.
func TestDeliveredHookFailureIsRetriedWithoutResending(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "jan@x", Ticket: "SD-1"})
	sender := &scripted{}
	fail := true
	var recorded int
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: 20 * time.Millisecond,
		Delivered: func(context.Context, Notification) error {
			if fail {
				return errors.New("redis: connection refused")
			}
			recorded++
			return nil
		}}
	if _, err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := ob.Depth(ctx); n != 1 {
		t.Fatalf("depth %d: the entry must stay until its delivery is recorded", n)
	}
	fail = false
	time.Sleep(40 * time.Millisecond)
	if _, err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := ob.Depth(ctx); n != 0 || recorded != 1 || sender.count("SD-1/ack") != 1 {
		t.Fatalf("depth %d, recorded %d, sent %d times; want 0, 1, 1", n, recorded, sender.count("SD-1/ack"))
	}
}

// Mail to the desk's own people about a customer waiting for them
// (FeatureReply) is not skipped by the recipient's limit, which the
// agent's alerts used up: it is held back like the alerts, and the desk's
// cap holds it back too.
func TestDrainRateLimitsSpareDeskMail(t *testing.T) {
	ctx := context.Background()
	ob, rdb := newOutbox(t)
	add := func(id string, k Kind) {
		enqueue(t, rdb, ob, "", Notification{ID: id, Kind: k, To: "agent@desk.example", Ticket: "SD-1", Text: "Dit is GEEN functieverzoek"})
	}
	add("SD-1/sla_warning/agent", SLAWarning)       // uses up the agent's limit
	add("SD-2/sla_warning/agent", SLAWarning)       // over it: held back
	add("SD-1/feature_reply/a/agent", FeatureReply) // held back likewise
	add("SD-1/feature_reply/b/agent", FeatureReply)
	sender := &scripted{}
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: time.Hour,
		Limits: Limits{PerRecipient: []Rate{{Window: time.Hour, Max: 1}}, Desk: []Rate{{Window: time.Hour, Max: 2}}}}
	st, err := d.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st != (Stats{Sent: 1, Failed: 3}) {
		t.Fatalf("drain %+v, want the first warning sent and the rest held back, nothing skipped", st)
	}
	if sk, _ := ob.ListSkipped(ctx); len(sk) != 0 {
		t.Fatalf("mail to an agent skipped: %+v", sk)
	}
	if n, _ := ob.Depth(ctx); n != 3 {
		t.Errorf("depth %d: the held-back mail must wait", n)
	}
	for _, e := range mustList(t, ob) {
		if !strings.Contains(e.LastError, "held back") {
			t.Errorf("%s: %q, want held back", e.Notification.ID, e.LastError)
		}
	}
}

func mustList(t *testing.T, ob *Outbox) []Entry {
	t.Helper()
	es, err := ob.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// errUncertain is what Mailer.Send returns when the relay never answers
// the end of DATA.
var errUncertain = fmt.Errorf("sending: delivery uncertain: %w",
	&SMTPError{Stage: StageDataEnd, Err: errors.New("read tcp 127.0.0.1:25: i/o timeout")})

// waitFor polls cond for up to 10 s (a helper goroutine's progress, not a
// timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
	}
}

// A mail the relay took in full but never answered may have been
// delivered: it is not sent again by the retries (that is how a relay that
// queued it got it fifty times), it waits in the outbox marked uncertain,
// and an operator's retry sends it once more.
func TestDrainUncertainWaitsForOperator(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "jan@x", Ticket: "SD-1"})
	enqueue(t, rdb, ob, "", Notification{ID: "SD-2/ack", Kind: Ack, To: "piet@x", Ticket: "SD-2"})
	sender := &scripted{reply: map[string][]error{"jan@x": {errUncertain, nil}}}
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: 20 * time.Millisecond}
	if st, err := d.Drain(ctx); err != nil || st != (Stats{Sent: 1, Uncertain: 1}) {
		t.Fatalf("drain %+v %v", st, err)
	}
	es, err := ob.List(ctx)
	if err != nil || len(es) != 1 {
		t.Fatalf("outbox %+v %v, want the uncertain one waiting", es, err)
	}
	if e := es[0]; e.State() != StateUncertain || !e.Uncertain || e.UncertainSince.IsZero() || !strings.Contains(e.LastError, "delivery uncertain") {
		t.Fatalf("entry %+v (state %s), want it uncertain with the reason", e, e.State())
	}
	// The retries pass it by, however long it waits.
	for range 3 {
		time.Sleep(50 * time.Millisecond)
		if st, err := d.Drain(ctx); err != nil || st != (Stats{}) {
			t.Fatalf("drain after the backoff %+v %v: an uncertain delivery was retried", st, err)
		}
	}
	if n := sender.count("SD-1/ack"); n != 1 {
		t.Fatalf("sent %d times before any decision, want 1", n)
	}
	a, err := ob.Retry(ctx, "SD-1/ack", false)
	if err != nil || !a.Uncertain {
		t.Fatalf("Retry = %+v, %v; want it to say the delivery was uncertain", a, err)
	}
	if es, _ := ob.List(ctx); len(es) != 1 || es[0].State() != StateRetrying || !es[0].Resending {
		t.Fatalf("after the retry: %+v", es)
	}
	if st, err := d.Drain(ctx); err != nil || st != (Stats{Sent: 1}) {
		t.Fatalf("drain after the operator's retry %+v %v", st, err)
	}
	if n, _ := ob.Depth(ctx); n != 0 || sender.count("SD-1/ack") != 2 {
		t.Fatalf("depth %d, sent %d times; want 0 and 2", n, sender.count("SD-1/ack"))
	}
	if u, _ := rdb.HLen(ctx, "md:{acme-it}:outbox:uncertain").Result(); u != 0 {
		t.Errorf("%d uncertain records left after delivery", u)
	}
}

// With outbox.resend_uncertain_after, an uncertain delivery is sent once
// more by itself, and only once.
func TestDrainResendsUncertainOnce(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "jan@x", Ticket: "SD-1"})
	sender := &scripted{reply: map[string][]error{"jan@x": {errUncertain}}}
	now := time.Now()
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: time.Millisecond, MaxBackoff: time.Millisecond,
		ResendUncertain: time.Hour, Now: func() time.Time { return now }}
	if st, err := d.Drain(ctx); err != nil || st != (Stats{Uncertain: 1}) {
		t.Fatalf("drain %+v %v", st, err)
	}
	time.Sleep(10 * time.Millisecond) // past the backoff, not the resend delay
	if st, err := d.Drain(ctx); err != nil || st != (Stats{}) {
		t.Fatalf("drain before the resend delay %+v %v", st, err)
	}
	now = now.Add(61 * time.Minute)
	if st, err := d.Drain(ctx); err != nil || st != (Stats{Uncertain: 1}) {
		t.Fatalf("drain after the resend delay %+v %v, want one more (uncertain) send", st, err)
	}
	es, _ := ob.List(ctx)
	if len(es) != 1 || es[0].State() != StateUncertain || !es[0].Resent || !es[0].UncertainSince.Equal(now) {
		t.Fatalf("after the automatic resend: %+v", es)
	}
	for range 3 {
		now = now.Add(2 * time.Hour)
		time.Sleep(10 * time.Millisecond)
		if st, err := d.Drain(ctx); err != nil || st != (Stats{}) {
			t.Fatalf("drain %+v %v: the automatic resend happens once", st, err)
		}
	}
	if n := sender.count("SD-1/ack"); n != 2 {
		t.Fatalf("sent %d times, want 2", n)
	}
	// Dropping it clears its record.
	if _, err := ob.Drop(ctx, "SD-1/ack", "the customer confirmed receipt"); err != nil {
		t.Fatal(err)
	}
	if u, _ := rdb.HLen(ctx, "md:{acme-it}:outbox:uncertain").Result(); u != 0 {
		t.Errorf("%d uncertain records left after the drop", u)
	}
}

// gatedSender holds sends to the addresses in gate until the channel is
// closed; a send whose context ends meanwhile fails as one the relay did
// not answer.
type gatedSender struct {
	scripted
	gate map[string]chan struct{}
}

func (g *gatedSender) Send(ctx context.Context, n Notification) error {
	if ch := g.gate[n.To]; ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w (%w)", &SMTPError{Stage: StageDataEnd, Err: errors.New("use of closed connection")}, ctx.Err())
		}
	}
	return g.scripted.Send(ctx, n)
}

// A send the relay is slow to answer holds up neither the other waiting
// mail nor mail queued while it waits.
func TestDrainOneStuckSendHoldsUpNoOther(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	release := make(chan struct{})
	sender := &gatedSender{gate: map[string]chan struct{}{"stuck@x": release}}
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "stuck@x", Ticket: "SD-1"})
	for i := 2; i <= 4; i++ {
		enqueue(t, rdb, ob, "", Notification{ID: fmt.Sprintf("SD-%d/ack", i), Kind: Ack, To: "ok@x", Ticket: fmt.Sprintf("SD-%d", i)})
	}
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Workers: 2, Poll: 10 * time.Millisecond}
	type result struct {
		st  Stats
		err error
	}
	done := make(chan result, 1)
	go func() { st, err := d.Drain(ctx); done <- result{st, err} }()
	waitFor(t, "the three mails behind the stuck one", func() bool {
		return sender.count("SD-2/ack")+sender.count("SD-3/ack")+sender.count("SD-4/ack") == 3
	})
	enqueue(t, rdb, ob, "", Notification{ID: "SD-5/ack", Kind: Ack, To: "ok@x", Ticket: "SD-5"})
	waitFor(t, "a mail queued while the stuck one waits", func() bool { return sender.count("SD-5/ack") == 1 })
	select {
	case r := <-done:
		t.Fatalf("drain ended while a send was in progress: %+v %v", r.st, r.err)
	default:
	}
	close(release)
	r := <-done
	if r.err != nil || r.st != (Stats{Sent: 5}) {
		t.Fatalf("drain %+v %v", r.st, r.err)
	}
	if n, _ := ob.Depth(ctx); n != 0 {
		t.Fatalf("depth %d", n)
	}
}

// On shutdown a send waiting for the relay's answer is cut off after the
// grace period; it may have been delivered, so it is marked uncertain,
// not sent again by the next run.
func TestDrainShutdownCutsOffStuckSendAsUncertain(t *testing.T) {
	ob, rdb := newOutbox(t)
	sender := &gatedSender{gate: map[string]chan struct{}{"stuck@x": make(chan struct{})}}
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "stuck@x", Ticket: "SD-1"})
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", StopGrace: 20 * time.Millisecond, Retry: 10 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Stats, 1)
	go func() { st, _ := d.Drain(ctx); done <- st }()
	waitFor(t, "the send to start", func() bool {
		n, _ := rdb.Exists(context.Background(), "md:{acme-it}:sending:SD-1/ack").Result()
		return n == 1
	})
	cancel()
	if st := <-done; st != (Stats{Uncertain: 1}) {
		t.Fatalf("drain %+v, want the cut-off send uncertain", st)
	}
	time.Sleep(30 * time.Millisecond)
	d.Sender = &scripted{}
	if st, err := d.Drain(context.Background()); err != nil || st != (Stats{}) {
		t.Fatalf("next run %+v %v: the uncertain mail was sent again", st, err)
	}
}

// The recipient limits stop loops with strangers' auto-responders; mail to
// the desk's own managers (SLA alerts after downtime) is held back by
// them, never skipped.
func TestDrainHoldsBackMailToDeskOverRecipientLimit(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		enqueue(t, rdb, ob, "", Notification{ID: fmt.Sprintf("SD-%d/sla_breach/boss@x", i), Kind: SLABreach, To: "boss@x", Ticket: fmt.Sprintf("SD-%d", i)})
	}
	enqueue(t, rdb, ob, "", Notification{ID: "digest/2026-11-23/boss@x", Kind: Digest, To: "boss@x"})
	sender := &scripted{}
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: 20 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Limits: Limits{PerRecipient: []Rate{{Window: time.Hour, Max: 2}}}}
	if st, err := d.Drain(ctx); err != nil || st.Sent != 2 || st.Skipped != 0 || st.Failed < 2 {
		t.Fatalf("drain %+v %v, want 2 sent and 2 held back", st, err)
	}
	if sk, _ := ob.ListSkipped(ctx); len(sk) != 0 {
		t.Fatalf("mail to the desk's manager skipped: %+v", sk)
	}
	es, _ := ob.List(ctx)
	if len(es) != 2 || !strings.Contains(es[0].LastError, "held back: 2 per 1h0m0s to boss@x") {
		t.Fatalf("waiting %+v, want the two held back with the limit", es)
	}
	// Room in the window (here: a higher limit) lets them go.
	d.Limits.PerRecipient[0].Max = 10
	waitFor(t, "the held-back alerts", func() bool {
		if _, err := d.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		n, _ := ob.Depth(ctx)
		return n == 0
	})
	if len(sender.sent) != 4 {
		t.Fatalf("sent %v, want all four once", sender.sent)
	}
}

// `outbox list` tells a mail being sent from one tried and waiting: while
// the relay sits on the first try of one mail, that mail is "sending"
// with no error, the mails behind it are "new" (read from the outbox only
// as a worker takes them, so not counted as tried), and after the relay's
// refusals they are "retrying" with the refusal as their last error.
func TestListTellsSendingFromTried(t *testing.T) {
	ob, rdb := newOutbox(t)
	release := make(chan struct{})
	sender := &gatedSender{
		scripted: scripted{reply: map[string][]error{"stuck@x": {errTemp}}},
		gate:     map[string]chan struct{}{"stuck@x": release},
	}
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "stuck@x", Ticket: "SD-1"})
	for i := 2; i <= 4; i++ {
		enqueue(t, rdb, ob, "", Notification{ID: fmt.Sprintf("SD-%d/ack", i), Kind: Ack, To: "stuck@x", Ticket: fmt.Sprintf("SD-%d", i)})
	}
	// One worker and an Overtake longer than the test: the others wait.
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Workers: 1, Overtake: time.Minute, Retry: time.Hour}
	done := make(chan error, 1)
	go func() { _, err := d.Drain(context.Background()); done <- err }()
	waitFor(t, "the first send to start", func() bool {
		n, _ := rdb.Exists(context.Background(), "md:{acme-it}:sending:SD-1/ack").Result()
		return n == 1
	})
	es := mustList(t, ob)
	if len(es) != 4 {
		t.Fatalf("list %+v", es)
	}
	if e := es[0]; e.State() != StateSending || e.Attempts != 1 || e.LastError != "" || e.Consumer != "t1" {
		t.Errorf("mail being sent: state %s, %d attempts, last error %q, consumer %q; want sending, 1, none, t1", e.State(), e.Attempts, e.LastError, e.Consumer)
	}
	for _, e := range es[1:] {
		if e.State() != StateNew || e.Attempts != 0 {
			t.Errorf("mail %s behind the one being sent: state %s, %d attempts; want new, 0", e.Notification.ID, e.State(), e.Attempts)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, e := range mustList(t, ob) {
		if e.State() != StateRetrying || e.Attempts != 1 || !strings.Contains(e.LastError, "connection refused") {
			t.Errorf("refused mail %s: state %s, %d attempts, last error %q; want retrying, 1, the refusal", e.Notification.ID, e.State(), e.Attempts, e.LastError)
		}
	}
}

func TestNotedAttempt(t *testing.T) {
	at := time.Date(2026, 12, 6, 13, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want int64
	}{
		{failureNote(1, at, "451 busy"), 1},
		{failureNote(12, at, "delivery uncertain: timeout"), 12},
		{"attempt 3: connection refused", 3},
		{"", 0},
		{"attempt x at", 0},
		{"held: redis", 0},
	} {
		if got := notedAttempt(tc.v); got != tc.want {
			t.Errorf("notedAttempt(%q) = %d, want %d", tc.v, got, tc.want)
		}
	}
}

// slowSender takes a while for every send, as a relay does.
type slowSender struct {
	scripted
	each time.Duration
}

func (s *slowSender) Send(ctx context.Context, n Notification) error {
	time.Sleep(s.each)
	return s.scripted.Send(ctx, n)
}

// A flood of new mail does not keep a mail that failed before it waiting
// beyond its backoff: retries and new entries take turns, fairRound each.
// (TestSMTPOutage found none retried half-way through a relay's outage:
// every round read all new entries before it looked at the due ones.)
func TestDrainRetriesBetweenNewMail(t *testing.T) {
	ob, rdb := newOutbox(t)
	sender := &slowSender{scripted: scripted{reply: map[string][]error{"a@x": {errTemp, nil}}}, each: time.Millisecond}
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "a@x", Ticket: "SD-1"})
	const flood = 3 * fairRound
	for i := 2; i <= flood+1; i++ {
		enqueue(t, rdb, ob, "", Notification{ID: fmt.Sprintf("SD-%d/ack", i), Kind: Ack, To: "n@x", Ticket: fmt.Sprintf("SD-%d", i)})
	}
	// SD-1's backoff (1 to 1.5 ms) is over long before a round of new
	// mail (fairRound sends of at least 1 ms each) is.
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: time.Millisecond, MaxBackoff: time.Millisecond}
	if _, err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	sender.mu.Lock()
	sent := slices.Clone(sender.sent)
	sender.mu.Unlock()
	second := -1
	for i, id := range sent {
		if id == "SD-1/ack" && i > 0 {
			second = i
		}
	}
	if second < 0 || second > 2*fairRound+1 {
		t.Errorf("SD-1 sent again as send %d of %d, want within the first rounds (fairRound %d): retries waited for all new mail", second, len(sent), fairRound)
	}
}

// An uncertainty record that is not the JSON the delivery writes (a
// record written by hand, or damaged) still counts from the moment the
// delivery became uncertain, which the failure note written with it keeps:
// `outbox list` shows that moment, resend_uncertain_after counts from it,
// and an operator's retry keeps it.
func TestUncertainSinceOfUnreadableRecord(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "jan@x", Ticket: "SD-1"})
	sender := &scripted{reply: map[string][]error{"jan@x": {errUncertain, errUncertain}}}
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	now := t0
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: time.Millisecond, MaxBackoff: time.Millisecond,
		MaxAge: 1000 * time.Hour, ResendUncertain: time.Hour, Now: func() time.Time { return now }}
	if st, err := d.Drain(ctx); err != nil || st != (Stats{Uncertain: 1}) {
		t.Fatalf("drain %+v %v", st, err)
	}
	es := mustList(t, ob)
	if len(es) != 1 {
		t.Fatalf("outbox %+v", es)
	}
	id := es[0].StreamID
	plain := func() {
		t.Helper()
		if err := rdb.HSet(ctx, ob.uncertain, id, "no answer to DATA").Err(); err != nil {
			t.Fatal(err)
		}
	}
	since := func(want time.Time, what string) {
		t.Helper()
		es := mustList(t, ob)
		if len(es) != 1 || !es[0].Uncertain || !es[0].UncertainSince.Equal(want) {
			t.Fatalf("%s: %+v, want it uncertain since %s", what, es, want)
		}
	}
	plain()
	since(t0, "a record in plain text")
	now = t0.Add(30 * time.Minute)
	time.Sleep(5 * time.Millisecond) // past the backoff
	if st, err := d.Drain(ctx); err != nil || st != (Stats{}) {
		t.Fatalf("drain before the resend delay %+v %v", st, err)
	}
	now = t0.Add(61 * time.Minute)
	if st, err := d.Drain(ctx); err != nil || st != (Stats{Uncertain: 1}) {
		t.Fatalf("drain an hour after the uncertainty %+v %v, want the automatic resend", st, err)
	}
	resent := now
	since(resent, "after the automatic resend")
	plain()
	if _, err := ob.Retry(ctx, "SD-1/ack", false); err != nil {
		t.Fatal(err)
	}
	since(resent, "after an operator's retry of a record in plain text")
	if n := sender.count("SD-1/ack"); n != 2 {
		t.Fatalf("sent %d times, want 2", n)
	}
}

// The trace of an uncertain delivery (Delivery.Uncertain) is what keeps a
// repair after Redis lost writes from sending the mail again blindly. When
// it cannot be kept at once (the mailbox away, as it often is when the
// relay is), it is kept when the waiting entry is looked at again, with the
// moment the delivery became uncertain; once kept, never again.
func TestUncertainTraceKeptLater(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "jan@x", Ticket: "SD-1"})
	sender := &scripted{reply: map[string][]error{"jan@x": {errUncertain}}}
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	now := t0
	var tries []time.Time
	mailboxUp := false
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: time.Millisecond, MaxBackoff: time.Millisecond,
		MaxAge: 1000 * time.Hour, ResendUncertain: 24 * time.Hour, Now: func() time.Time { return now },
		Uncertain: func(ctx context.Context, n Notification, at time.Time) error {
			tries = append(tries, at)
			if !mailboxUp {
				return errors.New("dial tcp 127.0.0.1:993: connection refused")
			}
			return ob.MarkTraced(ctx, n.ID, true)
		}}
	if st, err := d.Drain(ctx); err != nil || st != (Stats{Uncertain: 1}) {
		t.Fatalf("drain %+v %v", st, err)
	}
	mailboxUp = true
	for range 3 {
		now = now.Add(10 * time.Minute)
		time.Sleep(5 * time.Millisecond) // past the backoff
		if st, err := d.Drain(ctx); err != nil || st != (Stats{}) {
			t.Fatalf("drain while it waits %+v %v", st, err)
		}
	}
	if len(tries) != 2 || !tries[0].Equal(t0) || !tries[1].Equal(t0) {
		t.Fatalf("trace kept at %v, want twice at %s: once failed, once kept when the entry was looked at again", tries, t0)
	}
	if n := sender.count("SD-1/ack"); n != 1 {
		t.Fatalf("sent %d times, want 1", n)
	}
}

// An uncertainty a repair put back (RestoreUncertain) for an entry left
// from before the loss, still waiting out the backoff of an earlier
// temporary failure, is the entry's at once: `outbox list` shows it
// uncertain since the moment on the trace, and an operator's retry sends
// it (not swallowed by the takeover at the next claim).
func TestRestoredUncertaintyBeforeItsEntryIsClaimed(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	n := Notification{ID: "SD-1/ack", Kind: Ack, To: "jan@x", Ticket: "SD-1"}
	enqueue(t, rdb, ob, "", n)
	sender := &scripted{reply: map[string][]error{"jan@x": {errTemp, nil}}}
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: time.Hour, MaxBackoff: time.Hour,
		MaxAge: 1000 * time.Hour, ResendUncertain: 24 * time.Hour}
	if st, err := d.Drain(ctx); err != nil || st != (Stats{Failed: 1}) {
		t.Fatalf("drain %+v %v", st, err)
	}
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := ob.RestoreUncertain(ctx, n, at); err != nil {
		t.Fatal(err)
	}
	es := mustList(t, ob)
	if len(es) != 1 || es[0].State() != StateUncertain || !es[0].UncertainSince.Equal(at) {
		t.Fatalf("after the repair: %+v (state %s), want it uncertain since %s", es, es[0].State(), at)
	}
	a, err := ob.Retry(ctx, "SD-1/ack", false)
	if err != nil || !a.Uncertain {
		t.Fatalf("Retry = %+v, %v; want it to say the delivery was uncertain", a, err)
	}
	if st, err := d.Drain(ctx); err != nil || st != (Stats{Sent: 1}) {
		t.Fatalf("drain after the operator's retry %+v %v, want it sent", st, err)
	}
	if c := sender.count("SD-1/ack"); c != 2 {
		t.Fatalf("sent %d times, want 2 (the failed try and the operator's)", c)
	}
}

// A claim in Redis under this replica's own name that this process does not
// hold was not taken by it: restored with a backup of Redis (issue 16 item
// 1: the backup caught a send in progress), or left by a process of the
// same name that died. No send of it is in progress, so it does not hold
// the mail back until it expires; another replica's claim still does.
func TestStaleOwnClaimDoesNotHoldBack(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "jan@x", Ticket: "SD-1"})
	enqueue(t, rdb, ob, "", Notification{ID: "SD-2/ack", Kind: Ack, To: "piet@x", Ticket: "SD-2"})
	rdb.Set(ctx, ob.sendingKey("SD-1/ack"), "t1", time.Hour)
	rdb.Set(ctx, ob.sendingKey("SD-2/ack"), "t2", time.Hour)
	sender := &scripted{}
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: time.Hour}
	if st, err := d.Drain(ctx); err != nil || st != (Stats{Sent: 1}) {
		t.Fatalf("drain %+v %v, want SD-1 sent, SD-2 left to t2", st, err)
	}
	if sender.count("SD-1/ack") != 1 || sender.count("SD-2/ack") != 0 {
		t.Fatalf("sent %v", sender.sent)
	}
	if n, _ := rdb.Exists(ctx, ob.sendingKey("SD-1/ack")).Result(); n != 0 {
		t.Error("the claim taken over was not released")
	}
}

// An uncertainty record without its moment and without the failure note
// that would give it counts from now on the Delivery's clock, not the
// machine's: with the clock three days ahead of the machine and
// resend_uncertain_after one day, it is not resent at once (it counted
// from the machine's time, three days "before"), and a restored
// uncertainty whose moment does not parse is recorded at the Delivery's
// now.
func TestUncertaintyWithoutMomentCountsOnDeliveryClock(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	clock := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	n := Notification{ID: "SD-1/ack", Kind: Ack, To: "jan@x", Ticket: "SD-1"}
	enqueue(t, rdb, ob, "", n)
	sender := &scripted{reply: map[string][]error{"jan@x": {errTemp, nil}}}
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: time.Hour, MaxBackoff: time.Hour,
		MaxAge: 1000 * time.Hour, ResendUncertain: 24 * time.Hour, Now: func() time.Time { return clock }}
	if st, err := d.Drain(ctx); err != nil || st != (Stats{Failed: 1}) {
		t.Fatalf("drain %+v %v", st, err)
	}
	id := mustList(t, ob)[0].StreamID
	// Due for a retry by its idle time; uncertain with no moment and no note.
	rdb.HDel(ctx, ob.errors, id)
	rdb.HSet(ctx, ob.uncertain, id, `{"reason":"made by hand"}`)
	if err := rdb.Do(ctx, "XCLAIM", ob.stream, ob.group, "t1", 0, id, "IDLE", (10 * time.Hour).Milliseconds()).Err(); err != nil {
		t.Fatal(err)
	}
	if st, err := d.Drain(ctx); err != nil || st.Sent != 0 {
		t.Fatalf("drain %+v %v: an uncertainty of unknown age was resent at once", st, err)
	}
	if c := sender.count("SD-1/ack"); c != 1 {
		t.Fatalf("sent %d times, want 1 (the failed try)", c)
	}

	// A restored uncertainty whose moment is damaged.
	rdb.HDel(ctx, ob.uncertain, id)
	rdb.Set(ctx, ob.restoredKey(n.ID), "garbage", time.Hour)
	u, ok, err := ob.uncertaintyOf(ctx, id, n.ID, 2, clock)
	if err != nil || !ok || !u.At.Equal(clock) {
		t.Fatalf("uncertaintyOf = %+v, %v, %v; want uncertain since %s", u, ok, err, clock)
	}
	if es := mustList(t, ob); !es[0].UncertainSince.Equal(clock) {
		t.Errorf("outbox list: uncertain since %s, want %s", es[0].UncertainSince, clock)
	}
}
