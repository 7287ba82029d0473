package ingest

import (
	"testing"

	"github.com/maildesk/maildesk/mailparse"
)

func TestRequestedPriority(t *testing.T) {
	rules := PriorityRules{
		Words:        map[string][]string{"P1": {"spoed", "urgent", "storing", "service blocker"}, "P2": {"hoog"}},
		FeatureWords: []string{"[feature]", "feature request", "functieverzoek", "[functieverzoek]"},
	}
	tests := []struct {
		subject string
		header  map[string][]string
		want    string
		feature bool
	}{
		{"Printer kapot", nil, "", false},
		{"[P1] Server down", nil, "P1", false},
		{"Re: [p3] question", nil, "P3", false},
		{"SPOED: mail werkt niet", nil, "P1", false},
		{"Storing bij inloggen", nil, "P1", false},
		{"verstoring? nee, een vraag", nil, "", false},
		{"Service Blocker: checkout fails", nil, "P1", false},
		{"[P4] tag wins over spoed", nil, "P4", false},
		{"vraag", map[string][]string{"X-Priority": {"1 (Highest)"}}, "P2", false},
		{"vraag", map[string][]string{"X-Priority": {"5"}}, "P4", false},
		{"vraag", map[string][]string{"X-Priority": {"3 (Normal)"}}, "", false},
		{"vraag", map[string][]string{"Importance": {"High"}}, "P2", false},
		{"[feature] dark mode", nil, "", true},
		{"Functieverzoek: export naar CSV", nil, "", true},
		{"featured article broken", nil, "", false},
		// Issue 15 item 2: only an explicit marker at the start, never on a P1.
		{"[P1] Service unusable: the feature request form crashes", nil, "P1", false},
		{"Functieverzoek-knop geeft foutmelding", nil, "", false},
		{"The feature request form crashes", nil, "", false},
		{"Feature request form crashes", nil, "", false},
		{"Re: Fwd: [MD-42] Feature request: dark mode", nil, "", true},
		{"Feature request - dark mode", nil, "", true},
		{"[Functieverzoek] export naar CSV", nil, "", true},
		{"[functieverzoek] storing in export", nil, "P1", false},
		{"[feature] dark mode", map[string][]string{"Importance": {"High"}}, "P2", true},
		{"SPOED [feature] dark mode", nil, "P1", false},
		{"[P1] [feature] dark mode", nil, "P1", false},
	}
	for _, tt := range tests {
		m := &mailparse.Message{Subject: tt.subject, Header: tt.header}
		got, src := rules.Requested(m)
		if got != tt.want || (got != "" && src == "") {
			t.Errorf("Requested(%q, %v) = %q (%s), want %q", tt.subject, tt.header, got, src, tt.want)
		}
		if f := rules.IsFeatureRequest(m); f != tt.feature {
			t.Errorf("IsFeatureRequest(%q) = %v, want %v", tt.subject, f, tt.feature)
		}
	}
}
