package config

import (
	"strings"
	"testing"
)

// Issue 15.9: the contract's words for priorities, per language, and
// whether the acknowledgement states the first-response deadline.
func TestPriorityLabels(t *testing.T) {
	cfg, ps := parseWith(t, base+slaSection+`  qiqq:
    priority_labels:
      nl: {P1: Direct, P2: Hoog, P3: Standaard}
      en: {P1: "P1 (Service Blocker)"}
  oxineo:
    ack_states_deadline: false
`, nil, nil)
	if ps != nil {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	q, o := cfg.Plans["qiqq"], cfg.Plans["oxineo"]
	for _, tt := range []struct{ lang, prio, want string }{
		{"nl", "P1", "Direct"}, {"nl", "P3", "Standaard"}, {"nl", "P4", ""},
		{"en", "P1", "P1 (Service Blocker)"}, {"en", "P2", ""}, {"de", "P1", ""},
	} {
		if got := q.PriorityLabel(tt.lang, tt.prio); got != tt.want {
			t.Errorf("qiqq label %s %s = %q, want %q", tt.lang, tt.prio, got, tt.want)
		}
	}
	if !q.StatesDeadline() || o.StatesDeadline() || !cfg.Plans["standard"].StatesDeadline() {
		t.Errorf("StatesDeadline: qiqq %v, oxineo %v (want true, false)", q.StatesDeadline(), o.StatesDeadline())
	}
}

func TestPriorityLabelsValidation(t *testing.T) {
	tests := []struct {
		name, plan, path, reason string
	}{
		{"unknown language", "priority_labels: {de: {P1: Sofort}}", "plans.x.priority_labels.de", `language must be nl or en (got "de")`},
		{"unknown priority", "priority_labels: {nl: {P5: Later}}", "plans.x.priority_labels.nl.P5", `priority must be one of P1, P2, P3, P4 (got "P5")`},
		{"lower-case priority", "priority_labels: {en: {p1: Blocker}}", "plans.x.priority_labels.en.p1", `priority must be one of P1, P2, P3, P4 (got "p1")`},
		{"empty label", `priority_labels: {nl: {P1: " "}}`, "plans.x.priority_labels.nl.P1", "label must not be empty"},
		{"not a bool", "ack_states_deadline: sometimes", "plans.x.ack_states_deadline", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := parseWith(t, base+slaSection+"  x:\n    "+tt.plan+"\n", nil, nil)
			if len(ps) != 1 || ps[0].Path != tt.path || !strings.Contains(ps[0].Reason, tt.reason) || ps[0].Line == 0 {
				t.Errorf("want one problem at %s containing %q; got:\n%v", tt.path, tt.reason, ps)
			}
		})
	}
}

// config.PriorityLabel finds the customer's plan the way every mail and the
// dashboard do: its own plan, else the default plan, also for a customer
// no longer in the directory.
func TestPriorityLabelOfCustomer(t *testing.T) {
	plans := map[string]Plan{
		DefaultPlan: {PriorityLabels: map[string]map[string]string{"en": {"P1": "P1 (Service Blocker)"}}},
		"qiqq":      {PriorityLabels: map[string]map[string]string{"nl": {"P1": "Direct", "P3": "Standaard"}}},
	}
	qiqq, plain := &Customer{ID: "q", Plan: "qiqq"}, &Customer{ID: "p"}
	for _, tt := range []struct {
		c              *Customer
		lang, p, label string
	}{
		{qiqq, "nl", "P1", "Direct"},
		{qiqq, "nl", "P2", ""},
		{qiqq, "en", "P1", ""},
		{qiqq, "nl", "", ""},
		{plain, "en", "P1", "P1 (Service Blocker)"},
		{nil, "en", "P1", "P1 (Service Blocker)"},
		{&Customer{ID: "x", Plan: "gone"}, "nl", "P1", ""},
	} {
		if got := PriorityLabel(plans, tt.c, tt.lang, tt.p); got != tt.label {
			t.Errorf("PriorityLabel(%+v, %s, %s) = %q, want %q", tt.c, tt.lang, tt.p, got, tt.label)
		}
	}
	if got := PriorityLabel(nil, qiqq, "nl", "P1"); got != "" {
		t.Errorf("without plans: %q", got)
	}
}
