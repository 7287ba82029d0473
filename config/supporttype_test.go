package config

import (
	"slices"
	"strings"
	"testing"
)

// qiqqTypes is QiQQ's table as plans.x: three support types, no
// Standaard on its own services.
const qiqqTypes = `  x:
    calendar: office
    targets: {P1: {first_response: 1h}, P2: {first_response: 1 workday}, P3: {first_response: 3 workdays}}
    default_type: functioneel
    types:
      beheerd:
        names: {nl: Technische support op door QiQQ geleverde diensten, en: Technical support on QiQQ's services}
        priorities: [P1, P2]
        targets: {P1: {first_response: 30m}}
      overig:
        names: {nl: Technische support op overige diensten}
      functioneel:
        names: {nl: Functioneel support}
`

// Issue 15.7: plans declare their support types.
func TestSupportTypes(t *testing.T) {
	cfg, ps := parseWith(t, base+slaSection+qiqqTypes, nil, nil)
	if ps != nil {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	x, std := cfg.Plans["x"], cfg.Plans["standard"]
	if got := strings.Join(x.TypeNames(), ","); got != "beheerd,functioneel,overig,feature_request" {
		t.Errorf("x's types %s", got)
	}
	if got := strings.Join(std.TypeNames(), ","); got != "incident,feature_request" {
		t.Errorf("standard's types %s", got)
	}
	for _, tt := range []struct {
		plan      Plan
		typ       string
		has       bool
		allows    string
		nl, en    string
		clockless bool
	}{
		{x, "beheerd", true, "P1 P2", "Technische support op door QiQQ geleverde diensten", "Technical support on QiQQ's services", false},
		{x, "overig", true, "P1 P2 P3 P4", "Technische support op overige diensten", "Technische support op overige diensten", false},
		{x, "incident", false, "P1 P2 P3 P4", "Incident", "Incident", false},
		{x, "feature_request", true, "P1 P2 P3 P4", "Functieverzoek", "Feature request", true},
		{std, "incident", true, "P1 P2 P3 P4", "Incident", "Incident", false},
		{std, "beheerd", false, "P1 P2 P3 P4", "beheerd", "beheerd", false},
	} {
		if got := tt.plan.HasType(tt.typ); got != tt.has {
			t.Errorf("HasType(%s) = %v", tt.typ, got)
		}
		if got := strings.Join(tt.plan.TypePriorities(tt.typ), " "); got != tt.allows {
			t.Errorf("TypePriorities(%s) = %s, want %s", tt.typ, got, tt.allows)
		}
		if nl, en := tt.plan.TypeName("nl", tt.typ), tt.plan.TypeName("en", tt.typ); nl != tt.nl || en != tt.en {
			t.Errorf("TypeName(%s) = %q / %q, want %q / %q", tt.typ, nl, en, tt.nl, tt.en)
		}
		if HasClock(tt.typ) == tt.clockless {
			t.Errorf("HasClock(%s) = %v", tt.typ, HasClock(tt.typ))
		}
	}
	if x.NewType() != "functioneel" || std.NewType() != TypeIncident {
		t.Errorf("new types %s, %s", x.NewType(), std.NewType())
	}
	if x.TypeAllows("beheerd", "P3") || !x.TypeAllows("beheerd", "P2") {
		t.Error("beheerd allows P3 or not P2")
	}
	for in, want := range map[string]string{"Feature request": "feature_request", " feature-request ": "feature_request", "BEHEERD": "beheerd", "a -_ b": "a_b"} {
		if got := TypeKey(in); got != want {
			t.Errorf("TypeKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSupportTypesValidation(t *testing.T) {
	const head = "  x:\n    calendar: office\n    targets: {P1: {first_response: 1h}}\n"
	tests := []struct {
		name, plan, path, reason string
	}{
		{"default_type missing", "    types: {b: {}, a: {}}\n", "plans.x.default_type", "is required with types: the type a new mail's ticket gets (one of a, b)"},
		{"default_type unknown", "    default_type: c\n    types: {b: {}, a: {}}\n", "plans.x.default_type", `unknown type "c" (types: a, b)`},
		{"default_type without types", "    default_type: beheerd\n", "plans.x.default_type", `unknown type "beheerd": the plan declares no types`},
		{"default_type feature_request", "    default_type: feature_request\n", "plans.x.default_type", "cannot be feature_request"},
		{"feature_request declared", "    default_type: a\n    types: {a: {}, feature_request: {}}\n", "plans.x.types.feature_request", "built in"},
		{"bad type name", "    default_type: Own-Services\n    types: {Own-Services: {}}\n", "plans.x.types.Own-Services", "type name must be"},
		{"unknown language", "    default_type: a\n    types: {a: {names: {de: Eigene}}}\n", "plans.x.types.a.names.de", `language must be nl or en (got "de")`},
		{"empty name", "    default_type: a\n    types: {a: {names: {nl: \" \"}}}\n", "plans.x.types.a.names.nl", "name must not be empty"},
		{"unknown priority", "    default_type: a\n    types: {a: {priorities: [P1, P5]}}\n", "plans.x.types.a.priorities[1]", `must be one of P1, P2, P3, P4 (got "P5")`},
		{"priority twice", "    default_type: a\n    types: {a: {priorities: [P1, P1]}}\n", "plans.x.types.a.priorities[1]", "names P1 twice"},
		{"no priorities", "    default_type: a\n    types: {a: {priorities: []}}\n", "plans.x.types.a.priorities", "must name at least one priority"},
		{"target for a priority the type does not have", "    default_type: a\n    types: {a: {priorities: [P1, P2], targets: {P3: {first_response: 1h}}}}\n",
			"plans.x.types.a.targets.P3", "is a target for a priority the type does not have (priorities: P1, P2)"},
		{"target for an unknown priority", "    default_type: a\n    types: {a: {targets: {P9: {first_response: 1h}}}}\n", "plans.x.types.a.targets.P9", `must be one of P1, P2, P3, P4 (got "P9")`},
		{"empty target", "    default_type: a\n    types: {a: {targets: {P1: {}}}}\n", "plans.x.types.a.targets.P1", "needs first_response, resolution or both"},
		{"unknown key", "    default_type: a\n    types: {a: {prioritys: [P1]}}\n", "plans.x.types.a.prioritys", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := parseWith(t, base+slaSection+head+tt.plan, nil, nil)
			if len(ps) != 1 || ps[0].Path != tt.path || !strings.Contains(ps[0].Reason, tt.reason) || ps[0].Line == 0 {
				t.Errorf("want one problem at %s containing %q; got:\n%v", tt.path, tt.reason, ps)
			}
		})
	}
	// Type targets need the plan's calendar.
	_, ps := parseWith(t, base+slaSection+"  x:\n    default_type: a\n    types: {a: {targets: {P1: {first_response: 1h}}}}\n", nil, nil)
	if !slices.ContainsFunc(ps, func(p Problem) bool {
		return p.Path == "plans.x.types.a.targets" && strings.Contains(p.Reason, "needs the plan's calendar (plans.x.calendar)")
	}) {
		t.Errorf("type targets without a calendar: %v", ps)
	}
}
