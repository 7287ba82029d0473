package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testmail"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// bounceDesk is the pipeline with the desk's real outbox and delivery, as
// the daemon wires them: mail goes out over SMTP with the Message-IDs the
// desk makes under its secret, and bounces come back through Process.
type bounceDesk struct {
	t        *testing.T
	p        *Pipeline
	store    *ticket.Store
	rdb      *redis.Client
	smtp     *testserver.SMTPServer
	delivery *notify.Delivery
	desk     notify.Desk
}

func newBounceDesk(t *testing.T) *bounceDesk {
	t.Helper()
	p, store, rdb := newPipeline(t, []config.Customer{{ID: "acme", Name: "Acme BV", Contacts: []config.Contact{
		{Email: "jan@acme.example", Name: "Jan"}, {Email: "piet@acme.example", Name: "Piet"}}}})
	ctx := context.Background()
	ob := notify.NewOutbox(rdb, "d")
	if err := ob.Init(ctx); err != nil {
		t.Fatal(err)
	}
	secret, err := ob.Secret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.Suppress = ob
	srv := testserver.SMTP(t)
	desk := notify.Desk{ID: "d", Name: "Desk", Address: "desk@desk.example", DefaultLanguage: "en", Secret: secret}
	mailer := notify.NewMailer(notify.SMTPConfig{Address: srv.Addr, Security: "none", Timeout: 5 * time.Second, HELO: "desk.test"}, desk)
	return &bounceDesk{t: t, p: p, store: store, rdb: rdb, smtp: srv, desk: desk, delivery: &notify.Delivery{
		Outbox: ob, Sender: mailer, Consumer: "t",
		// As the daemon does: replies to ticket mail thread by its id.
		Delivered: func(ctx context.Context, n notify.Notification) error {
			if n.Ticket == "" {
				return nil
			}
			id, err := notify.MessageID(desk, n)
			if err != nil {
				return err
			}
			return store.RecordSent(ctx, id, n.Ticket)
		},
	}}
}

func (d *bounceDesk) process(raw string) Result {
	d.t.Helper()
	res, err := d.p.Process(context.Background(), strings.NewReader(raw), ticket.Source{Mailbox: "INBOX"})
	if err != nil {
		d.t.Fatal(err)
	}
	return res
}

// send delivers what the outbox holds and returns the Message-ID of the
// mail that went to rcpt.
func (d *bounceDesk) send(rcpt string) string {
	d.t.Helper()
	if _, err := d.delivery.Drain(context.Background()); err != nil {
		d.t.Fatal(err)
	}
	for _, m := range d.smtp.Messages() {
		for _, to := range m.To {
			if !strings.EqualFold(to, rcpt) {
				continue
			}
			msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
			if err != nil {
				d.t.Fatal(err)
			}
			return strings.Trim(msg.Header.Get("Message-Id"), "<>")
		}
	}
	d.t.Fatalf("no mail to %s was sent", rcpt)
	return ""
}

func (d *bounceDesk) suppressed(addr string) bool {
	n, err := d.rdb.Exists(context.Background(), config.KeyPrefix("d")+"suppress:"+addr).Result()
	if err != nil {
		d.t.Fatal(err)
	}
	return n == 1
}

// An attacker's bounce naming a made-up Message-ID of the desk's shape
// (right kind, ticket, desk and domain; the HMAC atom guessed) silences
// nobody and records nothing: before, it suppressed every address it
// listed for 72 hours, and agents' replies to them were skipped.
func TestForgedBounceSuppressesNobody(t *testing.T) {
	d := newBounceDesk(t)
	if res := d.process("From: Jan <jan@acme.example>\nSubject: Printer kapot\nMessage-ID: <m1@acme.example>\n\nkapot\n"); res.Ticket != "SD-1" {
		t.Fatalf("ticket: %+v", res)
	}
	real := d.send("jan@acme.example")
	local, _, _ := strings.Cut(real, "@")
	tag := local[strings.LastIndexByte(local, '.')+1:]
	for i, forged := range []string{
		strings.Replace(real, tag, "0123456789abcdef", 1),
		"ack.sd-1.d.maildesk.0a1b2c3d4e5f@desk.example",
		strings.Replace(real, "ack.", "progress.", 1),
	} {
		res := d.process(testmail.DSN("MAILER-DAEMON@evil.example", fmt.Sprintf("forged%d@evil.example", i), forged,
			"jan@acme.example", "piet@acme.example", "ceo@acme.example"))
		if res.Outcome != Rejected || res.Ticket != "" {
			t.Errorf("forged bounce %q: %+v", forged, res)
		}
	}
	for _, a := range []string{"jan@acme.example", "piet@acme.example", "ceo@acme.example"} {
		if d.suppressed(a) {
			t.Errorf("a forged bounce suppressed %s", a)
		}
	}
	if evs, _ := d.store.Events(context.Background(), "SD-1"); len(evs) != 0 {
		t.Errorf("a forged bounce was recorded on the ticket: %+v", evs)
	}
	// Jan still gets the desk's mail.
	d.process("From: Jan <jan@acme.example>\nSubject: Scanner ook\nMessage-ID: <m2@acme.example>\n\nook kapot\n")
	if _, err := d.delivery.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(d.smtp.Messages()); n != 2 {
		t.Errorf("%d mails sent, want both acknowledgements", n)
	}
}

