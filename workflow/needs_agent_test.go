package workflow

import (
	"context"
	"testing"

	"github.com/maildesk/maildesk/ticket"
)

// Every agent's action on a ticket marked as needing an agent (a
// customer's reply on a closed feature request) takes the mark away: the
// dashboard's "Needs an agent" list shows what nobody has looked at.
func TestAgentActionClearsNeedsAgent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n := f.create(t, "acme", "jan@acme.example")
	alice := Agent{Name: "Alice"}
	assignee := "Alice"
	for _, act := range []struct {
		name string
		do   func() error
	}{
		{"note", func() error { return f.s.Note(ctx, n, alice, "blijft een functieverzoek") }},
		{"reply", func() error { return f.s.Reply(ctx, n, alice, "Dank u, wij bekijken het.", "", "") }},
		{"set", func() error { _, err := f.s.Set(ctx, n, alice, Change{Assignee: &assignee}, ""); return err }},
	} {
		if _, err := f.st.Apply(ctx, n, ticket.Change{At: f.s.Now(), NeedsAgent: true}, nil); err != nil {
			t.Fatal(err)
		}
		if tk, _ := f.st.Get(ctx, n); tk.NeedsAgentSince == nil {
			t.Fatal("not marked")
		}
		if err := act.do(); err != nil {
			t.Fatalf("%s: %v", act.name, err)
		}
		if tk, _ := f.st.Get(ctx, n); tk.NeedsAgentSince != nil {
			t.Errorf("after the agent's %s: still needs an agent", act.name)
		}
	}
}
