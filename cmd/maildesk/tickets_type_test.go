package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/ticket"
)

// `maildesk tickets set NUMBER type=...`: the desk designates feature
// requests (issue 15 item 2). An incident made of a closed feature request
// is reopened with the SLA clock it would have had from its arrival.
func TestTicketsSetType(t *testing.T) {
	c := newContactsDesk(t)
	ctx := context.Background()
	d := c.daemon(&testserver.Buffer{})
	if err := d.refreshDirectory(ctx); err != nil {
		t.Fatal(err)
	}
	arrival := time.Now().Add(-time.Hour).UTC()
	r, err := d.store.Create(ctx, "m1@oxi.example", ticket.New{Subject: "[P1] the feature request form crashes", Type: ticket.TypeFeatureRequest,
		Status: ticket.StatusClosed, Priority: "P3", Customer: "oxi", Contact: "a@oxi.example", MessageID: "m1@oxi.example", CreatedAt: arrival}, nil)
	if err != nil {
		t.Fatal(err)
	}
	set := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(append([]string{"tickets", "set", "--config", c.config, r.Number}, append(args, "--as", "Alice")...), &out, &errOut); code != 0 {
			t.Fatalf("tickets set %v: exit %d %s", args, code, errOut.String())
		}
		return out.String()
	}
	if out := set("type=incident"); !strings.Contains(out, "in_progress, P3, incident") {
		t.Fatalf("output %q", out)
	}
	tk, err := d.store.Get(ctx, r.Number)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Type != ticket.TypeIncident || tk.Status != ticket.StatusInProgress || tk.SLA == nil ||
		!tk.SLA.FirstResponseDue.Equal(arrival.Add(4*time.Hour)) {
		t.Fatalf("made an incident: %s/%s clock %+v", tk.Type, tk.Status, tk.SLA)
	}
	if out := set("type=feature-request"); !strings.Contains(out, "closed, P3, feature_request") {
		t.Fatalf("output %q", out)
	}
	if tk, _ = d.store.Get(ctx, r.Number); tk.SLA == nil || tk.SLA.Running() {
		t.Fatalf("a feature request's clock runs: %+v", tk.SLA)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"tickets", "set", "--config", c.config, r.Number, "type=question"}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "unknown type") {
		t.Fatalf("type=question: exit %d %s", code, errOut.String())
	}
}
