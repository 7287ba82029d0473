package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/sla"
)

const examplesDir = "../../deploy/examples"

// exampleEnv stands in for the secret the examples read from
// /run/secrets/imap-password in a real deployment.
func exampleEnv(t *testing.T) {
	t.Setenv("MAILDESK_IMAP_PASSWORD", "example")
}

// Every example config loads without problems, its plans build into SLA
// calendars, and every plan with a calendar has a first-response deadline
// for every type with a clock, every priority the type has, and every
// language.
func TestExampleConfigs(t *testing.T) {
	exampleEnv(t)
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "contacts.yaml") {
			continue
		}
		name := filepath.Base(f)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load(f)
			if err != nil {
				t.Fatalf("problems:\n%v", err)
			}
			if len(cfg.Customers) < 2 {
				t.Errorf("%d customers, want a couple of examples", len(cfg.Customers))
			}
			plans, err := sla.FromConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			arrival := time.Date(2026, 3, 6, 16, 0, 0, 0, time.UTC)
			for _, plan := range plans.Names() {
				if cfg.Plans[plan].Calendar == "" {
					t.Errorf("plan %s has no SLA calendar", plan)
					continue
				}
				p := cfg.Plans[plan]
				for _, typ := range p.TypeNames() {
					if !config.HasClock(typ) {
						continue
					}
					for _, prio := range p.TypePriorities(typ) {
						for _, lang := range []string{"", "nl", "en"} {
							d, err := plans.DueOfType(plan, typ, prio, lang, arrival)
							if err != nil || d.FirstResponse.IsZero() || !d.FirstResponse.After(arrival) {
								t.Errorf("DueOfType(%s, %s, %s, %q) = %v, %v", plan, typ, prio, lang, d.FirstResponse, err)
							}
						}
					}
				}
			}
			var out, errOut bytes.Buffer
			// Notes on deliberate choices (agent mail off) may precede it.
			if code := run([]string{"check-config", "--config", f}, &out, &errOut); code != 0 || !checkConfigOK(out.String()) {
				t.Errorf("check-config: exit %d\n%s%s", code, out.String(), errOut.String())
			}
		})
	}
	for _, want := range []string{"maildesk.yaml", "kwikqy.yaml", "qiqq.yaml", "webagency.yaml", "oxineo.yaml"} {
		if !seen[want] {
			t.Errorf("no example %s", want)
		}
	}
}

// Deadlines of the seed contracts, computed through the example configs
// and the CLI: the configs say what the contracts say. Dates: 2026-04-27
// is King's Day (Monday), summer time runs from 29 March.
func TestSLADueExamples(t *testing.T) {
	exampleEnv(t)
	tests := []struct{ file, plan, prio, lang, at, want string }{
		// Kwikqy, Standard P1 4h, over King's Day.
		{"kwikqy.yaml", "standard", "P1", "", "2026-04-24T15:00:00+02:00", "2026-04-28T11:00:00+02:00"},
		// Enhanced in English until 22:00; in Dutch outside Dutch hours:
		// Standard's 4h from the next Dutch opening.
		{"kwikqy.yaml", "enhanced", "P1", "en", "2026-03-02T18:00:00+01:00", "2026-03-02T20:00:00+01:00"},
		{"kwikqy.yaml", "enhanced", "P1", "nl", "2026-03-02T18:00:00+01:00", "2026-03-03T13:00:00+01:00"},
		{"kwikqy.yaml", "enhanced", "P1", "nl", "2026-03-02T16:00:00+01:00", "2026-03-03T10:00:00+01:00"},
		// Premium's Saturday; an arrival in UTC is answered in Amsterdam time.
		{"kwikqy.yaml", "premium", "P2", "en", "2026-03-06T21:00:00+01:00", "2026-03-07T12:00:00+01:00"},
		{"kwikqy.yaml", "premium", "P3", "nl", "2026-03-02T09:00:00Z", "2026-03-02T16:00:00+01:00"},
		// QiQQ: Direct 1 hour, Hoog 1 workday, Standaard 3 workdays.
		{"qiqq.yaml", "standard", "P1", "", "2026-03-06T16:30:00+01:00", "2026-03-09T09:30:00+01:00"},
		{"qiqq.yaml", "standard", "P2", "", "2026-04-24T16:00:00+02:00", "2026-04-28T16:00:00+02:00"},
		{"qiqq.yaml", "standard", "P3", "", "2026-04-23T14:00:00+02:00", "2026-04-29T14:00:00+02:00"},
		// Web agency, 08:30-18:00.
		{"webagency.yaml", "standard", "P1", "", "2026-03-06T17:30:00+01:00", "2026-03-09T09:00:00+01:00"},
		{"webagency.yaml", "standard", "P3", "", "2026-03-06T17:30:00+01:00", "2026-03-09T18:00:00+01:00"},
		// Oxineo: within 3 (work)days, at closing time.
		{"oxineo.yaml", "support", "P3", "", "2026-03-06T16:00:00+01:00", "2026-03-11T17:00:00+01:00"},
		{"oxineo.yaml", "support", "P1", "", "2026-04-24T12:00:00+02:00", "2026-04-30T17:00:00+02:00"},
		// Continuous in the arrival: Monday at closing time and a minute
		// before end on the same day; Saturday like Friday evening.
		{"oxineo.yaml", "support", "P3", "", "2026-03-02T17:00:00+01:00", "2026-03-05T17:00:00+01:00"},
		{"oxineo.yaml", "support", "P3", "", "2026-03-02T16:59:00+01:00", "2026-03-05T17:00:00+01:00"},
		{"oxineo.yaml", "support", "P3", "", "2026-03-07T10:00:00+01:00", "2026-03-11T17:00:00+01:00"},
		// Web agency standby: a Saturday call is answered within 30 minutes.
		{"webagency.yaml", "standby", "P2", "", "2026-12-05T10:00:00+01:00", "2026-12-05T10:30:00+01:00"},
		// The commented example: Premium P2 from Friday evening into Saturday.
		{"maildesk.yaml", "premium", "P2", "en", "2026-03-06T19:30:00+01:00", "2026-03-07T11:30:00+01:00"},
	}
	for _, tt := range tests {
		args := []string{"sla", "due", "--config", filepath.Join(examplesDir, tt.file), "--plan", tt.plan, "--priority", tt.prio, "--at", tt.at}
		if tt.lang != "" {
			args = append(args, "--language", tt.lang)
		}
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 0 || out.String() != tt.want+"\n" {
			t.Errorf("%s %s %s %q at %s: exit %d, %q%s; want %s", tt.file, tt.plan, tt.prio, tt.lang, tt.at, code, out.String(), errOut.String(), tt.want)
		}
	}
}

