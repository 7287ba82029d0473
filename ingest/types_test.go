package ingest

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/configload"
	"github.com/maildesk/maildesk/escalation"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/sla"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// Issue 15.7 through the real pipeline, SLA clock, workflow and Redis with
// QiQQ's example configuration: a mail on QiQQ's own services asking for
// Standaard (which that type does not have) gets Hoog and Hoog's deadline,
// and is told why in the contract's words; an agent's #type re-times a
// ticket from its arrival with the new type, and back.
func TestSupportTypesPipeline(t *testing.T) {
	cfg, err := configload.LoadSecrets("../deploy/examples/qiqq.yaml", 0)
	if err != nil {
		t.Fatal(err)
	}
	// A customer all of whose services QiQQ manages: its plan is the
	// example's with own services as the type of a new mail's ticket.
	plans := maps.Clone(cfg.Plans)
	beheer := plans["standard"]
	beheer.DefaultType = "beheerd"
	plans["beheer"] = beheer
	sp, err := sla.FromConfig(&config.Config{Calendars: cfg.Calendars, Plans: plans})
	if err != nil {
		t.Fatal(err)
	}
	customers := []config.Customer{
		{ID: "hosted", Name: "Hosted BV", Plan: "beheer", Contacts: []config.Contact{{Email: "bas@hosted.example", Name: "Bas", Language: "nl"}}},
		{ID: "korenschoof", Name: "Bakkerij De Korenschoof", Plan: "standard", Contacts: []config.Contact{{Email: "anna@korenschoof.example", Name: "Anna", Language: "nl", Main: true}}},
	}
	p, store, rdb := newPipeline(t, customers)
	dir := authz.NewDirectory(customers)
	ams := cfg.Desk.Location
	now := time.Date(2026, 4, 23, 14, 0, 0, 0, ams) // Thursday; Monday 27 April is King's Day
	p.Now = func() time.Time { return now }
	p.Plans, p.Priority, p.Language = plans, cfg.Desk.DefaultPriority, cfg.Desk.Language
	p.Rules = PriorityRules{Words: cfg.Priority.Words}
	esc := &escalation.Escalator{Store: store, Plans: sp, Customer: dir.Customer, WarnShare: 0.75, Language: "nl", Log: p.Log}
	p.Clock = esc
	p.Agents = &workflow.Service{Store: store, Clock: esc, Customer: dir.Customer, Plans: plans, Language: "nl", Log: p.Log, Now: p.Now}
	p.AgentAddresses = []config.Person{{Email: "eva@desk.example", Name: "Eva"}}
	p.AgentMail, p.TrustedAuthserv = true, []string{"mx.desk.example"}
	desk := notify.Desk{ID: "qiqq", Name: cfg.Desk.Name, Address: "servicedesk@qiqq.example", DefaultLanguage: "nl", Location: ams}
	ctx := context.Background()
	process := func(raw string) Result {
		t.Helper()
		res, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{Mailbox: "INBOX"})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	hoog, err := sp.DueOfType("standard", "overig", "P2", "nl", now)
	if err != nil {
		t.Fatal(err)
	}
	standaard, err := sp.DueOfType("standard", "functioneel", "P3", "nl", now)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 4, 24, 14, 0, 0, 0, ams); !hoog.FirstResponse.Equal(want) {
		t.Fatalf("Hoog's deadline %v, want %v", hoog.FirstResponse, want)
	}

	// Own services, asking for Standaard: Hoog, with Hoog's deadline.
	_, mark := outboxSince(t, rdb, "0")
	res := process("From: Bas <bas@hosted.example>\nSubject: Standaard: mailserver traag\nMessage-ID: <q1@hosted.example>\n\nDe mail is traag.\n")
	if res.Outcome != Processed {
		t.Fatalf("%+v", res)
	}
	tk, err := store.Get(ctx, res.Ticket)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Type != "beheerd" || tk.Priority != "P2" || tk.RequestedPriority != "P3" || tk.PriorityReason != authz.ByType {
		t.Fatalf("ticket %s %s asked %s because %q, want beheerd P2 asked P3 because type", tk.Type, tk.Priority, tk.RequestedPriority, tk.PriorityReason)
	}
	if tk.SLA == nil || !tk.SLA.FirstResponseDue.Equal(hoog.FirstResponse) || tk.SLA.Type != "beheerd" || tk.SLA.Target != "1 workday" {
		t.Fatalf("clock %+v, want Hoog's deadline %v", tk.SLA, hoog.FirstResponse)
	}
	sent, _ := outboxSince(t, rdb, mark)
	if len(sent) != 1 || sent[0].Kind != notify.Ack {
		t.Fatalf("sent %+v", sent)
	}
	r, err := notify.Render(desk, sent[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Prioriteit: Hoog\nSoort melding: Technische support op door QiQQ geleverde diensten\n",
		"U vroeg om prioriteit Standaard. Wij hebben de melding prioriteit Hoog gegeven, omdat er voor Technische support op door QiQQ geleverde diensten geen prioriteit Standaard bestaat.",
		"U ontvangt uiterlijk vrijdag 24 april 2026 om 14:00 een eerste reactie.",
	} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("ack lacks %q:\n%s", want, r.Text)
		}
	}

	// Functional support (the example's default type): Standaard, three
	// workdays.
	res = process("From: Anna <anna@korenschoof.example>\nSubject: Standaard: wachtwoord vergeten\nMessage-ID: <q2@korenschoof.example>\n\nIk kan niet inloggen.\n")
	number := res.Ticket
	if tk, _ = store.Get(ctx, number); tk.Type != "functioneel" || tk.Priority != "P3" || tk.SLA == nil || !tk.SLA.FirstResponseDue.Equal(standaard.FirstResponse) {
		t.Fatalf("functional support: %s %s clock %+v, want %v", tk.Type, tk.Priority, tk.SLA, standaard.FirstResponse)
	}
	_, mark = outboxSince(t, rdb, "0")

	// An hour later the desk finds it is about a service QiQQ manages:
	// Hoog, timed from the arrival.
	now = now.Add(time.Hour)
	agent := func(id, body string) Result {
		t.Helper()
		return process("From: Eva <eva@desk.example>\nTo: servicedesk@qiqq.example\nMessage-ID: <" + id + "@desk.example>\nSubject: Re: [" + number + "] wachtwoord vergeten\n" + agentAuth + "\n" + body)
	}
	if res := agent("a1", "#type beheerd\n"); res.Outcome != Processed {
		t.Fatalf("#type beheerd: %+v", res)
	}
	tk, _ = store.Get(ctx, number)
	if tk.Type != "beheerd" || tk.Priority != "P2" || tk.SLA.Type != "beheerd" || !tk.SLA.FirstResponseDue.Equal(hoog.FirstResponse) {
		t.Fatalf("after #type beheerd: %s %s clock %+v, want Hoog's deadline %v", tk.Type, tk.Priority, tk.SLA, hoog.FirstResponse)
	}
	sent, _ = outboxSince(t, rdb, mark)
	if len(sent) != 1 || sent[0].Kind != notify.Progress {
		t.Fatalf("sent %+v", sent)
	}
	if r, err = notify.Render(desk, sent[0]); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"- Soort melding: Functioneel support → Technische support op door QiQQ geleverde diensten\n",
		"  Reden: prioriteit ",
	} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("progress mail lacks %q:\n%s", want, r.Text)
		}
	}

	// Refused whole, naming what there is; nothing changes.
	for id, c := range map[string]struct{ body, reason string }{
		"a2": {"#type incident\n", `unknown type "incident" for plan "standard" (want one of beheerd, functioneel, overig, feature_request)`},
		"a3": {"#priority P3 klant wil Standaard\n", "type beheerd has no priority P3 (it has P1, P2)"},
	} {
		if res := agent(id, c.body); res.Outcome != Rejected || !strings.Contains(res.Reason, c.reason) {
			t.Errorf("%q: %+v, want rejected: %s", c.body, res, c.reason)
		}
	}

	// Back to functional support: Standaard as asked, three workdays again.
	if res := agent("a4", "#type Functioneel\n"); res.Outcome != Processed {
		t.Fatalf("#type functioneel: %+v", res)
	}
	tk, _ = store.Get(ctx, number)
	if tk.Type != "functioneel" || tk.Priority != "P3" || !tk.SLA.FirstResponseDue.Equal(standaard.FirstResponse) {
		t.Fatalf("back to functional support: %s %s clock %+v, want %v", tk.Type, tk.Priority, tk.SLA, standaard.FirstResponse)
	}
}
