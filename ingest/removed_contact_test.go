package ingest

import (
	"context"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ticket"
)

// A contact removed from the directory loses access to the tickets they
// opened or took part in: their follow-up is judged as a stranger's new
// mail, neither appended nor reopening anything.
func TestRemovedContactCannotFollowUp(t *testing.T) {
	p, store, _ := newPipeline(t, deskCustomers)
	p.ReopenDays = 14 // a reply on a resolved ticket reopens it
	ctx := context.Background()
	res, err := p.Process(ctx, strings.NewReader("From: Piet <piet@acme.example>\nCc: jan@acme.example\nSubject: Printer kapot\nMessage-ID: <p1@acme.example>\n\nkapot\n"), ticket.Source{})
	if err != nil || res.Outcome != Processed {
		t.Fatalf("opening: %+v %v", res, err)
	}
	number := res.Ticket
	if _, err := store.Apply(ctx, number, ticket.Change{At: p.Now(), Status: ticket.StatusResolved}, nil); err != nil {
		t.Fatal(err)
	}
	// Piet leaves Acme: the directory no longer lists him.
	p.Authz = authz.NewDirectory([]config.Customer{{ID: "acme", Name: "Acme BV", Contacts: []config.Contact{{Email: "jan@acme.example"}}}})
	for _, raw := range []string{
		"From: piet@acme.example\nSubject: Re: [" + number + "] Printer kapot\nMessage-ID: <p2@acme.example>\n\nnog steeds kapot\n",
		"From: piet@acme.example\nSubject: Re: Printer kapot\nIn-Reply-To: <p1@acme.example>\nMessage-ID: <p3@acme.example>\n\nhallo?\n",
	} {
		res, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != Rejected || res.FollowUp || res.Ticket != "" {
			t.Errorf("removed contact's follow-up: %+v", res)
		}
	}
	tk, err := store.Get(ctx, number)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Status != ticket.StatusResolved {
		t.Errorf("the removed contact reopened %s: status %s", number, tk.Status)
	}
	// Jan, still a contact and a participant, may.
	res, err = p.Process(ctx, strings.NewReader("From: jan@acme.example\nSubject: Re: ["+number+"] Printer kapot\nMessage-ID: <j1@acme.example>\n\nbij mij ook\n"), ticket.Source{})
	if err != nil || res.Outcome != Processed || !res.FollowUp || res.Ticket != number {
		t.Errorf("a current contact's follow-up: %+v %v", res, err)
	}
}
