package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// base is the smallest valid config. Tests edit it by replacing text, so its
// line numbers matter: desk is line 1, imap line 4, smtp line 9,
// contacts_file line 12, and a section appended at the end starts on line 13.
const base = `desk:
  id: acme-it
  address: servicedesk@desk.example
imap:
  address: 127.0.0.1:143
  security: none
  username: servicedesk@desk.example
  password: secret
smtp:
  address: 127.0.0.1:25
  security: none
contacts_file: contacts.yaml
`

const baseContacts = `customers:
  - id: acme
    name: Acme BV
    contacts:
      - {email: Jan@Acme.example, name: Jan Jansen, main: true, language: nl}
      - {email: piet@acme.example, name: Piet Pieters}
`

// testDir makes a directory holding the given files.
func testDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// parseWith parses config with baseContacts (unless files overrides it) and
// returns the config or the problems.
func parseWith(t *testing.T, config string, files, env map[string]string) (*Config, Problems) {
	t.Helper()
	all := map[string]string{"contacts.yaml": baseContacts}
	for k, v := range files {
		all[k] = v
	}
	dir := testDir(t, all)
	cfg, err := Parse([]byte(config), dir, envOf(env))
	if err == nil {
		if cfg == nil {
			t.Fatal("Parse returned neither config nor error")
		}
		return cfg, nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse error is %T, not Problems: %v", err, err)
	}
	if len(ps) == 0 {
		t.Fatal("Parse returned empty Problems")
	}
	return nil, ps
}

