package ingest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/ticket"
)

// featureRules are the desk's defaults (config) with Kwikqy's P1 words.
var featureRules = PriorityRules{
	Words:        map[string][]string{"P1": {"service blocker", "storing"}, "P2": {"hoog"}},
	FeatureWords: []string{"[feature]", "feature request", "functieverzoek", "[functieverzoek]"},
}

// Issue 15 item 2: a subject that merely contains a feature word is an
// incident with an SLA clock; only an explicit marker at the start makes a
// feature request, and never on a P1.
func TestFeatureRequestDetectedConservatively(t *testing.T) {
	p, store, _, _ := newDesk(t)
	p.Rules = featureRules
	ctx := context.Background()
	for i, tt := range []struct {
		subject string
		feature bool
	}{
		{"[P1] Service unusable: the feature request form crashes", false},
		{"Functieverzoek-knop geeft foutmelding", false},
		{"Storing: functieverzoek pagina laadt niet", false},
		{"Feature request: dark mode", true},
		{"[feature] export to CSV", true},
	} {
		raw := "From: Jan <jan@acme.example>\nSubject: " + tt.subject + "\nMessage-ID: <fr" + string(rune('a'+i)) + "@acme.example>\n\ntext\n"
		res, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{})
		if err != nil || res.Outcome != Processed {
			t.Fatalf("%q: %+v %v", tt.subject, res, err)
		}
		tk, err := store.Get(ctx, res.Ticket)
		if err != nil {
			t.Fatal(err)
		}
		if tt.feature {
			if tk.Type != ticket.TypeFeatureRequest || tk.Status != ticket.StatusClosed || tk.SLA != nil {
				t.Errorf("%q: %s/%s clock %v, want a closed feature request without clock", tt.subject, tk.Type, tk.Status, tk.SLA)
			}
			continue
		}
		if tk.Type != ticket.TypeIncident || tk.Status != ticket.StatusNew || tk.SLA == nil {
			t.Errorf("%q: %s/%s clock %v, want a new incident with an SLA clock", tt.subject, tk.Type, tk.Status, tk.SLA)
		}
	}
}

// The desk designates feature requests: an agent's #type turns a closed
// feature request into an incident (reopened, clock restored from its
// arrival) and an incident into a closed feature request, in the history
// like other changes.
func TestTypeCommand(t *testing.T) {
	p, store, rdb, clock := newDesk(t)
	p.Rules = featureRules
	ctx := context.Background()
	res, err := p.Process(ctx, strings.NewReader("From: Jan <jan@acme.example>\nSubject: [feature] dark mode\nMessage-ID: <dm@acme.example>\n\nplease\n"), ticket.Source{})
	if err != nil || res.Outcome != Processed {
		t.Fatalf("customer mail: %+v %v", res, err)
	}
	number := res.Ticket
	_, mark := outboxSince(t, rdb, "0")
	agent := func(id, body string) Result {
		t.Helper()
		raw := "From: eva@desk.example\nTo: desk@desk.example\nMessage-ID: <" + id + "@desk.example>\nSubject: Re: [" + number + "] dark mode\n" + agentAuth + "\n" + body
		r, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{Mailbox: "INBOX"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != Processed || r.Ticket != number {
			t.Fatalf("agent mail %q: %+v", body, r)
		}
		return r
	}
	agent("t1", "#type incident\n")
	tk, _ := store.Get(ctx, number)
	if tk.Type != ticket.TypeIncident || tk.Status != ticket.StatusInProgress || !slices.Contains(clock.took(number), "restore") {
		t.Fatalf("after #type incident: %s/%s, clock %v", tk.Type, tk.Status, clock.took(number))
	}
	evs, _ := store.Events(ctx, number)
	last := evs[len(evs)-1]
	if last.Kind != ticket.EventChange || len(last.Changes) != 2 || last.Changes[0].Field != "type" || last.Changes[0].New != ticket.TypeIncident ||
		last.Changes[1].Field != "status" || last.Changes[1].New != ticket.StatusInProgress {
		t.Fatalf("history: %+v", last)
	}
	if sent, _ := outboxSince(t, rdb, mark); kindsOf(sent) != "progress:jan@acme.example" {
		t.Fatalf("queued %q", kindsOf(sent))
	}
	agent("t2", "#type feature request\nWe keep this for a future version.\n")
	tk, _ = store.Get(ctx, number)
	if tk.Type != ticket.TypeFeatureRequest || tk.Status != ticket.StatusClosed {
		t.Fatalf("after #type feature request: %s/%s", tk.Type, tk.Status)
	}
	// Which types there are is the ticket's plan's: the mail is refused
	// whole, naming them, and changes nothing.
	raw := "From: eva@desk.example\nTo: desk@desk.example\nMessage-ID: <t3@desk.example>\nSubject: Re: [" + number + "] dark mode\n" + agentAuth + "\n#type question\nThis one is a question.\n"
	if r, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{Mailbox: "INBOX"}); err != nil || r.Outcome != Rejected ||
		!strings.Contains(r.Reason, `unknown type "question" for plan "standard" (want one of incident, feature_request)`) {
		t.Fatalf("#type question: %+v %v", r, err)
	}
	if tk, _ = store.Get(ctx, number); tk.Type != ticket.TypeFeatureRequest || tk.Status != ticket.StatusClosed {
		t.Fatalf("after #type question: %s/%s", tk.Type, tk.Status)
	}
	if _, _, err := parseCommands("#type\n"); err == nil || !strings.Contains(err.Error(), "#type needs a type") {
		t.Fatalf("#type without a type: %v", err)
	}
}

