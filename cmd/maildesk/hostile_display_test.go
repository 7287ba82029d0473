package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/configload"
	"github.com/maildesk/maildesk/ingest"
	"github.com/maildesk/maildesk/ticket"
)

// deceptive is what a sender can hide in a subject, a name or an id:
// terminal escapes (erase screen, set the window title, colours), a C1
// CSI, a bare CR, bidi overrides and isolates, zero-width characters.
const deceptive = "\x1b[2J\x1b]0;pwned\x07\x1b[31m\u009b1m\rred\u202Eexe.pdf\u202C\u2066\u2069\u200B\uFEFF"

func encodedWord(s string) string {
	return "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
}

// controlOrFormat returns the control (but LF and tab) and format
// characters in s.
func controlOrFormat(s string) []rune {
	var out []rune
	for _, r := range s {
		if r != '\n' && r != '\t' && (unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r)) {
			out = append(out, r)
		}
	}
	return out
}

// Finding 7 of issue 14: what a mail says (subject, names, Message-IDs,
// text, reasons quoting its header) reaches the agent's terminal without
// control or format characters, in tickets list, tickets show and
// rejections list. The mails go through the real pipeline into Redis.
func TestHostileTextNeverReachesTheTerminal(t *testing.T) {
	c := newContactsDesk(t)
	cfg, err := configload.Load(c.config)
	if err != nil {
		t.Fatal(err)
	}
	customers, err := authz.ParseContacts([]byte(contactsYAML), "contacts.yaml", cfg.Plans)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: c.redis.Addr})
	t.Cleanup(func() { rdb.Close() })
	store := ticket.NewStore(rdb, ticket.Options{DeskID: cfg.Desk.ID, TicketPrefix: cfg.Desk.TicketPrefix, OutboxKey: config.KeyPrefix(cfg.Desk.ID) + "outbox"})
	p := &ingest.Pipeline{
		Store: store, Threads: store, TicketPrefix: cfg.Desk.TicketPrefix, Authz: authz.NewDirectory(customers),
		Own:      ingest.Own{Address: cfg.Desk.Address, MessageIDDomain: "desk.example", LoopHeader: "X-Maildesk-Loop", DeskID: cfg.Desk.ID},
		Language: "en", Priority: "P3", Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC) },
	}
	ctx := context.Background()
	mails := []string{
		// A contact's ticket, and a reply on it.
		"From: " + encodedWord("Jan"+deceptive) + " <jan@acme.example>\nTo: servicedesk@desk.example\n" +
			"Subject: " + encodedWord("Invoice"+deceptive) + "\nMessage-ID: <a\x1b[8mb@acme.example>\n" +
			"Content-Type: text/plain; charset=utf-8\n\nHello\x1b[2J " + deceptive + "\nbye\n",
		"From: jan@acme.example\nTo: servicedesk@desk.example\nSubject: Re: Invoice\nMessage-ID: <r\x1b]0;x\x07@acme.example>\n" +
			"In-Reply-To: <a\x1b[8mb@acme.example>\nContent-Type: text/plain; charset=utf-8\n\nMore" + deceptive + "\n",
		// A stranger, and machine mail whose reason quotes its header.
		"From: " + encodedWord("Eve"+deceptive) + " <eve@elsewhere.example>\nSubject: " + encodedWord(deceptive) +
			"\nMessage-ID: <e\x1b[2J\u202E@elsewhere.example>\n\nhi\n",
		"From: list@elsewhere.example\nSubject: news\nMessage-ID: <n@elsewhere.example>\nAuto-Submitted: auto-generated\x1b[2J\u202E\n\nnews\n",
	}
	for i, raw := range mails {
		res, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{Mailbox: "INBOX\x1b[2J", UID: uint32(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome == ingest.Quarantined {
			t.Fatalf("mail %d quarantined: %s", i, res.Reason)
		}
	}
	// The characters are in Redis: what is shown must be cleaned on the way out.
	tk, err := store.Get(ctx, cfg.Desk.TicketPrefix+"-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(controlOrFormat(tk.Subject)) == 0 || len(controlOrFormat(tk.MessageID)) == 0 {
		t.Fatalf("the test mail lost its characters before the store: %+q", tk.Subject)
	}
	for _, args := range [][]string{
		{"tickets", "list", "--config", c.config},
		{"tickets", "show", "--config", c.config, tk.Number},
		{"rejections", "list", "--config", c.config},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 0 {
			t.Fatalf("maildesk %v: exit %d: %s", args, code, errOut.String())
		}
		if bad := controlOrFormat(out.String()); len(bad) > 0 {
			t.Errorf("maildesk %v prints %+q:\n%s", args, bad, out.String())
		}
		if args[0] == "tickets" && !strings.Contains(out.String(), "Invoice") {
			t.Errorf("maildesk %v lost the subject:\n%s", args, out.String())
		}
	}
}