// A stranger holds a real Message-ID of the desk: the notice the desk sent
// them. Their "bounce" of it may speak for their own address, not for the
// contacts it lists.
func TestBounceOfRealIDSuppressesOnlyItsRecipient(t *testing.T) {
	d := newBounceDesk(t)
	d.process("From: Jan <jan@acme.example>\nSubject: Printer kapot\nMessage-ID: <m1@acme.example>\n\nkapot\n")
	if res := d.process("From: Mallory <mallory@evil.example>\nSubject: hello\nMessage-ID: <e1@evil.example>\n\nhi\n"); res.Outcome != Rejected || !res.Notified {
		t.Fatalf("stranger: %+v", res)
	}
	notice := d.send("mallory@evil.example")
	res := d.process(testmail.DSN("MAILER-DAEMON@evil.example", "b1@evil.example", notice, "jan@acme.example", "piet@acme.example"))
	if res.Outcome != Rejected {
		t.Errorf("bounce: %+v", res)
	}
	if d.suppressed("jan@acme.example") || d.suppressed("piet@acme.example") {
		t.Error("a bounce of the stranger's notice suppressed the desk's contacts")
	}
	if evs, _ := d.store.Events(context.Background(), "SD-1"); len(evs) != 0 {
		t.Errorf("recorded on a ticket: %+v", evs)
	}
}

// A genuine bounce of a real acknowledgement still works: its recipient's
// automatic mail is suppressed and the ticket records it; the other
// addresses the report lists are not suppressed.
func TestGenuineBounceOfAcknowledgement(t *testing.T) {
	d := newBounceDesk(t)
	d.process("From: Jan <jan@acme.example>\nSubject: Printer kapot\nMessage-ID: <m1@acme.example>\n\nkapot\n")
	ack := d.send("jan@acme.example")
	res := d.process(testmail.DSN("MAILER-DAEMON@mx.acme.example", "bounce1@mx.acme.example", ack, "Jan@Acme.example", "piet@acme.example"))
	if res.Outcome != Processed || res.Ticket != "SD-1" || !res.FollowUp {
		t.Fatalf("bounce: %+v", res)
	}
	if !d.suppressed("jan@acme.example") {
		t.Error("the acknowledgement's recipient is not suppressed")
	}
	if d.suppressed("piet@acme.example") {
		t.Error("an address the acknowledgement never went to is suppressed")
	}
	evs, _ := d.store.Events(context.Background(), "SD-1")
	if len(evs) != 1 || evs[0].Kind != ticket.EventBounce || !strings.Contains(evs[0].Text, "jan@acme.example") || strings.Contains(evs[0].Text, "piet") {
		t.Fatalf("events %+v", evs)
	}
	// The same bounce again changes nothing more.
	d.process(testmail.DSN("MAILER-DAEMON@mx.acme.example", "bounce1@mx.acme.example", ack, "Jan@Acme.example", "piet@acme.example"))
	if evs, _ := d.store.Events(context.Background(), "SD-1"); len(evs) != 1 {
		t.Errorf("replayed bounce recorded again: %d events", len(evs))
	}
}

// A genuine bounce of mail about a ticket deleted since still suppresses
// the address, and is filed as machine mail instead of failing on every
// try.
func TestGenuineBounceOfVanishedTicket(t *testing.T) {
	d := newBounceDesk(t)
	d.process("From: Jan <jan@acme.example>\nSubject: Printer kapot\nMessage-ID: <m1@acme.example>\n\nkapot\n")
	ack := d.send("jan@acme.example")
	if err := d.rdb.Del(context.Background(), config.KeyPrefix("d")+"t:SD-1").Err(); err != nil {
		t.Fatal(err)
	}
	if res := d.process(testmail.DSN("MAILER-DAEMON@mx.acme.example", "bounce1@mx.acme.example", ack, "jan@acme.example")); res.Outcome != Rejected {
		t.Fatalf("bounce of a vanished ticket: %+v", res)
	}
	if !d.suppressed("jan@acme.example") {
		t.Fatal("the bounced address was not suppressed")
	}
}

// An agent's reply to an address whose mail bounced is sent anyway (it is
// a person's answer); when it bounces too, the ticket says so, where the
// agent sees it.
func TestAgentReplyToBouncedAddress(t *testing.T) {
	d := newBounceDesk(t)
	ctx := context.Background()
	d.process("From: Jan <jan@acme.example>\nSubject: Printer kapot\nMessage-ID: <m1@acme.example>\n\nkapot\n")
	ack := d.send("jan@acme.example")
	d.process(testmail.DSN("MAILER-DAEMON@mx.acme.example", "bounce1@mx.acme.example", ack, "jan@acme.example"))
	if !d.suppressed("jan@acme.example") {
		t.Fatal("not suppressed")
	}
	reply := notify.Notification{ID: "SD-1/reply/1/jan@acme.example", Kind: notify.AgentReply, To: "jan@acme.example",
		Ticket: "SD-1", Agent: "Agent Smith", Text: "Try turning it off and on again."}
	if err := d.delivery.Outbox.Enqueue(ctx, reply); err != nil {
		t.Fatal(err)
	}
	if _, err := d.delivery.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(d.smtp.Messages()); n != 2 {
		t.Fatalf("%d mails sent: the agent's reply to a suppressed address was held back", n)
	}
	id, _ := notify.MessageID(d.desk, reply)
	if res := d.process(testmail.DSN("MAILER-DAEMON@mx.acme.example", "bounce2@mx.acme.example", id, "jan@acme.example")); res.Ticket != "SD-1" {
		t.Fatalf("bounce of the reply: %+v", res)
	}
	evs, _ := d.store.Events(ctx, "SD-1")
	if len(evs) != 2 || !strings.Contains(evs[1].Text, "agent's reply") || !strings.Contains(evs[1].Text, "5.1.1") {
		t.Fatalf("events %+v", evs)
	}
}
