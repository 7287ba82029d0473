package workflow

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// clockLog records what the service asked of the SLA clock.
type clockLog struct{ calls []string }

func (c *clockLog) Pause(_ context.Context, n string, _ time.Time) error {
	c.calls = append(c.calls, "pause "+n)
	return nil
}
func (c *clockLog) Resume(_ context.Context, n string, _ time.Time) error {
	c.calls = append(c.calls, "resume "+n)
	return nil
}
func (c *clockLog) Reprioritise(_ context.Context, n, p string, _ time.Time) error {
	c.calls = append(c.calls, "priority "+n+" "+p)
	return nil
}
func (c *clockLog) Responded(_ context.Context, n string, _ time.Time) error {
	c.calls = append(c.calls, "responded "+n)
	return nil
}

type fixture struct {
	s     *Service
	st    *ticket.Store
	rdb   *redis.Client
	clock *clockLog
	ob    string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	rs := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { rdb.Close() })
	ob := notify.NewOutbox(rdb, "d").Key()
	st := ticket.NewStore(rdb, ticket.Options{DeskID: "d", TicketPrefix: "SD", OutboxKey: ob})
	no := false
	customers := map[string]*config.Customer{
		"acme": {ID: "acme", Name: "Acme BV", Contacts: []config.Contact{
			{Email: "jan@acme.example", Name: "Jan", Language: "nl"}, {Email: "piet@acme.example", Name: "Piet"},
			{Email: "quiet@acme.example", ReceivesProgress: &no}, {Email: "kees@acme.example"}}},
		"oxi": {ID: "oxi", Name: "Oxineo", ProgressToAll: true, Contacts: []config.Contact{
			{Email: "a@oxi.example"}, {Email: "b@oxi.example"}}},
	}
	c := &clockLog{}
	s := &Service{Store: st, Clock: c, Customer: func(id string) *config.Customer { return customers[id] },
		Language: "en", Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) }}
	return &fixture{s: s, st: st, rdb: rdb, clock: c, ob: ob}
}

