package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ingest"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

const (
	aliceToken = "alice-0123456789abcdef0123456789"
	bobToken   = "bob-0123456789abcdef0123456789ab"
)

// The daemon hands the API these concrete types.
var (
	_ Tickets  = (*ticket.Store)(nil)
	_ Workflow = (*workflow.Service)(nil)
	_ Contacts = (*authz.Store)(nil)
	_ Outbox   = (*notify.Outbox)(nil)
)

var testTokens = []Token{{Name: "alice", Secret: aliceToken}, {Name: "bob", Secret: bobToken}}

// raceHook changes a ticket's status behind the API's back just before the
// next script runs: between the workflow's read and its write.
type raceHook struct {
	armed atomic.Bool
	do    func()
}

func (h *raceHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *raceHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *raceHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if n := cmd.Name(); (n == "evalsha" || n == "eval") && h.armed.CompareAndSwap(true, false) {
			h.do()
		}
		return next(ctx, cmd)
	}
}

type fixture struct {
	t         *testing.T
	srv       *httptest.Server
	rdb       *redis.Client // unhooked, for looking behind the API's back
	store     *ticket.Store
	outbox    *notify.Outbox
	logs      *testserver.Buffer
	race      *raceHook
	refreshed atomic.Int32
}

var testPlans = map[string]config.Plan{"standard": {}, "small": {MaxContacts: 1}}

func yes() *bool { b := true; return &b }

