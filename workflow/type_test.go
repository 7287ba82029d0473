package workflow

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/ticket"
)

// restoringClock is a clockLog that also restores clocks.
type restoringClock struct{ *clockLog }

func (c restoringClock) Restore(_ context.Context, n string, _ time.Time) error {
	c.calls = append(c.calls, "restore "+n)
	return nil
}

func (c restoringClock) Retype(_ context.Context, n string, _ time.Time) error {
	c.calls = append(c.calls, "retype "+n)
	return nil
}

// The desk designates feature requests (issue 15 item 2): type
// feature_request closes an incident and stops its clock; type incident
// reopens a closed feature request and restores its clock.
func TestSetType(t *testing.T) {
	f := newFixture(t)
	f.s.Clock = restoringClock{f.clock}
	ctx := context.Background()
	n := f.create(t, "acme", "jan@acme.example")
	by := Agent{Name: "Alice"}

	tk, err := f.s.Set(ctx, n, by, Change{Type: ticket.TypeFeatureRequest}, "")
	if err != nil {
		t.Fatal(err)
	}
	if tk.Type != ticket.TypeFeatureRequest || tk.Status != ticket.StatusClosed {
		t.Fatalf("designated: %s/%s", tk.Type, tk.Status)
	}
	if got := strings.Join(f.clock.calls, ","); got != "pause "+n {
		t.Fatalf("clock: %s", got)
	}
	f.clock.calls = nil

	if _, err := f.s.Set(ctx, n, by, Change{Type: ticket.TypeIncident, Status: ticket.StatusResolved}, ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("reopened as resolved: %v", err)
	}
	if _, err := f.s.Set(ctx, n, by, Change{Type: "question"}, ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown type: %v", err)
	}
	if _, err := f.s.Set(ctx, n, by, Change{Status: ticket.StatusInProgress}, ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a closed feature request reopened without a type change: %v", err)
	}
	tk, err = f.s.Set(ctx, n, by, Change{Type: ticket.TypeIncident, Priority: "P1", Reason: "service blocker"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if tk.Type != ticket.TypeIncident || tk.Status != ticket.StatusInProgress || tk.Priority != "P1" {
		t.Fatalf("made an incident: %s/%s/%s", tk.Type, tk.Status, tk.Priority)
	}
	if got := strings.Join(f.clock.calls, ","); got != "restore "+n {
		t.Fatalf("clock: %s", got)
	}
	evs, err := f.st.Events(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, e := range evs {
		for _, c := range e.Changes {
			fields = append(fields, c.Field+":"+c.Old+">"+c.New)
		}
	}
	want := "type:incident>feature_request,status:new>closed,type:feature_request>incident,status:closed>in_progress,priority:P3>P1"
	if got := strings.Join(fields, ","); got != want {
		t.Fatalf("history %s, want %s", got, want)
	}
	// Reopened as waiting for the customer: restored, then paused.
	if _, err := f.s.Set(ctx, n, by, Change{Type: ticket.TypeFeatureRequest}, ""); err != nil {
		t.Fatal(err)
	}
	f.clock.calls = nil
	if _, err := f.s.Set(ctx, n, by, Change{Type: ticket.TypeIncident, Status: ticket.StatusWaitingCustomer}, ""); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.clock.calls, ","); got != "restore "+n+",pause "+n {
		t.Fatalf("clock: %s", got)
	}
}
