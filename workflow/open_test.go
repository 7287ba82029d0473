package workflow

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// startClock is an SLA clock that also starts clocks: the first response
// is due 4 hours after arrival.
type startClock struct {
	clockLog
	started []string
}

func (c *startClock) Start(plan, typ, priority, lang string, arrival time.Time) (*ticket.Clock, error) {
	c.started = append(c.started, plan+" "+priority+" "+lang+" "+arrival.UTC().Format(time.RFC3339))
	return &ticket.Clock{Plan: plan, Priority: priority, Language: lang, Arrival: arrival, Start: arrival,
		Target: "4h", FirstResponseDue: arrival.Add(4 * time.Hour)}, nil
}

var openNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// newOpenFixture is a desk whose agents open tickets: customers on plans
// with their own default priority and words for it, one whose contract
// ended, one suspended, one that authorises its whole domain.
func newOpenFixture(t *testing.T) (*fixture, *startClock) {
	t.Helper()
	f := newFixture(t)
	customers := []config.Customer{
		{ID: "acme", Name: "Acme BV", Plan: "standard", Domains: []string{"acme.example"}, Contacts: []config.Contact{
			{Email: "jan@acme.example", Name: "Jan", Language: "nl", Main: true},
			{Email: "piet@acme.example", Name: "Piet", MaxPriority: "P3"}}},
		{ID: "qiqq", Name: "QiQQ", Plan: "qiqq", Contacts: []config.Contact{{Email: "kim@qiqq.example", Name: "Kim", Language: "nl"}}},
		{ID: "globex", Name: "Globex", Contacts: []config.Contact{{Email: "ann@globex.example", Name: "Ann"}}},
		{ID: "gone", Name: "Gone BV", ActiveUntil: "2026-10-31", Contacts: []config.Contact{{Email: "old@gone.example"}}},
		{ID: "unpaid", Name: "Unpaid BV", Suspended: "invoices unpaid", Contacts: []config.Contact{{Email: "x@unpaid.example"}}},
		{ID: "open", Name: "Open BV", AuthoriseDomains: true, Domains: []string{"open.example"}},
	}
	dir := authz.NewDirectory(customers)
	c := &startClock{}
	f.s.Clock, f.s.Authz, f.s.Customer = c, dir, dir.Customer
	f.s.Plans = map[string]config.Plan{
		"standard": {},
		"qiqq": {DefaultPriority: "P3", ContactMaxPriority: "P3",
			PriorityLabels: map[string]map[string]string{"nl": {"P1": "Direct", "P2": "Hoog", "P3": "Standaard"}}},
	}
	f.s.Priority = "P4"
	f.s.Now = func() time.Time { return openNow }
	return f, c
}

