package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/escalation"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/sla"
	"github.com/maildesk/maildesk/ticket"
)

// Issue 15.9 through the real pipeline, SLA clock and Redis: the
// acknowledgement names the priority in the contract's words and states
// the first-response deadline, unless the plan is best effort.
func TestAckStatesDeadlineAndLabel(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	p4h := config.Target("4h")
	off := false
	office := config.Calendar{Hours: map[string][]string{"mon-fri": {"09:00-17:00"}}, Location: ams}
	targets := map[string]config.PlanTarget{"P2": {FirstResponse: p4h}}
	plans := map[string]config.Plan{
		"qiqq": {Calendar: "office", Targets: targets, DefaultPriority: "P2",
			PriorityLabels: map[string]map[string]string{"nl": {"P1": "Direct", "P2": "Hoog", "P3": "Standaard"}, "en": {"P2": "High"}}},
		"oxineo": {Calendar: "office", Targets: targets, DefaultPriority: "P2", AckStatesDeadline: &off},
	}
	sp, err := sla.FromConfig(&config.Config{Calendars: map[string]config.Calendar{"office": office}, Plans: plans})
	if err != nil {
		t.Fatal(err)
	}
	desk := notify.Desk{ID: "d", Name: "Desk", Address: "desk@desk.example", DefaultLanguage: "en", Location: ams}
	// Wednesday 9 December 2026 16:00 in Amsterdam: one hour that day,
	// three the next morning.
	arrival := time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		plan, lang string
		label      string // in the ack's data
		deadline   bool
		contains   []string
		absent     []string
	}{
		{"qiqq", "nl", "Hoog", true, []string{"Prioriteit: Hoog", "U ontvangt uiterlijk donderdag 10 december 2026 om 12:00 een eerste reactie."}, []string{"P2"}},
		{"qiqq", "en", "High", true, []string{"Priority: High", "You will receive a first response by Thursday 10 December 2026 at 12:00."}, []string{"P2"}},
		{"oxineo", "nl", "", false, []string{"Prioriteit: P2"}, []string{"uiterlijk", "eerste reactie"}},
	}
	for i, tt := range tests {
		t.Run(tt.plan+"/"+tt.lang, func(t *testing.T) {
			cu := config.Customer{ID: "acme", Name: "Acme BV", Plan: tt.plan,
				Contacts: []config.Contact{{Email: "jan@acme.example", Name: "Jan", Language: tt.lang, Main: true}}}
			p, store, rdb := newPipeline(t, []config.Customer{cu})
			p.Plans = plans
			p.Clock = &escalation.Escalator{Plans: sp, WarnShare: 0.75}
			p.Now = func() time.Time { return arrival }
			ctx := context.Background()
			raw := "From: Jan <jan@acme.example>\nSubject: Printer broken\nMessage-ID: <l" + string(rune('a'+i)) + "@acme.example>\n\nThe printer is broken.\n"
			res, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{})
			if err != nil || res.Outcome != Processed {
				t.Fatalf("%+v %v", res, err)
			}
			tk, err := store.Get(ctx, res.Ticket)
			if err != nil || tk.SLA == nil || tk.SLA.FirstResponseDue.IsZero() {
				t.Fatalf("ticket %+v %v: no SLA clock", tk, err)
			}
			ns, _ := outboxSince(t, rdb, "0")
			if len(ns) != 1 || ns[0].Kind != notify.Ack {
				t.Fatalf("mails %+v", ns)
			}
			ack := ns[0]
			if ack.PriorityLabel != tt.label {
				t.Errorf("label %q, want %q", ack.PriorityLabel, tt.label)
			}
			if got := !ack.Deadline.IsZero(); got != tt.deadline {
				t.Errorf("ack deadline %v, want stated: %v", ack.Deadline, tt.deadline)
			} else if tt.deadline && (!ack.Deadline.Equal(tk.SLA.FirstResponseDue) || ack.Target != "4h") {
				t.Errorf("ack deadline %v target %q, ticket's %v", ack.Deadline, ack.Target, tk.SLA.FirstResponseDue)
			}
			r, err := notify.Render(desk, ack)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.contains {
				if !strings.Contains(r.Text, c) {
					t.Errorf("ack lacks %q:\n%s", c, r.Text)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(r.Text, a) {
					t.Errorf("ack has %q:\n%s", a, r.Text)
				}
			}
		})
	}
}
