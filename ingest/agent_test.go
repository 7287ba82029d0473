package ingest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

var deskCustomers = []config.Customer{
	{ID: "acme", Name: "Acme BV", Contacts: []config.Contact{{Email: "jan@acme.example", Name: "Jan", Language: "nl"}, {Email: "piet@acme.example"}}},
	// The desk's own company is a customer too: its listed contact at the
	// agent domain reports as a customer.
	{ID: "self", Name: "Desk BV", Contacts: []config.Contact{{Email: "it@desk.example"}}},
}

// fakeClock gives every ticket a (non-running) SLA clock and records
// what the pipeline and the workflow do to it.
type fakeClock struct {
	mu    sync.Mutex
	calls []string
}

func (c *fakeClock) Start(plan, typ, priority, language string, at time.Time) (*ticket.Clock, error) {
	return &ticket.Clock{Plan: plan, Type: typ, Priority: priority, Arrival: at, Start: at}, nil
}

func (c *fakeClock) record(what, number string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, what+" "+number)
	return nil
}

func (c *fakeClock) Pause(_ context.Context, n string, _ time.Time) error {
	return c.record("pause", n)
}
func (c *fakeClock) Resume(_ context.Context, n string, _ time.Time) error {
	return c.record("resume", n)
}
func (c *fakeClock) Responded(_ context.Context, n string, _ time.Time) error {
	return c.record("responded", n)
}
func (c *fakeClock) Reprioritise(_ context.Context, n, p string, _ time.Time) error {
	return c.record("reprioritise "+p, n)
}

func (c *fakeClock) Restore(_ context.Context, n string, _ time.Time) error {
	return c.record("restore", n)
}

func (c *fakeClock) Retype(_ context.Context, n string, _ time.Time) error {
	return c.record("retype", n)
}

func (c *fakeClock) took(number string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, s := range c.calls {
		if strings.HasSuffix(s, " "+number) {
			out = append(out, strings.TrimSuffix(s, " "+number))
		}
	}
	return out
}

// agentAuth is the desk's MTA finding an agent's mail authentic.
const agentAuth = "Authentication-Results: mx.desk.example; dmarc=pass header.from=desk.example\n"

// newDesk is a pipeline with agents (eva listed, anyone at desk.example by
// domain) acting through a workflow.Service on the same store.
func newDesk(t *testing.T) (*Pipeline, *ticket.Store, *redis.Client, *fakeClock) {
	t.Helper()
	p, store, rdb := newPipeline(t, deskCustomers)
	dir := authz.NewDirectory(deskCustomers)
	clock := &fakeClock{}
	p.Clock = clock
	p.Agents = &workflow.Service{Store: store, Clock: clock, Customer: dir.Customer, Language: "en", Log: p.Log, Now: p.Now}
	p.AgentAddresses = []config.Person{{Email: "Eva@Desk.Example", Name: "Eva de Vries"}}
	p.AgentDomains = []string{"desk.example"}
	// Agents' mail is acted on only when opted in and authenticated by the
	// desk's MTA: the cases add a passing result unless they test that.
	p.AgentMail = true
	p.TrustedAuthserv = []string{"mx.desk.example"}
	p.ReopenDays = 14
	p.Rules.FeatureWords = []string{"[feature]"}
	return p, store, rdb, clock
}