func (f *fixture) create(t *testing.T, customer, contact string, participants ...string) string {
	t.Helper()
	r, err := f.st.Create(context.Background(), contact+customer, ticket.New{
		Subject: "Printer", Priority: "P3", Customer: customer, Contact: contact, Participants: participants,
		Language: "en", MessageID: "m1@" + customer, CreatedAt: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
		Clock: &ticket.Clock{Plan: "standard"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.Number
}

// mails returns the queued notifications as "kind to language" and empties
// the outbox.
func (f *fixture) mails(t *testing.T) []notify.Notification {
	t.Helper()
	ctx := context.Background()
	msgs, err := f.rdb.XRange(ctx, f.ob, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []notify.Notification
	for _, m := range msgs {
		n, err := notify.FromFields(m.Values)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
		f.rdb.XDel(ctx, f.ob, m.ID)
	}
	return out
}

func to(ns []notify.Notification) string {
	var s []string
	for _, n := range ns {
		s = append(s, string(n.Kind)+" "+n.To+" "+n.Language)
	}
	return strings.Join(s, ", ")
}

func TestReply(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n := f.create(t, "acme", "jan@acme.example", "piet@acme.example", "quiet@acme.example")
	agent := Agent{Name: "Alice", Email: "alice@desk.example"}
	if err := f.s.Reply(ctx, n, agent, "  Wij kijken ernaar.  ", "", ""); err != nil {
		t.Fatal(err)
	}
	ms := f.mails(t)
	// The contact in their language, the participant in the ticket's; not
	// the one who wants no progress mails.
	if got, want := to(ms), "reply jan@acme.example nl, reply piet@acme.example en"; got != want {
		t.Fatalf("mails %q, want %q", got, want)
	}
	if m := ms[0]; m.Text != "Wij kijken ernaar." || m.Agent != "Alice" || m.InReplyTo != "m1@acme" || m.Ticket != n {
		t.Errorf("reply mail %+v", m)
	}
	tk, _ := f.st.Get(ctx, n)
	if tk.Status != ticket.StatusInProgress || tk.FirstResponseAt == nil {
		t.Errorf("after the first reply: status %s, first response %v", tk.Status, tk.FirstResponseAt)
	}
	evs, _ := f.st.Events(ctx, n)
	if len(evs) != 1 || evs[0].Kind != ticket.EventAgentReply || evs[0].From != "Alice <alice@desk.example>" {
		t.Errorf("history %+v", evs)
	}
	if got := strings.Join(f.clock.calls, ", "); got != "responded "+n+", resume "+n {
		t.Errorf("clock calls %q", got)
	}
	first := *tk.FirstResponseAt
	// A second reply keeps the first response time; a reply by mail is
	// applied once.
	for range 2 {
		if err := f.s.Reply(ctx, n, agent, "Opgelost.", ticket.StatusResolved, "agent-mail-1@desk.example"); err != nil {
			t.Fatal(err)
		}
	}
	tk, _ = f.st.Get(ctx, n)
	if !tk.FirstResponseAt.Equal(first) || tk.Status != ticket.StatusResolved || tk.ResolvedAt == nil {
		t.Errorf("after resolving by mail: %+v", tk)
	}
	if ms := f.mails(t); len(ms) != 2 {
		t.Errorf("replayed reply sent %d mails, want 2", len(ms))
	}
	for _, bad := range []string{"", strings.Repeat("x", MaxText+1)} {
		if err := f.s.Reply(ctx, n, agent, bad, "", ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("reply of %d bytes: %v, want ErrInvalid", len(bad), err)
		}
	}
}

func TestSet(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n := f.create(t, "oxi", "a@oxi.example")
	alice := Agent{Name: "Alice"}
	assignee := "Alice"
	tk, err := f.s.Set(ctx, n, alice, Change{Status: ticket.StatusWaitingCustomer, Priority: "P1", Reason: "production down", Assignee: &assignee}, "")
	if err != nil {
		t.Fatal(err)
	}
	if tk.Status != ticket.StatusWaitingCustomer || tk.Priority != "P1" || tk.PriorityReason != "production down" || tk.Assignee != "Alice" {
		t.Fatalf("ticket %+v", tk)
	}
	// Oxineo: both contact persons follow progress.
	ms := f.mails(t)
	if got, want := to(ms), "progress a@oxi.example en, progress b@oxi.example en"; got != want {
		t.Fatalf("mails %q, want %q", got, want)
	}
	if len(ms[0].Changes) != 3 || ms[0].Changes[1].Reason != "production down" {
		t.Errorf("changes %+v", ms[0].Changes)
	}
	if got := strings.Join(f.clock.calls, ", "); got != "priority "+n+" P1, pause "+n {
		t.Errorf("clock calls %q", got)
	}
	// Nothing to change: no event, no mail.
	if _, err := f.s.Set(ctx, n, alice, Change{Status: ticket.StatusWaitingCustomer}, ""); err != nil {
		t.Fatal(err)
	}
	if ms := f.mails(t); len(ms) != 0 {
		t.Errorf("a no-op change sent %d mails", len(ms))
	}
	tests := []struct {
		name string
		c    Change
		want error
	}{
		{"unknown status", Change{Status: "done"}, ErrInvalid},
		{"unknown priority", Change{Priority: "P9"}, ErrInvalid},
		{"closed is final", Change{Status: ticket.StatusClosed}, nil},
		{"after closing", Change{Status: ticket.StatusInProgress}, ErrInvalid},
	}
	for _, tt := range tests {
		if _, err := f.s.Set(ctx, n, alice, tt.c, ""); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := f.s.Set(ctx, "SD-99", alice, Change{Status: ticket.StatusResolved}, ""); !errors.Is(err, ticket.ErrNotFound) {
		t.Errorf("unknown ticket: %v", err)
	}
}

// Two agents change one ticket at once: the one who read an old status
// gets a conflict instead of undoing the other's change.
func TestConflict(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n := f.create(t, "acme", "jan@acme.example")
	_, err := f.st.Apply(ctx, n, ticket.Change{At: time.Now(), ExpectStatus: ticket.StatusAcknowledged, Status: ticket.StatusInProgress}, nil)
	if !errors.Is(err, ticket.ErrConflict) {
		t.Fatalf("stale change: %v, want ErrConflict", err)
	}
}

func TestNote(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n := f.create(t, "acme", "jan@acme.example")
	if err := f.s.Note(ctx, strings.ToLower(n), Agent{Email: "bob@desk.example"}, "Klant belt terug"); err != nil {
		t.Fatal(err)
	}
	if ms := f.mails(t); len(ms) != 0 {
		t.Errorf("a note sent mail: %q", to(ms))
	}
	evs, _ := f.st.Events(ctx, n)
	if len(evs) != 1 || evs[0].Kind != ticket.EventNote || evs[0].Text != "Klant belt terug" || evs[0].From != "bob@desk.example" {
		t.Errorf("history %+v", evs)
	}
}

// A contact removed from the directory gets no more of a ticket's mail,
// whether they opened it or took part; a domain the customer authorises
// as a whole keeps its senders.
func TestRemovedContactGetsNoMail(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n := f.create(t, "acme", "gone@acme.example", "alsogone@acme.example", "jan@acme.example")
	if err := f.s.Reply(ctx, n, Agent{Name: "Alice"}, "Opgelost.", "", ""); err != nil {
		t.Fatal(err)
	}
	if got, want := to(f.mails(t)), "reply jan@acme.example nl"; got != want {
		t.Errorf("mails %q, want %q", got, want)
	}
	if !authorisedAt(&config.Customer{AuthoriseDomains: true, Domains: []string{"acme.example"}}, "any@ACME.example", func(string) *config.Contact { return nil }) {
		t.Error("a sender at an authorised domain lost the ticket's mail")
	}
}

// The desk moves a new ticket on by itself (its acknowledgement was
// delivered) while an agent changes or answers it: the agent's request is
// worked out again against the ticket as it is now, not refused as a
// conflict (it was, and `tickets set` failed one time in a few after a new
// mail).
func TestAgentActionOutlivesTheDesksOwnStatusChange(t *testing.T) {
	for _, action := range []string{"set", "reply"} {
		t.Run(action, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			n := f.create(t, "acme", "jan@acme.example")
			customer := f.s.Customer
			acked := false
			// Customer is asked between reading the ticket and applying the
			// action: the acknowledgement is delivered right then.
			f.s.Customer = func(id string) *config.Customer {
				if !acked {
					acked = true
					if err := f.st.MarkAcknowledged(ctx, n, time.Now()); err != nil {
						t.Fatal(err)
					}
				}
				return customer(id)
			}
			var err error
			if action == "set" {
				_, err = f.s.Set(ctx, n, Agent{Name: "Alice"}, Change{Priority: "P2"}, "")
			} else {
				err = f.s.Reply(ctx, n, Agent{Name: "Alice"}, "Komen we morgen naar kijken.", "", "")
			}
			if err != nil || !acked {
				t.Fatalf("%s while the acknowledgement is delivered: %v (acknowledged meanwhile: %v)", action, err, acked)
			}
			tk, err := f.st.Get(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			if action == "set" && (tk.Priority != "P2" || tk.Status != ticket.StatusAcknowledged) {
				t.Errorf("after the change: %s %s, want P2 acknowledged", tk.Priority, tk.Status)
			}
			if action == "reply" && tk.Status != ticket.StatusInProgress {
				t.Errorf("after the reply: %s, want in_progress", tk.Status)
			}
		})
	}
}
