package escalation

import (
	"context"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
)

// Issue 15.9: SLA warnings, breach alerts and the digest name the priority
// in the contract's words of the customer's plan (QiQQ's "Direct"), in
// the alerts' language, not the code.
func TestAlertsSayPlanLabels(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.e.Language = "nl"
	f.e.PlanLabels = map[string]config.Plan{
		"standard": {PriorityLabels: map[string]map[string]string{"nl": {"P1": "Direct", "P2": "Hoog", "P3": "Standaard"}}},
	}
	f.create(t, "m1", "standard", "P1", at(t, "2026-11-23 09:00")) // due 13:00, warn 12:00
	f.create(t, "m2", "standard", "P3", at(t, "2026-11-23 09:00")) // due Wednesday 17:00, warn 11:00
	desk := notify.Desk{ID: "d", Name: "Desk", Address: "desk@desk.example", DefaultLanguage: "en", Location: ams}
	mails := func() []notify.Notification {
		t.Helper()
		msgs, err := f.rdb.XRange(ctx, f.ob.Key(), "-", "+").Result()
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
			f.rdb.XDel(ctx, f.ob.Key(), m.ID)
		}
		return out
	}
	check := func(what string, ns []notify.Notification, kind notify.Kind, has ...string) {
		t.Helper()
		if len(ns) == 0 {
			t.Fatalf("%s: nothing queued", what)
		}
		for _, n := range ns {
			if n.Kind != kind {
				t.Fatalf("%s: queued %s", what, n.Kind)
			}
			r, err := notify.Render(desk, n)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range has {
				if !strings.Contains(r.Text, h) || !strings.Contains(r.HTML, strings.Trim(h, "()")) {
					t.Errorf("%s to %s lacks %q:\n%s", what, n.To, h, r.Text)
				}
			}
			if strings.Contains(r.Text, "P1") || strings.Contains(r.Text, "P3") {
				t.Errorf("%s to %s names a priority code:\n%s", what, n.To, r.Text)
			}
		}
	}
	if _, err := f.e.Sweep(ctx, at(t, "2026-11-23 12:00")); err != nil {
		t.Fatal(err)
	}
	check("warning", mails(), notify.SLAWarning, "Direct")
	if _, err := f.e.Sweep(ctx, at(t, "2026-11-23 13:01")); err != nil {
		t.Fatal(err)
	}
	check("breach", mails(), notify.SLABreach, "Direct")
	if _, err := f.e.Sweep(ctx, at(t, "2026-11-25 11:00")); err != nil {
		t.Fatal(err)
	}
	check("warning", mails(), notify.SLAWarning, "Standaard")
	if n, err := f.e.Digest(ctx, at(t, "2026-11-25 11:30")); err != nil || n != 2 {
		t.Fatalf("digest of %d tickets, %v", n, err)
	}
	check("digest", mails(), notify.Digest, "(Direct)", "(Standaard)")
}
