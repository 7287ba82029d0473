package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewSectionDefaults(t *testing.T) {
	cfg, ps := parseWith(t, base, nil, nil)
	if ps != nil {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"plans", cfg.Plans, map[string]Plan{"standard": {}}},
		{"authz.domain_notice_interval", cfg.Authz.DomainNoticeInterval, Duration(time.Hour)},
		{"authz.domain_notice_limit", cfg.Authz.DomainNoticeLimit, 10},
		{"authz.rejection_retention", cfg.Authz.RejectionRetention, Duration(90 * 24 * time.Hour)},
		{"authz.require_authentication", cfg.Authz.RequireAuthentication, false},
		{"authz.plus_addressing", cfg.Authz.PlusAddressing, false},
		{"priority.words", cfg.Priority.Words, map[string][]string{
			"P1": {"spoed", "urgent", "storing", "service blocker"},
			"P2": {"hoog", "high"},
		}},
		{"priority.feature_words", cfg.Priority.FeatureWords, []string{"[feature]", "feature request", "functieverzoek", "[functieverzoek]"}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// The defaults are copies: editing one config must not change the next.
	cfg.Priority.Words["P1"][0] = "changed"
	cfg.Priority.FeatureWords[0] = "changed"
	cfg2, _ := parseWith(t, base, nil, nil)
	if cfg2.Priority.Words["P1"][0] != "spoed" || cfg2.Priority.FeatureWords[0] != "[feature]" {
		t.Error("default priority words are shared between configs")
	}
}

func TestNewSectionsGiven(t *testing.T) {
	cfg, ps := parseWith(t, base+`plans:
  standard: {}
  oxineo: {max_contacts: 2, customer_sets_priority: false, default_priority: P2}
authz:
  require_authentication: true
  trusted_authserv_ids: [mx.desk.example]
  plus_addressing: true
  domain_notice_limit: 3
priority:
  words:
    P3: [laag]
  feature_words: []
`, nil, map[string]string{"MAILDESK_AUTHZ_DOMAIN_NOTICE_INTERVAL": "2h"})
	if ps != nil {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	ox := cfg.Plans["oxineo"]
	if len(cfg.Plans) != 2 || ox.MaxContacts != 2 || ox.SetsPriority() || ox.DefaultPriority != "P2" || !cfg.Plans["standard"].SetsPriority() {
		t.Errorf("plans = %+v", cfg.Plans)
	}
	if !cfg.Authz.RequireAuthentication || !cfg.Authz.PlusAddressing || cfg.Authz.DomainNoticeLimit != 3 ||
		cfg.Authz.DomainNoticeInterval != Duration(2*time.Hour) || cfg.Authz.RejectionRetention != Duration(2160*time.Hour) {
		t.Errorf("authz = %+v", cfg.Authz)
	}
	// Given words replace the defaults; an explicit empty list means none.
	if !reflect.DeepEqual(cfg.Priority.Words, map[string][]string{"P3": {"laag"}}) || len(cfg.Priority.FeatureWords) != 0 {
		t.Errorf("priority = %+v", cfg.Priority)
	}
}

func TestNewSectionsValidation(t *testing.T) {
	tests := []struct {
		name   string
		add    string // appended to base
		env    map[string]string
		path   string
		line   int
		reason string
	}{
		{name: "plan name", add: "plans:\n  standard: {}\n  Gold: {}\n", path: "plans.Gold", line: 15, reason: `plan name must be 1 to 63 lower-case letters`},
		{name: "plan max_contacts negative", add: "plans:\n  standard: {max_contacts: -1}\n", path: "plans.standard.max_contacts", line: 14, reason: "must be 0 (no limit) or more (got -1)"},
		{name: "plan default_priority", add: "plans:\n  standard:\n    default_priority: P0\n", path: "plans.standard.default_priority", line: 15, reason: `must be empty or one of P1, P2, P3, P4 (got "P0")`},
		{name: "plan customer_sets_priority type", add: "plans:\n  standard: {customer_sets_priority: sometimes}\n", path: "plans.standard.customer_sets_priority", line: 14, reason: "true or false"},
		{name: "plan unknown key", add: "plans:\n  standard: {max_contact: 2}\n", path: "plans.standard.max_contact", line: 14, reason: `did you mean "max_contacts"?`},
		{name: "authz domain_notice_interval", add: "authz:\n  domain_notice_interval: 0s\n", path: "authz.domain_notice_interval", line: 14, reason: "must be more than 0"},
		{name: "authz domain_notice_limit", add: "authz:\n  domain_notice_limit: 0\n", path: "authz.domain_notice_limit", line: 14, reason: "must be at least 1 (got 0)"},
		{name: "authz rejection_retention", add: "authz:\n  rejection_retention: -1h\n", path: "authz.rejection_retention", line: 14, reason: "must be more than 0"},
		{name: "authz trusted id empty", add: "authz:\n  trusted_authserv_ids: [mx.desk.example, \"\"]\n", path: "authz.trusted_authserv_ids[1]", line: 14, reason: `host name like mx.desk.example (got "")`},
		{name: "authz trusted id not a host", add: "authz:\n  trusted_authserv_ids:\n    - \"mx desk\"\n", path: "authz.trusted_authserv_ids[0]", line: 15, reason: `(got "mx desk")`},
		{name: "authz require_authentication without ids", add: "authz:\n  require_authentication: true\n", path: "authz.require_authentication", line: 14, reason: "needs at least one authz.trusted_authserv_ids"},
		{name: "authz require_authentication by env", env: map[string]string{"MAILDESK_AUTHZ_REQUIRE_AUTHENTICATION": "true"}, path: "authz.require_authentication", reason: "(set by MAILDESK_AUTHZ_REQUIRE_AUTHENTICATION)"},
		{name: "priority unknown key", add: "priority:\n  words:\n    P5: [later]\n", path: "priority.words.P5", line: 15, reason: `must be one of P1, P2, P3, P4 (got "P5")`},
		{name: "priority lower-case key", add: "priority:\n  words:\n    p1: [spoed]\n", path: "priority.words.p1", line: 15, reason: `(got "p1")`},
		{name: "priority empty word", add: "priority:\n  words:\n    P1: [spoed, \" \"]\n", path: "priority.words.P1[1]", line: 15, reason: "must not be empty"},
		{name: "feature word empty", add: "priority:\n  feature_words:\n    - \"\"\n", path: "priority.feature_words[0]", line: 15, reason: "must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := parseWith(t, base+tt.add, nil, tt.env)
			for _, p := range ps {
				if p.Path == tt.path && p.Line == tt.line && strings.Contains(p.Reason, tt.reason) {
					if len(ps) > 1 {
						t.Errorf("one mistake gave more than one problem:\n%v", ps)
					}
					return
				}
			}
			t.Errorf("want problem at line %d, path %q, reason containing %q; got:\n%v", tt.line, tt.path, tt.reason, ps)
		})
	}
}
