package sla

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
)

// typed is QiQQ with support types whose targets differ from the plan's,
// and a Kwikqy-like plan whose Dutch rule falls back to another plan that
// declares a type of the same name.
func typed(t testing.TB) *Plans {
	t.Helper()
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	withZone := func(c config.Calendar) config.Calendar { c.Location = ams; return c }
	english := config.Calendar{Hours: map[string][]string{"mon-fri": {"09:00-22:00"}}}
	cfg := &config.Config{
		Calendars: map[string]config.Calendar{"qiqq": withZone(nlLustrum), "nl": withZone(nlOffice), "english": withZone(english)},
		Plans: map[string]config.Plan{
			"qiqq": {Calendar: "qiqq", Targets: targets(t, "1h", "1 workday", "3 workdays"), DefaultType: "functioneel",
				Types: map[string]config.SupportType{
					"beheerd":     {Priorities: []string{"P1", "P2"}, Targets: targets(t, "30m")},
					"functioneel": {},
				}},
			"standard": {Calendar: "nl", Targets: targets(t, "4h", "8h"), DefaultType: "x",
				Types: map[string]config.SupportType{"x": {Targets: targets(t, "6h")}}},
			"enhanced": {Calendar: "english", Targets: targets(t, "2h", "4h"), DefaultType: "x",
				Types:     map[string]config.SupportType{"x": {Targets: targets(t, "3h")}, "y": {}},
				Languages: map[string]config.LanguageRule{"nl": {Calendar: "nl", Targets: targets(t, "90m", "5h"), OutsideHoursPlan: "standard"}}},
			"plain": {Calendar: "nl", Targets: targets(t, "4h")},
			"none":  {},
		},
	}
	ps, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// The type's target overrides the plan's (and a language rule's) for its
// priorities; other priorities keep the plan's; an outside-hours fallback
// takes the other plan's rules with that plan's type targets.
func TestDueOfType(t *testing.T) {
	ps := typed(t)
	tests := []struct {
		name, plan, typ, prio, lang, at, want, rule string
	}{
		{"type target", "qiqq", "beheerd", "P1", "", "2026-03-02T10:00:00+01:00", "2026-03-02T10:30:00+01:00", `plan "qiqq", type "beheerd"`},
		{"type without a target for the priority: the plan's", "qiqq", "beheerd", "P2", "", "2026-03-06T16:00:00+01:00", "2026-03-09T16:00:00+01:00", `plan "qiqq"`},
		{"type without targets", "qiqq", "functioneel", "P3", "", "2026-04-23T14:00:00+02:00", "2026-04-29T14:00:00+02:00", `plan "qiqq"`},
		{"no type: the plan's", "qiqq", "", "P1", "", "2026-03-02T10:00:00+01:00", "2026-03-02T11:00:00+01:00", `plan "qiqq"`},
		{"type over language", "enhanced", "x", "P1", "nl", "2026-03-02T10:00:00+01:00", "2026-03-02T13:00:00+01:00", `plan "enhanced", language "nl", type "x"`},
		{"language where the type has no target", "enhanced", "x", "P2", "nl", "2026-03-02T10:00:00+01:00", "2026-03-02T15:00:00+01:00", `plan "enhanced", language "nl"`},
		{"language calendar, English", "enhanced", "x", "P1", "en", "2026-03-02T18:00:00+01:00", "2026-03-02T21:00:00+01:00", `plan "enhanced", type "x"`},
		{"outside hours: the fallback plan's type target", "enhanced", "x", "P1", "nl", "2026-03-02T18:00:00+01:00", "2026-03-03T15:00:00+01:00",
			`plan "enhanced", language "nl", arrived outside its opening hours: plan "standard", type "x"`},
		{"outside hours: a type the fallback plan lacks", "enhanced", "y", "P1", "nl", "2026-03-02T18:00:00+01:00", "2026-03-03T13:00:00+01:00",
			`plan "enhanced", language "nl", arrived outside its opening hours: plan "standard"`},
		{"incident on a plan without types", "plain", config.TypeIncident, "P1", "", "2026-03-02T10:00:00+01:00", "2026-03-02T14:00:00+01:00", `plan "plain"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ps.DueOfType(tt.plan, tt.typ, tt.prio, tt.lang, ts(t, tt.at))
			if err != nil {
				t.Fatal(err)
			}
			if got := d.FirstResponse.Format(time.RFC3339); got != tt.want || d.Rule != tt.rule {
				t.Errorf("DueOfType(%s, %q, %s, %q, %s) = %s by %q, want %s by %q", tt.plan, tt.typ, tt.prio, tt.lang, tt.at, got, d.Rule, tt.want, tt.rule)
			}
			// A new priority set later keeps the type: beheerd's P1 after P2.
			if tt.typ == "beheerd" && tt.prio == "P2" {
				re, err := d.Recompute("P1", d.Arrival)
				if err != nil || !re.FirstResponse.Equal(ts(t, "2026-03-06T16:30:00+01:00")) || re.Rule != `plan "qiqq", type "beheerd"` {
					t.Errorf("recomputed as P1: %s by %q, %v", re.FirstResponse, re.Rule, err)
				}
			}
		})
	}
}

func TestDueOfTypeErrors(t *testing.T) {
	ps := typed(t)
	at := ts(t, "2026-03-02T10:00:00+01:00")
	for _, tt := range []struct{ plan, typ, want string }{
		{"qiqq", "incident", `unknown type "incident" for plan "qiqq" (want one of beheerd, functioneel, feature_request)`},
		{"plain", "beheerd", `unknown type "beheerd" for plan "plain" (want one of incident, feature_request)`},
	} {
		_, err := ps.DueOfType(tt.plan, tt.typ, "P1", "", at)
		if !errors.Is(err, ErrUnknownType) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DueOfType(%s, %s): %v, want %q", tt.plan, tt.typ, err, tt.want)
		}
	}
	// Feature requests have no clock on any plan.
	for _, plan := range []string{"qiqq", "plain", "none"} {
		d, err := ps.DueOfType(plan, config.TypeFeatureRequest, "P1", "", at)
		if err != nil || d.Calendar != nil || !d.FirstResponse.IsZero() || !strings.Contains(d.Rule, "no SLA clock") {
			t.Errorf("feature request on %s: %+v %v", plan, d, err)
		}
	}
}
