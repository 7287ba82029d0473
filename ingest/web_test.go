package ingest

import (
	"context"
	"net/mail"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ticket"
)

// A reply written on a ticket's status page enters as the writer's mail
// would: threaded, authorised (also where the desk requires DMARC, the
// link having been mailed to the address), idempotent on its key, marked
// for an agent; never taken for an agent's mail; on a closed ticket it
// starts a new one linked to it.
func TestSubmitWeb(t *testing.T) {
	p, store, rdb, _ := newDesk(t)
	p.RequireAuth = true
	ctx := context.Background()
	auth := "Authentication-Results: mx.desk.example; dmarc=pass header.from=acme.example\n"
	res, err := p.Process(ctx, strings.NewReader("From: Jan <jan@acme.example>\nSubject: Printer\nMessage-ID: <p1@acme.example>\n"+auth+"\nHij doet het niet.\n"), ticket.Source{})
	if err != nil || res.Outcome != Processed {
		t.Fatalf("%+v %v", res, err)
	}
	number := res.Ticket
	_, mark := outboxSince(t, rdb, "0")
	reply := WebReply{From: mail.Address{Name: "Jan", Address: "jan@acme.example"}, Ticket: number, Subject: "Printer", InReplyTo: "p1@acme.example",
		Text: "Nog steeds <b>kapot</b>.\r\n", Key: "link-hash form-key-1"}
	for i := range 2 {
		res, err := p.SubmitWeb(ctx, reply)
		if err != nil || res.Outcome != Processed || res.Ticket != number || !res.FollowUp || res.Replay != (i == 1) {
			t.Fatalf("submission %d: %+v %v", i+1, res, err)
		}
	}
	events, _ := store.Events(ctx, number)
	if len(events) != 1 || events[0].Kind != ticket.EventReply || events[0].From != "jan@acme.example" || events[0].Text != "Nog steeds <b>kapot</b>." ||
		events[0].Channel != ticket.ChannelWeb {
		t.Fatalf("history %+v", events)
	}
	tk, _ := store.Get(ctx, number)
	if tk.NeedsAgentSince == nil {
		t.Error("the customer's reply does not wait for an agent")
	}
	if ns, _ := outboxSince(t, rdb, mark); len(ns) != 0 {
		t.Errorf("a follow-up queued %s", kindsOf(ns))
	}
	// Another key is another reply.
	reply.Key, reply.Text = "link-hash form-key-2", "En nu?"
	if res, err := p.SubmitWeb(ctx, reply); err != nil || res.Replay {
		t.Fatalf("second reply: %+v %v", res, err)
	}

	// An agent's address writing through a contact's link is still the
	// contact's reply, never agent mail with #commands.
	reply.From, reply.Key, reply.Text = mail.Address{Address: "it@desk.example"}, "k3", "#status closed"
	if res, err := p.SubmitWeb(ctx, reply); err != nil || res.Agent || res.Ticket == number {
		t.Fatalf("agent-domain contact: %+v %v", res, err)
	}
	if tk, _ := store.Get(ctx, number); tk.Status == ticket.StatusClosed {
		t.Fatal("a web reply acted as an agent's command")
	}

	// Closed: a new ticket that links to it, acknowledged.
	closed := ticket.StatusClosed
	if _, err := store.Apply(ctx, number, ticket.Change{At: p.Now(), Status: closed}, nil); err != nil {
		t.Fatal(err)
	}
	reply.From, reply.Key, reply.Text = mail.Address{Address: "jan@acme.example"}, "k4", "Weer kapot."
	res, err = p.SubmitWeb(ctx, reply)
	if err != nil || res.Outcome != Processed || res.Ticket == number || res.FollowUp {
		t.Fatalf("reply on closed: %+v %v", res, err)
	}
	nt, _ := store.Get(ctx, res.Ticket)
	if nt.LinkedTo != number || nt.Channel != ticket.ChannelWeb || nt.Contact != "jan@acme.example" {
		t.Errorf("new ticket %+v", nt)
	}

	// A contact since removed from the directory is refused as their mail
	// would be.
	p.Authz = authzOf(deskCustomers[1:])
	reply.Key = "k5"
	if res, err := p.SubmitWeb(ctx, reply); err != nil || res.Outcome != Rejected {
		t.Fatalf("removed contact: %+v %v", res, err)
	}
	if _, err := p.SubmitWeb(ctx, WebReply{From: reply.From, Ticket: number}); err == nil {
		t.Error("a reply without a key")
	}
}

func authzOf(cs []config.Customer) Authorizer { return authz.NewDirectory(cs) }