// outboxSince returns the notifications queued after stream id from.
func outboxSince(t *testing.T, rdb *redis.Client, from string) ([]notify.Notification, string) {
	t.Helper()
	msgs, err := rdb.XRange(context.Background(), "md:{d}:outbox", "("+from, "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []notify.Notification
	last := from
	for _, m := range msgs {
		n, err := notify.FromFields(m.Values)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
		last = m.ID
	}
	return out, last
}

func kindsOf(ns []notify.Notification) string {
	var ks []string
	for _, n := range ns {
		ks = append(ks, string(n.Kind)+":"+n.To)
	}
	return strings.Join(ks, " ")
}

func eventKinds(t *testing.T, store *ticket.Store, number string) string {
	t.Helper()
	evs, err := store.Events(context.Background(), number)
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for _, e := range evs {
		ks = append(ks, e.Kind)
	}
	return strings.Join(ks, " ")
}

// TestAgentMail: an agent's mail on a ticket answers the customer, changes
// the ticket by its #commands, or is rejected without changing anything.
func TestAgentMail(t *testing.T) {
	p, store, rdb, clock := newDesk(t)
	ctx := context.Background()
	tests := []struct {
		name string
		// status the ticket is put in first ("" leaves it new)
		status string
		from   string
		// header lines; {tag} is the ticket's subject tag, {id} the
		// Message-ID of the customer's mail
		headers string
		body    string
		// trusted: the case brings its own Authentication-Results (or
		// none); otherwise the desk's MTA found the mail authentic.
		trusted bool
		// off: desk.agent_mail is off; untrusted: no authserv-id is trusted
		off, untrusted bool

		outcome    Outcome
		reason     string // in the rejection reason
		authFailed bool
		wantStatus string
		wantPrio   string
		wantAssign string
		events     string // kinds added to the ticket's history
		sent       string // notifications queued: kind:to ...
		responded  bool   // counted as the first response
	}{
		{name: "reply by subject tag", from: "Eva <eva@desk.example>", headers: "Subject: Re: {tag} Printer kapot\n",
			body:    "Have you tried turning it off and on again?\n\n-- \nEva de Vries\nServicedesk\n",
			outcome: Processed, wantStatus: ticket.StatusInProgress, wantPrio: "P3",
			events: "agent_reply", sent: "reply:jan@acme.example", responded: true},
		{name: "reply by In-Reply-To from the agent domain", from: "Bob <BOB@desk.example>", headers: "Subject: Re: your printer\nIn-Reply-To: <{id}>\n",
			body:    "Fixed it.\n\nOn Sat, 21 Nov 2026 Jan <jan@acme.example> wrote:\n> Printer kapot\n",
			outcome: Processed, wantStatus: ticket.StatusInProgress, wantPrio: "P3",
			events: "agent_reply", sent: "reply:jan@acme.example", responded: true},
		{name: "#status resolved with a reply", from: "eva@desk.example", headers: "Subject: Re: {tag}\n",
			body:    "#status resolved\n\nThe new toner is in.\n",
			outcome: Processed, wantStatus: ticket.StatusResolved, wantPrio: "P3",
			events: "agent_reply", sent: "reply:jan@acme.example", responded: true},
		{name: "#priority with reason and #assign", status: ticket.StatusAcknowledged, from: "eva@desk.example", headers: "Subject: Re: {tag}\n",
			body:    "#Priority p2 the whole office cannot print\n#assign Eva\nWe are on it.\n",
			outcome: Processed, wantStatus: ticket.StatusInProgress, wantPrio: "P2", wantAssign: "Eva",
			events: "change agent_reply", sent: "progress:jan@acme.example reply:jan@acme.example", responded: true},
		{name: "commands only: no reply", status: ticket.StatusInProgress, from: "eva@desk.example", headers: "Subject: Re: {tag}\n",
			body:    "#status waiting customer\n#assign Bob\n\n-- \nEva\n",
			outcome: Processed, wantStatus: ticket.StatusWaitingCustomer, wantPrio: "P3", wantAssign: "Bob",
			events: "change", sent: "progress:jan@acme.example"},
		{name: "#note is no mail", from: "eva@desk.example", headers: "Subject: Re: {tag}\n",
			body:    "#note\nJan called: it works again after a restart.\n",
			outcome: Processed, wantStatus: ticket.StatusNew, wantPrio: "P3", events: "note"},
		{name: "#note with a command", from: "eva@desk.example", headers: "Subject: Re: {tag}\n",
			body:    "#note\n#priority P4 cosmetic\nOnly the colour is off.\n",
			outcome: Processed, wantStatus: ticket.StatusNew, wantPrio: "P4", events: "change note", sent: "progress:jan@acme.example"},
		{name: "unknown status rejects", from: "eva@desk.example", headers: "Subject: Re: {tag}\n",
			body:    "#priority P1\n#status done\nDone.\n",
			outcome: Rejected, reason: "unknown status", wantStatus: ticket.StatusNew, wantPrio: "P3"},
		{name: "unknown command rejects", from: "eva@desk.example", headers: "Subject: Re: {tag}\n",
			body:    "#assign Eva\n#escalate\nHelp.\n",
			outcome: Rejected, reason: "unknown command #escalate", wantStatus: ticket.StatusNew, wantPrio: "P3"},
		{name: "bad priority rejects", from: "eva@desk.example", headers: "Subject: Re: {tag}\n",
			body:    "#assign Eva\n#priority P9\n",
			outcome: Rejected, reason: "unknown priority", wantStatus: ticket.StatusNew, wantPrio: "P3"},
		{name: "transition the lifecycle forbids rejects", status: ticket.StatusClosed, from: "eva@desk.example", headers: "Subject: Re: {tag}\n",
			body:    "#priority P2\n#status resolved\nReopening.\n",
			outcome: Rejected, reason: "a closed ticket cannot become resolved", wantStatus: ticket.StatusClosed, wantPrio: "P3"},
		{name: "nothing to say rejects", from: "eva@desk.example", headers: "Subject: Re: {tag}\n", body: "\n\n",
			outcome: Rejected, reason: "no text and no command", wantStatus: ticket.StatusNew, wantPrio: "P3"},
		{name: "authenticated agent", trusted: true, from: "eva@desk.example",
			headers: "Subject: Re: {tag}\nAuthentication-Results: mx.desk.example; dmarc=pass header.from=desk.example\n", body: "On it.\n",
			outcome: Processed, wantStatus: ticket.StatusInProgress, wantPrio: "P3", events: "agent_reply", sent: "reply:jan@acme.example", responded: true},
		{name: "forged agent mail", trusted: true, from: "eva@desk.example",
			headers: "Subject: Re: {tag}\nAuthentication-Results: mx.desk.example; dmarc=fail header.from=desk.example\n", body: "#status closed\nBye.\n",
			outcome: Rejected, reason: "agent mail not authenticated", authFailed: true, wantStatus: ticket.StatusNew, wantPrio: "P3"},
		{name: "unauthenticated agent mail", trusted: true, from: "eva@desk.example", headers: "Subject: Re: {tag}\n", body: "#status closed\n",
			outcome: Rejected, reason: "agent mail not authenticated", authFailed: true, wantStatus: ticket.StatusNew, wantPrio: "P3"},
		{name: "agent mail off", off: true, from: "eva@desk.example", headers: "Subject: Re: {tag}\n", body: "#status closed\nBye.\n",
			outcome: Rejected, reason: "agent mail is off", wantStatus: ticket.StatusNew, wantPrio: "P3"},
		{name: "opted in without a trusted MTA", untrusted: true, from: "eva@desk.example", headers: "Subject: Re: {tag}\n", body: "#status closed\nBye.\n",
			outcome: Rejected, reason: "agent mail not authenticated", authFailed: true, wantStatus: ticket.StatusNew, wantPrio: "P3"},
		{name: "agent's out-of-office", from: "eva@desk.example", headers: "Subject: Automatic reply: {tag}\nAuto-Submitted: auto-replied\n", body: "Away.\n",
			outcome: Rejected, reason: "machine mail from an agent", wantStatus: ticket.StatusNew, wantPrio: "P3"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.AgentMail, p.TrustedAuthserv = !tt.off, []string{"mx.desk.example"}
			if tt.untrusted {
				p.TrustedAuthserv = nil
			}
			custID := fmt.Sprintf("c%d@acme.example", i)
			created, err := p.Process(ctx, strings.NewReader("From: Jan <jan@acme.example>\nSubject: Printer kapot\nMessage-ID: <"+custID+">\n\nkapot\n"), ticket.Source{})
			if err != nil || created.Outcome != Processed {
				t.Fatalf("customer mail: %+v %v", created, err)
			}
			number := created.Ticket
			if tt.status != "" {
				if _, err := store.Apply(ctx, number, ticket.Change{At: p.Now(), Status: tt.status}, nil); err != nil {
					t.Fatal(err)
				}
			}
			_, mark := outboxSince(t, rdb, "0")
			hdr := strings.NewReplacer("{tag}", "["+number+"]", "{id}", custID).Replace(tt.headers)
			if !tt.trusted {
				hdr += "Authentication-Results: mx.desk.example; dmarc=pass header.from=desk.example\n"
			}
			raw := "From: " + tt.from + "\nTo: desk@desk.example\nMessage-ID: <agent" + fmt.Sprint(i) + "@desk.example>\n" + hdr + "\n" + tt.body
			res, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{Mailbox: "INBOX", UID: uint32(100 + i)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.outcome || !res.Agent || res.AuthFailed != tt.authFailed || !strings.Contains(res.Reason, tt.reason) {
				t.Fatalf("got %+v, want outcome %v, reason with %q, auth failed %v", res, tt.outcome, tt.reason, tt.authFailed)
			}
			if tt.outcome == Processed && (res.Ticket != number || !res.FollowUp) {
				t.Fatalf("got %+v, want follow-up on %s", res, number)
			}
			tk, err := store.Get(ctx, number)
			if err != nil {
				t.Fatal(err)
			}
			if tk.Status != tt.wantStatus || tk.Priority != tt.wantPrio || tk.Assignee != tt.wantAssign {
				t.Fatalf("ticket is %s/%s/assignee %q, want %s/%s/%q", tk.Status, tk.Priority, tk.Assignee, tt.wantStatus, tt.wantPrio, tt.wantAssign)
			}
			if (tk.FirstResponseAt != nil) != tt.responded || slices.Contains(clock.took(number), "responded") != tt.responded {
				t.Fatalf("first response %v (clock %v), want %v", tk.FirstResponseAt, clock.took(number), tt.responded)
			}
			if got := eventKinds(t, store, number); got != tt.events {
				t.Fatalf("events %q, want %q", got, tt.events)
			}
			sent, _ := outboxSince(t, rdb, mark)
			if got := kindsOf(sent); got != tt.sent {
				t.Fatalf("queued %q, want %q", got, tt.sent)
			}
			evs, _ := store.Events(ctx, number)
			for _, n := range sent {
				if n.Ticket != number || n.InReplyTo != custID {
					t.Fatalf("notification not threaded under %s: %+v", number, n)
				}
				if n.Kind == notify.AgentReply {
					if n.Agent == "" || strings.Contains(n.Text, "#") || strings.Contains(n.Text, "Servicedesk") || strings.Contains(n.Text, "> Printer") {
						t.Fatalf("reply carries commands, signature or history: %+v", n)
					}
				}
			}
			for _, e := range evs {
				if e.Kind == ticket.EventNote && (strings.Contains(e.Text, "#") || !strings.Contains(e.From, "eva@desk.example") || e.MessageID == "") {
					t.Fatalf("note %+v", e)
				}
			}
			if tt.outcome == Rejected {
				rs, _ := store.Rejections(ctx)
				if last := rs[len(rs)-1]; last.Sender != addrOf(tt.from) || !strings.Contains(last.Reason, tt.reason) {
					t.Fatalf("rejection record %+v", last)
				}
			}
		})
	}
}

// Agents do not open tickets by mail, and a contact at the agent domain
// stays a contact.
func TestAgentMailWithoutTicket(t *testing.T) {
	p, store, rdb, _ := newDesk(t)
	ctx := context.Background()
	for i, raw := range []string{
		"From: eva@desk.example\n" + agentAuth + "Subject: a question\nMessage-ID: <a1@desk.example>\n\nHow do I ...?\n",
		"From: bob@desk.example\n" + agentAuth + "Subject: Re: [SD-42] gone\nMessage-ID: <a2@desk.example>\n\n#status closed\n",
		"From: bob@desk.example\n" + agentAuth + "Subject: Re: old\nIn-Reply-To: <unknown@acme.example>\nMessage-ID: <a3@desk.example>\n\nanswer\n",
	} {
		res, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{UID: uint32(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != Rejected || !res.Agent || res.Reason != "agent mail without a ticket" || res.Notified {
			t.Fatalf("mail %d: %+v", i, res)
		}
	}
	if tks, _ := store.List(ctx); len(tks) != 0 {
		t.Fatalf("agent mail made tickets: %+v", tks)
	}
	if n, _ := rdb.XLen(ctx, "md:{d}:outbox").Result(); n != 0 {
		t.Fatalf("%d notifications queued for agent mail", n)
	}
	res, err := p.Process(ctx, strings.NewReader("From: it@desk.example\nSubject: laptop\nMessage-ID: <it1@desk.example>\n\nmy laptop\n"), ticket.Source{})
	if err != nil || res.Outcome != Processed || res.Agent || res.Ticket != "SD-1" {
		t.Fatalf("listed contact at the agent domain: %+v %v", res, err)
	}
	// Without Agents wired nobody is an agent: the old behaviour.
	p.Agents = nil
	res, err = p.Process(ctx, strings.NewReader("From: eva@desk.example\nSubject: x\nMessage-ID: <a4@desk.example>\n\nx\n"), ticket.Source{})
	if err != nil || res.Agent || res.Reason != string(authz.UnknownSender) {
		t.Fatalf("no agents wired: %+v %v", res, err)
	}
}

// An agent's mail processed again (a crash before the move, a resend)
// changes nothing twice, also when it was cut short between its steps and
// when the ticket changed since.
func TestAgentMailReplay(t *testing.T) {
	p, store, rdb, _ := newDesk(t)
	svc := p.Agents.(*workflow.Service)
	ctx := context.Background()
	for i := range 3 {
		raw := fmt.Sprintf("From: jan@acme.example\nSubject: Printer %d\nMessage-ID: <c%d@acme.example>\n\nkapot\n", i, i)
		if _, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{}); err != nil {
			t.Fatal(err)
		}
	}
	agentMail := func(number, id string) string {
		return "From: eva@desk.example\n" + agentAuth + "Subject: Re: [" + number + "] Printer\nMessage-ID: <" + id + ">\n\n#priority P2 urgent after all\n#status resolved\nNew toner.\n"
	}
	process := func(raw string) Result {
		t.Helper()
		res, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	_, mark := outboxSince(t, rdb, "0")

	// Twice in a row.
	first, second := process(agentMail("SD-1", "r1@desk.example")), process(agentMail("SD-1", "r1@desk.example"))
	if first.Outcome != Processed || first.Replay || second.Outcome != Processed || !second.Replay || second.Ticket != "SD-1" {
		t.Fatalf("first %+v second %+v", first, second)
	}
	// Cut short after the commands, before the reply: the replay adds the
	// reply and does not change the priority again.
	if _, err := svc.Set(ctx, "SD-2", workflow.Agent{Name: "Eva de Vries", Email: "eva@desk.example"},
		workflow.Change{Priority: "P2", Reason: "urgent after all"}, "r2@desk.example #set"); err != nil {
		t.Fatal(err)
	}
	if res := process(agentMail("SD-2", "r2@desk.example")); res.Outcome != Processed || res.Replay {
		t.Fatalf("resumed after a crash: %+v", res)
	}
	// Applied, then the ticket was closed: the replay is still a replay,
	// not a rejected transition.
	process(agentMail("SD-3", "r3@desk.example"))
	if _, err := svc.Set(ctx, "SD-3", workflow.Agent{Name: "x"}, workflow.Change{Status: ticket.StatusClosed}, ""); err != nil {
		t.Fatal(err)
	}
	if res := process(agentMail("SD-3", "r3@desk.example")); res.Outcome != Processed || !res.Replay {
		t.Fatalf("replay after the ticket closed: %+v", res)
	}

	for _, n := range []string{"SD-1", "SD-2", "SD-3"} {
		tk, _ := store.Get(ctx, n)
		if tk.Priority != "P2" || (n != "SD-3" && tk.Status != ticket.StatusResolved) {
			t.Fatalf("%s: %+v", n, tk)
		}
		want := "change agent_reply"
		if n == "SD-3" {
			want += " change"
		}
		if got := eventKinds(t, store, n); got != want {
			t.Fatalf("%s events %q, want %q", n, got, want)
		}
	}
	sent, _ := outboxSince(t, rdb, mark)
	// Per ticket one progress mail (priority) and one reply; SD-3 one more
	// progress mail for closing it.
	if got := kindsOf(sent); strings.Count(got, "reply:") != 3 || strings.Count(got, "progress:") != 4 {
		t.Fatalf("queued %q", got)
	}
}

// TestWarnings: the daemon is told at start when agent mail is not
// authenticated.
func TestWarnings(t *testing.T) {
	p, _, _, _ := newDesk(t)
	if w := p.Warnings(); len(w) != 0 {
		t.Fatalf("agent mail on: warnings %q", w)
	}
	p.AgentMail = false
	if w := p.Warnings(); len(w) != 1 || !strings.Contains(w[0], "desk.agent_mail is off") {
		t.Fatalf("agent mail off: warnings %q", w)
	}
}

func TestParseCommands(t *testing.T) {
	tests := []struct {
		in, text, given, err string
		c                    commands
	}{
		{in: "hello\n#status closed", text: "hello\n#status closed"},
		{in: "\n#status In Progress\n\n#assign  Eva de Vries \nhi", text: "hi", given: "status,assign"},
		{in: "# heading\nx", text: "# heading\nx"},
		{in: "#1 thing", text: "#1 thing"},
		{in: "#unassign\n#note", given: "unassign,note"},
		{in: "#status\nx", err: "unknown status"},
		{in: "#priority\nx", err: "unknown priority"},
		{in: "#assign\nx", err: "#assign needs a name"},
		{in: "#assign a\n#unassign", err: "together"},
		{in: "#note please\nx", err: "takes nothing"},
		{in: "#status closed\n#STATUS new", err: "given twice"},
		{in: "#close", err: "unknown command #close"},
	}
	for _, tt := range tests {
		c, text, err := parseCommands(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || text != tt.text || c.String() != tt.given {
			t.Errorf("%q: %+v text %q err %v; want text %q commands %q", tt.in, c, text, err, tt.text, tt.given)
		}
	}
	c, _, _ := parseCommands("#status waiting-customer\n#priority p1 production down\n#assign Eva de Vries")
	if c.status != ticket.StatusWaitingCustomer || c.priority != "P1" || c.reason != "production down" || *c.assignee != "Eva de Vries" {
		t.Fatalf("%+v", c)
	}
}

// TestCustomerFollowUpLifecycle: a customer's reply ends waiting_customer,
// reopens a ticket resolved lately, and on a closed ticket or one resolved
// long ago starts a new, acknowledged ticket linked to the old one. A
// replay changes nothing twice.
func TestCustomerFollowUpLifecycle(t *testing.T) {
	p, store, rdb, clock := newDesk(t)
	ctx := context.Background()
	now := p.Now()
	day := 24 * time.Hour
	tests := []struct {
		name       string
		status     string
		resolvedAt time.Time
		reopenDays int
		feature    bool
		headers    string // extra header lines of the reply

		newTicket  bool   // the reply starts a new ticket linked to the old one
		wantStatus string // of the old ticket afterwards
		events     string // added to the old ticket
		resumed    bool
		mails      string // queued by a follow-up (kindsOf): only the agents' notice of a reply on a feature request
	}{
		{name: "in progress stays", status: ticket.StatusInProgress, wantStatus: ticket.StatusInProgress, events: "reply"},
		{name: "waiting for the customer", status: ticket.StatusWaitingCustomer, wantStatus: ticket.StatusInProgress, events: "reply change", resumed: true},
		{name: "resolved three days ago", status: ticket.StatusResolved, resolvedAt: now.Add(-3 * day), wantStatus: ticket.StatusInProgress, events: "reply change", resumed: true},
		{name: "resolved twenty days ago", status: ticket.StatusResolved, resolvedAt: now.Add(-20 * day), newTicket: true, wantStatus: ticket.StatusResolved},
		{name: "resolved yesterday, reopening off", status: ticket.StatusResolved, resolvedAt: now.Add(-day), reopenDays: -1, newTicket: true, wantStatus: ticket.StatusResolved},
		{name: "closed", status: ticket.StatusClosed, newTicket: true, wantStatus: ticket.StatusClosed},
		{name: "out-of-office on a resolved ticket", status: ticket.StatusResolved, resolvedAt: now.Add(-day), headers: "Auto-Submitted: auto-replied\n",
			wantStatus: ticket.StatusResolved, events: "auto_reply"},
		{name: "out-of-office on a closed ticket", status: ticket.StatusClosed, headers: "Auto-Submitted: auto-replied\n",
			wantStatus: ticket.StatusClosed, events: "auto_reply"},
		// Stays closed, and is marked for the agents and mailed to them
		// (the desk designates feature requests; the customer may be
		// saying it is none); the customer gets nothing.
		{name: "reply on a feature request", feature: true, wantStatus: ticket.StatusClosed, events: "reply feature_request_reply",
			mails: "feature_reply:Eva@Desk.Example"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.ReopenDays = 14
			if tt.reopenDays != 0 {
				p.ReopenDays = max(tt.reopenDays, 0)
			}
			subject := fmt.Sprintf("Printer %d", i)
			if tt.feature {
				subject = "[feature] " + subject
			}
			custID := fmt.Sprintf("c%d@acme.example", i)
			created, err := p.Process(ctx, strings.NewReader("From: jan@acme.example\nSubject: "+subject+"\nMessage-ID: <"+custID+">\n\nkapot\n"), ticket.Source{})
			if err != nil {
				t.Fatal(err)
			}
			old := created.Ticket
			if tt.status != "" {
				at := now.Add(-30 * day)
				if !tt.resolvedAt.IsZero() {
					at = tt.resolvedAt
				}
				if _, err := store.Apply(ctx, old, ticket.Change{At: at, Status: tt.status}, nil); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := store.List(ctx)
			_, mark := outboxSince(t, rdb, "0")
			reply := "From: jan@acme.example\nSubject: Re: [" + old + "] " + subject + "\nMessage-ID: <reply" + fmt.Sprint(i) + "@acme.example>\n" + tt.headers + "\nNog steeds kapot.\n"
			var results []Result
			for range 2 { // the second time is a replay
				res, err := p.Process(ctx, strings.NewReader(reply), ticket.Source{Mailbox: "INBOX", UID: uint32(200 + i)})
				if err != nil {
					t.Fatal(err)
				}
				results = append(results, res)
			}
			res, replay := results[0], results[1]
			if res.Outcome != Processed || replay.Outcome != Processed || res.Replay || !replay.Replay || replay.Ticket != res.Ticket {
				t.Fatalf("first %+v, replay %+v", res, replay)
			}
			after, _ := store.List(ctx)
			sent, _ := outboxSince(t, rdb, mark)
			if tt.newTicket {
				if res.FollowUp || res.Ticket == old || len(after) != len(before)+1 {
					t.Fatalf("want one new ticket, got %+v (%d tickets, were %d)", res, len(after), len(before))
				}
				nt, _ := store.Get(ctx, res.Ticket)
				if nt.LinkedTo != old || nt.Status != ticket.StatusNew || nt.Contact != "jan@acme.example" {
					t.Fatalf("new ticket %+v, want linked to %s", nt, old)
				}
				if kindsOf(sent) != "ack:jan@acme.example" || sent[0].Ticket != res.Ticket {
					t.Fatalf("queued %q, want one acknowledgement of %s", kindsOf(sent), res.Ticket)
				}
			} else {
				if !res.FollowUp || res.Ticket != old || len(after) != len(before) || kindsOf(sent) != tt.mails {
					t.Fatalf("want a follow-up on %s and mail %q, got %+v, %d tickets (were %d), queued %q", old, tt.mails, res, len(after), len(before), kindsOf(sent))
				}
			}
			tk, _ := store.Get(ctx, old)
			if tk.Status != tt.wantStatus {
				t.Fatalf("old ticket is %s, want %s", tk.Status, tt.wantStatus)
			}
			if got := eventKinds(t, store, old); got != tt.events {
				t.Fatalf("old ticket's events %q, want %q", got, tt.events)
			}
			if got := slices.Contains(clock.took(old), "resume"); got != tt.resumed {
				t.Fatalf("clock %v, resumed %v, want %v", clock.took(old), got, tt.resumed)
			}
			if tt.events == "reply change" {
				evs, _ := store.Events(ctx, old)
				ch := evs[1].Changes
				if len(ch) != 1 || ch[0].Old != tt.status || ch[0].New != ticket.StatusInProgress || ch[0].Reason == "" || evs[1].From != "jan@acme.example" {
					t.Fatalf("change event %+v", evs[1])
				}
			}
		})
	}
}

// A reply recorded before a crash still reopens the ticket when the mail
// is processed again.
func TestReopenAfterCrashBetweenSteps(t *testing.T) {
	p, store, _, _ := newDesk(t)
	ctx := context.Background()
	if _, err := p.Process(ctx, strings.NewReader("From: jan@acme.example\nSubject: Printer\nMessage-ID: <c1@acme.example>\n\nkapot\n"), ticket.Source{}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Apply(ctx, "SD-1", ticket.Change{At: p.Now(), Status: ticket.StatusWaitingCustomer}, nil); err != nil {
		t.Fatal(err)
	}
	// The append of the reply happened, the status change did not.
	if _, err := store.Append(ctx, "r1@acme.example", "SD-1", ticket.Event{At: p.Now(), Kind: ticket.EventReply, From: "jan@acme.example"}); err != nil {
		t.Fatal(err)
	}
	res, err := p.Process(ctx, strings.NewReader("From: jan@acme.example\nSubject: Re: [SD-1] Printer\nMessage-ID: <r1@acme.example>\n\nhier\n"), ticket.Source{})
	if err != nil || !res.Replay || res.Ticket != "SD-1" {
		t.Fatalf("%+v %v", res, err)
	}
	if tk, _ := store.Get(ctx, "SD-1"); tk.Status != ticket.StatusInProgress {
		t.Fatalf("status %s", tk.Status)
	}
	if got := eventKinds(t, store, "SD-1"); got != "reply change" {
		t.Fatalf("events %q", got)
	}
}
