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

// desk.agent_mail is off unless opted in, and opting in needs an MTA whose
// authentication results the desk trusts: a From line alone is no proof.
func TestAgentMailOptIn(t *testing.T) {
	withDesk := func(desk, rest string) string {
		return strings.Replace(base, "desk:\n", "desk:\n"+desk, 1) + rest
	}
	cfg, ps := parseWith(t, withDesk("  agents: [{email: eva@desk.example}]\n", ""), nil, nil)
	if ps != nil || cfg.Desk.AgentMail != AgentMailOff {
		t.Fatalf("default: %q %v", cfg.Desk.AgentMail, ps)
	}
	_, ps = parseWith(t, withDesk("  agent_mail: authenticated\n", ""), nil, nil)
	if !hasProblem(ps, "desk.agent_mail", "needs authz.trusted_authserv_ids") {
		t.Errorf("opt-in without a trusted MTA: %v", ps)
	}
	_, ps = parseWith(t, withDesk("  agent_mail: on\n", ""), nil, nil)
	if !hasProblem(ps, "desk.agent_mail", "must be one of off, authenticated") {
		t.Errorf("unknown value: %v", ps)
	}
	cfg, ps = parseWith(t, withDesk("  agent_mail: authenticated\n", "authz:\n  trusted_authserv_ids: [mx.desk.example]\n"), nil, nil)
	if ps != nil || cfg.Desk.AgentMail != AgentMailAuthenticated {
		t.Fatalf("opt-in: %q %v", cfg.Desk.AgentMail, ps)
	}
}