func TestSLADueErrors(t *testing.T) {
	exampleEnv(t)
	kwikqy := filepath.Join(examplesDir, "kwikqy.yaml")
	dir := t.TempDir()
	noClock := filepath.Join(dir, "noclock.yaml")
	os.WriteFile(filepath.Join(dir, "contacts.yaml"), []byte("customers: []\n"), 0o600)
	os.WriteFile(noClock, []byte(`desk: {id: x, address: desk@x.example}
imap: {address: "127.0.0.1:143", username: u, password: p}
smtp: {address: "127.0.0.1:25"}
plans: {standaard: {default_priority: P3}}
contacts_file: contacts.yaml
`), 0o600)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--plan", "gold", "--priority", "P1", "--at", "2026-03-02T10:00:00+01:00"}, 1, `unknown plan "gold" (plans: enhanced, premium, standard)`},
		{[]string{"--plan", "standard", "--priority", "P7", "--at", "2026-03-02T10:00:00+01:00"}, 1, `unknown priority "P7"`},
		{[]string{"--plan", "standard", "--priority", "P1", "--at", "2026-03-02 10:00"}, 2, `--at "2026-03-02 10:00" is not an RFC 3339 time`},
		{[]string{"--plan", "standard", "--priority", "P1", "--language", "de", "--at", "2026-03-02T10:00:00+01:00"}, 2, `--language must be nl or en (got "de")`},
		{[]string{"--plan", "standard", "--priority", "P1"}, 2, "needs --at"},
		{[]string{"--priority", "P1", "--at", "2026-03-02T10:00:00+01:00"}, 2, "needs --plan"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := run(append([]string{"sla", "due", "--config", kwikqy}, tt.args...), &out, &errOut)
		if code != tt.code || !strings.Contains(errOut.String(), tt.want) || out.Len() != 0 {
			t.Errorf("sla due %v: exit %d, stdout %q, stderr %q; want exit %d and %q", tt.args, code, out.String(), errOut.String(), tt.code, tt.want)
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"sla", "due", "--config", noClock, "--plan", "standaard", "--priority", "P3", "--at", "2026-03-02T10:00:00+01:00"}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), `plan "standaard" has no SLA calendar`) {
		t.Errorf("plan without clock: exit %d, %q", code, errOut.String())
	}
	if code := run([]string{"sla", "overdue"}, &out, &errOut); code != 2 {
		t.Errorf("unknown sla subcommand: exit %d", code)
	}
}

// checkConfigOK: the output of a check-config that passed, "config ok"
// after any notes.
func checkConfigOK(out string) bool {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasPrefix(l, "note: ") {
			return false
		}
	}
	return lines[len(lines)-1] == "config ok"
}
