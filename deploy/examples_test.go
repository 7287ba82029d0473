package deploy_test

// Tests that keep the example configurations (deploy/examples/, one per
// seed contract) true: they load, pass check-config, and the deadlines
// computed through them are the contracts'.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/configload"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/sla"
)

const examplesDir = "examples"

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
			cfg, err := configload.Load(f)
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
			// Notes on deliberate choices (agent mail off) may precede it.
			if code, out, errOut := runMaildesk(t, "check-config", "--config", f); code != 0 || !checkConfigOK(out) {
				t.Errorf("check-config: exit %d\n%s%s", code, out, errOut)
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
		if code, out, errOut := runMaildesk(t, args...); code != 0 || out != tt.want+"\n" {
			t.Errorf("%s %s %s %q at %s: exit %d, %q%s; want %s", tt.file, tt.plan, tt.prio, tt.lang, tt.at, code, out, errOut, tt.want)
		}
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

// Commands read the secrets they use and no others: the examples' "Try:"
// lines work as written on a machine without their secrets
// (/run/secrets/...), and so does `sla due` everywhere.
//
// Some lines work on the desk's tickets (tickets open): they get a Redis
// of their own, as an operator's desk has one, and nothing else.
func TestExamplesTryLines(t *testing.T) {
	unsetEnv(t, "MAILDESK_IMAP_PASSWORD")
	t.Setenv("MAILDESK_REDIS_URL", "redis://"+testserver.Redis(t).Addr+"/0")
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tried := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range tryLines(string(data)) {
			args := shellWords(cmd)
			if len(args) == 0 || args[0] != "maildesk" {
				continue
			}
			args = args[1:]
			for i, a := range args {
				if i > 0 && args[i-1] == "--config" {
					args[i] = filepath.Join(examplesDir, a)
				}
			}
			if code, _, errOut := runMaildesk(t, args...); code != 0 {
				t.Errorf("%s: %s: exit %d: %s", filepath.Base(f), cmd, code, errOut)
			}
			tried++
		}
	}
	if tried == 0 {
		t.Fatal("no Try: lines found in the examples")
	}
}

// tryLines are the commands of "# Try:" comments, continuation lines
// (ending in \) joined.
func tryLines(yaml string) []string {
	var out []string
	var cur strings.Builder
	in := false
	for _, line := range strings.Split(yaml, "\n") {
		text, ok := strings.CutPrefix(strings.TrimSpace(line), "#")
		if !ok {
			in = false
			continue
		}
		text = strings.TrimSpace(text)
		if rest, ok := strings.CutPrefix(text, "Try:"); ok {
			in, text = true, strings.TrimSpace(rest)
			cur.Reset()
		} else if !in {
			continue
		}
		more := strings.HasSuffix(text, "\\")
		cur.WriteString(strings.TrimSuffix(text, "\\") + " ")
		if !more {
			out = append(out, cur.String())
			in = false
		}
	}
	return out
}
