package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ingest"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

func TestAPITickets(t *testing.T) {
	f := newFixture(t, testTokens)
	run(t, f, []step{
		{name: "list all, newest first, without text", method: "GET", path: "/api/v1/tickets", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if got := numbers(t, b); got != "SD-3,SD-2,SD-1" {
					t.Errorf("numbers %s", got)
				}
				if strings.Contains(string(b), "It burns") {
					t.Errorf("list carries the mail's text: %s", b)
				}
			}},
		{name: "filter status", method: "GET", path: "/api/v1/tickets?status=closed", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if got := numbers(t, b); got != "SD-3" {
					t.Errorf("numbers %s", got)
				}
			}},
		{name: "filter status repeated", method: "GET", path: "/api/v1/tickets?status=closed&status=new", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if got := numbers(t, b); got != "SD-3,SD-2,SD-1" {
					t.Errorf("numbers %s", got)
				}
			}},
		{name: "filters combine", method: "GET", path: "/api/v1/tickets?customer=acme&priority=P1", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if got := numbers(t, b); got != "SD-2" {
					t.Errorf("numbers %s", got)
				}
			}},
		{name: "open", method: "GET", path: "/api/v1/tickets?open=true", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if got := numbers(t, b); got != "SD-2,SD-1" {
					t.Errorf("numbers %s", got)
				}
			}},
		{name: "not open", method: "GET", path: "/api/v1/tickets?open=false&customer=globex", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if got := numbers(t, b); got != "SD-3" {
					t.Errorf("numbers %s", got)
				}
			}},
		{name: "empty list is []", method: "GET", path: "/api/v1/tickets?customer=nobody", code: 200, want: []string{"[]"}},
		{name: "unknown status", method: "GET", path: "/api/v1/tickets?status=done", code: 400, want: []string{`unknown status "done"`, "in_progress"}},
		{name: "bad open", method: "GET", path: "/api/v1/tickets?open=maybe", code: 400, want: []string{"open must be true or false"}},
		{name: "misspelt filter", method: "GET", path: "/api/v1/tickets?stauts=new", code: 400, want: []string{`unknown query parameter "stauts"`}},

		{name: "show with events", method: "GET", path: "/api/v1/tickets/sd-1", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				v := decode[ticketView](t, b)
				if v.Ticket.Number != "SD-1" || v.Ticket.Text != "It burns" || v.Events == nil || len(v.Events) != 0 {
					t.Errorf("view %s", b)
				}
			}},
		{name: "show unknown", method: "GET", path: "/api/v1/tickets/SD-99", code: 404, want: []string{"SD-99", "not found"}},

		{name: "reply", method: "POST", path: "/api/v1/tickets/SD-1/reply", body: `{"message": "Unplug it."}`, code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				tk := decode[ticket.Ticket](t, b)
				if tk.Status != ticket.StatusInProgress || tk.FirstResponseAt == nil {
					t.Errorf("after reply: %s", b)
				}
				// One mail each to the contact and the participant.
				msgs, err := f.rdb.XRange(context.Background(), f.outbox.Key(), "-", "+").Result()
				if err != nil || len(msgs) != 2 {
					t.Fatalf("outbox %v %v", msgs, err)
				}
				var to []string
				for _, m := range msgs {
					n, err := notify.FromFields(m.Values)
					if err != nil || n.Kind != notify.AgentReply || n.Ticket != "SD-1" || n.Text != "Unplug it." || n.Agent != "alice" {
						t.Errorf("queued %+v %v", n, err)
					}
					to = append(to, n.To)
				}
				slices.Sort(to)
				if strings.Join(to, ",") != "jan@acme.example,piet@acme.example" {
					t.Errorf("mail to %v", to)
				}
			}},
		{name: "reply is in the history", method: "GET", path: "/api/v1/tickets/SD-1", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				v := decode[ticketView](t, b)
				if len(v.Events) != 1 || v.Events[0].Kind != ticket.EventAgentReply || v.Events[0].From != "alice" || v.Events[0].Text != "Unplug it." {
					t.Errorf("events %+v", v.Events)
				}
			}},
		{name: "reply with status", method: "POST", path: "/api/v1/tickets/SD-2/reply", body: `{"message": "Fixed.", "status": "resolved"}`, code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if tk := decode[ticket.Ticket](t, b); tk.Status != ticket.StatusResolved {
					t.Errorf("status %s", tk.Status)
				}
				if n := f.outboxLen(); n != 3 {
					t.Errorf("outbox %d, want 3", n)
				}
			}},
		{name: "reply empty", method: "POST", path: "/api/v1/tickets/SD-1/reply", body: `{"message": "  "}`, code: 400, want: []string{"empty"}},
		{name: "reply to unknown", method: "POST", path: "/api/v1/tickets/SD-99/reply", body: `{"message": "hi"}`, code: 404},
		{name: "reply to closed", method: "POST", path: "/api/v1/tickets/SD-3/reply", body: `{"message": "hi", "status": "in_progress"}`, code: 400,
			want: []string{"a closed ticket cannot become in_progress"}},

		{name: "note", method: "POST", path: "/api/v1/tickets/SD-1/notes", body: `{"message": "customer is on holiday"}`, code: 200,
			hdr: []string{"Authorization", "Bearer " + bobToken},
			check: func(t *testing.T, f *fixture, b []byte) {
				if n := f.outboxLen(); n != 3 {
					t.Errorf("a note queued mail: outbox %d", n)
				}
				es, err := f.store.Events(context.Background(), "SD-1")
				if err != nil || len(es) != 2 || es[1].Kind != ticket.EventNote || es[1].From != "bob" {
					t.Errorf("events %+v %v", es, err)
				}
			}},
		{name: "note on unknown", method: "POST", path: "/api/v1/tickets/SD-99/notes", body: `{"message": "x"}`, code: 404},

		{name: "set assignee and priority", method: "PATCH", path: "/api/v1/tickets/SD-1",
			body: `{"assignee": "bob", "priority": "P2", "reason": "whole floor affected"}`, code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				tk := decode[ticket.Ticket](t, b)
				if tk.Assignee != "bob" || tk.Priority != "P2" || tk.PriorityReason != "whole floor affected" || tk.Status != ticket.StatusInProgress {
					t.Errorf("after set: %s", b)
				}
				if n := f.outboxLen(); n != 5 {
					t.Errorf("progress mails: outbox %d, want 5", n)
				}
			}},
		{name: "filter assignee", method: "GET", path: "/api/v1/tickets?assignee=Bob", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if got := numbers(t, b); got != "SD-1" {
					t.Errorf("numbers %s", got)
				}
			}},
		{name: "assignee null leaves it", method: "PATCH", path: "/api/v1/tickets/SD-1", body: `{"assignee": null, "status": "waiting_customer"}`, code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if tk := decode[ticket.Ticket](t, b); tk.Assignee != "bob" || tk.Status != ticket.StatusWaitingCustomer {
					t.Errorf("after set: %s", b)
				}
			}},
		{name: "assignee empty clears it", method: "PATCH", path: "/api/v1/tickets/SD-1", body: `{"assignee": ""}`, code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if tk := decode[ticket.Ticket](t, b); tk.Assignee != "" {
					t.Errorf("after set: %s", b)
				}
			}},
		{name: "invalid transition", method: "PATCH", path: "/api/v1/tickets/SD-3", body: `{"status": "in_progress"}`, code: 400,
			want: []string{"a closed ticket cannot become in_progress", "it is final"}},
		{name: "unknown status", method: "PATCH", path: "/api/v1/tickets/SD-1", body: `{"status": "done"}`, code: 400, want: []string{`unknown status "done"`}},
		{name: "unknown priority", method: "PATCH", path: "/api/v1/tickets/SD-1", body: `{"priority": "P0"}`, code: 400, want: []string{`unknown priority "P0"`}},
		{name: "nothing to change", method: "PATCH", path: "/api/v1/tickets/SD-1", body: `{}`, code: 400, want: []string{"nothing to change"}},
		{name: "reason without priority", method: "PATCH", path: "/api/v1/tickets/SD-1", body: `{"reason": "x", "status": "in_progress"}`, code: 400, want: []string{"reason goes with a priority"}},
		{name: "set unknown ticket", method: "PATCH", path: "/api/v1/tickets/SD-99", body: `{"status": "closed"}`, code: 404, want: []string{"SD-99"}},
		// The desk designates feature requests (issue 15 item 2).
		{name: "unknown type", method: "PATCH", path: "/api/v1/tickets/SD-3", body: `{"type": "question"}`, code: 400, want: []string{`unknown type "question"`}},
		{name: "feature request made an incident", method: "PATCH", path: "/api/v1/tickets/SD-3", body: `{"type": "incident"}`, code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if tk := decode[ticket.Ticket](t, b); tk.Type != ticket.TypeIncident || tk.Status != ticket.StatusInProgress {
					t.Errorf("after set: %s", b)
				}
				es, err := f.store.Events(context.Background(), "SD-3")
				if err != nil || len(es) != 1 || es[0].Kind != ticket.EventChange || es[0].From != "alice" || len(es[0].Changes) != 2 ||
					es[0].Changes[0].Field != "type" || es[0].Changes[0].Old != ticket.TypeFeatureRequest {
					t.Errorf("events %+v %v", es, err)
				}
			}},
		{name: "incident made a feature request", method: "PATCH", path: "/api/v1/tickets/SD-3", body: `{"type": "feature_request"}`, code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if tk := decode[ticket.Ticket](t, b); tk.Type != ticket.TypeFeatureRequest || tk.Status != ticket.StatusClosed {
					t.Errorf("after set: %s", b)
				}
			}},

		{name: "unknown field", method: "PATCH", path: "/api/v1/tickets/SD-1", body: `{"stauts": "closed"}`, code: 400, want: []string{`unknown field "stauts"`}},
		{name: "wrong type", method: "PATCH", path: "/api/v1/tickets/SD-1", body: `{"status": 3}`, code: 400, want: []string{`field "status" must be a string`}},
		{name: "bad JSON", method: "PATCH", path: "/api/v1/tickets/SD-1", body: `{"status": `, code: 400},
		{name: "two objects", method: "PATCH", path: "/api/v1/tickets/SD-1", body: `{"status": "closed"} {}`, code: 400, want: []string{"single JSON object"}},
		{name: "not JSON content type", method: "PATCH", path: "/api/v1/tickets/SD-1", body: `{"status": "closed"}`,
			hdr: []string{"Content-Type", "text/plain"}, code: 415, want: []string{"application/json"}},
		{name: "body too large", method: "POST", path: "/api/v1/tickets/SD-1/notes",
			body: `{"message": "` + strings.Repeat("x", MaxBody) + `"}`, code: 413, want: []string{"larger than"}},
		{name: "nothing changed by refusals", method: "GET", path: "/api/v1/tickets/SD-1", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if v := decode[ticketView](t, b); v.Ticket.Status != ticket.StatusWaitingCustomer || len(v.Events) != 5 {
					t.Errorf("ticket %+v, %d events", v.Ticket, len(v.Events))
				}
			}},

		{name: "unknown path", method: "GET", path: "/api/v1/nothing", code: 404, want: []string{"no such API path"}},
		{name: "wrong method", method: "DELETE", path: "/api/v1/tickets/SD-1", code: 405,
			check: func(t *testing.T, f *fixture, b []byte) {
				if a := errorOf(t, b); !strings.Contains(a, "GET, PATCH") {
					t.Errorf("error %q", a)
				}
			}},
	})
}

