package workflow

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ticket"
)

// qiqqPlan is QiQQ's table: no Standaard (P3) on its own services.
var qiqqPlan = config.Plan{DefaultPriority: "P3", DefaultType: "functioneel", Types: map[string]config.SupportType{
	"beheerd":     {Priorities: []string{"P1", "P2"}, Names: map[string]string{"nl": "Technische support op door QiQQ geleverde diensten"}},
	"functioneel": {Names: map[string]string{"nl": "Functioneel support", "en": "Functional support"}},
}}

// Issue 15.7: the desk changes a ticket's support type; a priority the
// new type does not have becomes the nearest, with the reason in the
// history and the customer's mail; the clock is re-timed for the type.
func TestSetSupportType(t *testing.T) {
	f := newFixture(t)
	f.s.Clock = restoringClock{f.clock}
	f.s.Plans = map[string]config.Plan{config.DefaultPlan: qiqqPlan}
	ctx := context.Background()
	by := Agent{Name: "Alice"}
	r, err := f.st.Create(ctx, "q1", ticket.New{Subject: "Wachtwoord", Type: "functioneel", Priority: "P3", RequestedPriority: "P3",
		Customer: "acme", Contact: "jan@acme.example", Language: "nl", MessageID: "q1@acme.example",
		CreatedAt: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), Clock: &ticket.Clock{Plan: "standard", Type: "functioneel"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := r.Number

	for _, tt := range []struct {
		c    Change
		want string
	}{
		{Change{Type: "incident"}, `unknown type "incident" for plan "standard" (want one of beheerd, functioneel, feature_request)`},
		{Change{Type: "beheerd", Priority: "P3"}, "type beheerd has no priority P3 (it has P1, P2)"},
		{Change{Priority: "P7"}, `unknown priority "P7"`},
	} {
		if _, err := f.s.Set(ctx, n, by, tt.c, ""); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Set(%+v): %v, want %q", tt.c, err, tt.want)
		}
	}
	if len(f.clock.calls) != 0 || len(f.mails(t)) != 0 {
		t.Fatalf("a refused change did something: %v", f.clock.calls)
	}

	// Own services: no Standaard, so Hoog; the clock is re-timed.
	tk, err := f.s.Set(ctx, n, by, Change{Type: "beheerd"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if tk.Type != "beheerd" || tk.Priority != "P2" || tk.PriorityReason != authz.ByType || tk.Status != ticket.StatusNew {
		t.Fatalf("own services: %s %s %q %s", tk.Type, tk.Priority, tk.PriorityReason, tk.Status)
	}
	if got := strings.Join(f.clock.calls, ","); got != "retype "+n {
		t.Fatalf("clock: %s", got)
	}
	evs, _ := f.st.Events(ctx, n)
	last := evs[len(evs)-1]
	if len(last.Changes) != 2 || last.Changes[0].Field != "type" || last.Changes[1].Field != "priority" ||
		last.Changes[1].Old != "P3" || last.Changes[1].New != "P2" || last.Changes[1].Reason != "type beheerd has no priority P3 (it has P1, P2): the nearest" {
		t.Fatalf("history: %+v", last.Changes)
	}
	ms := f.mails(t)
	if len(ms) != 1 || len(ms[0].Changes) != 2 {
		t.Fatalf("progress mails %+v", ms)
	}
	if c := ms[0].Changes[0]; c.OldLabel != "Functioneel support" || c.NewLabel != "Technische support op door QiQQ geleverde diensten" {
		t.Errorf("type change in the mail: %+v", c)
	}
	if c := ms[0].Changes[1]; c.Why != authz.ByType || c.Reason != "" {
		t.Errorf("priority change in the mail: %+v", c)
	}

	// Back to functional support: what the customer asked for again.
	f.clock.calls = nil
	if tk, err = f.s.Set(ctx, n, by, Change{Type: "functioneel"}, ""); err != nil {
		t.Fatal(err)
	}
	if tk.Priority != "P3" || tk.PriorityReason != "" || strings.Join(f.clock.calls, ",") != "retype "+n {
		t.Fatalf("back to functional support: %s %q, clock %v", tk.Priority, tk.PriorityReason, f.clock.calls)
	}
	// A priority given with the type is taken as given.
	if tk, err = f.s.Set(ctx, n, by, Change{Type: "beheerd", Priority: "P1", Reason: "kassa's liggen plat"}, ""); err != nil {
		t.Fatal(err)
	}
	if tk.Priority != "P1" || tk.PriorityReason != "kassa's liggen plat" {
		t.Fatalf("type and priority: %s %q", tk.Priority, tk.PriorityReason)
	}
	// A feature request has every priority; made one of the plan's types
	// again, its priority follows that type.
	if _, err = f.s.Set(ctx, n, by, Change{Type: ticket.TypeFeatureRequest}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err = f.s.Set(ctx, n, by, Change{Priority: "P3"}, ""); err != nil {
		t.Fatalf("P3 on a feature request: %v", err)
	}
	f.clock.calls = nil
	if tk, err = f.s.Set(ctx, n, by, Change{Type: "beheerd"}, ""); err != nil {
		t.Fatal(err)
	}
	if tk.Status != ticket.StatusInProgress || tk.Priority != "P2" || strings.Join(f.clock.calls, ",") != "restore "+n {
		t.Fatalf("reopened as own services: %s %s, clock %v", tk.Status, tk.Priority, f.clock.calls)
	}
}
