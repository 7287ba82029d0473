package config

import (
	"slices"
	"strings"
	"testing"
)

// desk.agent_domains and desk.reopen_days: defaults, normalisation and
// problems.
func TestAgentDomainsAndReopenDays(t *testing.T) {
	cfg, ps := parseWith(t, base, nil, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	if cfg.Desk.ReopenDays != 14 || len(cfg.Desk.AgentDomains) != 0 {
		t.Fatalf("defaults: reopen_days %d, agent_domains %v", cfg.Desk.ReopenDays, cfg.Desk.AgentDomains)
	}
	withDesk := func(extra string) string {
		return strings.Replace(base, "desk:\n", "desk:\n"+extra, 1)
	}
	cfg, ps = parseWith(t, withDesk("  reopen_days: 0\n  agent_domains: [Desk.Example, Bücher.example.]\n"), nil, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	if cfg.Desk.ReopenDays != 0 || !slices.Equal(cfg.Desk.AgentDomains, []string{"desk.example", "xn--bcher-kva.example"}) {
		t.Fatalf("reopen_days %d, agent_domains %v", cfg.Desk.ReopenDays, cfg.Desk.AgentDomains)
	}
	cfg, ps = parseWith(t, base, nil, map[string]string{"MAILDESK_DESK_REOPEN_DAYS": "30"})
	if ps != nil || cfg.Desk.ReopenDays != 30 {
		t.Fatalf("env override: %v %v", cfg, ps)
	}
	_, ps = parseWith(t, withDesk("  reopen_days: -1\n  agent_domains: [desk.example, localhost, \"a..b\"]\n"), nil, nil)
	var got []string
	for _, p := range ps {
		got = append(got, p.Path+": "+p.Reason)
	}
	slices.Sort(got)
	want := []string{"desk.agent_domains[1]: must be a domain", "desk.agent_domains[2]: must be a host name", "desk.reopen_days: must be 0"}
	if len(got) != len(want) {
		t.Fatalf("problems %q, want %q", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Fatalf("problems %q, want %q", got, want)
		}
	}
}