// A customer's reply on a closed feature request is recorded, and the
// pipeline marks it for the agents (featureReplyChange), once per mail.
func TestFeatureReplyChange(t *testing.T) {
	p, store, _, _ := newDesk(t)
	p.Rules = featureRules
	ctx := context.Background()
	res, err := p.Process(ctx, strings.NewReader("From: Jan <jan@acme.example>\nSubject: Feature request: dark mode\nMessage-ID: <fq@acme.example>\n\nplease\n"), ticket.Source{})
	if err != nil || res.Outcome != Processed {
		t.Fatalf("customer mail: %+v %v", res, err)
	}
	number := res.Ticket
	reply, err := p.Process(ctx, strings.NewReader("From: Jan <jan@acme.example>\nSubject: Re: ["+number+"] Feature request: dark mode\nMessage-ID: <fq2@acme.example>\n\nThis is NOT a feature request.\n"), ticket.Source{})
	if err != nil || reply.Ticket != number || !reply.FollowUp {
		t.Fatalf("reply: %+v %v", reply, err)
	}
	tk, _ := store.Get(ctx, number)
	// The pipeline applied the mark with the reply: applying it again, as
	// a crash's replay would, changes nothing.
	for i, want := range []bool{false, false} {
		applied, err := store.Apply(ctx, number, featureReplyChange(tk, "jan@acme.example", "fq2@acme.example", "fq2@acme.example", p.Now()), nil)
		if err != nil || applied != want {
			t.Fatalf("apply %d: %v %v, want %v", i, applied, err, want)
		}
	}
	if got := eventKinds(t, store, number); got != "reply "+ticket.EventFeatureReply {
		t.Fatalf("events %q", got)
	}
	if tk2, _ := store.Get(ctx, number); tk2.Status != ticket.StatusClosed || tk2.Type != ticket.TypeFeatureRequest {
		t.Fatalf("the mark changed the ticket: %s/%s", tk2.Status, tk2.Type)
	}
}

// The customer's reply on a closed feature request ("this is NOT a feature
// request") is put in front of the agents, once, not only recorded.
func TestReplyOnClosedFeatureRequest(t *testing.T) {
	p, store, _, _ := newDesk(t)
	p.Rules = featureRules
	ctx := context.Background()
	res, err := p.Process(ctx, strings.NewReader("From: Jan <jan@acme.example>\nSubject: Feature request: dark mode\nMessage-ID: <fq1@acme.example>\n\ngraag\n"), ticket.Source{})
	if err != nil || res.Outcome != Processed {
		t.Fatalf("%+v %v", res, err)
	}
	number := res.Ticket
	reply := "From: Jan <jan@acme.example>\nSubject: Re: [" + number + "] Feature request: dark mode\nMessage-ID: <fq2@acme.example>\n\nDit is GEEN functieverzoek: alles ligt plat!\n"
	for range 2 { // a replay changes nothing twice
		if res, err := p.Process(ctx, strings.NewReader(reply), ticket.Source{}); err != nil || !res.FollowUp || res.Ticket != number {
			t.Fatalf("reply: %+v %v", res, err)
		}
	}
	evs, err := store.Events(ctx, number)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, " "); got != "reply feature_request_reply" {
		t.Errorf("events %q, want the reply and one feature_request_reply", got)
	}
}