func TestAPIIdempotencyKey(t *testing.T) {
	f := newFixture(t, testTokens)
	for range 2 {
		res, b := f.do("POST", "/api/v1/tickets/SD-1/reply", `{"message": "Unplug it."}`, "Idempotency-Key", "k-1")
		if res.StatusCode != 200 {
			t.Fatalf("reply %d %s", res.StatusCode, b)
		}
	}
	if n := f.outboxLen(); n != 2 {
		t.Errorf("outbox %d: a retried request sent the reply again", n)
	}
	// Another agent's key is another key.
	res, b := f.do("POST", "/api/v1/tickets/SD-1/reply", `{"message": "Really."}`, "Idempotency-Key", "k-1", "Authorization", "Bearer "+bobToken)
	if res.StatusCode != 200 || f.outboxLen() != 4 {
		t.Errorf("bob's reply %d %s, outbox %d", res.StatusCode, b, f.outboxLen())
	}
	res, _ = f.do("PATCH", "/api/v1/tickets/SD-1", `{"status": "resolved"}`, "Idempotency-Key", "has space")
	if res.StatusCode != 400 {
		t.Errorf("bad key: %d", res.StatusCode)
	}
}

// A sender chooses their mail's Message-ID: a customer's mail with
// Message-ID <api:alice:1> (what alice's key 1 used to be stored as) made
// alice's reply with that key a silent no-op. Keys and Message-IDs are
// different namespaces now, both ways round.
func TestAPIIdempotencyKeyIsNoMessageID(t *testing.T) {
	f := newFixture(t, testTokens)
	ctx := context.Background()
	pipe := &ingest.Pipeline{
		Store: f.store, Threads: f.store, TicketPrefix: "SD",
		Authz:    authz.NewDirectory([]config.Customer{{ID: "acme", Contacts: []config.Contact{{Email: "jan@acme.example"}}}}),
		Own:      ingest.Own{Address: "servicedesk@desk.example", MessageIDDomain: "desk.example", DeskID: "acme-it"},
		Language: "en", Priority: "P3", Log: slog.New(slog.DiscardHandler),
	}
	for i, id := range []string{"api:alice:1", "alice 1", "alice:1"} {
		res, err := pipe.Process(ctx, strings.NewReader("From: jan@acme.example\nSubject: Re: [SD-1] Printer on fire\nMessage-ID: <"+id+">\n\nstill burning\n"), ticket.Source{})
		if err != nil || res.Ticket != "SD-1" || !res.FollowUp {
			t.Fatalf("follow-up %d: %+v %v", i, res, err)
		}
	}
	before := f.outboxLen()
	res, b := f.do("POST", "/api/v1/tickets/SD-1/reply", `{"message": "Unplug it."}`, "Idempotency-Key", "1")
	if res.StatusCode != 200 {
		t.Fatalf("reply %d %s", res.StatusCode, b)
	}
	if n := f.outboxLen() - before; n != 2 {
		t.Fatalf("%d mails queued, want the reply to jan and piet: a mail's Message-ID swallowed alice's request", n)
	}
	// And a key is no Message-ID that a reply threads by.
	f.do("PATCH", "/api/v1/tickets/SD-2", `{"priority": "P2"}`, "Idempotency-Key", "k-2")
	if n, _ := f.store.FindByMessageID(ctx, "api:alice:k-2", "alice k-2"); n != "" {
		t.Fatalf("alice's key threads to %s", n)
	}
}

