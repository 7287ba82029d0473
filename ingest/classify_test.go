package ingest

import (
	"bytes"
	"cmp"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/internal/testmail"
	"github.com/maildesk/maildesk/mailparse"
)

func parseString(t *testing.T, raw string, lim mailparse.Limits) *mailparse.Message {
	t.Helper()
	m, err := mailparse.Parse(strings.NewReader(raw), lim)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

var testOwn = Own{
	Address:         "servicedesk@desk.example",
	MessageIDDomain: "desk.example",
	LoopHeader:      "X-Maildesk-Loop",
	DeskID:          "acme-it",
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		header string // header lines added to a plain human mail
		from   string
		body   string
		want   Class
		reason string // substring of the reason
	}{
		// Loop: the desk's own mail coming back.
		{name: "loop header", header: "X-Maildesk-Loop: acme-it", want: Loop, reason: "X-Maildesk-Loop: acme-it"},
		{name: "loop header other desk", header: "X-Maildesk-Loop: other-desk", want: Human},
		{name: "own from address", from: "Service Desk <ServiceDesk@Desk.Example>", want: Loop, reason: "From:"},
		{name: "own message id", header: "Message-ID: <ack.SD-1.acme-it.maildesk.1a2b@desk.example>", want: Loop, reason: "Message-ID"},
		{name: "foreign id on our domain", header: "Message-ID: <123.abc@desk.example>", want: Human},
		{name: "loop beats bounce", header: "X-Maildesk-Loop: acme-it\nReturn-Path: <>", want: Loop},

		// Bounce.
		{name: "dsn report", header: "Content-Type: multipart/report; report-type=delivery-status; boundary=b",
			body: "--b\n\nfailed\n--b\nContent-Type: message/delivery-status\n\nAction: failed\n--b--\n", want: Bounce, reason: "report-type=delivery-status"},
		{name: "delivery-status part", header: "Content-Type: multipart/mixed; boundary=b",
			body: "--b\n\nfailed\n--b\nContent-Type: message/delivery-status\n\nAction: failed\n--b--\n", want: Bounce, reason: "message/delivery-status"},
		{name: "null return path", header: "Return-Path: <>", want: Bounce, reason: "Return-Path: <>"},
		{name: "mailer-daemon", from: "Mail Delivery System <MAILER-DAEMON@mx.example.com>", want: Bounce, reason: "MAILER-DAEMON"},
		{name: "bare mailer-daemon", from: "MAILER-DAEMON (Mail Delivery System)", want: Bounce, reason: "MAILER-DAEMON"},
		{name: "postmaster", from: "postmaster@example.com", want: Bounce},
		{name: "x-failed-recipients", header: "X-Failed-Recipients: nobody@example.com", want: Bounce, reason: "X-Failed-Recipients"},

		// Spam.
		{name: "spam flag", header: "X-Spam-Flag: YES", want: Spam, reason: "X-Spam-Flag"},
		{name: "spam status", header: "X-Spam-Status: Yes, score=9.1", want: Spam, reason: "X-Spam-Status"},
		{name: "spam status no", header: "X-Spam-Status: No, score=0.1", want: Human},

		// AutoReply.
		{name: "auto-replied", header: "Auto-Submitted: auto-replied", want: AutoReply, reason: "Auto-Submitted: auto-replied"},
		{name: "auto-replied with comment", header: "Auto-Submitted: auto-replied (vacation)", want: AutoReply},
		{name: "x-autoreply", header: "X-Autoreply: yes", want: AutoReply, reason: "X-Autoreply"},
		{name: "x-autorespond", header: "X-Autorespond: 1", want: AutoReply},
		{name: "x-autoresponder", header: "X-Autoresponder: 1", want: AutoReply},
		{name: "exchange rules loop", header: "X-MS-Exchange-Inbox-Rules-Loop: user@example.com", want: AutoReply, reason: "Inbox-Rules-Loop"},
		{name: "precedence auto_reply", header: "Precedence: auto_reply", want: AutoReply},
		{name: "suppress with ooo subject", header: "X-Auto-Response-Suppress: All\nSubject: I am on vacation", want: AutoReply, reason: "X-Auto-Response-Suppress"},
		{name: "suppress alone", header: "X-Auto-Response-Suppress: All", want: Human},
		{name: "null sender out of office", header: "Return-Path: <>\nAuto-Submitted: auto-replied", want: AutoReply},
		{name: "subject out of office", header: "Subject: Out of Office: Re: printer", want: AutoReply, reason: "Subject"},
		{name: "subject automatic reply", header: "Subject: Automatic reply: printer", want: AutoReply},
		{name: "subject dutch", header: "Subject: Automatisch antwoord: printer", want: AutoReply},
		{name: "subject dutch absence", header: "Subject: Afwezigheidsbericht", want: AutoReply},
		{name: "subject autoreply", header: "Subject: Autoreply: printer", want: AutoReply},
		{name: "subject auto:", header: "Subject: AUTO: Jan is out", want: AutoReply},
		{name: "subject german", header: "Subject: Abwesenheitsnotiz: printer", want: AutoReply},
		{name: "subject french", header: "Subject: =?utf-8?q?R=C3=A9ponse_automatique?=: printer", want: AutoReply},

		// Generated.
		{name: "auto-generated", header: "Auto-Submitted: auto-generated", want: Generated, reason: "Auto-Submitted: auto-generated"},
		{name: "auto-notified", header: "Auto-Submitted: auto-notified", want: Generated},
		{name: "auto-submitted no", header: "Auto-Submitted: no", want: Human},
		{name: "precedence bulk", header: "Precedence: bulk", want: Generated, reason: "Precedence: bulk"},
		{name: "precedence list", header: "Precedence: list", want: Generated},
		{name: "precedence junk", header: "Precedence: junk", want: Generated},
		{name: "list-id", header: "List-Id: <users.lists.example.com>", want: Generated, reason: "List-Id"},
		{name: "list-unsubscribe", header: "List-Unsubscribe: <mailto:leave@example.com>", want: Generated},
		{name: "x-autogenerated", header: "X-Autogenerated: Reply", want: Generated},
		{name: "no-reply", from: "no-reply@shop.example", want: Generated, reason: "From:"},
		{name: "noreply", from: "NoReply <noreply@shop.example>", want: Generated},
		{name: "do-not-reply", from: "do-not-reply@shop.example", want: Generated},
		{name: "donotreply", from: "donotreply@shop.example", want: Generated},

		// Human mail that must stay Human.
		{name: "plain", want: Human},
		{name: "reply", header: "In-Reply-To: <ack.SD-1.acme-it.maildesk.1a2b@desk.example>\nSubject: Re: [SD-1] printer", want: Human},
		{name: "office in subject", header: "Subject: New office chairs for the 3rd floor", want: Human},
		{name: "reply to an out of office", header: "Subject: Re: Out of Office: printer", want: Human},
		{name: "automation topic", header: "Subject: Automatic replies do not work in Outlook", want: Human},
		{name: "reply-to noreply", header: "Reply-To: noreply@example.com", want: Human},
		{name: "human named auto", from: "Auto Mechanic <autoshop@example.com>", want: Human},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := tt.from
			if from == "" {
				from = "Jan de Vries <jan@example.nl>"
			}
			header := tt.header
			if !strings.Contains(header, "Subject:") {
				header += "\nSubject: Printer broken"
			}
			if !strings.Contains(header, "Message-ID:") {
				header += "\nMessage-ID: <CAF1@mail.example.nl>"
			}
			body := tt.body
			if body == "" {
				body = "The printer is broken.\n"
			}
			raw := "From: " + from + "\nTo: servicedesk@desk.example\n" + strings.TrimPrefix(header, "\n") + "\n\n" + body
			m := parseString(t, raw, mailparse.Limits{})
			got, why := Classify(m, testOwn)
			if got != tt.want {
				t.Fatalf("Classify = %v (%q), want %v", got, why, tt.want)
			}
			if got != Human && why == "" {
				t.Errorf("a machine class needs a reason")
			}
			if !strings.Contains(why, tt.reason) {
				t.Errorf("reason %q does not name %q", why, tt.reason)
			}
		})
	}
}

