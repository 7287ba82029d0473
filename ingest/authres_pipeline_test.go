package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/ticket"
)

// TestForgedAgentMailUnderUnreadableTrustedHeader (issue 14, finding 1):
// the desk's MTA writes its Authentication-Results on top; whatever the
// sender wrote sits below, and may carry the desk's own authserv-id. When
// the MTA's header was one the old parser could not read (OpenDKIM's
// comment with a ';', a result starting with a comment, a ';' in the
// sender's quoted envelope address), the forged header below decided, and
// an attacker closed a ticket and mailed the customer from the desk. The
// MTA's header must decide alone: read as a failure when it says fail or
// cannot be read at all, as a pass when it says pass.
func TestForgedAgentMailUnderUnreadableTrustedHeader(t *testing.T) {
	const forged = "Authentication-Results: mx.desk.example; dmarc=pass header.from=desk.example\n"
	tests := []struct {
		name string
		// top is what the desk's MTA wrote; the attacker's forged header
		// follows it unless alone is set.
		top   string
		alone bool
		pass  bool
		skip  string
	}{
		{name: "OpenDKIM fail with ';' in its comment",
			top: "Authentication-Results: mx.desk.example;\n\tdkim=fail reason=\"signature verification failed\" (2048-bit key; unprotected)\n\theader.d=desk.example header.i=@desk.example header.b=\"AbCdEfGh\"\n"},
		{name: "OpenDMARC fail starting with a comment",
			top: "Authentication-Results: mx.desk.example; (OpenDMARC) dmarc=fail (p=reject dis=none) header.from=desk.example\n"},
		{name: "';' in the sender's quoted envelope address",
			top: "Authentication-Results: mx.desk.example; spf=pass (sender SPF authorized) smtp.mailfrom=\"a;b\"@evil.example\n"},
		{name: "results injected through the envelope address",
			top:   "Authentication-Results: mx.desk.example; spf=pass smtp.mailfrom=\"x; dmarc=pass header.from=desk.example; y\"@evil.example\n",
			alone: true},
		{name: "unterminated comment",
			top: "Authentication-Results: mx.desk.example; dkim=fail (no key for signature header.d=desk.example\n"},
		{name: "unknown version",
			top: "Authentication-Results: mx.desk.example 2; dmarc=pass header.from=desk.example\n"},
		{name: "trusted id in other case, unreadable",
			top: "Authentication-Results: MX.Desk.Example; dkim=pass header.d=desk.example header.b=\"unbalanced\n"},
		// The envelope address "=?us-ascii?q?...?="@evil.example is legal
		// SMTP, and evil.example's SPF is the attacker's to make pass. Parse
		// decodes RFC 2047 words in every header field, inside quotes too,
		// so the trusted header reaches authz with a dmarc=pass the MTA never
		// wrote. RFC 8601 values are never encoded words.
		{name: "results injected through an encoded word in the envelope address", alone: true,
			top: "Authentication-Results: mx.desk.example; spf=pass smtp.mailfrom=\"=?us-ascii?q?x=22=3B_dmarc=3Dpass_header.from=3Ddesk.example=3B_x=3Dy_z=3D=22?=\"@evil.example\n",
		},
		// The same formats passing: the agent's own mail goes through.
		{name: "OpenDKIM pass with ';' in its comment",
			top:  "Authentication-Results: mx.desk.example;\n\tdkim=pass (2048-bit key; unprotected) header.d=desk.example header.i=@desk.example header.b=\"AbCdEfGh\"\n",
			pass: true},
		{name: "OpenDMARC pass starting with a comment", alone: true,
			top:  "Authentication-Results: mx.desk.example 1; (OpenDMARC) dmarc=pass (p=none dis=none) header.from=desk.example\n",
			pass: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			p, store, rdb, _ := newDesk(t)
			p.TrustedAuthserv = []string{"mx.desk.example"}
			ctx := context.Background()
			created, err := p.Process(ctx, strings.NewReader("From: Jan <jan@acme.example>\nSubject: Printer kapot\nMessage-ID: <c@acme.example>\n\nkapot\n"), ticket.Source{})
			if err != nil || created.Outcome != Processed {
				t.Fatalf("customer mail: %+v %v", created, err)
			}
			number := created.Ticket
			_, mark := outboxSince(t, rdb, "0")

			hdr := tt.top
			if !tt.alone {
				hdr += forged
			}
			raw := "Return-Path: <x@evil.example>\n" + hdr +
				"Received: from evil.example (evil.example [192.0.2.66]) by mx.desk.example\n" +
				"From: Eva de Vries <eva@desk.example>\nTo: desk@desk.example\nSubject: Re: [" + number + "] Printer kapot\n" +
				fmt.Sprintf("Message-ID: <forged%d@evil.example>\n", i) +
				"\n#status closed\nWe have closed your ticket. Please pay the invoice at https://evil.example/pay.\n"
			res, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{Mailbox: "INBOX", UID: uint32(100 + i)})
			if err != nil {
				t.Fatal(err)
			}
			tk, err := store.Get(ctx, number)
			if err != nil {
				t.Fatal(err)
			}
			sent, _ := outboxSince(t, rdb, mark)
			if tt.pass {
				if res.Outcome != Processed || !res.Agent || tk.Status != ticket.StatusClosed {
					t.Fatalf("the agent's authenticated mail: %+v, ticket %s", res, tk.Status)
				}
				return
			}
			if res.Outcome != Rejected || !res.Agent || !res.AuthFailed || !strings.Contains(res.Reason, "agent mail not authenticated") {
				t.Errorf("forged agent mail: %+v, want rejected as not authenticated", res)
			}
			if tk.Status != ticket.StatusNew {
				t.Errorf("forged agent mail changed the ticket: status %s", tk.Status)
			}
			if len(sent) != 0 {
				t.Errorf("forged agent mail queued %q", kindsOf(sent))
			}
			if got := eventKinds(t, store, number); got != "" {
				t.Errorf("forged agent mail added %q to the ticket", got)
			}
		})
	}
}
