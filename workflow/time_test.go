package workflow

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// timeFixture is a desk whose customer oxi is on Oxineo's plan: a budget
// of 2 hours, warned at 75%; agents desk.agents.
func timeFixture(t *testing.T) (*fixture, string) {
	t.Helper()
	f := newFixture(t)
	f.s.Plans = map[string]config.Plan{
		"standard": {},
		"oxineo": {Billing: &config.Billing{Currency: "EUR", Rate: 8500, Budget: config.Duration(2 * time.Hour),
			Activities: map[string]config.Activity{"internal": {Billable: new(false)}}}},
	}
	cust := f.s.Customer
	f.s.Customer = func(id string) *config.Customer {
		c := cust(id)
		if id == "oxi" {
			cc := *c
			cc.Plan = "oxineo"
			return &cc
		}
		return c
	}
	f.s.Agents = []config.Person{{Email: "piet@desk.example", Name: "Piet"}, {Email: "Kees@Desk.example"}}
	f.s.Location = time.UTC
	return f, f.create(t, "oxi", "a@oxi.example")
}

func TestRecordTime(t *testing.T) {
	f, number := timeFixture(t)
	ctx := context.Background()
	by := Agent{Name: "Piet", Email: "piet@desk.example"}
	now := f.s.Now()

	// Without a start the work ended now.
	r, created, err := f.s.RecordTimeRequest(ctx, strings.ToLower(number), by, TimeEntry{Duration: 45 * time.Minute, Note: "reset the VPN", Via: ViaCLI}, "")
	if err != nil || !created {
		t.Fatalf("%v %v", created, err)
	}
	if !r.Start.Equal(now.Add(-45*time.Minute)) || r.Minutes != 45 || r.Activity != config.ActivityRemote || !r.Billable ||
		r.Customer != "oxi" || r.Ticket != number || r.Agent != "Piet <piet@desk.example>" || r.Via != ViaCLI || r.ID == "" {
		t.Errorf("record %+v", r)
	}
	// An activity that is not billable makes a record that is not; the
	// agent may say otherwise.
	r2, _, err := f.s.RecordTimeRequest(ctx, number, by, TimeEntry{Duration: 30 * time.Minute, At: now.Add(-3 * time.Hour), Activity: "Internal"}, "")
	if err != nil || r2.Billable || r2.Activity != "internal" {
		t.Fatalf("%+v %v", r2, err)
	}
	yes := true
	r3, _, err := f.s.RecordTimeRequest(ctx, number, by, TimeEntry{Duration: 15 * time.Minute, At: now.Add(-2 * time.Hour), Activity: "on-site", Billable: &yes}, "")
	if err != nil || !r3.Billable || r3.Activity != config.ActivityOnSite {
		t.Fatalf("%+v %v", r3, err)
	}

	sum, err := f.s.TimeOf(ctx, number)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Minutes != 90 || sum.Billable != 60 || len(sum.Records) != 3 || sum.Budget != 120 || sum.WarnAt != 75 || sum.BudgetState != BudgetOK {
		t.Errorf("summary %+v", sum)
	}
	// Oldest first.
	if sum.Records[0].ID != r2.ID || sum.Records[2].ID != r.ID {
		t.Errorf("order %s %s %s", sum.Records[0].ID, sum.Records[1].ID, sum.Records[2].ID)
	}
	events, err := f.st.Events(ctx, number)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(events); n != 3 || events[0].Kind != ticket.EventTime || events[0].Text != "45m remote from 2026-11-23 09:15, billable: reset the VPN" {
		t.Errorf("events %+v", events)
	}
	if len(f.mails(t)) != 0 {
		t.Error("mail before the budget's warning share")
	}
}