func TestClassifyEmptyOwn(t *testing.T) {
	// A desk without configured identity must not call everything its own.
	m := parseString(t, "From: jan@example.nl\nSubject: x\n\nbody\n", mailparse.Limits{})
	if got, why := Classify(m, Own{}); got != Human {
		t.Errorf("Classify = %v (%q), want Human", got, why)
	}
	if got, _ := Classify(&mailparse.Message{}, Own{}); got != Human {
		t.Errorf("empty message: %v", got)
	}
	if got, _ := Classify(nil, testOwn); got != Human {
		t.Errorf("nil message: %v", got)
	}
}

// TestClassifyMachineMail holds the signals of bounces, feedback reports
// and read receipts from other systems (issue 17, items 1 and 2), and the
// human mail that must not be taken for them. Every message is written
// here; none is copied from another project.
func TestClassifyMachineMail(t *testing.T) {
	const human = "Jan de Vries <jan@example.nl>"
	tests := []struct {
		name, from, header, body string
		want                     Class
		reason                   string
	}{
		// Senders only mail systems use decide alone.
		{name: "return-path mailer-daemon", header: "Return-Path: <MAILER-DAEMON@mx.example.com>", want: Bounce, reason: "Return-Path"},
		{name: "return-path bare mailer-daemon", header: "Return-Path: <MAILER-DAEMON>", want: Bounce, reason: "Return-Path"},
		{name: "return-path postmaster", header: "Return-Path: <postmaster@mx.example.com>", want: Bounce},
		{name: "name mail delivery system", from: "Mail Delivery System <mailer@relay.example.com>", want: Bounce, reason: "Mail Delivery System"},
		{name: "dotted mail delivery system", from: "mail.delivery.system@relay.example.com", want: Bounce},
		{name: "post_master", from: "post_master@relay.example.com", want: Bounce},
		{name: "escaped postmaster", from: `Postmaster\@relay.example.com`, want: Bounce},
		{name: "mail delivery subsystem", from: "Mail Delivery Subsystem <mds@relay.example.com>", want: Bounce},
		{name: "exchange ndr sender", from: "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.example>", want: Bounce},
		{name: "auto-submitted failure", header: "Auto-Submitted: auto-generated (failure)", want: Bounce, reason: "failure"},
		{name: "auto-submitted warning", header: "Auto-Submitted: auto-generated (warning-timeout)", want: Bounce},

		// Reports decide alone.
		{name: "report without report-type", header: "Content-Type: multipart/report; boundary=b",
			body: "--b\n\nnot delivered\n--b\nContent-Type: text/plain\n\nx\n--b--\n", want: Bounce, reason: "without report-type"},
		{name: "report without report-type, status part", header: "Content-Type: multipart/report; boundary=b",
			body: "--b\n\nnot delivered\n--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@b.example\nAction: failed\n--b--\n", want: Bounce},
		{name: "arf", header: "Content-Type: multipart/report; report-type=feedback-report; boundary=b",
			body: "--b\n\nspam report\n--b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n--b--\n", want: Feedback, reason: "feedback-report"},
		{name: "arf part without report-type", header: "Content-Type: multipart/report; boundary=b",
			body: "--b\n\nspam report\n--b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n--b--\n", want: Feedback},
		{name: "feedback-report part in mixed", header: "Content-Type: multipart/mixed; boundary=b",
			body: "--b\n\nspam report\n--b\nContent-Type: message/feedback-report\n\nFeedback-Type: fraud\n--b--\n", want: Feedback},
		{name: "read receipt", header: "Content-Type: multipart/report; report-type=disposition-notification; boundary=b\nSubject: Read: [SD-1] printer",
			body: "--b\n\nwas read\n--b\nContent-Type: message/disposition-notification\n\nDisposition: manual-action/MDN-sent-manually; displayed\n--b--\n", want: AutoReply, reason: "disposition-notification"},
		{name: "unknown report type", header: "Content-Type: multipart/report; report-type=tlsrpt; boundary=b",
			body: "--b\n\nreport\n--b\nContent-Type: application/json\n\n{}\n--b--\n", want: Generated},

		// Bounce subjects: the systems' exact wording, from anyone who is
		// not answering a person's mail.
		{name: "undeliverable", header: "Subject: Undeliverable: [SD-1] printer", want: Bounce, reason: "Subject"},
		{name: "postfix", header: "Subject: Undelivered Mail Returned to Sender", want: Bounce},
		{name: "sendmail", header: "Subject: Returned mail: see transcript for details", want: Bounce},
		{name: "gmail failure", header: "Subject: Delivery Status Notification (Failure)", want: Bounce},
		{name: "exim", header: "Subject: Mail delivery failed: returning message to sender", want: Bounce},
		{name: "qmail", header: "Subject: failure notice", want: Bounce},
		{name: "domino", header: "Subject: DELIVERY FAILURE: User jan not listed", want: Bounce},
		{name: "warning", header: "Subject: Mail Delivery Warning", want: Bounce},
		{name: "dutch", header: "Subject: Onbestelbaar: [SD-1] printer", want: Bounce},
		{name: "german", header: "Subject: Unzustellbar: [SD-1] Drucker", want: Bounce},
		{name: "german status", header: "Subject: Benachrichtigung zum Übermittlungsstatus (Fehlgeschlagen)", want: Bounce},
		{name: "french", header: "Subject: Non remis : [SD-1] imprimante", want: Bounce},
		{name: "whole subject", header: "Subject: Delivery Failure", want: Bounce},
		{name: "answering the desk's mail", header: "Subject: Undeliverable: [SD-1] printer\nIn-Reply-To: <ack.SD-1.acme-it.maildesk.1a2b3c4d5e6f7a8b@desk.example>", want: Bounce},

		// A phrase anywhere in the subject, from a mail system, scanner or
		// gateway.
		{name: "could not be delivered from gateway", from: "Mail Gateway <gateway@acme.example>", header: "Subject: Your message could not be delivered", want: Bounce, reason: "mail system"},
		{name: "virus scanner", from: "MailScanner <mailscanner@acme.example>", header: "Subject: Virus detected in your message", want: Bounce},
		{name: "amavis", from: "amavisd@acme.example", header: "Subject: BANNED contents from you", want: Bounce},
		{name: "null sender phrase", header: "Return-Path: <>\nSubject: Nachricht konnte nicht zugestellt werden", want: Bounce},
		{name: "mail administrator", from: "Mail Administrator <it-mail@acme.example>", header: "Subject: Re: message was not delivered", want: Bounce},

		// People writing about delivery problems stay people.
		{name: "person: could not be delivered", header: "Subject: Package could not be delivered", want: Human},
		{name: "person: mail delivery failed to supplier", header: "Subject: Mail delivery failed to our supplier", want: Human},
		{name: "person: forwards a bounce", header: "Subject: Fwd: Undeliverable: invoice 2026-11", want: Human},
		{name: "person: answers in a thread", header: "Subject: Undeliverable: invoice\nIn-Reply-To: <CAF9@mail.example.nl>", want: Human},
		{name: "person: delivery status in text", header: "Subject: Delivery status of order 1234", want: Human},
		{name: "person named gateway", from: "Gateway Team <team@acme.example>", header: "Subject: Virus on my laptop", want: Human},
		{name: "monitoring alert", from: "noreply@monitor.acme.example", header: "Subject: ALERT mail delivery failed on mx2", want: Generated},
		{name: "noreply with auto-submitted", from: "noreply@monitor.acme.example", header: "Auto-Submitted: auto-generated\nSubject: Delivery delayed on mx2", want: Generated},
		{name: "person named post", from: "Post Master <jan.post@acme.example>", want: Human},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := cmp.Or(tt.from, human)
			header := tt.header
			if !strings.Contains(header, "Subject:") {
				header += "\nSubject: Printer broken"
			}
			body := cmp.Or(tt.body, "The printer is broken.\n")
			raw := "From: " + from + "\nTo: servicedesk@desk.example\nMessage-ID: <CAF1@mail.example.nl>\n" + strings.TrimPrefix(header, "\n") + "\n\n" + body
			m := parseString(t, raw, mailparse.Limits{})
			got, why := Classify(m, testOwn)
			if got != tt.want {
				t.Fatalf("Classify = %v (%q), want %v", got, why, tt.want)
			}
			if !strings.Contains(why, tt.reason) {
				t.Errorf("reason %q does not name %q", why, tt.reason)
			}
		})
	}
}

// FuzzClassify parses and classifies mail from the parser's seeds, the
// broken mails and the bounces and feedback reports of internal/testmail:
// every class is in range and every machine class says why. That Parse
// itself never hangs or panics is mailparse's FuzzParse.
func FuzzClassify(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "mailparse", "testdata", "*.eml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no parser testdata: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range append(testmail.Malformed(), testmail.Reports()...) {
		f.Add([]byte(s))
	}
	lim := mailparse.Limits{MaxSize: 1 << 20, MaxParts: 50, MaxDepth: 8, MaxText: 4096}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := mailparse.Parse(bytes.NewReader(data), lim)
		if err != nil {
			return
		}
		c, why := Classify(m, testOwn)
		if c < Human || c > Feedback {
			t.Fatalf("class %d out of range", c)
		}
		if c != Human && why == "" {
			t.Fatalf("class %v without a reason", c)
		}
	})
}
