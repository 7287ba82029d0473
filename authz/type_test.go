package authz

import (
	"strings"
	"testing"

	"github.com/maildesk/maildesk/config"
)

func TestNearestPriority(t *testing.T) {
	tests := []struct {
		allowed, p, want string
	}{
		{"P1 P2 P3 P4", "P3", "P3"},
		{"P1 P2", "P3", "P2"}, // QiQQ: no Standaard on its own services, Hoog instead
		{"P1 P2", "P4", "P2"}, // further away, still the nearest
		{"P1 P3", "P2", "P1"}, // equally near: the more urgent
		{"P2 P4", "P3", "P2"}, // likewise
		{"P3 P4", "P1", "P3"}, // nothing more urgent: the nearest less urgent
		{"P1 P4", "P2", "P1"}, // one up beats two down
		{"P1 P4", "P3", "P4"}, // one down beats two up
		{"P2", "P1", "P2"},    // a single priority
		{"", "P2", ""},        // nothing allowed: nothing
		{"P4 P1", "P2", "P1"}, // order of the list does not matter
	}
	for _, tt := range tests {
		if got := NearestPriority(strings.Fields(tt.allowed), tt.p); got != tt.want {
			t.Errorf("NearestPriority([%s], %s) = %q, want %q", tt.allowed, tt.p, got, tt.want)
		}
	}
}

// The type's priorities apply after the plan's and the contact's rights.
func TestForType(t *testing.T) {
	no := false
	qiqq := config.Plan{DefaultPriority: "P3", ContactMaxPriority: "P3", DefaultType: "functioneel", Types: map[string]config.SupportType{
		"beheerd":     {Priorities: []string{"P1", "P2"}},
		"functioneel": {},
	}}
	desk := qiqq
	desk.CustomerSetsPriority = &no
	capped, right := &config.Contact{}, &config.Contact{MaxPriority: "P1"}
	tests := []struct {
		name      string
		plan      config.Plan
		typ       string
		contact   *config.Contact
		requested string
		want      Priority
	}{
		{"Standaard on own services: Hoog", qiqq, "beheerd", capped, "P3", Priority{Priority: "P2", Requested: "P3", Reason: ByType}},
		{"nothing asked on own services: Hoog", qiqq, "beheerd", capped, "", Priority{Priority: "P2", Reason: ByType}},
		{"Standaard on functional support stays", qiqq, "functioneel", capped, "P3", Priority{Priority: "P3", Requested: "P3"}},
		{"Direct with the right to it", qiqq, "beheerd", right, "P1", Priority{Priority: "P1", Requested: "P1"}},
		{"Direct above the cap: the cap within the type", qiqq, "beheerd", capped, "P1", Priority{Priority: "P2", Requested: "P1", Reason: ByRights}},
		{"the desk decides: its default moves", desk, "beheerd", capped, "P1", Priority{Priority: "P2", Requested: "P1", Reason: ByPlan}},
		{"built-in type: every priority", qiqq, config.TypeFeatureRequest, capped, "P3", Priority{Priority: "P3", Requested: "P3"}},
		{"plan without types", config.Plan{DefaultPriority: "P4"}, config.TypeIncident, capped, "", Priority{Priority: "P4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ForType(tt.plan, tt.typ, EffectivePriority(tt.plan, tt.contact, tt.requested, "P4"))
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
