package authz

import (
	"testing"

	"github.com/maildesk/maildesk/config"
)

func TestEffectivePriority(t *testing.T) {
	no := false
	open := config.Plan{DefaultPriority: "P3"}
	oxineo := config.Plan{CustomerSetsPriority: &no, DefaultPriority: "P3"}
	capped := &config.Contact{MaxPriority: "P2"}
	qiqq := config.Plan{DefaultPriority: "P3", ContactMaxPriority: "P3"}
	free := &config.Contact{}
	tests := []struct {
		name      string
		plan      config.Plan
		contact   *config.Contact
		requested string
		want      Priority
	}{
		{"nothing asked: plan default", open, free, "", Priority{Priority: "P3"}},
		{"nothing asked: desk default", config.Plan{}, free, "", Priority{Priority: "P4"}},
		{"asked and allowed", open, free, "P1", Priority{Priority: "P1", Requested: "P1"}},
		{"asked less urgent than the cap", open, capped, "P3", Priority{Priority: "P3", Requested: "P3"}},
		{"asked at the cap", open, capped, "P2", Priority{Priority: "P2", Requested: "P2"}},
		{"asked above the cap", open, capped, "P1", Priority{Priority: "P2", Requested: "P1", Reason: ByRights}},
		{"plan: desk decides", oxineo, free, "P1", Priority{Priority: "P3", Requested: "P1", Reason: ByPlan}},
		{"plan: asked the default anyway", oxineo, free, "P3", Priority{Priority: "P3", Requested: "P3"}},
		// QiQQ: urgent priorities are opt-in; a listed right lifts the cap.
		{"opt-in: no right of its own", qiqq, free, "P1", Priority{Priority: "P3", Requested: "P1", Reason: ByRights}},
		{"opt-in: a right above the plan's cap", qiqq, &config.Contact{MaxPriority: "P1"}, "P1", Priority{Priority: "P1", Requested: "P1"}},
		{"opt-in: within the cap", qiqq, free, "P3", Priority{Priority: "P3", Requested: "P3"}},
	}
	for _, tt := range tests {
		if got := EffectivePriority(tt.plan, tt.contact, tt.requested, "P4"); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