// A request retried with its key records once; another request under the
// same key is refused.
func TestRecordTimeIdempotent(t *testing.T) {
	f, number := timeFixture(t)
	ctx := context.Background()
	by := Agent{Name: "Piet"}
	e := TimeEntry{Duration: time.Hour, Note: "x"}
	r1, c1, err1 := f.s.RecordTimeRequest(ctx, number, by, e, "Piet k1")
	f.s.Now = func() time.Time { return time.Date(2026, 11, 23, 10, 5, 0, 0, time.UTC) } // a retry, later
	r2, c2, err2 := f.s.RecordTimeRequest(ctx, number, by, e, "Piet k1")
	if err1 != nil || err2 != nil || !c1 || c2 || r1.ID != r2.ID || !r2.Start.Equal(r1.Start) {
		t.Fatalf("%v %v %v %v %+v %+v", err1, err2, c1, c2, r1, r2)
	}
	if _, _, err := f.s.RecordTimeRequest(ctx, number, by, TimeEntry{Duration: 2 * time.Hour}, "Piet k1"); !errors.Is(err, ErrKeyReused) {
		t.Errorf("another request under the key: %v", err)
	}
	// A mail's records are idempotent on the mail.
	m1, c1, err1 := f.s.RecordTime(ctx, number, by, TimeEntry{Duration: 15 * time.Minute}, "<m@x>", "m@x")
	m2, c2, err2 := f.s.RecordTime(ctx, number, by, TimeEntry{Duration: 15 * time.Minute}, "<m@x>", "m@x")
	if err1 != nil || err2 != nil || !c1 || c2 || m1.ID != m2.ID {
		t.Fatalf("mail: %v %v %v %v", err1, err2, c1, c2)
	}
	// The mail's Message-ID now threads to the ticket.
	if n, _ := f.st.FindByMessageID(ctx, "m@x"); n != number {
		t.Errorf("threads to %q", n)
	}
	sum, _ := f.s.TimeOf(ctx, number)
	if sum.Minutes != 75 || len(sum.Records) != 2 {
		t.Errorf("%+v", sum)
	}
}

