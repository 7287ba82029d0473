package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
)

// `maildesk contacts export` and `contacts erase` through real servers:
// jan opened SD-1, was in Cc on piet's SD-2 and replied there, and sent an
// auto-reply that was refused. The export holds all of it; the erasure
// removes it from Redis and jan's mails from the IMAP folders, leaves
// piet's ticket and mail working, and records that it happened without
// jan's address.
func TestContactsEraseEndToEnd(t *testing.T) {
	e := newEnv(t, "")
	e.deliver(mail("Jan Jansen <jan@acme.example>", "Printer kapot", "m1@acme.example"))
	e.deliver(mail("Piet <piet@acme.example>", "VPN", "p1@acme.example", "Cc: jan@acme.example"))
	stop := e.start()
	eventually(t, 20*time.Second, "two tickets", func() bool { return len(e.tickets()) == 2 })
	e.deliver(mail("Jan Jansen <jan@acme.example>", "Re: [SD-2] VPN", "r1@acme.example", "In-Reply-To: <p1@acme.example>"))
	e.deliver(mail("Jan Jansen <jan@acme.example>", "Automatisch antwoord", "ooo@acme.example", "Auto-Submitted: auto-replied"))
	eventually(t, 20*time.Second, "mail filed", func() bool {
		return e.count(desk, "INBOX") == 0 && e.count(desk, "Processed") == 3 && e.count(desk, "Rejected") == 1
	})
	cli := func(args ...string) (string, string, int) {
		t.Helper()
		var out, errOut bytes.Buffer
		full := append([]string{args[0], args[1], "--config", e.config}, args[2:]...)
		code := run(full, &out, &errOut)
		return out.String(), errOut.String(), code
	}
	// An agent's answer to jan: its notification id, unlike an
	// acknowledgement's, names jan's address.
	if out, errOut, code := cli("tickets", "reply", "SD-1", "--message", "De printer is vervangen.", "--as", "Agent"); code != 0 {
		t.Fatalf("reply: exit %d\n%s%s", code, out, errOut)
	}
	// The acknowledgements to jan and piet and the answer are copied to
	// Sent (the journal).
	eventually(t, 20*time.Second, "mail copied to Sent", func() bool { return e.count(desk, "Sent") == 3 })
	stop()
	export := filepath.Join(t.TempDir(), "jan.json")
	if out, errOut, code := cli("contacts", "export", "JAN@acme.example", "--output", export); code != 0 || !strings.Contains(out, "2 tickets, 1 rejection records") {
		t.Fatalf("export: exit %d\n%s%s", code, out, errOut)
	}
	b, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	var x struct {
		Person   string `json:"person"`
		Contacts []struct {
			Customer string `json:"customer"`
		} `json:"contacts"`
		Tickets []struct {
			Role   string         `json:"role"`
			Ticket map[string]any `json:"ticket"`
			Events []any          `json:"events"`
		} `json:"tickets"`
		Rejections []map[string]any `json:"rejections"`
	}
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	if x.Person != "jan@acme.example" || len(x.Contacts) != 1 || x.Contacts[0].Customer != "acme" || len(x.Tickets) != 2 ||
		x.Tickets[0].Ticket["subject"] != "Printer kapot" || x.Tickets[1].Role != "involved" || len(x.Tickets[1].Events) != 1 ||
		len(x.Rejections) != 1 || x.Rejections[0]["message_id"] != "ooo@acme.example" {
		t.Errorf("export:\n%s", b)
	}

	out, errOut, code := cli("contacts", "erase", "jan@acme.example", "--reference", "GDPR-2026-12", "--as", "Alice")
	if code != 0 || !strings.Contains(out, "erased from 1 tickets as their contact and 1 as a participant or writer") ||
		!strings.Contains(out, "1 rejection records") || !strings.Contains(out, "5 mails deleted") || !strings.Contains(out, "still a contact of acme") {
		t.Fatalf("erase: exit %d\n%s%s", code, out, errOut)
	}
	for folder, want := range map[string]int{"Processed": 1, "Rejected": 0, "Sent": 1} {
		if n := e.count(desk, folder); n != want {
			t.Errorf("%s has %d mails, want %d", folder, n, want)
		}
	}
	for _, m := range e.dc.Mailbox(t, desk, "Sent") {
		if strings.Contains(strings.ToLower(string(m.Raw)), "jan@acme.example") {
			t.Errorf("a copy in Sent still names jan:\n%s", m.Raw)
		}
	}
	var shown map[string]any
	out, _, _ = cli("tickets", "show", "SD-2", "--json")
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatal(err)
	}
	if shown["subject"] != "VPN" || shown["contact"] != "piet@acme.example" || shown["participants"] != nil || strings.Contains(out, "jan@acme.example") {
		t.Errorf("SD-2 after erasure:\n%s", out)
	}
	if out, _, _ := cli("tickets", "show", "SD-1", "--json"); strings.Contains(out, "jan@acme.example") || strings.Contains(out, "Printer kapot") {
		t.Errorf("SD-1 after erasure:\n%s", out)
	}
	if out, _, _ := cli("rejections", "list"); strings.Contains(out, "jan@acme.example") {
		t.Errorf("rejections after erasure:\n%s", out)
	}
	if out, _, _ := cli("outbox", "list", "--dead"); strings.Contains(out, "jan@acme.example") {
		t.Errorf("outbox after erasure:\n%s", out)
	}
	// The record says that, when and by whom; not whose.
	ctx := context.Background()
	_, rdb, err := openDesk(ctx, e.config)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	recs, err := rdb.XRange(ctx, config.KeyPrefix("acme-it")+"erasures", "-", "+").Result()
	if err != nil || len(recs) != 1 || recs[0].Values["reference"] != "GDPR-2026-12" || recs[0].Values["by"] != "Alice" || recs[0].Values["tickets"] != "1" {
		t.Fatalf("erasure records = %+v, %v", recs, err)
	}
	// Piet's ticket keeps working: his reply threads and is recorded.
	stop = e.start()
	defer stop()
	e.deliver(mail("Piet <piet@acme.example>", "Re: [SD-2] VPN", "p2@acme.example", "In-Reply-To: <p1@acme.example>"))
	eventually(t, 20*time.Second, "piet's reply", func() bool {
		out, _, _ := cli("tickets", "show", "SD-2", "--json")
		return strings.Contains(out, "p2@acme.example")
	})
	// The journal finds Redis in step: the erasure took the delivery
	// records and the copies in Sent together (a copy left behind made it
	// find Redis behind and hold all intake for a repair).
	if strings.Contains(e.log.String(), "Redis is behind") {
		t.Errorf("the journal found Redis behind after the erasure")
	}
}