func TestMinimalConfigAndDefaults(t *testing.T) {
	cfg, ps := parseWith(t, base, nil, nil)
	if ps != nil {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"desk.language", cfg.Desk.Language, "en"},
		{"desk.timezone", cfg.Desk.Timezone, "UTC"},
		{"desk.Location", cfg.Desk.Location, time.UTC},
		{"desk.default_priority", cfg.Desk.DefaultPriority, "P3"},
		{"desk.notice_interval", cfg.Desk.NoticeInterval, Duration(24 * time.Hour)},
		{"desk.bounce_suppression", cfg.Desk.BounceSuppression, Duration(72 * time.Hour)},
		{"desk.ticket_prefix", cfg.Desk.TicketPrefix, "SD"},
		{"redis.url", cfg.Redis.URL, "redis://127.0.0.1:6379/0"},
		{"imap.security", cfg.IMAP.Security, "none"},
		{"imap.mailbox", cfg.IMAP.Mailbox, "INBOX"},
		{"imap.processed_mailbox", cfg.IMAP.ProcessedMailbox, "Processed"},
		{"imap.rejected_mailbox", cfg.IMAP.RejectedMailbox, "Rejected"},
		{"imap.quarantine_mailbox", cfg.IMAP.QuarantineMailbox, "Quarantine"},
		{"imap.poll_interval", cfg.IMAP.PollInterval, Duration(30 * time.Second)},
		{"imap.command_timeout", cfg.IMAP.CommandTimeout, Duration(60 * time.Second)},
		{"imap.idle_restart", cfg.IMAP.IdleRestart, Duration(25 * time.Minute)},
		{"imap.check_interval", cfg.IMAP.CheckInterval, Duration(30 * time.Second)},
		{"imap.max_message_size", cfg.IMAP.MaxMessageSize, ByteSize(25_000_000)},
		{"imap.batch_size", cfg.IMAP.BatchSize, 100},
		{"imap.password", cfg.IMAP.Password, "secret"},
		{"smtp.timeout", cfg.SMTP.Timeout, Duration(30 * time.Second)},
		{"smtp.data_timeout", cfg.SMTP.DataTimeout, Duration(10 * time.Minute)},
		{"smtp.helo", cfg.SMTP.HELO, "desk.example"},
		{"outbox.workers", cfg.Outbox.Workers, 4},
		{"outbox.resend_uncertain_after", cfg.Outbox.ResendUncertainAfter, Duration(24 * time.Hour)},
		{"http.listen", cfg.HTTP.Listen, "127.0.0.1:8080"},
		{"log.level", cfg.Log.Level, "info"},
		{"log.format", cfg.Log.Format, "auto"},
		{"Path (Parse)", cfg.Path, ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !filepath.IsAbs(cfg.ContactsFile) || filepath.Base(cfg.ContactsFile) != "contacts.yaml" {
		t.Errorf("ContactsFile = %q, want it resolved against dir", cfg.ContactsFile)
	}
}

func TestSecurityDefaultsToTLS(t *testing.T) {
	cfg, ps := parseWith(t, strings.ReplaceAll(base, "  security: none\n", ""), nil, nil)
	if ps != nil {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	if cfg.IMAP.Security != "tls" || cfg.SMTP.Security != "starttls" {
		t.Errorf("security = imap %q, smtp %q; want tls, starttls", cfg.IMAP.Security, cfg.SMTP.Security)
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // replace old by new in base; old "" appends new
		files    map[string]string
		env      map[string]string
		path     string
		line     int
		reason   string
	}{
		// desk
		{name: "desk.id missing", old: "  id: acme-it\n", path: "desk.id", line: 1, reason: "is required"},
		{name: "desk.id colon", old: "id: acme-it", new: "id: acme:it", path: "desk.id", line: 2, reason: "lower-case letters"},
		{name: "desk.id braces", old: "id: acme-it", new: `id: "{acme}"`, path: "desk.id", line: 2, reason: `(got "{acme}")`},
		{name: "desk.id upper", old: "id: acme-it", new: "id: Acme", path: "desk.id", line: 2, reason: "lower-case"},
		{name: "desk.id too long", old: "id: acme-it", new: "id: " + strings.Repeat("a", 64), path: "desk.id", line: 2, reason: "1 to 63"},
		{name: "desk.address missing", old: "  address: servicedesk@desk.example\n", path: "desk.address", line: 1, reason: "is required"},
		{name: "desk.address display name", old: "  address: servicedesk@desk.example", new: `  address: "Desk <servicedesk@desk.example>"`, path: "desk.address", line: 3, reason: "bare e-mail address"},
		{name: "desk.address angle brackets", old: "  address: servicedesk@desk.example", new: `  address: "<servicedesk@desk.example>"`, path: "desk.address", line: 3, reason: "bare"},
		{name: "desk.address invalid", old: "  address: servicedesk@desk.example", new: "  address: servicedesk", path: "desk.address", line: 3, reason: "not a valid e-mail address"},
		{name: "desk.ticket_prefix lower", old: "desk:\n", new: "desk:\n  ticket_prefix: sd\n", path: "desk.ticket_prefix", line: 2, reason: "upper-case"},
		{name: "desk.ticket_prefix too long", old: "desk:\n", new: "desk:\n  ticket_prefix: ABCDEFGHIJK\n", path: "desk.ticket_prefix", line: 2, reason: "at most 9"},
		{name: "desk.ticket_prefix dash", old: "desk:\n", new: "desk:\n  ticket_prefix: S-D\n", path: "desk.ticket_prefix", line: 2, reason: "upper-case"},
		{name: "desk.timezone unknown", old: "desk:\n", new: "desk:\n  timezone: Mars/Olympus\n", path: "desk.timezone", line: 2, reason: `unknown time zone "Mars/Olympus"`},
		{name: "desk.timezone Local", old: "desk:\n", new: "desk:\n  timezone: Local\n", path: "desk.timezone", line: 2, reason: "not Local"},
		{name: "desk.timezone empty", old: "desk:\n", new: "desk:\n  timezone: \"\"\n", path: "desk.timezone", line: 2, reason: "must not be empty"},
		{name: "desk.language", old: "desk:\n", new: "desk:\n  language: de\n", path: "desk.language", line: 2, reason: `must be one of nl, en (got "de")`},
		{name: "desk.default_priority", old: "desk:\n", new: "desk:\n  default_priority: P5\n", path: "desk.default_priority", line: 2, reason: `must be one of P1, P2, P3, P4 (got "P5")`},
		{name: "desk.notice_interval zero", old: "desk:\n", new: "desk:\n  notice_interval: 0s\n", path: "desk.notice_interval", line: 2, reason: "more than 0"},
		{name: "desk.notice_interval negative", old: "desk:\n", new: "desk:\n  notice_interval: -1h\n", path: "desk.notice_interval", line: 2, reason: "more than 0"},
		{name: "desk.bounce_suppression zero", old: "desk:\n", new: "desk:\n  bounce_suppression: 0s\n", path: "desk.bounce_suppression", line: 2, reason: "more than 0"},

		// redis
		{name: "redis.url scheme", new: "redis:\n  url: http://127.0.0.1:6379\n", path: "redis.url", line: 14, reason: `scheme must be one of redis, rediss, unix (got "http")`},
		{name: "redis.url unparseable", new: "redis:\n  url: \"redis://u:p@[::1\"\n", path: "redis.url", line: 14, reason: "not a valid URL"},
		{name: "redis.url no host", new: "redis:\n  url: redis:///0\n", path: "redis.url", line: 14, reason: "no host"},
		{name: "redis.url unix without path", new: "redis:\n  url: \"unix://\"\n", path: "redis.url", line: 14, reason: "no socket path"},

		// imap
		{name: "imap.address no port", old: "127.0.0.1:143", new: "127.0.0.1", path: "imap.address", line: 5, reason: "must be host:port"},
		{name: "imap.address named port", old: "127.0.0.1:143", new: "127.0.0.1:imap", path: "imap.address", line: 5, reason: "port must be a number"},
		{name: "imap.address no host", old: "127.0.0.1:143", new: `":143"`, path: "imap.address", line: 5, reason: "host is missing"},
		{name: "imap.address missing", old: "  address: 127.0.0.1:143\n", path: "imap.address", line: 4, reason: "is required"},
		{name: "imap.security", old: "  security: none\n  username", new: "  security: ssl\n  username", path: "imap.security", line: 6, reason: `must be one of none, starttls, tls (got "ssl")`},
		{name: "imap.username missing", old: "  username: servicedesk@desk.example\n", path: "imap.username", line: 4, reason: "is required"},
		{name: "imap password and password_file", old: "imap:\n", new: "imap:\n  password_file: secret.txt\n", files: map[string]string{"secret.txt": "x"}, path: "imap.password_file", line: 5, reason: "not both"},
		{name: "imap no password", old: "  password: secret\n", path: "imap.password", line: 4, reason: "is required (or password_file)"},
		{name: "imap password_file missing", old: "  password: secret\n", new: "  password_file: nope.txt\n", path: "imap.password_file", line: 8, reason: "cannot read"},
		{name: "imap password_file empty", old: "  password: secret\n", new: "  password_file: empty.txt\n", files: map[string]string{"empty.txt": "\n"}, path: "imap.password_file", line: 8, reason: "is empty"},
		{name: "imap.mailbox empty", old: "imap:\n", new: "imap:\n  mailbox: \"\"\n", path: "imap.mailbox", line: 5, reason: "must not be empty"},
		{name: "imap.rejected_mailbox same as processed", old: "imap:\n", new: "imap:\n  processed_mailbox: Done\n  rejected_mailbox: done\n", path: "imap.rejected_mailbox", line: 6, reason: `is the same mailbox as imap.processed_mailbox ("Done")`},
		{name: "imap.quarantine_mailbox same as INBOX", old: "imap:\n", new: "imap:\n  quarantine_mailbox: inbox\n", path: "imap.quarantine_mailbox", line: 5, reason: "same mailbox as imap.mailbox"},
		{name: "imap.poll_interval short", old: "imap:\n", new: "imap:\n  poll_interval: 500ms\n", path: "imap.poll_interval", line: 5, reason: "must be at least 1s (got 500ms)"},
		{name: "imap.command_timeout zero", old: "imap:\n", new: "imap:\n  command_timeout: 0s\n", path: "imap.command_timeout", line: 5, reason: "at least 1s"},
		{name: "imap.idle_restart long", old: "imap:\n", new: "imap:\n  idle_restart: 30m\n", path: "imap.idle_restart", line: 5, reason: "between 1m and 29m (got 30m0s)"},
		{name: "imap.idle_restart short", old: "imap:\n", new: "imap:\n  idle_restart: 30s\n", path: "imap.idle_restart", line: 5, reason: "between 1m and 29m"},
		{name: "imap.check_interval short", old: "imap:\n", new: "imap:\n  check_interval: 500ms\n", path: "imap.check_interval", line: 5, reason: "between 1s and 5m (got 500ms)"},
		{name: "imap.check_interval long", old: "imap:\n", new: "imap:\n  check_interval: 10m\n", path: "imap.check_interval", line: 5, reason: "between 1s and 5m"},
		{name: "imap.max_message_size small", old: "imap:\n", new: "imap:\n  max_message_size: 999\n", path: "imap.max_message_size", line: 5, reason: "at least 1KB (got 999B)"},
		{name: "imap.batch_size zero", old: "imap:\n", new: "imap:\n  batch_size: 0\n", path: "imap.batch_size", line: 5, reason: "between 1 and 10000 (got 0)"},
		{name: "imap.batch_size large", old: "imap:\n", new: "imap:\n  batch_size: 10001\n", path: "imap.batch_size", line: 5, reason: "between 1 and 10000"},

		// smtp
		{name: "smtp.data_timeout zero", old: "smtp:\n", new: "smtp:\n  data_timeout: 0s\n", path: "smtp.data_timeout", line: 10, reason: "at least 1s"},
		{name: "outbox.workers zero", old: "imap:\n", new: "outbox:\n  workers: 0\nimap:\n", path: "outbox.workers", line: 5, reason: "between 1 and 64 (got 0)"},
		{name: "outbox.resend_uncertain_after short", old: "imap:\n", new: "outbox:\n  resend_uncertain_after: 10ms\nimap:\n", path: "outbox.resend_uncertain_after", line: 5, reason: "at least 1s"},
		{name: "smtp.address no host", old: "127.0.0.1:25", new: `":25"`, path: "smtp.address", line: 10, reason: "host is missing"},
		{name: "smtp.address port 0", old: "127.0.0.1:25", new: "127.0.0.1:0", path: "smtp.address", line: 10, reason: "1 to 65535"},
		{name: "smtp.address port too big", old: "127.0.0.1:25", new: "127.0.0.1:70000", path: "smtp.address", line: 10, reason: "1 to 65535"},
		{name: "smtp.address missing", old: "  address: 127.0.0.1:25\n", path: "smtp.address", line: 9, reason: "is required"},
		{name: "smtp.security", old: "  security: none\ncontacts", new: "  security: ssl\ncontacts", path: "smtp.security", line: 11, reason: `must be one of none, starttls, tls (got "ssl")`},
		{name: "smtp password without username", old: "smtp:\n", new: "smtp:\n  password: pw\n", path: "smtp.username", line: 9, reason: "required when a password is set"},
		{name: "smtp password_file without username", old: "smtp:\n", new: "smtp:\n  password_file: pw.txt\n", files: map[string]string{"pw.txt": "pw\n"}, path: "smtp.username", line: 9, reason: "required when a password is set"},
		{name: "smtp password and password_file", old: "smtp:\n", new: "smtp:\n  username: u\n  password: pw\n  password_file: pw.txt\n", files: map[string]string{"pw.txt": "pw"}, path: "smtp.password_file", line: 12, reason: "not both"},
		{name: "smtp password_file missing", old: "smtp:\n", new: "smtp:\n  username: u\n  password_file: nope.txt\n", path: "smtp.password_file", line: 11, reason: "cannot read"},
		{name: "smtp.timeout", old: "smtp:\n", new: "smtp:\n  timeout: 100ms\n", path: "smtp.timeout", line: 10, reason: "at least 1s"},
		{name: "smtp.helo", old: "smtp:\n", new: "smtp:\n  helo: bad helo\n", path: "smtp.helo", line: 10, reason: "host name"},

		// http, log, contacts_file
		{name: "http.listen no port", new: "http:\n  listen: \"8080\"\n", path: "http.listen", line: 14, reason: "must be host:port"},
		{name: "log.level", new: "log:\n  level: verbose\n", path: "log.level", line: 14, reason: `must be one of debug, info, warn, error (got "verbose")`},
		{name: "log.format", new: "log:\n  format: xml\n", path: "log.format", line: 14, reason: `must be one of auto, json, text (got "xml")`},
		{name: "contacts_file missing", old: "contacts_file: contacts.yaml\n", path: "contacts_file", line: 1, reason: "is required"},

		// what the yaml decoder finds
		{name: "unknown key", old: "imap:\n", new: "imap:\n  pasword: x\n", path: "imap.pasword", line: 5, reason: `unknown field "pasword" (did you mean "password"?)`},
		{name: "unknown section", new: "smpt:\n  address: x\n", path: "smpt", line: 13, reason: `unknown field "smpt" (did you mean "smtp"?)`},
		{name: "unknown key no suggestion", old: "desk:\n", new: "desk:\n  colour: blue\n", path: "desk.colour", line: 2, reason: `unknown field "colour"`},
		{name: "duration type", old: "imap:\n", new: "imap:\n  poll_interval: soon\n", path: "imap.poll_interval", line: 5, reason: `must be a duration like 30s, 5m or 24h (got "soon")`},
		{name: "duration list", old: "imap:\n", new: "imap:\n  poll_interval: [1s]\n", path: "imap.poll_interval", line: 5, reason: "(got a list)"},
		{name: "size type", old: "imap:\n", new: "imap:\n  max_message_size: huge\n", path: "imap.max_message_size", line: 5, reason: "must be a size"},
		{name: "int type", old: "imap:\n", new: "imap:\n  batch_size: many\n", path: "imap.batch_size", line: 5, reason: `must be a whole number (got "many")`},
		{name: "bool type", old: "imap:\n", new: "imap:\n  tls_skip_verify: maybe\n", path: "imap.tls_skip_verify", line: 5, reason: `must be true or false (got "maybe")`},
		{name: "string given a list", old: "  username: servicedesk@desk.example", new: "  username: [a, b]", path: "imap.username", line: 7, reason: "must be a single value (got a list)"},
		{name: "section given a scalar", new: "http: 8080\n", path: "http", line: 13, reason: `must be a mapping (got "8080")`},
		{name: "duplicate key", old: "imap:\n", new: "imap:\n  security: tls\n", path: "imap.security", line: 7, reason: "already defined at line 5"},
		{name: "syntax error", old: "imap:\n", new: "imap:\n  - x\n", line: 4, reason: "invalid YAML"},
		{name: "second document", new: "---\ndesk: {}\n", line: 13, reason: "only one YAML document"},

		// environment
		{name: "env bad duration", env: map[string]string{"MAILDESK_IMAP_POLL_INTERVAL": "soon"}, path: "env MAILDESK_IMAP_POLL_INTERVAL", reason: `must be a duration like 30s, 5m or 24h (got "soon")`},
		{name: "env bad int", env: map[string]string{"MAILDESK_IMAP_BATCH_SIZE": "x"}, path: "env MAILDESK_IMAP_BATCH_SIZE", reason: "whole number"},
		{name: "env bad bool", env: map[string]string{"MAILDESK_SMTP_TLS_SKIP_VERIFY": "maybe"}, path: "env MAILDESK_SMTP_TLS_SKIP_VERIFY", reason: "true or false"},
		{name: "env bad size", env: map[string]string{"MAILDESK_IMAP_MAX_MESSAGE_SIZE": "1 lots"}, path: "env MAILDESK_IMAP_MAX_MESSAGE_SIZE", reason: "must be a size"},
		{name: "env invalid value", env: map[string]string{"MAILDESK_IMAP_SECURITY": "ssl"}, path: "imap.security", reason: `(got "ssl") (set by MAILDESK_IMAP_SECURITY)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := base + tt.new
			if tt.old != "" {
				if !strings.Contains(base, tt.old) {
					t.Fatalf("base has no %q", tt.old)
				}
				config = strings.Replace(base, tt.old, tt.new, 1)
			}
			_, ps := parseWith(t, config, tt.files, tt.env)
			for _, p := range ps {
				if p.Path == tt.path && p.Line == tt.line && strings.Contains(p.Reason, tt.reason) {
					if p.File != "" {
						t.Errorf("File = %q, want empty for Parse", p.File)
					}
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

func TestManyProblemsAtOnce(t *testing.T) {
	config := `desk:
  id: "Acme IT"
  address: nobody
  language: fr
imap:
  address: localhost
  security: ssl
  pasword: secret
  poll_interval: soon
smtp:
  security: none
`
	_, ps := parseWith(t, config, nil, nil)
	want := []struct {
		line int
		path string
	}{
		{2, "desk.id"},
		{3, "desk.address"},
		{4, "desk.language"},
		{5, "imap.username"},
		{5, "imap.password"},
		{6, "imap.address"},
		{7, "imap.security"},
		{8, "imap.pasword"},
		{9, "imap.poll_interval"},
		{10, "smtp.address"},
		{1, "contacts_file"},
	}
	for _, w := range want {
		found := false
		for _, p := range ps {
			found = found || p.Line == w.line && p.Path == w.path
		}
		if !found {
			t.Errorf("no problem at line %d, %s", w.line, w.path)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ps), len(want), ps)
	}
	for i := 1; i < len(ps); i++ {
		if ps[i].Line < ps[i-1].Line {
			t.Errorf("problems not in line order:\n%v", ps)
			break
		}
	}
	if n := strings.Count(ps.Error(), "\n") + 1; n != len(ps) {
		t.Errorf("Error() has %d lines for %d problems", n, len(ps))
	}
}

func TestEmptyConfig(t *testing.T) {
	for _, doc := range []string{"", "# nothing\n", "{}\n", "~\n"} {
		_, ps := parseWith(t, doc, nil, nil)
		want := map[string]bool{"desk.id": true, "desk.address": true, "imap.address": true, "imap.username": true, "imap.password": true, "smtp.address": true, "contacts_file": true}
		for _, p := range ps {
			if !want[p.Path] {
				t.Errorf("%q: unexpected problem %v", doc, p)
			}
			delete(want, p.Path)
		}
		if len(want) > 0 {
			t.Errorf("%q: missing problems for %v", doc, want)
		}
	}
}

func TestRootNotAMapping(t *testing.T) {
	_, ps := parseWith(t, "- desk\n- imap\n", nil, nil)
	if len(ps) != 1 || !strings.Contains(ps[0].Reason, "must be a mapping (got a list)") || ps[0].Line != 1 {
		t.Errorf("got:\n%v", ps)
	}
}

func TestEnvOverrides(t *testing.T) {
	dir := testDir(t, map[string]string{"contacts.yaml": baseContacts, "other/contacts.yaml": "customers: []\n"})
	env := map[string]string{
		"MAILDESK_DESK_ID":               "other-desk",
		"MAILDESK_REDIS_URL":             "rediss://:pw@redis.example:6380/2",
		"MAILDESK_IMAP_BATCH_SIZE":       "500",
		"MAILDESK_IMAP_POLL_INTERVAL":    "2m",
		"MAILDESK_IMAP_MAX_MESSAGE_SIZE": "10MiB",
		"MAILDESK_IMAP_TLS_SKIP_VERIFY":  "true",
		"MAILDESK_IMAP_PASSWORD":         "from-env",
		"MAILDESK_HTTP_LISTEN":           "", // set but empty: HTTP off
		"MAILDESK_CONTACTS_FILE":         "other/contacts.yaml",
		"MAILDESK_SMTP_HELO":             "mx.desk.example",
	}
	config := strings.Replace(base, "  password: secret\n", "  password_file: /nonexistent/secret\n", 1)
	cfg, err := Parse([]byte(config), dir, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"desk.id", cfg.Desk.ID, "other-desk"},
		{"redis.url", cfg.Redis.URL, "rediss://:pw@redis.example:6380/2"},
		{"imap.batch_size", cfg.IMAP.BatchSize, 500},
		{"imap.poll_interval", cfg.IMAP.PollInterval, Duration(2 * time.Minute)},
		{"imap.max_message_size", cfg.IMAP.MaxMessageSize, ByteSize(10 << 20)},
		{"imap.tls_skip_verify", cfg.IMAP.TLSSkipVerify, true},
		// The environment's password replaces the file's password_file.
		{"imap.password", cfg.IMAP.Password, "from-env"},
		{"imap.password_file", cfg.IMAP.PasswordFile, ""},
		{"http.listen", cfg.HTTP.Listen, ""},
		{"contacts_file", cfg.ContactsFile, filepath.Join(dir, "other/contacts.yaml")},
		{"smtp.helo", cfg.SMTP.HELO, "mx.desk.example"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestEnvPasswordFileReplacesPassword(t *testing.T) {
	dir := testDir(t, map[string]string{"contacts.yaml": baseContacts, "s/imap": "hunter2\r\n"})
	cfg, err := Parse([]byte(base), dir, envOf(map[string]string{"MAILDESK_IMAP_PASSWORD_FILE": "s/imap"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.IMAP.Password != "hunter2" || cfg.IMAP.PasswordFile != filepath.Join(dir, "s/imap") {
		t.Errorf("password %q from %q", cfg.IMAP.Password, cfg.IMAP.PasswordFile)
	}
}

func TestExplicitEmptyListenDisablesHTTP(t *testing.T) {
	cfg, ps := parseWith(t, base+"http:\n  listen: \"\"\n", nil, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	if cfg.HTTP.Listen != "" {
		t.Errorf("listen = %q, want empty", cfg.HTTP.Listen)
	}
	// A null value is as good as leaving the key out.
	cfg, ps = parseWith(t, base+"http:\n  listen:\n", nil, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	if cfg.HTTP.Listen != "127.0.0.1:8080" {
		t.Errorf("listen = %q, want the default", cfg.HTTP.Listen)
	}
}

func TestPasswordFileRelative(t *testing.T) {
	config := strings.Replace(base, "  password: secret\n", "  password_file: secrets/imap\n", 1)
	config = strings.Replace(config, "smtp:\n", "smtp:\n  username: u\n  password_file: secrets/smtp\n", 1)
	cfg, ps := parseWith(t, config, map[string]string{
		"secrets/imap": "imap secret\n",
		"secrets/smtp": "smtp secret",
	}, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	if cfg.IMAP.Password != "imap secret" || cfg.SMTP.Password != "smtp secret" {
		t.Errorf("passwords = %q, %q", cfg.IMAP.Password, cfg.SMTP.Password)
	}
	if !filepath.IsAbs(cfg.IMAP.PasswordFile) || !strings.HasSuffix(cfg.IMAP.PasswordFile, filepath.Join("secrets", "imap")) {
		t.Errorf("PasswordFile = %q, want resolved against the config's directory", cfg.IMAP.PasswordFile)
	}
}

func TestLoad(t *testing.T) {
	dir := testDir(t, map[string]string{
		"etc/maildesk.yaml": strings.Replace(base, "  password: secret\n", "  password_file: imap.secret\n", 1),
		"etc/imap.secret":   "s3cret\n",
		"etc/contacts.yaml": baseContacts,
	})
	cfg, err := Load(filepath.Join(dir, "etc/maildesk.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path != filepath.Join(dir, "etc/maildesk.yaml") || cfg.IMAP.Password != "s3cret" || cfg.ContactsFile != filepath.Join(dir, "etc/contacts.yaml") {
		t.Errorf("Path %q, password %q, contacts file %q", cfg.Path, cfg.IMAP.Password, cfg.ContactsFile)
	}
}

// Load returns the config as far as it could read it along with its
// problems, so that the checks other packages own (configload) still run;
// none when the file is not YAML.
func TestLoadReturnsConfigWithProblems(t *testing.T) {
	dir := testDir(t, nil)
	cfg, err := Parse([]byte(strings.Replace(base, "security: none\n  username", "security: ssl\n  username", 1)), dir, envOf(nil))
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || cfg == nil || cfg.Desk.ID != "acme-it" || cfg.ContactsFile != filepath.Join(dir, "contacts.yaml") || cfg.ContactsFileGiven != "contacts.yaml" {
		t.Errorf("cfg %v, err %v", cfg, err)
	}
	if cfg, err := Parse([]byte("desk: [\n"), dir, envOf(nil)); cfg != nil || !errors.As(err, &ps) {
		t.Errorf("not YAML: cfg %v, err %v", cfg, err)
	}
}

// The Reporter of a loaded config reports at the lines of the config file,
// and names the environment variable of a value set by one.
func TestConfigReporter(t *testing.T) {
	cfg, err := Load(filepath.Join(testDir(t, map[string]string{"maildesk.yaml": base}), "maildesk.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ps Problems
	cfg.Reporter(&ps).Add("smtp.security", "x")
	cfg.Reporter(&ps).Addf("contacts_file", "%s", "y")
	if len(ps) != 2 || !strings.HasSuffix(ps[0].String(), "maildesk.yaml:11: smtp.security: x") || ps[1].Line != 12 {
		t.Errorf("got:\n%v", ps)
	}
	cfg, err = Parse([]byte(base), t.TempDir(), envOf(map[string]string{"MAILDESK_CONTACTS_FILE": "c.yaml"}))
	if err != nil {
		t.Fatal(err)
	}
	ps = nil
	cfg.Reporter(&ps).Add("contacts_file", "cannot read")
	if ps.Error() != "contacts_file: cannot read (set by MAILDESK_CONTACTS_FILE)" {
		t.Errorf("got %v", ps)
	}
	ps = nil
	(&Config{}).Reporter(&ps).Add("desk.id", "z")
	if ps.Error() != "desk.id: z" {
		t.Errorf("a config not from a file: %v", ps)
	}
}

func TestLoadUnreadable(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
	if errors.As(err, new(Problems)) {
		t.Errorf("an unreadable file is not a config problem: %v", err)
	}
	if err != nil && !strings.Contains(err.Error(), "reading config file") {
		t.Errorf("err = %v, want it to say what was being read", err)
	}
}

func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("../deploy/examples/maildesk.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "imap-password")
	if err := os.WriteFile(secret, []byte("example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data, "../deploy/examples", envOf(map[string]string{"MAILDESK_IMAP_PASSWORD_FILE": secret}))
	if err != nil {
		t.Fatalf("example config has problems:\n%v", err)
	}
	if cfg.IMAP.Security != "tls" || cfg.SMTP.Security != "starttls" || cfg.IMAP.Password != "example" {
		t.Errorf("unexpected example config: %+v", cfg.Redacted())
	}
	if cfg.Desk.Location.String() != "Europe/Amsterdam" {
		t.Errorf("Location = %v", cfg.Desk.Location)
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{"config.yaml", 12, "imap.security", `must be one of none, starttls, tls (got "ssl")`}, `config.yaml:12: imap.security: must be one of none, starttls, tls (got "ssl")`},
		{Problem{"config.yaml", 0, "imap", "x"}, "config.yaml: imap: x"},
		{Problem{"", 3, "desk.id", "x"}, "line 3: desk.id: x"},
		{Problem{"", 0, "env MAILDESK_X", "x"}, "env MAILDESK_X: x"},
		{Problem{"c.yaml", 2, "", "invalid YAML: y"}, "c.yaml:2: invalid YAML: y"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestRedacted(t *testing.T) {
	cfg, ps := parseWith(t, strings.Replace(base, "smtp:\n", "smtp:\n  username: u\n  password: smtp-pw\n", 1)+
		"redis:\n  url: redis://user:redis-pw@127.0.0.1:6379/0\n", nil, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	// The customers are the contacts file's, which package authz reads.
	var cf ContactsFile
	if err := yaml.Unmarshal([]byte(baseContacts), &cf); err != nil {
		t.Fatal(err)
	}
	cfg.Customers = cf.Customers
	r := cfg.Redacted()
	out, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"smtp-pw", "redis-pw"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("redacted config contains %q:\n%s", secret, out)
		}
	}
	// The IMAP password is "secret", which is also part of key names
	// (oauth2.client_secret_file): look for it as a value.
	if regexp.MustCompile(`(?m):.*\bsecret\b`).Match(out) {
		t.Errorf("redacted config contains the IMAP password:\n%s", out)
	}
	if r.IMAP.Password != "***" || r.SMTP.Password != "***" || !strings.Contains(r.Redis.URL, "user:***@") {
		t.Errorf("redacted: %q %q %q", r.IMAP.Password, r.SMTP.Password, r.Redis.URL)
	}
	if cfg.IMAP.Password != "secret" || cfg.SMTP.Password != "smtp-pw" {
		t.Error("Redacted changed the original")
	}
	r.Customers[0].Contacts[0].Name = "changed"
	if cfg.Customers[0].Contacts[0].Name == "changed" {
		t.Error("Redacted shares contacts with the original")
	}
	if !strings.Contains(string(out), "poll_interval: 30s") || !strings.Contains(string(out), "max_message_size: 25MB") {
		t.Errorf("durations and sizes should marshal as text:\n%s", out)
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		wantErr bool
	}{
		{"0", 0, false},
		{"1024", 1024, false},
		{"1B", 1, false},
		{"25MB", 25_000_000, false},
		{"25mb", 25_000_000, false},
		{"25 MB", 25_000_000, false},
		{" 512KiB ", 512 << 10, false},
		{"1kb", 1000, false},
		{"2GiB", 2 << 30, false},
		{"3GB", 3_000_000_000, false},
		{"1TiB", 1 << 40, false},
		{"1TB", 1e12, false},
		{"8EiB", 0, true}, // unknown unit
		{"9223372036854775807", 1<<63 - 1, false},
		{"9223372036854775808", 0, true},
		{"9000000TB", 9e18, false},
		{"10000000TB", 0, true},
		{"", 0, true},
		{"MB", 0, true},
		{"B", 0, true},
		{"-1", 0, true},
		{"+1", 0, true},
		{"1.5MB", 0, true},
		{"10 M", 0, true},
		{"10XB", 0, true},
		{"1 0", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestUnitsRoundTrip(t *testing.T) {
	for _, b := range []ByteSize{0, 1, 999, 1000, 1024, 25_000_000, 25 << 20, 1<<40 + 1, 3 * 1e12} {
		got, err := ParseByteSize(b.String())
		if err != nil || got != b {
			t.Errorf("%d -> %q -> %d, %v", b, b.String(), got, err)
		}
	}
	type units struct {
		D Duration `yaml:"d"`
		S ByteSize `yaml:"s"`
	}
	in := units{Duration(90 * time.Second), ByteSize(512 << 10)}
	out, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "d: 1m30s\ns: 512KiB\n" {
		t.Errorf("marshalled %q", out)
	}
	var back units
	if err := yaml.Unmarshal(out, &back); err != nil || back != in {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

// Every default must be a valid value of its field, or applyDefaults panics.
func TestDefaultsAreSettable(t *testing.T) {
	var cfg Config
	leaves := map[string]bool{}
	forEachLeaf(reflect.ValueOf(&cfg).Elem(), "", func(path string, _ reflect.Value) { leaves[path] = true })
	for _, d := range defaults {
		if !leaves[d.path] {
			t.Errorf("default for unknown key %s", d.path)
		}
	}
}

// FuzzParse: the config file is written by hand, so no input may panic, and
// every failure must be Problems.
func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(base + "imap:\n  poll_interval: soon\n  pasword: x\n"))
	f.Add([]byte("desk: &a {id: *a}\nimap: {<<: *a}\n"))
	f.Add([]byte("customers:\n  - {email: a@b, main: yes}\n"))
	if data, err := os.ReadFile("../deploy/examples/maildesk.yaml"); err == nil {
		f.Add(data)
	}
	// Files are served from memory: a fuzzed password_file such as
	// /dev/stdin must not block the fuzzer.
	reader := func(contacts []byte) readFunc {
		return func(name string, limit int64) ([]byte, error) {
			switch filepath.Base(name) {
			case "contacts.yaml":
				return contacts, nil
			case "secret":
				return []byte("pw\n"), nil
			}
			return nil, fs.ErrNotExist
		}
	}
	env := envOf(nil)
	check := func(t *testing.T, cfg *Config, err error) {
		if err == nil {
			if cfg == nil {
				t.Fatal("nil config without error")
			}
			_ = cfg.Redacted()
			return
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("error is not Problems: %v", err)
		}
		for _, p := range ps {
			if p.Line < 0 || p.Reason == "" {
				t.Fatalf("malformed problem %#v", p)
			}
		}
		_ = ps.Error()
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parse("fuzz.yaml", data, "/fuzz", env, reader([]byte(baseContacts)), AllSecrets)
		check(t, cfg, err)
		// The same bytes as a contacts file.
		cfg, err = parse("fuzz.yaml", []byte(base), "/fuzz", env, reader(data), AllSecrets)
		check(t, cfg, err)
	})
}

// A command that does not use a section's secrets does not read them: a
// missing password file is no problem then, and nothing is read.
func TestLoadSecretsReadsOnlyWhatIsUsed(t *testing.T) {
	dir := testDir(t, map[string]string{"contacts.yaml": baseContacts,
		"maildesk.yaml": strings.Replace(base, "  password: secret\n", "  password_file: /nonexistent/imap-password\n", 1)})
	path := filepath.Join(dir, "maildesk.yaml")
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "imap.password_file: cannot read") {
		t.Fatalf("Load with every secret: %v", err)
	}
	cfg, err := LoadSecrets(path, SecretsRedis)
	if err != nil {
		t.Fatalf("LoadSecrets without the mailbox's: %v", err)
	}
	if cfg.IMAP.Password != "" || cfg.IMAP.PasswordFile != "/nonexistent/imap-password" {
		t.Errorf("imap password %q, file %q", cfg.IMAP.Password, cfg.IMAP.PasswordFile)
	}
}