// newFixture serves the API (with tokens, unless none) over a fresh Redis
// holding three tickets and a directory with customers acme and globex.
func newFixture(t *testing.T, tokens []Token) *fixture {
	t.Helper()
	ctx := context.Background()
	srv := testserver.Redis(t)
	f := &fixture{t: t, logs: &testserver.Buffer{}, race: &raceHook{}}
	f.rdb = redis.NewClient(&redis.Options{Addr: srv.Addr})
	hooked := redis.NewClient(&redis.Options{Addr: srv.Addr})
	hooked.AddHook(f.race)
	t.Cleanup(func() { f.rdb.Close(); hooked.Close() })

	f.outbox = notify.NewOutbox(hooked, "acme-it")
	if err := f.outbox.Init(ctx); err != nil {
		t.Fatal(err)
	}
	f.store = ticket.NewStore(hooked, ticket.Options{DeskID: "acme-it", TicketPrefix: "SD", OutboxKey: f.outbox.Key()})
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for i, n := range []ticket.New{
		{Subject: "Printer on fire", Priority: "P3", Customer: "acme", Contact: "jan@acme.example", ContactName: "Jan",
			Participants: []string{"piet@acme.example"}, Language: "nl", MessageID: "m1@acme.example", Text: "It burns", Quoted: "> old"},
		{Subject: "Mail down", Priority: "P1", Customer: "acme", Contact: "piet@acme.example", Language: "en", MessageID: "m2@acme.example"},
		{Subject: "Dark mode", Type: ticket.TypeFeatureRequest, Status: ticket.StatusClosed, Priority: "P4", Customer: "globex",
			Contact: "ann@globex.example", Language: "en", MessageID: "m3@globex.example"},
	} {
		n.CreatedAt = at.Add(time.Duration(i) * time.Hour)
		if _, err := f.store.Create(ctx, n.MessageID, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	dir := authz.NewStore(hooked, "acme-it")
	customers := []config.Customer{
		{ID: "acme", Name: "Acme BV", Plan: "standard", Contacts: []config.Contact{
			{Email: "jan@acme.example", Name: "Jan", Main: true, ReceivesProgress: yes()},
			{Email: "piet@acme.example", Name: "Piet", ReceivesProgress: yes()},
		}},
		{ID: "globex", Name: "Globex", Plan: "small", Contacts: []config.Contact{
			{Email: "ann@globex.example", Name: "Ann", Main: true, ReceivesProgress: yes()},
		}},
	}
	_, err := dir.Replace(ctx, customers, authz.Origin{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	directory := authz.NewDirectory(customers)
	api := NewAPI(APIConfig{
		Tickets: f.store,
		Workflow: &workflow.Service{Store: f.store, Language: "en", Log: log,
			Authz: directory, Customer: directory.Customer, Plans: testPlans, Priority: "P3"},
		Contacts: dir,
		Outbox:   f.outbox,
		Plans:    testPlans,
		Refresh:  func(context.Context) error { f.refreshed.Add(1); return nil },
		Tokens:   tokens,
		Log:      log,
	})
	f.srv = httptest.NewServer(Handler(nil, nil, Mount{Pattern: APIPrefix, Handler: api}))
	t.Cleanup(f.srv.Close)
	return f
}

// do sends a request as alice unless hdr sets Authorization ("" = none);
// a body is sent as JSON.
func (f *fixture) do(method, path, body string, hdr ...string) (*http.Response, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+aliceToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return res, b
}

func (f *fixture) outboxLen() int64 {
	f.t.Helper()
	n, err := f.rdb.XLen(context.Background(), f.outbox.Key()).Result()
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func numbers(t *testing.T, b []byte) string {
	t.Helper()
	var ns []string
	for _, tk := range decode[[]ticket.Ticket](t, b) {
		ns = append(ns, tk.Number)
	}
	return strings.Join(ns, ",")
}

func errorOf(t *testing.T, b []byte) string {
	t.Helper()
	e := decode[map[string]any](t, b)
	s, _ := e["error"].(string)
	if s == "" {
		t.Fatalf("no error message in %s", b)
	}
	return s
}

// step is one request of a table-driven test; steps of one table run in
// order against one desk.
type step struct {
	name         string
	method, path string
	body         string
	hdr          []string
	code         int
	// want: substrings of the body (for errors, of the message).
	want  []string
	check func(t *testing.T, f *fixture, b []byte)
}

func run(t *testing.T, f *fixture, steps []step) {
	t.Helper()
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			res, b := f.do(s.method, s.path, s.body, s.hdr...)
			if res.StatusCode != s.code {
				t.Fatalf("%s %s: status %d, want %d: %s", s.method, s.path, res.StatusCode, s.code, b)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			text := string(b)
			if res.StatusCode >= 400 {
				text = errorOf(t, b)
			}
			for _, w := range s.want {
				if !strings.Contains(text, w) {
					t.Errorf("response lacks %q: %s", w, b)
				}
			}
			if s.check != nil {
				s.check(t, f, b)
			}
		})
	}
}

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

func TestAPIContacts(t *testing.T) {
	f := newFixture(t, testTokens)
	run(t, f, []step{
		{name: "list", method: "GET", path: "/api/v1/contacts", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				v := decode[contactsView](t, b)
				if v.Version != 1 || v.Source != "test" || len(v.Customers) != 2 || v.Customers[0].ID != "acme" || len(v.Customers[0].Contacts) != 2 {
					t.Errorf("directory %s", b)
				}
			}},
		{name: "add", method: "POST", path: "/api/v1/contacts", code: 201,
			body: `{"customer": "acme", "email": "Kees@ACME.example", "name": "Kees", "language": "nl", "max_priority": "P2", "receives_progress": false}`,
			check: func(t *testing.T, f *fixture, b []byte) {
				v := decode[contactView](t, b)
				c := v.Contact
				if v.Customer != "acme" || v.Version != 2 || c.Email != "kees@acme.example" || c.Language != "nl" || c.MaxPriority != "P2" ||
					c.ReceivesProgress == nil || *c.ReceivesProgress || c.Main {
					t.Errorf("added %s", b)
				}
				if n := f.refreshed.Load(); n != 2 {
					t.Errorf("refreshed %d times, want before and after", n)
				}
			}},
		{name: "add again", method: "POST", path: "/api/v1/contacts", code: 400,
			body: `{"customer": "acme", "email": "kees@acme.example"}`, want: []string{"kees@acme.example is already a contact of customer acme"}},
		{name: "second main contact", method: "POST", path: "/api/v1/contacts", code: 400,
			body: `{"customer": "acme", "email": "boss@acme.example", "main": true}`, want: []string{"already has a main contact"}},
		{name: "over the plan's max contacts", method: "POST", path: "/api/v1/contacts", code: 400,
			body: `{"customer": "globex", "email": "bob@globex.example"}`, want: []string{"plan small allows at most 1"},
			check: func(t *testing.T, f *fixture, b []byte) {
				if ps, _ := decode[map[string]any](t, b)["problems"].([]any); len(ps) != 1 {
					t.Errorf("problems %s", b)
				}
			}},
		{name: "bad language", method: "POST", path: "/api/v1/contacts", code: 400,
			body: `{"customer": "acme", "email": "x@acme.example", "language": "de"}`, want: []string{"nl, en"}},
		{name: "bad address", method: "POST", path: "/api/v1/contacts", code: 400,
			body: `{"customer": "acme", "email": "not an address"}`, want: []string{"not a valid e-mail address"}},
		{name: "unknown customer", method: "POST", path: "/api/v1/contacts", code: 404,
			body: `{"customer": "nobody", "email": "x@nobody.example"}`, want: []string{"nobody"}},
		{name: "customer missing", method: "POST", path: "/api/v1/contacts", code: 400,
			body: `{"email": "x@nobody.example"}`, want: []string{"customer is required"}},
		{name: "unknown field", method: "POST", path: "/api/v1/contacts", code: 400,
			body: `{"customer": "acme", "email": "x@acme.example", "phone": "1"}`, want: []string{`unknown field "phone"`}},
		{name: "remove", method: "DELETE", path: "/api/v1/contacts/Piet@Acme.example", code: 200, want: []string{`"removed":"piet@acme.example"`, `"version":3`}},
		{name: "remove again", method: "DELETE", path: "/api/v1/contacts/piet@acme.example", code: 404, want: []string{"piet@acme.example"}},
		{name: "list after", method: "GET", path: "/api/v1/contacts", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				v := decode[contactsView](t, b)
				var got []string
				for _, c := range v.Customers[0].Contacts {
					got = append(got, c.Email)
				}
				if v.Version != 3 || strings.Join(got, ",") != "jan@acme.example,kees@acme.example" {
					t.Errorf("directory %s", b)
				}
			}},
	})
}

func TestAPIRejections(t *testing.T) {
	f := newFixture(t, testTokens)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second)
	for i, s := range []string{"spam@evil.example", "who@else.example"} {
		_, err := f.store.Reject(ctx, "r"+s, ticket.Rejection{Sender: s, Reason: string(authz.UnknownSender), MessageID: "r" + s,
			Subject: "hello", At: at.Add(time.Duration(i) * time.Second)}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	run(t, f, []step{
		{name: "list newest first", method: "GET", path: "/api/v1/rejections", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				rs := decode[[]rejectionView](t, b)
				if len(rs) != 2 || rs[0].Sender != "who@else.example" || rs[1].Reason != "unknown sender" || !rs[1].At.Equal(at) {
					t.Errorf("rejections %s", b)
				}
			}},
		{name: "no parameters", method: "GET", path: "/api/v1/rejections?since=1", code: 400, want: []string{"takes none"}},
	})
}

func TestAPIOutbox(t *testing.T) {
	f := newFixture(t, testTokens)
	ctx := context.Background()
	if res, b := f.do("POST", "/api/v1/tickets/SD-1/reply", `{"message": "Unplug it."}`); res.StatusCode != 200 {
		t.Fatalf("reply %d %s", res.StatusCode, b)
	}
	// A dead letter as the delivery writes it.
	dead := notify.Notification{ID: "SD-2/ack", Kind: notify.Ack, To: "piet@acme.example", Ticket: "SD-2"}
	vals := []any{"reason", "550 5.1.1 no such user", "outbox_id", "1-0"}
	for _, v := range dead.Fields() {
		vals = append(vals, v)
	}
	if err := f.rdb.XAdd(ctx, &redis.XAddArgs{Stream: f.outbox.Key() + ":dead", Values: vals}).Err(); err != nil {
		t.Fatal(err)
	}
	var pending []OutboxEntry
	var deadRef string
	run(t, f, []step{
		{name: "pending", method: "GET", path: "/api/v1/outbox", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				pending = decode[[]OutboxEntry](t, b)
				if len(pending) != 2 || pending[0].Kind != notify.AgentReply || pending[0].Ticket != "SD-1" || pending[0].Attempts != 0 ||
					!strings.HasPrefix(pending[0].Ref, "outbox:") {
					t.Errorf("pending %s", b)
				}
			}},
		{name: "dead", method: "GET", path: "/api/v1/outbox?queue=dead", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				rs := decode[[]OutboxRecord](t, b)
				if len(rs) != 1 || rs[0].ID != "SD-2/ack" || rs[0].Reason != "550 5.1.1 no such user" || rs[0].OutboxID != "1-0" {
					t.Fatalf("dead %s", b)
				}
				deadRef = rs[0].Ref
			}},
		{name: "skipped", method: "GET", path: "/api/v1/outbox?queue=skipped", code: 200, want: []string{"[]"}},
		{name: "bad queue", method: "GET", path: "/api/v1/outbox?queue=sent", code: 400, want: []string{"pending, dead or skipped"}},
	})
	if len(pending) == 0 || deadRef == "" {
		t.FailNow()
	}
	run(t, f, []step{
		{name: "retry dead", method: "POST", path: "/api/v1/outbox/" + deadRef + "/retry", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				a := decode[actionView](t, b)
				if a.Queue != "dead" || a.ID != "SD-2/ack" || a.NewID == "" || f.outboxLen() != 3 {
					t.Errorf("retry %s, outbox %d", b, f.outboxLen())
				}
			}},
		{name: "retry it again", method: "POST", path: "/api/v1/outbox/" + deadRef + "/retry", code: 404},
		{name: "retry by notification id", method: "POST", path: "/api/v1/outbox/SD-2%2Fack/retry", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if a := decode[actionView](t, b); a.Queue != "pending" || a.NewID != "" || f.outboxLen() != 3 {
					t.Errorf("retry %s", b)
				}
			}},
		{name: "retry bad flag", method: "POST", path: "/api/v1/outbox/SD-2%2Fack/retry?unsuppress=perhaps", code: 400},
		{name: "drop without reason", method: "DELETE", path: "/api/v1/outbox/" + pending[0].Ref, code: 400, want: []string{"reason is required"}},
		{name: "drop pending", method: "DELETE", path: "/api/v1/outbox/pending:" + pending[0].StreamID + "?reason=customer+called", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				a := decode[actionView](t, b)
				if a.Queue != "pending" || a.NewID == "" || f.outboxLen() != 2 {
					t.Errorf("drop %s, outbox %d", b, f.outboxLen())
				}
				ds, err := f.outbox.ListDead(context.Background())
				if err != nil || len(ds) != 1 || ds[0].Reason != "dropped by operator: customer called (alice)" {
					t.Errorf("dead letters %+v %v", ds, err)
				}
			}},
		{name: "drop unknown", method: "DELETE", path: "/api/v1/outbox/SD-77%2Fack?reason=x", code: 404, want: []string{"SD-77/ack"}},
	})
	// Delivered mail is not sent again.
	f.rdb.Set(ctx, "md:{acme-it}:sent:SD-9/ack", "2026-11-23T10:00:00Z", 0)
	if res, b := f.do("POST", "/api/v1/outbox/SD-9%2Fack/retry", ""); res.StatusCode != http.StatusConflict || !strings.Contains(errorOf(t, b), "delivered") {
		t.Errorf("retry delivered: %d %s", res.StatusCode, b)
	}
}

