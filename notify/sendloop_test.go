package notify

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/ticket"
)

// secrets counts the secrets a SendLoop hands out.
type secrets struct{ got [][]byte }

func (s *secrets) SetSecret(b []byte) { s.got = append(s.got, b) }

// The send loop creates the consumer group and sets the Message-ID secret
// before its first drain, sends nothing while held, and after Redis lost
// its data (NOGROUP) creates the group and reads the secret again.
func TestSendLoopRecovers(t *testing.T) {
	ctx := context.Background()
	srv := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	ob := NewOutbox(rdb, "acme-it") // no group yet: the loop makes it
	sender := &scripted{}
	held := false
	var drained []Stats
	sec := &secrets{}
	loop := NewSendLoop(SendLoopConfig{
		Delivery: &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: time.Millisecond},
		Outbox:   ob, Secret: sec,
		Hold:    func(time.Time) bool { return held },
		Drained: func(st Stats) { drained = append(drained, st) },
	})

	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "jan@x", Ticket: "SD-1"})
	held = true
	if err := loop.Send(ctx); err != nil || len(sec.got) != 0 || len(drained) != 0 {
		t.Fatalf("held: err %v, %d secrets, %d drains; want nothing done", err, len(sec.got), len(drained))
	}
	held = false
	if err := loop.Send(ctx); err != nil {
		t.Fatal(err)
	}
	if len(sec.got) != 1 || len(sec.got[0]) == 0 || sender.count("SD-1/ack") != 1 || drained[0].Sent != 1 {
		t.Fatalf("first drain: %d secrets, sent %v, stats %+v", len(sec.got), sender.sent, drained)
	}

	// Redis restarted without its data.
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	enqueue(t, rdb, ob, "", Notification{ID: "SD-2/ack", Kind: Ack, To: "jan@x", Ticket: "SD-2"})
	if err := loop.Send(ctx); err == nil || !strings.Contains(err.Error(), "NOGROUP") {
		t.Fatalf("drain without the group: %v, want NOGROUP", err)
	}
	if err := loop.Send(ctx); err != nil {
		t.Fatal(err)
	}
	if len(sec.got) != 2 || sender.count("SD-2/ack") != 1 {
		t.Fatalf("after recovery: %d secrets, sent %v", len(sec.got), sender.sent)
	}
}

// Kick asks for one drain however often it is called before the loop
// takes it, and never blocks.
func TestSendLoopKick(t *testing.T) {
	loop := NewSendLoop(SendLoopConfig{})
	for range 3 {
		loop.Kick()
	}
	if n := len(loop.kick); n != 1 {
		t.Fatalf("%d drains asked for, want 1", n)
	}
}

// A delivered mail's Message-ID threads replies to its ticket, and a
// delivered acknowledgement acknowledges the ticket (once; a ticket Redis
// no longer has is no error).
func TestSentBookRecord(t *testing.T) {
	ctx := context.Background()
	srv := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	store := ticket.NewStore(rdb, ticket.Options{DeskID: "acme-it", TicketPrefix: "SD"})
	created := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	r, err := store.Create(ctx, "m1", ticket.New{Subject: "Printer", Customer: "acme", Contact: "jan@acme.example",
		Priority: "P3", CreatedAt: created, MessageID: "m1@acme.example"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	desk := Desk{ID: "acme-it", Name: "Desk", Address: "desk@desk.example", DefaultLanguage: "en", Secret: []byte("s")}
	acked := created.Add(time.Minute)
	book := SentBook{Tickets: store, IDs: NewMailer(SMTPConfig{}, desk), Now: func() time.Time { return acked }, Log: slog.New(slog.DiscardHandler)}
	ack := Notification{ID: r.Number + "/ack", Kind: Ack, To: "jan@acme.example", Ticket: r.Number}
	for range 2 { // Delivered may be called again
		if err := book.Record(ctx, ack); err != nil {
			t.Fatal(err)
		}
	}
	id, err := MessageID(desk, ack)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := store.FindByMessageID(ctx, id); err != nil || n != r.Number {
		t.Errorf("reply to the acknowledgement threads to %q (%v), want %s", n, err, r.Number)
	}
	got, err := store.Get(ctx, r.Number)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != ticket.StatusAcknowledged || got.AcknowledgedAt == nil || !got.AcknowledgedAt.Equal(acked) {
		t.Errorf("ticket %s acknowledged at %v, want %s at %s", got.Status, got.AcknowledgedAt, ticket.StatusAcknowledged, acked)
	}
	gone := Notification{ID: "SD-99/ack", Kind: Ack, To: "jan@acme.example", Ticket: "SD-99"}
	if err := book.Record(ctx, gone); err != nil {
		t.Errorf("acknowledgement of a ticket Redis lost: %v", err)
	}
	if err := book.Record(ctx, Notification{ID: "alarm", Kind: AlarmDown, To: "ops@desk.example"}); err != nil {
		t.Errorf("mail about no ticket: %v", err)
	}
}