func TestRecordTimeRefused(t *testing.T) {
	f, number := timeFixture(t)
	ctx := context.Background()
	now := f.s.Now()
	for _, tc := range []struct {
		name string
		e    TimeEntry
		want string
	}{
		{"zero", TimeEntry{}, "must be more than 0"},
		{"seconds", TimeEntry{Duration: 90 * time.Second}, "must be whole minutes"},
		{"too long", TimeEntry{Duration: 25 * time.Hour}, "more than one record may hold"},
		{"unknown activity", TimeEntry{Duration: time.Hour, Activity: "coffee"}, `unknown activity "coffee" for plan "oxineo" (want one of internal, on_site, remote, travel)`},
		{"future", TimeEntry{Duration: time.Hour, At: now}, "in the future"},
		{"long ago", TimeEntry{Duration: time.Hour, At: now.AddDate(0, -3, 0)}, "more than 62 days ago"},
		{"note", TimeEntry{Duration: time.Hour, Note: strings.Repeat("x", 2001)}, "the note has 2001 characters"},
	} {
		_, _, err := f.s.RecordTimeRequest(ctx, number, Agent{Name: "a"}, tc.e, "")
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, _, err := f.s.RecordTimeRequest(ctx, "SD-99", Agent{Name: "a"}, TimeEntry{Duration: time.Hour}, ""); !errors.Is(err, ticket.ErrNotFound) {
		t.Errorf("unknown ticket: %v", err)
	}
	sum, _ := f.s.TimeOf(ctx, number)
	if len(sum.Records) != 0 {
		t.Errorf("recorded %+v", sum.Records)
	}
}

// Oxineo: "Voor elk aangemaakt ticket kan 2 uur zonder toestemming worden
// besteed." At 75% (1h30m) and at 2 hours of billable time the assignee
// and the agents are mailed, once each; time that is not billable does
// not count.
func TestTimeBudget(t *testing.T) {
	f, number := timeFixture(t)
	ctx := context.Background()
	assignee := "lisa@desk.example"
	if _, err := f.s.Set(ctx, number, Agent{Name: "x"}, Change{Assignee: &assignee}, ""); err != nil {
		t.Fatal(err)
	}
	f.mails(t)
	by := Agent{Name: "Piet"}
	at := f.s.Now().Add(-10 * time.Hour)
	rec := func(minutes int, billable bool) {
		t.Helper()
		b := billable
		if _, _, err := f.s.RecordTimeRequest(ctx, number, by, TimeEntry{Duration: time.Duration(minutes) * time.Minute, At: at, Billable: &b}, ""); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Duration(minutes) * time.Minute)
	}
	kinds := func() string {
		var out []string
		for _, n := range f.mails(t) {
			if n.Kind != notify.TimeBudget {
				t.Errorf("kind %s", n.Kind)
			}
			out = append(out, n.Reason+" "+n.To+" "+n.Used+"/"+n.Target)
		}
		return strings.Join(out, ", ")
	}
	rec(60, true)
	rec(60, false)
	if got := kinds(); got != "" {
		t.Errorf("at 1h billable: %s", got)
	}
	rec(30, true)
	if got := kinds(); got != "warning lisa@desk.example 1h30m/2h, warning piet@desk.example 1h30m/2h, warning kees@desk.example 1h30m/2h" {
		t.Errorf("at 1h30m: %s", got)
	}
	rec(15, true)
	if got := kinds(); got != "" {
		t.Errorf("warned twice: %s", got)
	}
	sum, _ := f.s.TimeOf(ctx, number)
	if sum.BudgetState != BudgetWarning || sum.WarnedAt.IsZero() || !sum.ReachedAt.IsZero() {
		t.Errorf("%+v", sum)
	}
	rec(15, true)
	if got := kinds(); got != "reached lisa@desk.example 2h/2h, reached piet@desk.example 2h/2h, reached kees@desk.example 2h/2h" {
		t.Errorf("at 2h: %s", got)
	}
	rec(60, true)
	if got := kinds(); got != "" {
		t.Errorf("told twice: %s", got)
	}
	sum, _ = f.s.TimeOf(ctx, number)
	if sum.BudgetState != BudgetReached || sum.Billable != 180 {
		t.Errorf("%+v", sum)
	}

	// A ticket whose first record passes both tells only that the budget is
	// reached.
	other := f.create(t, "oxi", "b@oxi.example")
	if _, _, err := f.s.RecordTimeRequest(ctx, other, by, TimeEntry{Duration: 3 * time.Hour, At: f.s.Now().Add(-4 * time.Hour)}, ""); err != nil {
		t.Fatal(err)
	}
	if got := kinds(); got != "reached piet@desk.example 3h/2h, reached kees@desk.example 3h/2h" {
		t.Errorf("both at once: %s", got)
	}
	// A customer on a plan without a budget: no mail.
	plain := f.create(t, "acme", "jan@acme.example")
	if _, _, err := f.s.RecordTimeRequest(ctx, plain, by, TimeEntry{Duration: 5 * time.Hour, At: f.s.Now().Add(-6 * time.Hour)}, ""); err != nil {
		t.Fatal(err)
	}
	if got := kinds(); got != "" {
		t.Errorf("no budget: %s", got)
	}
}