func TestOpen(t *testing.T) {
	alice := Agent{Name: "Alice"}
	for _, tc := range []struct {
		name string
		o    Opening
		// want: "number status type priority channel contact language",
		// the clock started ("" for none) and the acknowledgement
		// ("to language channel priority-label received").
		want, clock, ack string
		err              error
		msg              string
	}{
		{name: "defaults: phone, now, the desk's priority", o: Opening{Customer: "acme", Contact: "jan@acme.example", Subject: "Printer kapot", Message: "Belde om 10:00: printer doet niets."},
			want: "SD-1 new incident P4 phone jan@acme.example nl", clock: "standard P4 nl 2026-11-23T10:00:00Z",
			ack: "jan@acme.example nl phone  2026-11-23T10:00:00Z"},
		{name: "the plan's default priority in the contract's words", o: Opening{Customer: "qiqq", Contact: "KIM@qiqq.example", Subject: "Website traag", Message: "Kim belde: de website van de webwinkel is sinds vanochtend erg traag en klanten kunnen niet afrekenen."},
			want: "SD-1 new incident P3 phone kim@qiqq.example nl", clock: "qiqq P3 nl 2026-11-23T10:00:00Z",
			ack: "kim@qiqq.example nl phone Standaard 2026-11-23T10:00:00Z"},
		{name: "the call's time starts the clock; the agent's priority stands over the contact's cap",
			o:    Opening{Customer: "acme", Contact: "piet@acme.example", Subject: "Mail down", Message: "Nobody can send mail.", Priority: "p1", At: openNow.Add(-40 * time.Minute)},
			want: "SD-1 new incident P1 phone piet@acme.example en", clock: "standard P1 en 2026-11-23T09:20:00Z",
			ack: "piet@acme.example en phone  2026-11-23T09:20:00Z"},
		{name: "in person", o: Opening{Customer: "acme", Contact: "jan@acme.example", Subject: "Laptop", Message: "Kwam langs met een kapotte laptop.", Channel: "in_person"},
			want: "SD-1 new incident P4 in_person jan@acme.example nl", clock: "standard P4 nl 2026-11-23T10:00:00Z",
			ack: "jan@acme.example nl in_person  2026-11-23T10:00:00Z"},
		{name: "a feature request is closed without clock", o: Opening{Customer: "acme", Contact: "jan@acme.example", Subject: "Donkere modus", Message: "Graag een donkere modus.", Type: "feature_request"},
			want: "SD-1 closed feature_request P4 phone jan@acme.example nl", ack: "jan@acme.example nl phone  2026-11-23T10:00:00Z"},
		{name: "a contact by the customer's domain", o: Opening{Customer: "open", Contact: "someone@open.example", Subject: "Hi", Message: "Called."},
			want: "SD-1 new incident P4 phone someone@open.example en", clock: "standard P4 en 2026-11-23T10:00:00Z",
			ack: "someone@open.example en phone  2026-11-23T10:00:00Z"},
		{name: "a little clock skew", o: Opening{Customer: "acme", Contact: "jan@acme.example", Subject: "S", Message: "M", At: openNow.Add(2 * time.Minute)},
			want: "SD-1 new incident P4 phone jan@acme.example nl", clock: "standard P4 nl 2026-11-23T10:02:00Z",
			ack: "jan@acme.example nl phone  2026-11-23T10:02:00Z"},

		{name: "unknown contact", o: Opening{Customer: "acme", Contact: "stranger@elsewhere.example", Subject: "S", Message: "M"},
			err: ErrRefused, msg: "stranger@elsewhere.example may not open tickets for acme (unknown sender)"},
		{name: "unregistered at the customer's domain", o: Opening{Customer: "acme", Contact: "kees@acme.example", Subject: "S", Message: "M"},
			err: ErrRefused, msg: "kees@acme.example is not a registered contact of acme"},
		{name: "another customer's contact", o: Opening{Customer: "acme", Contact: "ann@globex.example", Subject: "S", Message: "M"},
			err: ErrRefused, msg: "ann@globex.example is a contact of customer globex, not of acme"},
		{name: "contract ended", o: Opening{Customer: "gone", Contact: "old@gone.example", Subject: "S", Message: "M"},
			err: ErrRefused, msg: "customer gone is not active: the support contract ended on 2026-10-31"},
		{name: "suspended", o: Opening{Customer: "unpaid", Contact: "x@unpaid.example", Subject: "S", Message: "M"},
			err: ErrRefused, msg: "support is suspended: invoices unpaid"},
		{name: "unknown customer", o: Opening{Customer: "nope", Contact: "jan@acme.example", Subject: "S", Message: "M"},
			err: ErrInvalid, msg: `unknown customer "nope"`},
		{name: "no customer", o: Opening{Contact: "jan@acme.example", Subject: "S", Message: "M"}, err: ErrInvalid, msg: "customer is missing"},
		{name: "no contact", o: Opening{Customer: "acme", Subject: "S", Message: "M"}, err: ErrInvalid, msg: "contact's address is missing"},
		{name: "no subject", o: Opening{Customer: "acme", Contact: "jan@acme.example", Subject: " ", Message: "M"}, err: ErrInvalid, msg: "subject is empty"},
		{name: "subject of two lines", o: Opening{Customer: "acme", Contact: "jan@acme.example", Subject: "S\nBcc: x", Message: "M"}, err: ErrInvalid, msg: "one line"},
		{name: "subject too long", o: Opening{Customer: "acme", Contact: "jan@acme.example", Subject: strings.Repeat("é", 501), Message: "M"}, err: ErrInvalid, msg: "501 characters, at most 500"},
		{name: "no message", o: Opening{Customer: "acme", Contact: "jan@acme.example", Subject: "S"}, err: ErrInvalid, msg: "message is empty"},
		{name: "message too long", o: Opening{Customer: "acme", Contact: "jan@acme.example", Subject: "S", Message: strings.Repeat("x", MaxText+1)}, err: ErrInvalid, msg: "at most 65536"},
		{name: "unknown channel", o: Opening{Customer: "acme", Contact: "jan@acme.example", Subject: "S", Message: "M", Channel: "mail"}, err: ErrInvalid, msg: `unknown channel "mail" (want one of phone, in_person)`},
		{name: "unknown type", o: Opening{Customer: "acme", Contact: "jan@acme.example", Subject: "S", Message: "M", Type: "question"}, err: ErrInvalid, msg: `unknown type "question"`},
		{name: "unknown priority", o: Opening{Customer: "acme", Contact: "jan@acme.example", Subject: "S", Message: "M", Priority: "P0"}, err: ErrInvalid, msg: `unknown priority "P0"`},
		{name: "in the future", o: Opening{Customer: "acme", Contact: "jan@acme.example", Subject: "S", Message: "M", At: openNow.Add(10 * time.Minute)}, err: ErrInvalid, msg: "in the future"},
		{name: "a typo in the date", o: Opening{Customer: "acme", Contact: "jan@acme.example", Subject: "S", Message: "M", At: openNow.AddDate(-1, 0, 0)}, err: ErrInvalid, msg: "more than 7 days ago"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, clk := newOpenFixture(t)
			ctx := context.Background()
			tk, created, err := f.s.Open(ctx, alice, tc.o, "")
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("err %v, want %v with %q", err, tc.err, tc.msg)
				}
				if ts, _ := f.st.List(ctx); len(ts) != 0 || len(f.mails(t)) != 0 {
					t.Fatalf("refused, yet %d tickets and mail", len(ts))
				}
				return
			}
			if err != nil || !created {
				t.Fatalf("open: %v (created %v)", err, created)
			}
			got := strings.Join([]string{tk.Number, tk.Status, tk.Type, tk.Priority, tk.Channel, tk.Contact, tk.Language}, " ")
			if got != tc.want || tk.OpenedBy != "Alice" || tk.MessageID != "" || !tk.CreatedAt.Equal(cmpOr(tc.o.At, openNow)) {
				t.Errorf("ticket %q opened by %q, Message-ID %q, created %v; want %q by Alice", got, tk.OpenedBy, tk.MessageID, tk.CreatedAt, tc.want)
			}
			if tk.Text != strings.TrimSpace(tc.o.Message) || tk.Subject != tc.o.Subject {
				t.Errorf("subject %q text %q", tk.Subject, tk.Text)
			}
			if c := strings.Join(clk.started, "; "); c != tc.clock {
				t.Errorf("clock started %q, want %q", c, tc.clock)
			}
			if (tk.SLA != nil) != (tc.clock != "") {
				t.Errorf("stored clock %+v", tk.SLA)
			} else if tk.SLA != nil && !tk.SLA.FirstResponseDue.Equal(cmpOr(tc.o.At, openNow).Add(4*time.Hour)) {
				t.Errorf("first response due %v", tk.SLA.FirstResponseDue)
			}
			ms := f.mails(t)
			if len(ms) != 1 || ms[0].Kind != notify.Ack || ms[0].ID != tk.Number+"/ack" || ms[0].Ticket != tk.Number {
				t.Fatalf("mails %+v, want the acknowledgement", ms)
			}
			a := ms[0]
			if g := strings.Join([]string{a.To, a.Language, a.Channel, a.PriorityLabel, a.Received.UTC().Format(time.RFC3339)}, " "); g != tc.ack {
				t.Errorf("acknowledgement %q, want %q", g, tc.ack)
			}
			if a.Type != tk.Type || a.Priority != tk.Priority || a.InReplyTo != "" || a.Subject != tk.Subject {
				t.Errorf("acknowledgement %+v", a)
			}
			if tc.clock != "" && !a.Deadline.Equal(tk.SLA.FirstResponseDue) {
				t.Errorf("acknowledgement states deadline %v", a.Deadline)
			}
			es, err := f.st.Events(ctx, tk.Number)
			if err != nil || len(es) != 1 || es[0].Kind != ticket.EventOpened || es[0].From != "Alice" || es[0].Channel != tk.Channel {
				t.Errorf("history %+v %v, want opened by Alice", es, err)
			}
		})
	}
}

