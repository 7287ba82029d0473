package escalation

import (
	"context"
	"testing"

	"github.com/maildesk/maildesk/ticket"
)

// A feature request the desk turns into an incident gets the clock it
// would have had from its arrival: the business time since counts.
func TestRestoreFromArrival(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r, err := f.st.Create(ctx, "fr", ticket.New{
		Subject: "[feature] export", Type: ticket.TypeFeatureRequest, Status: ticket.StatusClosed, Priority: "P1",
		Customer: "acme", Contact: "jan@acme.example", Language: "en", MessageID: "fr",
		CreatedAt: at(t, "2026-11-23 09:00"),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := r.Number
	// Still a feature request: nothing to restore.
	if err := f.e.Restore(ctx, n, at(t, "2026-11-23 11:00")); err != nil {
		t.Fatal(err)
	}
	if tk, _ := f.st.Get(ctx, n); tk.SLA != nil {
		t.Fatalf("a feature request got a clock: %+v", tk.SLA)
	}
	if _, err := f.st.Apply(ctx, n, ticket.Change{At: at(t, "2026-11-23 11:00"), Type: ticket.TypeIncident, Status: ticket.StatusInProgress}, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.e.Restore(ctx, n, at(t, "2026-11-23 11:00")); err != nil {
		t.Fatal(err)
	}
	tk, _ := f.st.Get(ctx, n)
	if tk.SLA == nil || !tk.SLA.Arrival.Equal(at(t, "2026-11-23 09:00")) || !tk.SLA.FirstResponseDue.Equal(at(t, "2026-11-23 13:00")) {
		t.Fatalf("restored clock: %+v", tk.SLA)
	}
	if due, _ := f.st.DueNow(ctx, ticket.Breach, at(t, "2026-11-23 13:00"), 10); len(due) != 1 || due[0].Number != n {
		t.Fatalf("breach not scheduled: %v", due)
	}
}