// A wrong record is voided: it stays, marked, and counts nowhere; voiding
// it again changes nothing.
func TestVoidTime(t *testing.T) {
	f, number := timeFixture(t)
	ctx := context.Background()
	by := Agent{Name: "Piet"}
	at := f.s.Now().Add(-5 * time.Hour)
	keep, _, _ := f.s.RecordTimeRequest(ctx, number, by, TimeEntry{Duration: 30 * time.Minute, At: at}, "")
	wrong, _, _ := f.s.RecordTimeRequest(ctx, number, by, TimeEntry{Duration: 4 * time.Hour, At: at.Add(time.Hour), Note: "typo"}, "")
	r, voided, err := f.s.VoidTime(ctx, number, Agent{Name: "Lisa"}, wrong.ID, "meant 40m")
	if err != nil || !voided || r.VoidedAt == nil || r.VoidedBy != "Lisa" || r.VoidReason != "meant 40m" || r.Minutes != 240 || r.Note != "typo" {
		t.Fatalf("%+v %v %v", r, voided, err)
	}
	if _, again, err := f.s.VoidTime(ctx, number, Agent{Name: "Lisa"}, wrong.ID, ""); err != nil || again {
		t.Errorf("again: %v %v", again, err)
	}
	sum, _ := f.s.TimeOf(ctx, number)
	if sum.Minutes != 30 || sum.Billable != 30 || len(sum.Records) != 2 {
		t.Errorf("%+v", sum)
	}
	tk, _ := f.st.Get(ctx, number)
	bt := BillingTicket(tk, sum.Records)
	if len(bt.Records) != 1 || bt.Records[0].ID != keep.ID {
		t.Errorf("priced %+v", bt.Records)
	}
	if numbers, _ := f.st.TimeTickets(ctx, "oxi", at.Add(time.Minute), at.Add(3*time.Hour)); len(numbers) != 0 {
		t.Errorf("the void record is still indexed: %v", numbers)
	}
	events, _ := f.st.Events(ctx, number)
	if last := events[len(events)-1]; last.From != "Lisa" || !strings.Contains(last.Text, "voided the time record "+wrong.ID) || !strings.Contains(last.Text, "meant 40m") {
		t.Errorf("history %+v", last)
	}
	// Not found, not invalid: the API answers 404 by errors.Is, and the
	// message names the record.
	if _, _, err := f.s.VoidTime(ctx, number, by, "nope", ""); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `no time record "nope"`) {
		t.Errorf("unknown record: %v, want ErrNotFound", err)
	}
	// The wrong record had reached the budget; voided, the ticket is below
	// it again, and reaching it for real is told again.
	if sum.BudgetState != BudgetOK || !sum.ReachedAt.IsZero() || !sum.WarnedAt.IsZero() {
		t.Errorf("budget after the void: %+v", sum)
	}
	f.mails(t)
	if _, _, err := f.s.RecordTimeRequest(ctx, number, by, TimeEntry{Duration: 90 * time.Minute, At: at.Add(2 * time.Hour)}, ""); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, n := range f.mails(t) {
		reasons = append(reasons, n.Reason+" "+n.Used)
	}
	if strings.Join(reasons, ",") != "reached 2h,reached 2h" {
		t.Errorf("mails %v", reasons)
	}
}

// More than the budget "in overleg met een inschatting van de benodigde
// tijd": the agent sets the ticket's own budget, and its warning and
// reaching are told in their turn.
func TestSetTimeBudget(t *testing.T) {
	f, number := timeFixture(t)
	ctx := context.Background()
	by := Agent{Name: "Piet"}
	at := f.s.Now().Add(-20 * time.Hour)
	rec := func(minutes int) string {
		t.Helper()
		if _, _, err := f.s.RecordTimeRequest(ctx, number, by, TimeEntry{Duration: time.Duration(minutes) * time.Minute, At: at}, ""); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Duration(minutes) * time.Minute)
		var out []string
		for _, n := range f.mails(t) {
			out = append(out, n.Reason+" "+n.Used+"/"+n.Target)
		}
		return strings.Join(out, ",")
	}
	if got := rec(150); got != "reached 2h30m/2h,reached 2h30m/2h" {
		t.Fatalf("mails %q", got)
	}
	sum, err := f.s.SetTimeBudget(ctx, number, Agent{Name: "Lisa"}, 6*time.Hour, "estimate agreed with Pieter")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Budget != 360 || sum.OwnBudget() != 360 || sum.BudgetState != BudgetOK || !sum.ReachedAt.IsZero() || !sum.WarnedAt.IsZero() {
		t.Errorf("%+v", sum)
	}
	events, _ := f.st.Events(ctx, number)
	if last := events[len(events)-1]; last.From != "Lisa" || last.Text != "time budget set to 6h: estimate agreed with Pieter" {
		t.Errorf("history %+v", last)
	}
	if got := rec(60); got != "" {
		t.Errorf("at 3h30m of 6h: %q", got)
	}
	if got := rec(60); got != "warning 4h30m/6h,warning 4h30m/6h" {
		t.Errorf("at 4h30m of 6h: %q", got)
	}
	if got := rec(90); got != "reached 6h/6h,reached 6h/6h" {
		t.Errorf("at 6h: %q", got)
	}
	// Back to the plan's.
	sum, err = f.s.SetTimeBudget(ctx, number, by, 0, "")
	if err != nil || sum.Budget != 120 || sum.OwnBudget() != 0 || sum.BudgetState != BudgetReached {
		t.Errorf("%+v %v", sum, err)
	}
	for _, d := range []time.Duration{-time.Hour, 90 * time.Second, 1001 * time.Hour} {
		if _, err := f.s.SetTimeBudget(ctx, number, by, d, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", d, err)
		}
	}
}