func cmpOr(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

// The same request under the same key makes one ticket and one
// acknowledgement; another request under that key is refused; without a
// key every request is a ticket.
func TestOpenIdempotent(t *testing.T) {
	f, _ := newOpenFixture(t)
	ctx := context.Background()
	alice := Agent{Name: "Alice"}
	o := Opening{Customer: "acme", Contact: "jan@acme.example", Subject: "Printer", Message: "Kapot."}
	first, created, err := f.s.Open(ctx, alice, o, "alice k-1")
	if err != nil || !created {
		t.Fatalf("open: %v %v", created, err)
	}
	// A retry a little later, the time left to default: the same request.
	f.s.Now = func() time.Time { return openNow.Add(time.Minute) }
	again, created, err := f.s.Open(ctx, alice, o, "alice k-1")
	if err != nil || created || again.Number != first.Number || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("replay: %+v created %v err %v, want %s again", again, created, err, first.Number)
	}
	if ms := f.mails(t); len(ms) != 1 {
		t.Errorf("%d mails, want one acknowledgement", len(ms))
	}
	other := o
	other.Subject = "Another problem"
	if _, _, err := f.s.Open(ctx, alice, other, "alice k-1"); !errors.Is(err, ErrKeyReused) || !strings.Contains(err.Error(), "SD-1") {
		t.Errorf("another request under the key: %v", err)
	}
	// A crash between the ticket and its history: the replay writes it.
	f.rdb.Del(ctx, "md:{d}:t:SD-1:events")
	f.rdb.HDel(ctx, "md:{d}:seen", "opened request alice k-1")
	if _, _, err := f.s.Open(ctx, alice, o, "alice k-1"); err != nil {
		t.Fatal(err)
	}
	if es, _ := f.st.Events(ctx, "SD-1"); len(es) != 1 || es[0].Kind != ticket.EventOpened {
		t.Errorf("history after the replay: %+v", es)
	}
	// Without a key, twice is twice.
	for range 2 {
		if _, created, err := f.s.Open(ctx, alice, o, ""); err != nil || !created {
			t.Fatalf("open without key: %v %v", created, err)
		}
	}
	if ts, _ := f.st.List(ctx); len(ts) != 3 {
		t.Errorf("%d tickets, want 3", len(ts))
	}
	// Nothing a mail can name finds the agent's tickets.
	if n, _ := f.st.FindByMessageID(ctx, "request", "alice", "k-1", "requestalicek-1"); n != "" {
		t.Errorf("a Message-ID threads to %s", n)
	}
}

