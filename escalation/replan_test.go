package escalation

import (
	"maps"
	"testing"

	"github.com/maildesk/maildesk/config"
)

func TestChangedPlans(t *testing.T) {
	before := PlansOf([]config.Customer{{ID: "acme", Plan: "standard"}, {ID: "bolt", Plan: "premium"}, {ID: "gone", Plan: "standard"}})
	tests := []struct {
		name  string
		after []config.Customer
		want  map[string]string
	}{
		{"nothing changed", []config.Customer{{ID: "acme", Plan: "standard"}, {ID: "bolt", Plan: "premium"}, {ID: "gone", Plan: "standard"}}, map[string]string{}},
		{"one moved", []config.Customer{{ID: "acme", Plan: "premium"}, {ID: "bolt", Plan: "premium"}}, map[string]string{"acme": "premium"}},
		{"a new customer is no move", []config.Customer{{ID: "acme", Plan: "standard"}, {ID: "cube", Plan: "premium"}}, map[string]string{}},
	}
	for _, tt := range tests {
		if got := changedPlans(before, PlansOf(tt.after)); !maps.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
