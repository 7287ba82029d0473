package notify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The delivery records mail under the HMAC atom it computes itself; it must
// be the atom the generator puts in the Message-ID, or no bounce of real
// mail would ever be recognised.
func TestMessageIDTagMatchesGenerator(t *testing.T) {
	notes := []Notification{
		ackNote(),
		{ID: "rejection/x@elsewhere.example/1", Kind: Rejection, To: "Stranger <X@Elsewhere.example>"},
		{ID: "SD-7/reply/123/jan@acme.example", Kind: AgentReply, To: "jan@acme.example", Ticket: "SD-7"},
	}
	for _, secret := range [][]byte{[]byte("one secret"), make([]byte, 32)} {
		d := testDesk
		d.Secret = secret
		for _, n := range notes {
			id, err := MessageID(d, n)
			if err != nil {
				t.Fatal(err)
			}
			tag, domain, ok := splitMessageID(id)
			if !ok || domain != "desk.example" || tag != messageIDTag(secret, n.ID, n.TicketKey) {
				t.Errorf("%s: id %q splits into %q %q %v, want tag %q", n.ID, id, tag, domain, ok, messageIDTag(secret, n.ID, n.TicketKey))
			}
		}
	}
}

func TestVerifyMessageID(t *testing.T) {
	n := ackNote()
	d := testDesk
	d.Secret = []byte("the desk's secret")
	id, _ := MessageID(d, n)
	if !VerifyMessageID(d, id, n) || !VerifyMessageID(d, "  "+strings.ToUpper(id)+" ", n) {
		t.Fatalf("the desk's own id %q does not verify", id)
	}
	tag, _, _ := splitMessageID(id)
	other := d
	other.Secret = []byte("another secret")
	otherKind := n
	otherKind.Kind = Progress
	for name, c := range map[string]struct {
		desk Desk
		id   string
		n    Notification
	}{
		"forged atom":       {d, strings.Replace(id, tag, "0123456789abcdef", 1), n},
		"another secret":    {other, id, n},
		"no secret":         {testDesk, id, n},
		"another kind":      {d, id, otherKind},
		"atoms rearranged":  {d, strings.Replace(id, "ack.", "progress.", 1), n},
		"another desk's id": {d, strings.Replace(id, ".acme-it.", ".other.", 1), n},
		"truncated atom":    {d, strings.Replace(id, tag, tag[:8], 1), n},
		"empty":             {d, "", n},
	} {
		if VerifyMessageID(c.desk, c.id, c.n) {
			t.Errorf("%s: %q verifies", name, c.id)
		}
	}
	for _, bad := range []string{"", "x@y", "ack.sd-1.acme-it.maildesk.0a1b@desk.example", "a.b.maildesk.0123456789abcdef@x",
		"ack.sd-1.acme-it.maildesk.0123456789ABCDEG@x", "ack.sd-1.acme-it.maildesk.0123456789abcdef"} {
		if _, _, ok := splitMessageID(bad); ok {
			t.Errorf("%q has the desk's shape", bad)
		}
	}
}

// What a bounce is checked against: the delivery records each mail's
// recipient under its Message-ID, and only an id the desk really made
// finds it.
func TestSentMailRecordedOnDelivery(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	secret, err := ob.Secret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	desk := testDesk
	desk.Secret = secret
	ack := Notification{ID: "SD-1/ack", Kind: Ack, To: "Jan <Jan@Acme.example>", Ticket: "SD-1"}
	notice := Notification{ID: "rejection/x", Kind: Rejection, To: "x@elsewhere.example"}
	enqueue(t, rdb, ob, "", ack)
	enqueue(t, rdb, ob, "", notice)
	if st, err := (&Delivery{Outbox: ob, Sender: &scripted{}, Consumer: "t"}).Drain(ctx); err != nil || st.Sent != 2 {
		t.Fatalf("drain %+v %v", st, err)
	}
	ackID, _ := MessageID(desk, ack)
	s, ok, err := ob.SentMail(ctx, ackID)
	if err != nil || !ok || s.To != "jan@acme.example" || s.Ticket != "SD-1" || s.Kind != Ack || s.Notification != "SD-1/ack" {
		t.Fatalf("sent mail of %q: %+v %v %v", ackID, s, ok, err)
	}
	noticeID, _ := MessageID(desk, notice)
	if s, ok, _ := ob.SentMail(ctx, noticeID); !ok || s.To != "x@elsewhere.example" || s.Ticket != "" {
		t.Fatalf("sent notice of %q: %+v %v", noticeID, s, ok)
	}
	if ttl, _ := rdb.TTL(ctx, ob.sentMailKey(messageIDTag(secret, ack.ID, ack.TicketKey))).Result(); ttl <= 0 || ttl > sentMailTTL {
		t.Fatalf("record kept for %s", ttl)
	}
	tag, _, _ := splitMessageID(ackID)
	for _, forged := range []string{
		strings.Replace(ackID, tag, "0123456789abcdef", 1),
		strings.Replace(ackID, "ack.sd-1.", "ack.sd-2.", 1), // right atom, other ticket
		"ack.sd-1.acme-it.maildesk.0a1b@desk.example",
		"forged@elsewhere.example",
	} {
		if s, ok, err := ob.SentMail(ctx, forged); ok || err != nil {
			t.Errorf("forged %q found %+v %v", forged, s, err)
		}
	}
}

