package ingest

import (
	"context"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ticket"
)

// TestThreading: which mails join an existing ticket and which are judged
// as new, in order, against one store.
func TestThreading(t *testing.T) {
	p, store, rdb := newPipeline(t, []config.Customer{
		{ID: "acme", Contacts: []config.Contact{{Email: "jan@acme.example"}, {Email: "piet@acme.example"}}},
		{ID: "globex", Contacts: []config.Contact{{Email: "ann@globex.example"}}},
	})
	ctx := context.Background()
	if err := store.RecordSent(ctx, "ack.sd-1.d.maildesk.0a1b@desk.example", "SD-1"); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		mail     string
		outcome  Outcome
		ticket   string
		followUp bool
	}{
		{"new ticket", "From: jan@acme.example\nSubject: Printer kapot\nMessage-ID: <m1@acme.example>\n\nkapot\n", Processed, "SD-1", false},
		{"reply by In-Reply-To", "From: jan@acme.example\nSubject: nog steeds\nMessage-ID: <m2@acme.example>\nIn-Reply-To: <m1@acme.example>\n\nnog steeds kapot\n\nOp za 21 nov schreef desk <desk@desk.example>:\n> eerder\n", Processed, "SD-1", true},
		{"reply to the desk's own mail", "From: jan@acme.example\nSubject: Re: printer\nMessage-ID: <m3@acme.example>\nReferences: <x@y> <ack.sd-1.d.maildesk.0a1b@desk.example>\n\ndank\n", Processed, "SD-1", true},
		{"colleague by subject tag", "From: piet@acme.example\nSubject: AW: Antw: [sd-1] Printer kapot\nMessage-ID: <p1@acme.example>\n\nook bij mij\n", Processed, "SD-1", true},
		{"out-of-office on the ticket", "From: jan@acme.example\nSubject: Automatisch antwoord: [SD-1] Printer kapot\nAuto-Submitted: auto-replied\nMessage-ID: <ooo@acme.example>\nIn-Reply-To: <ack.sd-1.d.maildesk.0a1b@desk.example>\n\nafwezig\n", Processed, "SD-1", true},
		{"stranger quoting the tag is judged as new", "From: evil@else.example\nSubject: Re: [SD-1] Printer kapot\nMessage-ID: <e1@else.example>\n\nhi\n", Rejected, "", false},
		{"other customer's contact starts a new ticket", "From: ann@globex.example\nSubject: Fwd: [SD-1] Printer kapot\nMessage-ID: <a1@globex.example>\n\nours too\n", Processed, "SD-2", false},
		{"tag of an unknown ticket", "From: jan@acme.example\nSubject: [SD-99] old\nMessage-ID: <m4@acme.example>\n\nx\n", Processed, "SD-3", false},
		{"replayed follow-up", "From: jan@acme.example\nSubject: nog steeds\nMessage-ID: <m2@acme.example>\nIn-Reply-To: <m1@acme.example>\n\nnog steeds kapot\n", Processed, "SD-1", true},
	}
	for _, st := range steps {
		res, err := p.Process(ctx, strings.NewReader(st.mail), ticket.Source{Mailbox: "INBOX"})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if res.Outcome != st.outcome || res.Ticket != st.ticket || res.FollowUp != st.followUp {
			t.Fatalf("%s: got %+v, want outcome %v ticket %q follow-up %v", st.name, res, st.outcome, st.ticket, st.followUp)
		}
	}
	evs, err := store.Events(ctx, "SD-1")
	if err != nil {
		t.Fatal(err)
	}
	kinds := []string{}
	for _, e := range evs {
		kinds = append(kinds, e.Kind+":"+e.From)
	}
	want := "reply:jan@acme.example reply:jan@acme.example reply:piet@acme.example auto_reply:jan@acme.example"
	if strings.Join(kinds, " ") != want {
		t.Fatalf("events %v, want %s (the replay adds none)", kinds, want)
	}
	if evs[0].Text != "nog steeds kapot" || !strings.Contains(evs[0].Quoted, "> eerder") {
		t.Fatalf("follow-up text not split from its history: %+v", evs[0])
	}
	if tk, _ := store.Get(ctx, "SD-1"); tk.Status != ticket.StatusNew {
		t.Fatalf("the auto-reply changed the ticket: %+v", tk)
	}
	if n, _ := rdb.XLen(ctx, "md:{d}:outbox").Result(); n != 4 {
		t.Fatalf("outbox %d, want acks for SD-1..SD-3 and one notice, none for follow-ups", n)
	}
}
