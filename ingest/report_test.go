package ingest

import (
	"context"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/internal/testmail"
	"github.com/maildesk/maildesk/mailparse"
	"github.com/maildesk/maildesk/ticket"
)

// Bounces and feedback reports as other systems write them, through the
// real pipeline, outbox and delivery (bounceDesk). All messages here are
// written for these tests.

// The customer's mail system delivered jan@acme.example to the mailbox it
// is an alias of, which then failed: the report's Final-Recipient is that
// mailbox, its Original-Recipient the address the desk mailed. Before,
// nothing was suppressed (the Final-Recipient was not the desk's
// recipient) and the ticket recorded nothing.
func TestBounceOfAliasedRecipient(t *testing.T) {
	d := newBounceDesk(t)
	d.process("From: Jan <jan@acme.example>\nSubject: Printer kapot\nMessage-ID: <m1@acme.example>\n\nkapot\n")
	ack := d.send("jan@acme.example")
	res := d.process(testmail.DSNOf("MAILER-DAEMON@mx.mail-acme.example", "b1@mx.mail-acme.example", ack,
		"Original-Recipient: rfc822;jan@acme.example\nFinal-Recipient: rfc822; j.devries@mail-acme.example\n"+
			"Action: failed\nStatus: 5.2.1\nDiagnostic-Code: smtp; 550 5.2.1 mailbox disabled\n"))
	if res.Outcome != Processed || res.Ticket != "SD-1" || res.Class != Bounce {
		t.Fatalf("bounce: %+v", res)
	}
	if !d.suppressed("jan@acme.example") {
		t.Error("the address the desk mailed is not suppressed")
	}
	if d.suppressed("j.devries@mail-acme.example") {
		t.Error("the remote's alias target is suppressed: the desk never mails it")
	}
	evs, _ := d.store.Events(context.Background(), "SD-1")
	if len(evs) != 1 || evs[0].Kind != ticket.EventBounce || !strings.Contains(evs[0].Text, "jan@acme.example") ||
		!strings.Contains(evs[0].Text, "j.devries@mail-acme.example") {
		t.Fatalf("events %+v", evs)
	}
}

// Reporting systems write "Action: failure" and bare SMTP codes; both mean
// the mail failed for good. Before, neither counted as a failure.
func TestBounceWithNonStandardAction(t *testing.T) {
	for name, block := range map[string]string{
		"action failure":   "Final-Recipient: rfc822; jan@acme.example\nAction: failure\nDiagnostic-Code: smtp; 550 no such user\n",
		"status smtp code": "Final-Recipient: rfc822; jan@acme.example\nStatus: 553 sorry, that domain isn't in my list\n",
	} {
		t.Run(name, func(t *testing.T) {
			d := newBounceDesk(t)
			d.process("From: Jan <jan@acme.example>\nSubject: Printer kapot\nMessage-ID: <m1@acme.example>\n\nkapot\n")
			ack := d.send("jan@acme.example")
			if res := d.process(testmail.DSNOf("MAILER-DAEMON@mx.acme.example", "b1@mx.acme.example", ack, block)); res.Ticket != "SD-1" {
				t.Fatalf("bounce: %+v", res)
			}
			if !d.suppressed("jan@acme.example") {
				t.Error("not suppressed")
			}
		})
	}
	// A delay stays a delay, whatever its status says.
	d := newBounceDesk(t)
	d.process("From: Jan <jan@acme.example>\nSubject: Printer kapot\nMessage-ID: <m1@acme.example>\n\nkapot\n")
	ack := d.send("jan@acme.example")
	d.process(testmail.DSNOf("MAILER-DAEMON@mx.acme.example", "b2@mx.acme.example", ack, "Final-Recipient: rfc822; jan@acme.example\nAction: delayed\nStatus: 4.4.7\n"))
	if d.suppressed("jan@acme.example") {
		t.Error("a delay suppressed the recipient")
	}
}

