package notify

import (
	"strings"
	"testing"
	"time"
)

// Item 15.9: mails say the contract's words for priorities, and the
// acknowledgement states the first-response deadline in the contact's
// language and the desk's time zone.
func TestRenderPriorityLabelsAndAckDeadline(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	desk := testDesk
	desk.Location = ams
	due := time.Date(2026, 12, 10, 8, 0, 0, 0, time.UTC) // 09:00 in Amsterdam
	progress := func(n *Notification) {
		n.Kind, n.ID = Progress, "SD-1/progress/1"
		n.Changes = []Change{{Field: ChangePriority, Old: "P3", New: "P1", OldLabel: "Standaard", NewLabel: "Direct"}}
	}
	tests := []struct {
		name     string
		edit     func(*Notification)
		contains []string
		absent   []string
	}{
		{"ack nl: label and deadline", func(n *Notification) {
			n.Priority, n.PriorityLabel, n.Deadline, n.Target = "P1", "Direct", due, "4h"
		}, []string{"Prioriteit: Direct", "U ontvangt uiterlijk donderdag 10 december 2026 om 09:00 een eerste reactie."}, []string{"P1"}},
		{"ack en: label and deadline", func(n *Notification) {
			n.Language, n.Priority, n.PriorityLabel, n.Deadline = "en", "P1", "P1 (Service Blocker)", due
		}, []string{"Priority: P1 (Service Blocker)", "You will receive a first response by Thursday 10 December 2026 at 09:00."}, nil},
		{"ack: requested priority labelled", func(n *Notification) {
			n.Priority, n.PriorityLabel, n.RequestedPriority, n.RequestedPriorityLabel, n.PriorityReason = "P3", "Standaard", "P1", "Direct", "rights"
		}, []string{"U vroeg om prioriteit Direct", "prioriteit Standaard gegeven"}, []string{"P1", "P3", "eerste reactie"}},
		{"ack without label or deadline (best effort)", func(n *Notification) { n.Priority = "P2" },
			[]string{"Prioriteit: P2"}, []string{"uiterlijk", "eerste reactie"}},
		{"progress nl: labels", progress, []string{"Standaard", "Direct"}, []string{"P1", "P3"}},
		{"progress without labels", func(n *Notification) {
			progress(n)
			n.Changes[0].OldLabel, n.Changes[0].NewLabel = "", ""
		}, []string{"P3", "P1"}, nil},
		{"sla warning: label", func(n *Notification) {
			n.Kind, n.ID, n.Priority, n.PriorityLabel, n.Deadline, n.Target = SLAWarning, "SD-1/warn", "P1", "Direct", due, "4h"
		}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := ackNote()
			tt.edit(&n)
			r, err := Render(desk, n)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.contains {
				if !strings.Contains(r.Text, c) {
					t.Errorf("text lacks %q:\n%s", c, r.Text)
				}
			}
			if !n.Deadline.IsZero() && n.Kind == Ack && !strings.Contains(r.HTML, "10 ") {
				t.Errorf("HTML lacks the deadline:\n%s", r.HTML)
			}
			for _, a := range tt.absent {
				if strings.Contains(r.Text, a) {
					t.Errorf("text has %q:\n%s", a, r.Text)
				}
			}
		})
	}
}

func TestPriorityLabelsSurviveTheOutbox(t *testing.T) {
	n := ackNote()
	n.Kind, n.Priority, n.PriorityLabel, n.RequestedPriority, n.RequestedPriorityLabel = Ack, "P3", "Standaard", "P1", "Direct"
	n.Deadline = time.Date(2026, 12, 10, 8, 0, 0, 0, time.UTC)
	n.Changes = []Change{{Field: ChangePriority, Old: "P3", New: "P1", OldLabel: "Standaard", NewLabel: "Direct"}}
	got, err := FromFields(fieldsMap(n.Fields()))
	if err != nil {
		t.Fatal(err)
	}
	if got.PriorityLabel != "Standaard" || got.RequestedPriorityLabel != "Direct" || !got.Deadline.Equal(n.Deadline) {
		t.Errorf("got %+v", got)
	}
	if len(got.Changes) != 1 || got.Changes[0].OldLabel != "Standaard" || got.Changes[0].NewLabel != "Direct" {
		t.Errorf("changes = %+v", got.Changes)
	}
}
