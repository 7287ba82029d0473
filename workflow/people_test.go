package workflow

import (
	"context"
	"testing"
	"time"

	"github.com/maildesk/maildesk/notify"
)

// The export lists the suppression of mail to the person (a bounce or a
// refusal by the relay: the reason names their address and what their
// server said), which erasure deletes: an access request is answered with
// everything erasure would remove. The export left it out.
func TestExportListsSuppression(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ob := notify.NewOutbox(f.rdb, "d")
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	p := &People{Store: f.st, Outbox: ob, Now: func() time.Time { return now }}
	x, err := p.Export(ctx, "jan@acme.example")
	if err != nil || x.Suppression != nil {
		t.Fatalf("export before = %+v, %v", x.Suppression, err)
	}
	if err := ob.Suppress(ctx, "Jan@Acme.example", 48*time.Hour, "bounced: 550 5.1.1 <jan@acme.example> unknown"); err != nil {
		t.Fatal(err)
	}
	x, err = p.Export(ctx, "JAN@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	if s := x.Suppression; s == nil || s.Reason != "bounced: 550 5.1.1 <jan@acme.example> unknown" ||
		s.Until.Before(now.Add(47*time.Hour)) || s.Until.After(now.Add(48*time.Hour)) {
		t.Errorf("export suppression = %+v", s)
	}
	if _, err := p.Erase(ctx, "jan@acme.example", Agent{Name: "Alice"}, "GDPR-2"); err != nil {
		t.Fatal(err)
	}
	if x, err := p.Export(ctx, "jan@acme.example"); err != nil || x.Suppression != nil {
		t.Errorf("export after the erasure = %+v, %v", x.Suppression, err)
	}
}
