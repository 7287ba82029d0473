package escalation

import (
	"context"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/sla"
	"github.com/maildesk/maildesk/ticket"
)

// withTypes gives f QiQQ's plan: Direct 1h (30m on its own services),
// Hoog 1 workday, Standaard 3 workdays, no Standaard on its own services.
func withTypes(t *testing.T, f *fixture) {
	t.Helper()
	target := func(s string) config.PlanTarget {
		if _, err := sla.ParseTarget(s); err != nil {
			t.Fatal(err)
		}
		return config.PlanTarget{FirstResponse: config.Target(s)}
	}
	plans, err := sla.FromConfig(&config.Config{
		Calendars: map[string]config.Calendar{"office": {
			Hours: map[string][]string{"mon-fri": {"09:00-17:00"}}, Holidays: "nl", Location: ams}},
		Plans: map[string]config.Plan{
			"qiqq": {Calendar: "office", DefaultType: "functioneel",
				Targets: map[string]config.PlanTarget{"P1": target("1h"), "P2": target("1 workday"), "P3": target("3 workdays")},
				Types: map[string]config.SupportType{
					"beheerd":     {Priorities: []string{"P1", "P2"}, Targets: map[string]config.PlanTarget{"P1": target("30m")}},
					"functioneel": {},
				}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.e.Plans = plans
}

// Issue 15.7: a new type re-times the ticket from its arrival with the new
// type's targets; time the clock stood still does not count.
func TestRetype(t *testing.T) {
	f := newFixture(t)
	withTypes(t, f)
	ctx := context.Background()
	create := func(id, typ, prio string, arrival time.Time) string {
		t.Helper()
		c, err := f.e.Start("qiqq", typ, prio, "nl", arrival)
		if err != nil || c == nil {
			t.Fatalf("start: %v %v", c, err)
		}
		r, err := f.st.Create(ctx, id, ticket.New{Subject: id, Type: typ, Priority: prio, Customer: "acme",
			Contact: "jan@acme.example", MessageID: id, CreatedAt: arrival, Clock: c}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r.Number
	}
	retype := func(n, typ, prio string, at time.Time) *ticket.Clock {
		t.Helper()
		if _, err := f.st.Apply(ctx, n, ticket.Change{At: at, Type: typ, Priority: prio}, nil); err != nil {
			t.Fatal(err)
		}
		if err := f.e.Retype(ctx, n, at); err != nil {
			t.Fatal(err)
		}
		tk, _ := f.st.Get(ctx, n)
		return tk.SLA
	}

	// Monday 10:00, functional support Standaard: Thursday 10:00.
	n := create("a", "functioneel", "P3", at(t, "2026-11-23 10:00"))
	if tk, _ := f.st.Get(ctx, n); !tk.SLA.FirstResponseDue.Equal(at(t, "2026-11-26 10:00")) {
		t.Fatalf("Standaard: %v", tk.SLA.FirstResponseDue)
	}
	// At 11:00 the desk finds it is about a service it manages: Hoog, one
	// workday from the arrival.
	c := retype(n, "beheerd", "P2", at(t, "2026-11-23 11:00"))
	if c.Type != "beheerd" || c.Priority != "P2" || !c.FirstResponseDue.Equal(at(t, "2026-11-24 10:00")) || c.Rule != `plan "qiqq"` {
		t.Fatalf("own services, Hoog: %+v", c)
	}
	// Direct on its own services has a target of its own (30m): overdue
	// since 10:30, as it would have been from the arrival.
	if err := f.e.Reprioritise(ctx, n, "P1", at(t, "2026-11-23 11:00")); err != nil {
		t.Fatal(err)
	}
	tk, _ := f.st.Get(ctx, n)
	if c := tk.SLA; !c.FirstResponseDue.Equal(at(t, "2026-11-23 10:30")) || c.Rule != `plan "qiqq", type "beheerd"` || c.Target != "30m" {
		t.Fatalf("own services, Direct: %+v", c)
	}
	if due, _ := f.st.DueNow(ctx, ticket.Breach, at(t, "2026-11-23 11:00"), 10); len(due) != 1 || due[0].Number != n {
		t.Fatalf("breach not scheduled: %v", due)
	}

	// A clock that stood still two hours (waiting for the customer) keeps
	// those two hours when the type changes.
	m := create("b", "functioneel", "P2", at(t, "2026-11-23 10:00"))
	if err := f.e.Pause(ctx, m, at(t, "2026-11-23 11:00")); err != nil {
		t.Fatal(err)
	}
	if err := f.e.Resume(ctx, m, at(t, "2026-11-23 13:00")); err != nil {
		t.Fatal(err)
	}
	c = retype(m, "beheerd", "P1", at(t, "2026-11-23 13:00"))
	// One business hour used of beheerd's 30m: overdue at once.
	if !c.FirstResponseDue.Before(at(t, "2026-11-23 13:00")) || c.Type != "beheerd" {
		t.Fatalf("paused, then Direct on own services: %+v", c)
	}
	d := create("c", "functioneel", "P3", at(t, "2026-11-23 10:00"))
	if err := f.e.Pause(ctx, d, at(t, "2026-11-23 11:00")); err != nil {
		t.Fatal(err)
	}
	if err := f.e.Resume(ctx, d, at(t, "2026-11-23 13:00")); err != nil {
		t.Fatal(err)
	}
	// One workday counted from where the used hour leaves it: Tuesday 12:00,
	// not 10:00.
	if c = retype(d, "beheerd", "P2", at(t, "2026-11-23 13:00")); !c.FirstResponseDue.Equal(at(t, "2026-11-24 12:00")) {
		t.Fatalf("paused, then Hoog on own services: %v", c.FirstResponseDue)
	}

	// A type the plan no longer has: the plan's own targets, not an error.
	f.e.Plans, _ = sla.FromConfig(&config.Config{
		Calendars: map[string]config.Calendar{"office": {Hours: map[string][]string{"mon-fri": {"09:00-17:00"}}, Location: ams}},
		Plans:     map[string]config.Plan{"qiqq": {Calendar: "office", Targets: map[string]config.PlanTarget{"P1": {FirstResponse: config.Target("1h")}}}},
	})
	if err := f.e.Reprioritise(ctx, n, "P1", at(t, "2026-11-23 11:00")); err != nil {
		t.Fatalf("recomputing a ticket of a removed type: %v", err)
	}
	if tk, _ := f.st.Get(ctx, n); !tk.SLA.FirstResponseDue.Equal(at(t, "2026-11-23 11:00")) {
		t.Fatalf("removed type: %+v", tk.SLA)
	}
}

// A feature request given a support type gets the type's clock from its
// arrival (the Restore path).
func TestRetypeFeatureRequest(t *testing.T) {
	f := newFixture(t)
	withTypes(t, f)
	ctx := context.Background()
	r, err := f.st.Create(ctx, "fr", ticket.New{Subject: "fr", Type: ticket.TypeFeatureRequest, Status: ticket.StatusClosed,
		Priority: "P1", Customer: "qiqq-klant", Contact: "jan@acme.example", MessageID: "fr", CreatedAt: at(t, "2026-11-23 10:00")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.e.Customer = func(string) *config.Customer { return &config.Customer{ID: "qiqq-klant", Plan: "qiqq"} }
	if err := f.e.Retype(ctx, r.Number, at(t, "2026-11-23 11:00")); err != nil {
		t.Fatal(err)
	}
	if tk, _ := f.st.Get(ctx, r.Number); tk.SLA != nil {
		t.Fatalf("a feature request got a clock: %+v", tk.SLA)
	}
	if _, err := f.st.Apply(ctx, r.Number, ticket.Change{At: at(t, "2026-11-23 11:00"), Type: "beheerd", Status: ticket.StatusInProgress}, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.e.Retype(ctx, r.Number, at(t, "2026-11-23 11:00")); err != nil {
		t.Fatal(err)
	}
	tk, _ := f.st.Get(ctx, r.Number)
	if c := tk.SLA; c == nil || c.Type != "beheerd" || !c.FirstResponseDue.Equal(at(t, "2026-11-23 10:30")) {
		t.Fatalf("restored clock: %+v", c)
	}
}
