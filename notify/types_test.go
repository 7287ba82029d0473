package notify

import (
	"strings"
	"testing"
)

// Issue 15.7: the acknowledgement names the support type in the plan's
// words, and says why a priority the type does not have was not given.
func TestRenderAckSupportType(t *testing.T) {
	tests := []struct {
		name, lang       string
		edit             func(n *Notification)
		contains, absent []string
	}{
		{"Standaard on own services nl", "nl", func(n *Notification) {
			n.Priority, n.RequestedPriority, n.PriorityReason = "P2", "P3", "type"
			n.PriorityLabel, n.RequestedPriorityLabel = "Hoog", "Standaard"
			n.TypeLabel = "Technische support op door QiQQ geleverde diensten"
		}, []string{
			"Prioriteit: Hoog\nSoort melding: Technische support op door QiQQ geleverde diensten\n",
			"U vroeg om prioriteit Standaard. Wij hebben de melding prioriteit Hoog gegeven, omdat er voor Technische support op door QiQQ geleverde diensten geen prioriteit Standaard bestaat.",
		}, nil},
		{"en", "en", func(n *Notification) {
			n.Priority, n.RequestedPriority, n.PriorityReason = "P2", "P3", "type"
			n.TypeLabel = "Technical support on QiQQ's services"
		}, []string{
			"Priority: P2\nType: Technical support on QiQQ's services\n",
			"because there is no priority P3 for Technical support on QiQQ's services.",
		}, nil},
		{"nothing asked: no explanation", "nl", func(n *Notification) {
			n.Priority, n.PriorityReason, n.TypeLabel = "P2", "type", "Beheerd"
		}, []string{"Soort melding: Beheerd"}, []string{"U vroeg"}},
		{"plan without types: no type line", "en", func(n *Notification) {
			n.Type, n.Priority = "incident", "P3"
		}, []string{"Priority: P3\n"}, []string{"Type:", "incident"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := ackNote()
			n.Language = tt.lang
			tt.edit(&n)
			back, err := FromFields(fieldsMap(n.Fields()))
			if err != nil || back.TypeLabel != n.TypeLabel {
				t.Fatalf("through the outbox: %+v %v", back, err)
			}
			r, err := Render(testDesk, back)
			if err != nil {
				t.Fatal(err)
			}
			shown := htmlText(t, r.HTML)
			for _, c := range tt.contains {
				if !strings.Contains(r.Text, c) {
					t.Errorf("text lacks %q:\n%s", c, r.Text)
				}
				for _, line := range strings.Split(strings.TrimSpace(c), "\n") {
					if !strings.Contains(shown, line) {
						t.Errorf("HTML lacks %q:\n%s", line, shown)
					}
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(r.Text, a) {
					t.Errorf("text has %q:\n%s", a, r.Text)
				}
			}
		})
	}
}