// A desk without a Message-ID key records nothing (its ids, made without a
// key, are computable by anyone), and a lost key un-verifies old records.
func TestSentMailNeedsTheSecret(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	n := Notification{ID: "SD-1/ack", Kind: Ack, To: "jan@acme.example", Ticket: "SD-1"}
	enqueue(t, rdb, ob, "", n)
	if _, err := (&Delivery{Outbox: ob, Sender: &scripted{}, Consumer: "t"}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if keys, _ := rdb.Keys(ctx, "md:{acme-it}:sentmail:*").Result(); len(keys) != 0 {
		t.Fatalf("recorded without a secret: %v", keys)
	}
	id, _ := MessageID(testDesk, n)
	if _, ok, _ := ob.SentMail(ctx, id); ok {
		t.Fatal("an id made without a secret verified")
	}
}

// An agent's reply is a person's answer: suppression after a bounce holds
// back the desk's automatic mail, never the reply. Before, the reply was
// skipped, and the agent believed the customer answered.
func TestDrainSendsAgentReplyToSuppressedRecipient(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	if err := ob.Suppress(ctx, "Jan@Acme.example", time.Hour, "bounced: 550 5.2.2 mailbox full"); err != nil {
		t.Fatal(err)
	}
	reply := Notification{ID: "SD-1/reply/1/jan@acme.example", Kind: AgentReply, To: "jan@acme.example", Ticket: "SD-1", Text: "Fixed."}
	progress := Notification{ID: "SD-1/progress/1/jan@acme.example", Kind: Progress, To: "jan@acme.example", Ticket: "SD-1"}
	enqueue(t, rdb, ob, "", reply)
	enqueue(t, rdb, ob, "", progress)
	sender := &scripted{}
	st, err := (&Delivery{Outbox: ob, Sender: sender, Consumer: "t"}).Drain(ctx)
	if err != nil || st != (Stats{Sent: 1, Skipped: 1}) {
		t.Fatalf("drain %+v %v", st, err)
	}
	if sender.count(reply.ID) != 1 || sender.count(progress.ID) != 0 {
		t.Fatalf("sent %v: want the reply and not the automatic progress mail", sender.sent)
	}
	// An agent's reply skipped before this change is retried without
	// lifting the suppression (it would be sent anyway).
	earlier := Notification{ID: "SD-1/reply/0/jan@acme.example", Kind: AgentReply, To: "jan@acme.example", Ticket: "SD-1", Text: "Earlier."}
	vals := []any{"reason", "recipient suppressed: bounced", "outbox_id", "1-0"}
	for _, f := range earlier.Fields() {
		vals = append(vals, f)
	}
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: "md:{acme-it}:outbox:skipped", Values: vals}).Err(); err != nil {
		t.Fatal(err)
	}
	a, err := ob.Retry(ctx, earlier.ID, false)
	if errors.Is(err, ErrSuppressedTo) || err != nil || a.NewID == "" || a.Unsuppressed {
		t.Fatalf("retry of a skipped reply: %+v %v", a, err)
	}
	if n, _ := rdb.Exists(ctx, "md:{acme-it}:suppress:jan@acme.example").Result(); n != 1 {
		t.Fatal("retrying the reply lifted the suppression")
	}
}

// The delivery record of a reply sent to a suppressed address says so.
func TestSentWhileSuppressedIsRecorded(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	secret, _ := ob.Secret(ctx)
	ob.Suppress(ctx, "jan@acme.example", time.Hour, "bounced: 550 5.2.2 mailbox full")
	reply := Notification{ID: "SD-1/reply/1/jan@acme.example", Kind: AgentReply, To: "jan@acme.example", Ticket: "SD-1", Text: "Fixed."}
	enqueue(t, rdb, ob, "", reply)
	if _, err := (&Delivery{Outbox: ob, Sender: &scripted{}, Consumer: "t"}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	desk := testDesk
	desk.Secret = secret
	id, _ := MessageID(desk, reply)
	s, ok, err := ob.SentMail(ctx, id)
	if !ok || err != nil || !strings.Contains(s.SentWhileSuppressed, "5.2.2") {
		t.Fatalf("the reply's delivery record does not say it went to a suppressed address: %+v %v %v", s, ok, err)
	}
}

// The shape ingest tells the desk's own mail by: every id the generator
// makes has it, in any case; no other domain's or form's id does.
func TestDeskShapedMessageID(t *testing.T) {
	generated, err := MessageID(testDesk, ackNote())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id, domain string
		want       bool
	}{
		{generated, "desk.example", true},
		{generated, "DESK.example", true},
		{strings.ToUpper(generated), "desk.example", true},
		{"ack.sd-1.d.maildesk.0a1b@desk.example", "desk.example", true}, // looser than splitMessageID
		{generated, "", false},
		{"", "desk.example", false},
		{generated, "example", false},
		{"ack.sd-1.d.maildesk.0a1b@mail.desk.example", "desk.example", false},
		{"ack.sd-1.d.maildesk.0a1b@desk.example.org", "desk.example", false},
		{"ack.sd-1.d.other.0a1b@desk.example", "desk.example", false},
		{"maildesk.0a1b@desk.example", "desk.example", false},
		{"CAF=abc123@mail.gmail.com", "desk.example", false},
	} {
		if got := DeskShapedMessageID(c.id, c.domain); got != c.want {
			t.Errorf("DeskShapedMessageID(%q, %q) = %v, want %v", c.id, c.domain, got, c.want)
		}
	}
}