// A mail gateway that passes the DSN on inside a message/rfc822 part of its
// own notice. Before, the forwarded report was not read: no suppression,
// no event, and the gateway was sent a notice as an unknown sender.
func TestBounceForwardedInsideMessage(t *testing.T) {
	d := newBounceDesk(t)
	d.process("From: Jan <jan@acme.example>\nSubject: Printer kapot\nMessage-ID: <m1@acme.example>\n\nkapot\n")
	ack := d.send("jan@acme.example")
	inner := testmail.DSNOf("MAILER-DAEMON@mx.acme.example", "b1@mx.acme.example", ack,
		"Final-Recipient: rfc822; jan@acme.example\nAction: failed\nStatus: 5.1.1\n")
	res := d.process("From: Mail Gateway <gateway@gw.acme.example>\nTo: desk@desk.example\nSubject: Fwd: Undelivered Mail Returned to Sender\n" +
		"Message-ID: <g1@gw.acme.example>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"G\"\n\n" +
		"--G\nContent-Type: text/plain\n\nA delivery report for you is attached.\n\n" +
		"--G\nContent-Type: message/rfc822\n\n" + inner + "\n--G--\n")
	if res.Outcome != Processed || res.Ticket != "SD-1" || res.Class != Bounce || res.Notified {
		t.Fatalf("forwarded bounce: %+v", res)
	}
	if !d.suppressed("jan@acme.example") {
		t.Error("not suppressed")
	}
	// A person forwarding a bounce asks for help: that stays their mail.
	m := parseString(t, "From: Piet <piet@acme.example>\nSubject: Fwd: Undelivered Mail Returned to Sender\n"+
		"In-Reply-To: <x1@acme.example>\nContent-Type: multipart/mixed; boundary=\"G\"\n\n--G\nContent-Type: text/plain\n\nWhy did this bounce?\n\n"+
		"--G\nContent-Type: message/rfc822\n\n"+inner+"\n--G--\n", mailparse.Limits{})
	if m.Report == nil || !m.Report.Forwarded {
		t.Fatalf("forwarded report not read: %+v", m.Report)
	}
	if c, why := Classify(m, testOwn); c != Human {
		t.Errorf("a person's forward of a bounce: %v (%s)", c, why)
	}
}

// A feedback report about the desk's acknowledgement: machine mail, never
// answered, recorded on the ticket, its recipient suppressed like after a
// hard bounce. Before, it was a stranger's mail and got a notice.
func TestFeedbackReportOfAcknowledgement(t *testing.T) {
	for _, rcpt := range []string{"jan@acme.example", ""} {
		d := newBounceDesk(t)
		d.process("From: Jan <jan@acme.example>\nSubject: Printer kapot\nMessage-ID: <m1@acme.example>\n\nkapot\n")
		ack := d.send("jan@acme.example")
		res := d.process(testmail.ARF("f1@isp-mail.example", ack, rcpt))
		if res.Outcome != Processed || res.Ticket != "SD-1" || res.Class != Feedback || res.Notified {
			t.Fatalf("rcpt %q: %+v", rcpt, res)
		}
		if !d.suppressed("jan@acme.example") {
			t.Errorf("rcpt %q: the complaining recipient is not suppressed", rcpt)
		}
		evs, _ := d.store.Events(context.Background(), "SD-1")
		if len(evs) != 1 || evs[0].Kind != ticket.EventComplaint || !strings.Contains(evs[0].Text, "abuse") || !strings.Contains(evs[0].Text, "jan@acme.example") {
			t.Fatalf("rcpt %q: events %+v", rcpt, evs)
		}
	}
}

// A report naming a made-up id, or another recipient than the one the
// mail went to, changes nothing and is never answered.
func TestFeedbackReportForgedOrForeign(t *testing.T) {
	d := newBounceDesk(t)
	d.process("From: Jan <jan@acme.example>\nSubject: Printer kapot\nMessage-ID: <m1@acme.example>\n\nkapot\n")
	ack := d.send("jan@acme.example")
	for i, raw := range []string{
		testmail.ARF("f1@isp-mail.example", "ack.sd-1.d.maildesk.0a1b2c3d4e5f6a7b@desk.example", "jan@acme.example"),
		testmail.ARF("f2@isp-mail.example", ack, "piet@acme.example"),
		testmail.ARF("f3@isp-mail.example", "spam123@elsewhere.example", ""),
	} {
		res := d.process(raw)
		if res.Outcome != Rejected || res.Class != Feedback || res.Notified || !strings.Contains(res.Reason, "machine mail: feedback") {
			t.Errorf("report %d: %+v", i, res)
		}
	}
	if d.suppressed("jan@acme.example") || d.suppressed("piet@acme.example") {
		t.Error("a forged or foreign report suppressed someone")
	}
	if evs, _ := d.store.Events(context.Background(), "SD-1"); len(evs) != 0 {
		t.Errorf("recorded: %+v", evs)
	}
}