// The type an agent may give is checked by the same rule as tickets set
// type= (checkType): one place to change when plans declare types.
func TestOpenTypeIsSetsType(t *testing.T) {
	f, _ := newOpenFixture(t)
	ctx := context.Background()
	n := f.create(t, "acme", "jan@acme.example")
	_, setErr := f.s.Set(ctx, n, Agent{Name: "A"}, Change{Type: "question"}, "")
	_, _, openErr := f.s.Open(ctx, Agent{Name: "A"}, Opening{Customer: "acme", Contact: "jan@acme.example", Subject: "S", Message: "M", Type: "question"}, "")
	if setErr == nil || openErr == nil || !strings.HasSuffix(setErr.Error(), strings.TrimPrefix(openErr.Error(), "open a ticket: ")) {
		t.Errorf("set: %v\nopen: %v", setErr, openErr)
	}
}

func TestParseAt(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC) // 00:30 on the 24th in Amsterdam
	for _, tc := range []struct{ in, want string }{
		{"2026-11-23T09:20:00+01:00", "2026-11-23T08:20:00Z"},
		{"2026-11-23T09:20:00Z", "2026-11-23T09:20:00Z"},
		{"2026-11-23 09:20", "2026-11-23T08:20:00Z"},
		{" 2026-11-23T09:20 ", "2026-11-23T08:20:00Z"},
		{"2026-07-01 09:20:30", "2026-07-01T07:20:30Z"},
		{"00:10", "2026-11-23T23:10:00Z"}, // today in the desk's zone
		{"9:20", "2026-11-24T08:20:00Z"},
		{"yesterday", ""},
		{"", ""},
		{"2026-11-23", ""},
	} {
		got, err := ParseAt(tc.in, ams, now)
		if tc.want == "" {
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "Europe/Amsterdam") {
				t.Errorf("%q: %v, %v; want an error", tc.in, got, err)
			}
			continue
		}
		if err != nil || got.UTC().Format(time.RFC3339) != tc.want {
			t.Errorf("%q: %v %v, want %s", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseAt(f *testing.F) {
	for _, s := range []string{"2026-11-23T09:20:00+01:00", "2026-11-23 09:20", "09:20", "x"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		at, err := ParseAt(s, time.UTC, now)
		if err == nil && at.IsZero() {
			t.Errorf("%q: zero time without error", s)
		}
	})
}

// A process without a journal of its own (the CLI) opens no ticket while
// a daemon has marked Redis as behind the mailbox journal: the number it
// would give may be one a filed mail carries. Once in step, it does.
func TestOpenWaitsWhileRedisIsBehindTheJournal(t *testing.T) {
	f, _ := newOpenFixture(t)
	ctx := context.Background()
	o := Opening{Customer: "acme", Contact: "jan@acme.example", Subject: "Printer", Message: "Belde: printer kapot."}
	if err := f.s.Store.MarkBehind(ctx, "sequence 1, highest number given 3"); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.s.Open(ctx, Agent{Name: "Alice"}, o, "k1")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "highest number given 3") {
		t.Fatalf("open while Redis is behind: %v, want ErrUnavailable naming why", err)
	}
	if err := f.s.Store.MarkBehind(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if tk, created, err := f.s.Open(ctx, Agent{Name: "Alice"}, o, "k1"); err != nil || !created || tk.Number != "SD-1" {
		t.Fatalf("open once in step: %+v %v %v", tk, created, err)
	}
}
