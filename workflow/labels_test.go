package workflow

import (
	"context"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
)

// qiqqPlans are QiQQ's words for its priorities (issue 15.9): Dutch only.
var qiqqPlans = map[string]config.Plan{
	config.DefaultPlan: {},
	"qiqq":             {PriorityLabels: map[string]map[string]string{"nl": {"P1": "Direct", "P2": "Hoog", "P3": "Standaard"}}},
}

// Issue 15.9: a progress mail names the priorities in the contract's
// words of the customer's plan, in the recipient's language; a recipient
// whose language the plan has no words for reads the codes.
func TestProgressMailSaysPlanLabels(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	qiqq := &config.Customer{ID: "qiqq", Name: "QiQQ", Plan: "qiqq", Contacts: []config.Contact{
		{Email: "jan@qiqq.example", Name: "Jan", Language: "nl"}, {Email: "ann@qiqq.example", Name: "Ann", Language: "en"}}}
	f.s.Customer = func(id string) *config.Customer {
		if id == qiqq.ID {
			return qiqq
		}
		return nil
	}
	f.s.Plans = qiqqPlans
	n := f.create(t, "qiqq", "jan@qiqq.example", "ann@qiqq.example")
	if _, err := f.s.Set(ctx, n, Agent{Name: "Alice"}, Change{Priority: "P1", Reason: "alles ligt plat"}, ""); err != nil {
		t.Fatal(err)
	}
	ms := f.mails(t)
	if got, want := to(ms), "progress jan@qiqq.example nl, progress ann@qiqq.example en"; got != want {
		t.Fatalf("mails %q, want %q", got, want)
	}
	desk := notify.Desk{ID: "d", Name: "Desk", Address: "desk@desk.example", DefaultLanguage: "en"}
	for i, tt := range []struct{ has, hasnt string }{
		{"Prioriteit: Standaard → Direct", "P1"},
		{"Priority: P3 → P1", "Direct"},
	} {
		if ms[i].PriorityLabel != map[int]string{0: "Direct"}[i] {
			t.Errorf("%s: label %q", ms[i].To, ms[i].PriorityLabel)
		}
		r, err := notify.Render(desk, ms[i])
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r.Text, tt.has) || strings.Contains(r.Text, tt.hasnt) {
			t.Errorf("progress mail to %s should say %q, not %q:\n%s", ms[i].To, tt.has, tt.hasnt, r.Text)
		}
	}
}