func TestAPIAuth(t *testing.T) {
	f := newFixture(t, testTokens)
	get := func(hdr ...string) (*http.Response, []byte) {
		return f.do("GET", "/api/v1/tickets", "", hdr...)
	}
	res, b := get("Authorization", "")
	if res.StatusCode != 401 || !strings.Contains(errorOf(t, b), "authentication required") {
		t.Fatalf("without token: %d %s", res.StatusCode, b)
	}
	if ch := strings.Join(res.Header.Values("WWW-Authenticate"), "; "); !strings.Contains(ch, `Bearer realm="maildesk"`) || !strings.Contains(ch, "Basic") {
		t.Errorf("challenge %q", ch)
	}
	res, b = get("Authorization", "Bearer "+aliceToken+"x")
	if res.StatusCode != 401 || !strings.Contains(strings.Join(res.Header.Values("WWW-Authenticate"), ";"), `error="invalid_token"`) {
		t.Errorf("wrong token: %d %s %v", res.StatusCode, b, res.Header)
	}
	res, _ = get("Authorization", "Bearer "+aliceToken[:20])
	if res.StatusCode != 401 {
		t.Errorf("prefix of a token: %d", res.StatusCode)
	}
	res, _ = get("Authorization", "Token "+aliceToken)
	if res.StatusCode != 401 {
		t.Errorf("other scheme: %d", res.StatusCode)
	}
	res, _ = get("Authorization", "bearer "+aliceToken)
	if res.StatusCode != 200 {
		t.Errorf("scheme is case-insensitive: %d", res.StatusCode)
	}

	// Basic: any user, the token as password; the token names the agent.
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/tickets/SD-1/notes", strings.NewReader(`{"message": "via browser"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("whoever", bobToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("basic auth: %d", resp.StatusCode)
	}
	if es, _ := f.store.Events(context.Background(), "SD-1"); len(es) != 1 || es[0].From != "bob" {
		t.Errorf("note by %+v", es)
	}
	req, _ = http.NewRequest("GET", f.srv.URL+"/api/v1/tickets", nil)
	req.SetBasicAuth("alice", "wrong")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("basic with a wrong password: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	// A page of another site cannot use the browser's credentials.
	res, b = f.do("POST", "/api/v1/tickets/SD-1/notes", `{"message": "csrf"}`, "Sec-Fetch-Site", "cross-site")
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: %d %s", res.StatusCode, b)
	}

	// Probes stay open.
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(f.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}

	logs := f.logs.String()
	for _, tok := range []string{aliceToken, bobToken, aliceToken[:20]} {
		if strings.Contains(logs, tok) {
			t.Errorf("the log holds a token:\n%s", logs)
		}
	}
	for _, want := range []string{
		"method=POST path=/api/v1/tickets/SD-1/notes status=200 agent=bob",
		"method=GET path=/api/v1/tickets status=401 agent=\"\"",
		"auth=\"invalid token\"",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestAPIWithoutTokensActsAsLocal(t *testing.T) {
	f := newFixture(t, nil)
	res, b := f.do("POST", "/api/v1/tickets/SD-1/notes", `{"message": "local dev"}`, "Authorization", "")
	if res.StatusCode != 200 {
		t.Fatalf("note %d %s", res.StatusCode, b)
	}
	if es, _ := f.store.Events(context.Background(), "SD-1"); len(es) != 1 || es[0].From != LocalAgent {
		t.Errorf("note by %+v", es)
	}
	// A name of another site resolving to 127.0.0.1 (DNS rebinding).
	for host, code := range map[string]int{"evil.example:8080": 403, "evil.example": 403, "localhost:8080": 200, "[::1]:8080": 200, "127.0.0.1": 200} {
		req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/tickets", nil)
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != code {
			t.Errorf("Host %s: %d, want %d", host, res.StatusCode, code)
		}
	}
}

func TestRequireTokenContext(t *testing.T) {
	var got string
	h := RequireToken(testTokens, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = AgentFrom(r.Context())
	}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/dashboard", nil)
	req.Header.Set("Authorization", "Bearer "+bobToken)
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || got != "bob" {
		t.Errorf("code %d agent %q", rec.Code, got)
	}
	if _, ok := AgentFrom(context.Background()); ok {
		t.Error("agent outside RequireToken")
	}
	cfg := TokensFromConfig([]config.HTTPToken{{Name: "carol", Token: "c", TokenFile: "/x"}})
	if len(cfg) != 1 || cfg[0] != (Token{Name: "carol", Secret: "c"}) {
		t.Errorf("tokens %+v", cfg)
	}
}

// TestOpenAPIMatchesRoutes keeps docs/openapi.yaml in step with the route
// table: the same set of "METHOD path", and every path parameter declared.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	data, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type param struct {
		Ref  string `yaml:"$ref"`
		Name string `yaml:"name"`
		In   string `yaml:"in"`
	}
	type operation struct {
		Parameters []param         `yaml:"parameters"`
		Responses  map[string]any  `yaml:"responses"`
		Body       *map[string]any `yaml:"requestBody"`
	}
	var doc struct {
		OpenAPI    string                    `yaml:"openapi"`
		Paths      map[string]map[string]any `yaml:"paths"`
		Components struct {
			Parameters map[string]param `yaml:"parameters"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	resolve := func(p param) param {
		if name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
			r, found := doc.Components.Parameters[name]
			if !found {
				t.Errorf("unknown parameter %s", p.Ref)
			}
			return r
		}
		return p
	}
	var documented []string
	for path, item := range doc.Paths {
		var common []param
		if raw, ok := item["parameters"]; ok {
			b, _ := yaml.Marshal(raw)
			if err := yaml.Unmarshal(b, &common); err != nil {
				t.Fatal(err)
			}
		}
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			b, _ := yaml.Marshal(raw)
			var op operation
			if err := yaml.Unmarshal(b, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			key := strings.ToUpper(method) + " " + path
			documented = append(documented, key)
			declared := map[string]bool{}
			for _, p := range append(append([]param(nil), common...), op.Parameters...) {
				if p = resolve(p); p.In == "path" {
					declared[p.Name] = true
				}
			}
			for _, seg := range strings.Split(path, "/") {
				if name, ok := strings.CutPrefix(seg, "{"); ok && !declared[strings.TrimSuffix(name, "}")] {
					t.Errorf("%s: path parameter %s not declared", key, seg)
				}
			}
			for _, code := range []string{"200", "401"} {
				if _, ok := op.Responses[code]; !ok && !(code == "200" && op.Responses["201"] != nil) {
					t.Errorf("%s documents no %s response", key, code)
				}
			}
			if (method == "patch" || key == "POST /api/v1/contacts" || strings.HasSuffix(path, "/reply") || strings.HasSuffix(path, "/notes")) && op.Body == nil {
				t.Errorf("%s documents no request body", key)
			}
		}
	}
	routes := NewAPI(APIConfig{}).Routes()
	slices.Sort(documented)
	slices.Sort(routes)
	if !slices.Equal(documented, routes) {
		for _, r := range routes {
			if !slices.Contains(documented, r) {
				t.Errorf("route %s is not in docs/openapi.yaml", r)
			}
		}
		for _, d := range documented {
			if !slices.Contains(routes, d) {
				t.Errorf("docs/openapi.yaml documents %s, which NewAPI does not serve", d)
			}
		}
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
