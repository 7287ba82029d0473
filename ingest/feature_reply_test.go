package ingest

import (
	"context"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// Issue 15.2 through the real pipeline and Redis: a customer's reply on a
// closed feature request is mailed to the desk's agents (desk.agents, each
// once, nobody else), with the reply's own text, the plan's word for the
// priority and how to make it an incident; a replay mails nothing again,
// machine mail tells nobody, and the ticket is marked for the dashboard
// until an agent acts on it.
func TestReplyOnClosedFeatureRequestTellsAgents(t *testing.T) {
	p, store, rdb, _ := newDesk(t)
	p.Rules = featureRules
	p.Language = "nl"
	p.AgentAddresses = []config.Person{{Email: "Eva@Desk.Example", Name: "Eva de Vries"}, {Email: "boss@desk.example"}, {Email: "eva@desk.example"}}
	p.Plans = map[string]config.Plan{config.DefaultPlan: {PriorityLabels: map[string]map[string]string{"nl": {"P3": "Standaard"}}}}
	ctx := context.Background()
	res, err := p.Process(ctx, strings.NewReader("From: Jan <jan@acme.example>\nSubject: Feature request: dark mode\nMessage-ID: <fq1@acme.example>\n\ngraag\n"), ticket.Source{})
	if err != nil || res.Outcome != Processed {
		t.Fatalf("%+v %v", res, err)
	}
	number := res.Ticket
	_, mark := outboxSince(t, rdb, "0")
	process := func(raw string) {
		t.Helper()
		if res, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{}); err != nil || res.Ticket != number {
			t.Fatalf("%+v %v", res, err)
		}
	}
	reply := "From: Jan <jan@acme.example>\nSubject: Re: [" + number + "] Feature request: dark mode\nMessage-ID: <fq2@acme.example>\nIn-Reply-To: <fq1@acme.example>\n\n" +
		"Dit is GEEN functieverzoek: alles ligt plat!\n\nOp 6 dec. 2026 schreef Servicedesk <desk@desk.example>:\n> Uw melding is ontvangen.\n"
	for range 2 { // the second is a replay: nothing new
		process(reply)
	}
	ns, last := outboxSince(t, rdb, mark)
	if got, want := kindsOf(ns), "feature_reply:Eva@Desk.Example feature_reply:boss@desk.example"; got != want {
		t.Fatalf("queued %q, want %q", got, want)
	}
	n := ns[0]
	if n.Ticket != number || n.Language != "nl" || n.Customer != "Acme BV" || n.PriorityLabel != "Standaard" || n.ReportedBy != "Jan <jan@acme.example>" ||
		n.RepliedBy != "Jan <jan@acme.example>" || n.InReplyTo != "fq2@acme.example" || n.Subject != "Feature request: dark mode" {
		t.Errorf("notification %+v", n)
	}
	if n.Text != "Dit is GEEN functieverzoek: alles ligt plat!" {
		t.Errorf("text %q: want the reply without its quoted part", n.Text)
	}
	r, err := notify.Render(notify.Desk{ID: "d", Name: "Desk", Address: "desk@desk.example"}, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"[" + number + "] Reactie op gesloten functieverzoek"} {
		if !strings.Contains(r.Subject, h) {
			t.Errorf("subject %q lacks %q", r.Subject, h)
		}
	}
	for _, h := range []string{"> Dit is GEEN functieverzoek", "Prioriteit: Standaard", "#type incident", "maildesk tickets set " + number + " type=incident"} {
		if !strings.Contains(r.Text, h) {
			t.Errorf("mail lacks %q:\n%s", h, r.Text)
		}
	}
	tk, err := store.Get(ctx, number)
	if err != nil || tk.NeedsAgentSince == nil || !tk.NeedsAgentSince.Equal(p.Now()) {
		t.Fatalf("ticket %+v %v: not marked as needing an agent", tk, err)
	}
	if tk.Status != ticket.StatusClosed || tk.Type != ticket.TypeFeatureRequest {
		t.Fatalf("the reply changed the ticket: %s/%s", tk.Status, tk.Type)
	}

	// Machine mail on it (an out-of-office, a system's mail) tells nobody.
	process("From: Jan <jan@acme.example>\nSubject: Automatisch antwoord: [" + number + "] Feature request\nMessage-ID: <ooo@acme.example>\nAuto-Submitted: auto-replied\n\nIk ben afwezig.\n")
	process("From: Jan <jan@acme.example>\nSubject: Re: [" + number + "] Feature request\nMessage-ID: <gen@acme.example>\nAuto-Submitted: auto-generated\n\nstatus report\n")
	if ns, _ := outboxSince(t, rdb, last); len(ns) != 0 {
		t.Fatalf("machine mail queued %q", kindsOf(ns))
	}
	// Another reply is another notification, with ids of its own.
	process("From: Jan <jan@acme.example>\nSubject: Re: [" + number + "] Feature request\nMessage-ID: <fq3@acme.example>\n\nHallo?\n")
	ns2, _ := outboxSince(t, rdb, last)
	if len(ns2) != 2 || ns2[0].Text != "Hallo?" || ns2[0].ID == n.ID {
		t.Fatalf("second reply queued %+v", ns2)
	}

	// An agent's note by mail is an agent looking at it: the mark goes.
	agentNote := "From: eva@desk.example\nTo: desk@desk.example\nMessage-ID: <note1@desk.example>\nSubject: Re: [" + number + "] dark mode\n" + agentAuth + "\n#note\nBlijft een functieverzoek; klant gebeld.\n"
	if res, err := p.Process(ctx, strings.NewReader(agentNote), ticket.Source{}); err != nil || res.Outcome != Processed || !res.Agent {
		t.Fatalf("agent note: %+v %v", res, err)
	}
	if tk, _ := store.Get(ctx, number); tk.NeedsAgentSince != nil {
		t.Errorf("still marked after the agent's note: %v", tk.NeedsAgentSince)
	}
}