func TestAPIConflict(t *testing.T) {
	f := newFixture(t, testTokens)
	// Someone closes SD-2 after the API read it as new.
	f.race.do = func() {
		f.rdb.HSet(context.Background(), "md:{acme-it}:t:SD-2", "status", ticket.StatusClosed)
	}
	f.race.armed.Store(true)
	res, b := f.do("PATCH", "/api/v1/tickets/SD-2", `{"status": "in_progress"}`)
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("status %d, want 409: %s", res.StatusCode, b)
	}
	if msg := errorOf(t, b); !strings.Contains(msg, "changed meanwhile") || !strings.Contains(msg, "closed") {
		t.Errorf("message %q", msg)
	}
	if f.outboxLen() != 0 {
		t.Error("a refused change queued mail")
	}
}

func TestAPIOpenTicket(t *testing.T) {
	f := newFixture(t, testTokens)
	at := time.Now().Add(-20 * time.Minute).UTC().Truncate(time.Second)
	body := `{"customer": "acme", "contact": "piet@acme.example", "subject": "VPN <b>down</b>", "message": "Piet called: no VPN since 9.", "at": "` + at.Format(time.RFC3339) + `"}`
	var opened ticket.Ticket
	run(t, f, []step{
		{name: "opened", method: "POST", path: "/api/v1/tickets", body: body, hdr: []string{"Idempotency-Key", "call-1"}, code: 201,
			check: func(t *testing.T, f *fixture, b []byte) {
				opened = decode[ticket.Ticket](t, b)
				if opened.Number != "SD-4" || opened.Channel != "phone" || opened.OpenedBy != "alice" || opened.Priority != "P3" ||
					!opened.CreatedAt.Equal(at) || opened.Contact != "piet@acme.example" || opened.Subject != "VPN <b>down</b>" {
					t.Errorf("opened %+v", opened)
				}
				if f.outboxLen() != 1 {
					t.Errorf("outbox %d, want the acknowledgement", f.outboxLen())
				}
			}},
		{name: "replayed", method: "POST", path: "/api/v1/tickets", body: body, hdr: []string{"Idempotency-Key", "call-1"}, code: 200,
			want: []string{`"number":"SD-4"`}, check: func(t *testing.T, f *fixture, b []byte) {
				if f.outboxLen() != 1 {
					t.Errorf("a replay queued mail: outbox %d", f.outboxLen())
				}
			}},
		{name: "key reused for another call", method: "POST", path: "/api/v1/tickets", body: strings.Replace(body, "VPN", "Mail", 1),
			hdr: []string{"Idempotency-Key", "call-1"}, code: 422, want: []string{"idempotency key reused", "SD-4"}},
		{name: "bob's key is his own", method: "POST", path: "/api/v1/tickets", body: body,
			hdr: []string{"Idempotency-Key", "call-1", "Authorization", "Bearer " + bobToken}, code: 201, want: []string{`"number":"SD-5"`, `"opened_by":"bob"`}},
		{name: "in person, without key or time", method: "POST", path: "/api/v1/tickets", code: 201,
			body: `{"customer": "globex", "contact": "ann@globex.example", "subject": "Laptop", "message": "Brought her laptop.", "channel": "in_person", "priority": "P2"}`,
			want: []string{`"number":"SD-6"`, `"channel":"in_person"`, `"priority":"P2"`}},
		{name: "unknown contact", method: "POST", path: "/api/v1/tickets", code: 403,
			body: `{"customer": "acme", "contact": "stranger@elsewhere.example", "subject": "S", "message": "M"}`, want: []string{"unknown sender"}},
		{name: "another customer's contact", method: "POST", path: "/api/v1/tickets", code: 403,
			body: `{"customer": "acme", "contact": "ann@globex.example", "subject": "S", "message": "M"}`, want: []string{"contact of customer globex, not of acme"}},
		{name: "unknown customer", method: "POST", path: "/api/v1/tickets", code: 400,
			body: `{"customer": "nope", "contact": "ann@globex.example", "subject": "S", "message": "M"}`, want: []string{`unknown customer "nope"`}},
		{name: "bad time", method: "POST", path: "/api/v1/tickets", code: 400,
			body: `{"customer": "acme", "contact": "jan@acme.example", "subject": "S", "message": "M", "at": "09:20"}`, want: []string{"RFC 3339"}},
		{name: "in the future", method: "POST", path: "/api/v1/tickets", code: 400,
			body: `{"customer": "acme", "contact": "jan@acme.example", "subject": "S", "message": "M", "at": "` + time.Now().Add(time.Hour).Format(time.RFC3339) + `"}`, want: []string{"in the future"}},
		{name: "unknown field", method: "POST", path: "/api/v1/tickets", code: 400,
			body: `{"customer": "acme", "contact": "jan@acme.example", "subject": "S", "message": "M", "from": "x"}`, want: []string{`unknown field "from"`}},
		{name: "listed with its channel", method: "GET", path: "/api/v1/tickets?customer=acme", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				got := map[string]string{}
				for _, tk := range decode[[]ticket.Ticket](t, b) {
					got[tk.Number] = tk.Channel
				}
				if got["SD-1"] != "mail" || got["SD-4"] != "phone" || got["SD-5"] != "phone" {
					t.Errorf("channels %v", got)
				}
			}},
		{name: "its history", method: "GET", path: "/api/v1/tickets/SD-4", code: 200, want: []string{`"kind":"opened"`, `"from":"alice"`, `"channel":"phone"`}},
	})
	if n := f.outboxLen(); n != 3 {
		t.Errorf("outbox %d, want three acknowledgements", n)
	}
}
