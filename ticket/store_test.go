package ticket

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
)

func newStore(t *testing.T) (*Store, *redis.Client) {
	t.Helper()
	srv := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	return NewStore(rdb, Options{DeskID: "acme-it", TicketPrefix: "SD", OutboxKey: config.KeyPrefix("acme-it") + "outbox", NoticeInterval: time.Hour}), rdb
}

var note = []string{"kind", "ack", "to", "jan@acme.example"}

func outboxLen(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	n, err := rdb.XLen(context.Background(), config.KeyPrefix("acme-it")+"outbox").Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateIsIdempotent(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	nt := New{Subject: "Printer on fire", Priority: "P3", Customer: "acme", Contact: "jan@acme.example",
		MessageID: "m1@acme.example", CreatedAt: at, Source: Source{Mailbox: "INBOX", UIDValidity: 7, UID: 3}}

	first, err := s.Create(ctx, "m1@acme.example", nt, note)
	if err != nil {
		t.Fatal(err)
	}
	if first != (Result{Number: "SD-1", Created: true, Notified: true}) {
		t.Fatalf("first create = %+v", first)
	}
	again, err := s.Create(ctx, "m1@acme.example", nt, note)
	if err != nil {
		t.Fatal(err)
	}
	if again != (Result{Number: "SD-1"}) {
		t.Fatalf("replay = %+v, want SD-1 not created", again)
	}
	if n := outboxLen(t, rdb); n != 1 {
		t.Fatalf("outbox has %d entries, want 1 acknowledgement", n)
	}
	second, err := s.Create(ctx, "m2@acme.example", nt, nil)
	if err != nil || second.Number != "SD-2" || second.Notified {
		t.Fatalf("second ticket = %+v, %v", second, err)
	}
	if n := outboxLen(t, rdb); n != 1 {
		t.Fatalf("a ticket without note queued mail: outbox %d", n)
	}

	got, err := s.Get(ctx, "sd-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != nt.Subject || got.Status != StatusNew || !got.CreatedAt.Equal(at) || got.Source != nt.Source || got.AcknowledgedAt != nil {
		t.Fatalf("stored ticket = %+v", got)
	}
	ts, err := s.List(ctx)
	if err != nil || len(ts) != 2 || ts[0].Number != "SD-1" || ts[1].Number != "SD-2" {
		t.Fatalf("list = %+v, %v", ts, err)
	}
	if _, err := s.Get(ctx, "SD-99"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(SD-99) err = %v, want ErrNotFound", err)
	}
	if err := s.MarkAcknowledged(ctx, "SD-1", at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkAcknowledged(ctx, "SD-1", at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Get(ctx, "SD-1")
	if got.AcknowledgedAt == nil || !got.AcknowledgedAt.Equal(at.Add(time.Minute)) {
		t.Fatalf("acknowledged_at = %v, want the first delivery", got.AcknowledgedAt)
	}
	if err := s.MarkAcknowledged(ctx, "SD-99", at); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MarkAcknowledged(SD-99) = %v", err)
	}
}

// Several replicas or a replay racing the first run must still make one ticket.
func TestCreateConcurrentSameMail(t *testing.T) {
	s, rdb := newStore(t)
	var wg sync.WaitGroup
	results := make([]Result, 20)
	for i := range results {
		wg.Go(func() {
			r, err := s.Create(context.Background(), "same@acme.example", New{Subject: "x"}, note)
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		})
	}
	wg.Wait()
	created := 0
	for _, r := range results {
		if r.Number != "SD-1" {
			t.Fatalf("result %+v, want SD-1", r)
		}
		if r.Created {
			created++
		}
	}
	if created != 1 || outboxLen(t, rdb) != 1 {
		t.Fatalf("created %d times, outbox %d; want once", created, outboxLen(t, rdb))
	}
}

func TestRejectNoticeRateLimitAndReplay(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	rej := func(id string) Rejection {
		return Rejection{Sender: "Stranger@Example.org", Reason: "unknown sender", MessageID: id, At: time.Now()}
	}
	tests := []struct {
		name   string
		dedupe string
		note   []string
		want   Result
		outbox int64
	}{
		{"first mail gets a notice", "r1@x", note, Result{Number: "rejected", Created: true, Notified: true}, 1},
		{"replay of it changes nothing", "r1@x", note, Result{Number: "rejected"}, 1},
		{"second mail within the window: no notice", "r2@x", note, Result{Number: "rejected", Created: true}, 1},
		{"machine mail: never a notice", "r3@x", nil, Result{Number: "rejected", Created: true}, 1},
	}
	for _, tt := range tests {
		got, err := s.Reject(ctx, tt.dedupe, rej(tt.dedupe), tt.note)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got != tt.want || outboxLen(t, rdb) != tt.outbox {
			t.Fatalf("%s: got %+v outbox %d, want %+v outbox %d", tt.name, got, outboxLen(t, rdb), tt.want, tt.outbox)
		}
	}
	rs, err := s.Rejections(ctx)
	if err != nil || len(rs) != 3 {
		t.Fatalf("audit records = %d (%v), want 3 (the replay adds none)", len(rs), err)
	}
	// A refused mail is remembered for the audit retention, not for ever
	// in seen: a stranger's flood of ids expires.
	if n, _ := rdb.HLen(ctx, "md:{acme-it}:seen").Result(); n != 0 {
		t.Errorf("seen holds %d entries of refused mail", n)
	}
	if ttl, _ := rdb.TTL(ctx, "md:{acme-it}:rejected:r1@x").Result(); ttl < 24*time.Hour {
		t.Errorf("the refused mail's mark expires in %v, want the retention", ttl)
	}
	// Once the sender is registered, an operator may move the mail back.
	r, err := s.Create(ctx, "r1@x", New{Subject: "now allowed"}, note)
	if err != nil || !r.Created || r.Number != "SD-1" {
		t.Fatalf("create after rejection = %+v, %v", r, err)
	}
}

// All of a desk's keys carry its hash tag so they live in one Cluster slot.
func TestKeysShareHashTag(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, "a@x", New{}, note); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reject(ctx, "b@x", Rejection{Sender: "s@x"}, note); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 5 {
		t.Fatalf("keys = %v", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "md:{acme-it}:") {
			t.Errorf("key %q lacks the desk hash tag", k)
		}
	}
}

func TestAppendAndThreadLookup(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, "m1@acme.example", New{Subject: "x", MessageID: "m1@acme.example"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSent(ctx, "ack.sd-1.acme-it.maildesk.1a@desk.example", "SD-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reject(ctx, "r1@x", Rejection{Sender: "s@x"}, nil); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	ev := Event{At: at, Kind: EventReply, From: "jan@acme.example", MessageID: "m2@acme.example", Text: "still broken"}
	r, err := s.Append(ctx, "m2@acme.example", "SD-1", ev)
	if err != nil || r != (Result{Number: "SD-1", Created: true}) {
		t.Fatalf("append = %+v %v", r, err)
	}
	if r, err := s.Append(ctx, "m2@acme.example", "SD-1", ev); err != nil || r.Created {
		t.Fatalf("replayed append = %+v %v, want no-op", r, err)
	}
	if _, err := s.Append(ctx, "m3@acme.example", "SD-9", ev); !errors.Is(err, ErrNotFound) {
		t.Fatalf("append to missing ticket: %v", err)
	}
	evs, err := s.Events(ctx, "SD-1")
	if err != nil || len(evs) != 1 || evs[0].Text != "still broken" || !evs[0].At.Equal(at) {
		t.Fatalf("events %+v %v", evs, err)
	}
	if tk, _ := s.Get(ctx, "SD-1"); tk.UpdatedAt == nil || !tk.UpdatedAt.Equal(at) {
		t.Fatalf("updated_at not set: %+v", tk)
	}
	tests := []struct {
		ids  []string
		want string
	}{
		{[]string{"m1@acme.example"}, "SD-1"},                           // the mail that made it
		{[]string{"m2@acme.example"}, "SD-1"},                           // a follow-up
		{[]string{"ack.sd-1.acme-it.maildesk.1a@desk.example"}, "SD-1"}, // a mail the desk sent
		{[]string{"unknown@x", "m1@acme.example"}, "SD-1"},              // the first known one
		{[]string{"r1@x"}, ""},                                          // a rejected mail is no thread
		{[]string{"unknown@x"}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		got, err := s.FindByMessageID(ctx, tt.ids...)
		if err != nil || got != tt.want {
			t.Errorf("FindByMessageID(%v) = %q, %v; want %q", tt.ids, got, err, tt.want)
		}
	}
}

// A flood from many addresses of one domain gets at most the domain's
// limit of notices; old rejection records are trimmed after the retention.
func TestRejectDomainLimitAndRetention(t *testing.T) {
	srv := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	s := NewStore(rdb, Options{DeskID: "d", TicketPrefix: "SD", OutboxKey: "md:{d}:outbox",
		DomainNoticeLimit: 3, RejectionRetention: time.Hour, Now: func() time.Time { return now }})
	ctx := context.Background()
	notified := 0
	for i := range 10 {
		r, err := s.Reject(ctx, fmt.Sprintf("m%d@x", i), Rejection{Sender: fmt.Sprintf("user%d@flood.example", i)}, note)
		if err != nil {
			t.Fatal(err)
		}
		if r.Notified {
			notified++
		}
	}
	if notified != 3 {
		t.Fatalf("%d notices to one domain, want the limit 3", notified)
	}
	if r, _ := s.Reject(ctx, "other@x", Rejection{Sender: "a@elsewhere.example"}, note); !r.Notified {
		t.Fatal("another domain must still get its notice")
	}
	// Records written "two hours ago" by Redis's clock are older than the
	// retention once the store's clock has moved on.
	rs, _ := s.Rejections(ctx)
	if len(rs) != 11 {
		t.Fatalf("%d records", len(rs))
	}
	now = time.Now().Add(2 * time.Hour)
	if _, err := s.Reject(ctx, "late@x", Rejection{Sender: "z@y.example"}, nil); err != nil {
		t.Fatal(err)
	}
	if rs, _ := s.Rejections(ctx); len(rs) > 2 {
		t.Fatalf("%d records after the retention passed, want the old ones trimmed", len(rs))
	}
}

// A batch commits like the same calls one after the other: in order (ticket
// numbers follow it), idempotent within the batch and across batches, each
// commit with its own result; a bad entry fails alone. The first batch on a
// fresh server also covers the script not being cached yet (NOSCRIPT).
func TestCommitBatch(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	ticketOf := func(id string) *New {
		return &New{Subject: "about " + id, Priority: "P3", Customer: "acme", Contact: "jan@acme.example", MessageID: id, CreatedAt: at}
	}
	rej := &Rejection{Sender: "Stranger@Example.org", Reason: "unknown sender", At: at}
	batch := []Commit{
		{Dedupe: "a@x", Ticket: ticketOf("a@x"), Note: note},
		{Dedupe: "r1@x", Rejection: rej, Note: note},
		{Dedupe: "", Ticket: ticketOf("")}, // no dedupe key: refused before Redis
		{Dedupe: "b@x", Ticket: ticketOf("b@x")},
		{Dedupe: "a@x", Ticket: ticketOf("a@x"), Note: note}, // the same mail twice in one batch
		{Dedupe: "r2@x", Rejection: rej, Note: note},         // within the notice window
	}
	want := []Result{
		{Number: "SD-1", Created: true, Notified: true},
		{Number: "rejected", Created: true, Notified: true},
		{},
		{Number: "SD-2", Created: true},
		{Number: "SD-1"},
		{Number: "rejected", Created: true},
	}
	got := s.CommitBatch(ctx, batch)
	for i := range want {
		if (got[i].Err != nil) != (i == 2) || got[i].Result != want[i] {
			t.Errorf("commit %d = %+v, want %+v (error only for the one without dedupe key)", i, got[i], want[i])
		}
	}
	if n := outboxLen(t, rdb); n != 2 {
		t.Errorf("outbox has %d entries, want 2 (ack of SD-1, one notice)", n)
	}
	// Replayed as a whole: nothing new.
	for i, r := range s.CommitBatch(ctx, batch) {
		if i != 2 && (r.Err != nil || r.Created || r.Notified) {
			t.Errorf("replay of commit %d = %+v", i, r)
		}
	}
	if n := outboxLen(t, rdb); n != 2 {
		t.Errorf("outbox has %d entries after the replay, want 2", n)
	}
	// Redis gone: every commit fails, none claims success.
	rdb.Close()
	for i, r := range s.CommitBatch(ctx, batch[:2]) {
		if r.Err == nil {
			t.Errorf("commit %d without Redis = %+v, want an error", i, r)
		}
	}
}

// An API client's key makes its change idempotent in a namespace of its
// own: the same string as a mail's Message-ID neither blocks it nor is
// blocked by it, and it never threads.
func TestApplyRequestKeyApartFromMessageIDs(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, "m1@acme.example", New{Subject: "x", MessageID: "m1@acme.example"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "alice k1", "SD-1", Event{Kind: EventReply, Text: "a mail with that id"}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	apply := func(c Change) bool {
		t.Helper()
		c.At = at
		done, err := s.Apply(ctx, "SD-1", c, [][]string{{"id", "n", "kind", "progress"}})
		if err != nil {
			t.Fatal(err)
		}
		return done
	}
	if !apply(Change{Request: "alice k1"}) {
		t.Fatal("a mail's Message-ID blocked the request")
	}
	if apply(Change{Request: "alice k1"}) {
		t.Fatal("a retried request applied twice")
	}
	if !apply(Change{Dedupe: "bob k2"}) || !apply(Change{Request: "bob k2"}) {
		t.Fatal("a mail's dedupe and a request's key blocked each other")
	}
	if n, _ := s.FindByMessageID(ctx, "bob k2"); n != "SD-1" {
		t.Fatalf("the mail does not thread: %q", n)
	}
	if v, _ := rdb.HGet(ctx, config.KeyPrefix("acme-it")+"requests", "alice k1").Result(); v != "SD-1" {
		t.Fatalf("request recorded as %q", v)
	}
	if _, err := s.Apply(ctx, "SD-1", Change{At: at, Dedupe: "x", Request: "y"}, nil); err == nil {
		t.Fatal("a change with both a mail and a request was applied")
	}
	if n := outboxLen(t, rdb); n != 3 {
		t.Fatalf("outbox %d, want one mail per applied change", n)
	}
}

// The mark that a ticket needs an agent keeps the first unhandled time,
// survives changes that say nothing of it, and goes when one is handled;
// the notifications of the change that makes it are queued with it.
func TestApplyNeedsAgent(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, "m1@acme.example", New{Subject: "x", MessageID: "m1@acme.example"}, nil); err != nil {
		t.Fatal(err)
	}
	t1 := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	since := func() *time.Time {
		t.Helper()
		tk, err := s.Get(ctx, "SD-1")
		if err != nil {
			t.Fatal(err)
		}
		return tk.NeedsAgentSince
	}
	steps := []struct {
		c     Change
		notes [][]string
		since time.Time // zero: no mark
	}{
		{Change{At: t1, NeedsAgent: true, Dedupe: "r1"}, [][]string{{"id", "a", "kind", "feature_reply"}}, t1},
		{Change{At: t1.Add(time.Hour), NeedsAgent: true, Dedupe: "r2"}, nil, t1},
		{Change{At: t1.Add(2 * time.Hour), Assignee: new(string)}, nil, t1},
		{Change{At: t1.Add(3 * time.Hour), Handled: true}, nil, time.Time{}},
		{Change{At: t1.Add(4 * time.Hour), Handled: true}, nil, time.Time{}},
		{Change{At: t1.Add(5 * time.Hour), NeedsAgent: true, Dedupe: "r3"}, nil, t1.Add(5 * time.Hour)},
	}
	for i, st := range steps {
		if _, err := s.Apply(ctx, "SD-1", st.c, st.notes); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got := since()
		if st.since.IsZero() != (got == nil) || (got != nil && !got.Equal(st.since)) {
			t.Errorf("step %d: needs an agent since %v, want %v", i, got, st.since)
		}
	}
	if _, err := s.Apply(ctx, "SD-1", Change{At: t1, NeedsAgent: true, Handled: true}, nil); err == nil {
		t.Error("a change both marking and handling was applied")
	}
	if n := outboxLen(t, rdb); n != 1 {
		t.Errorf("outbox %d, want the one notification", n)
	}
}
