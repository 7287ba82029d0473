package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/configload"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// billingDesk is deploy/examples/<name>.yaml as shipped, with its contacts
// file, on this test's Redis (MAILDESK_REDIS_URL).
func billingDesk(t *testing.T, name string) (cfgPath string, st *ticket.Store) {
	t.Helper()
	exampleEnv(t)
	rs := testserver.Redis(t)
	t.Setenv("MAILDESK_REDIS_URL", rs.URL)
	dir := t.TempDir()
	cfgPath = filepath.Join(dir, name+".yaml")
	for _, f := range []string{name + ".yaml", name + "-contacts.yaml"} {
		raw, err := os.ReadFile(filepath.Join(examplesDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := configload.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { rdb.Close() })
	st = ticket.NewStore(rdb, ticket.Options{DeskID: cfg.Desk.ID, TicketPrefix: cfg.Desk.TicketPrefix, OutboxKey: notify.NewOutbox(rdb, cfg.Desk.ID).Key()})
	return cfgPath, st
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(args, &out, &errOut); code != 0 {
		t.Fatalf("maildesk %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out.String(), errOut.String())
	}
	return out.String()
}

func newTicket(t *testing.T, st *ticket.Store, id, customer, contact string, created time.Time) string {
	t.Helper()
	r, err := st.Create(context.Background(), id, ticket.New{Subject: "Outlook " + id, Priority: "P3", Customer: customer, Contact: contact,
		MessageID: id, CreatedAt: created, Language: "nl"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.Number
}

// Oxineo's rules through the CLI: an agent records time on a ticket with
// `tickets time`, sees the ticket's time against its 2-hour budget, and
// the month's statement prices the records as the contract says.
func TestTicketsTimeAndStatement(t *testing.T) {
	cfgPath, st := billingDesk(t, "oxineo")
	ctx := context.Background()
	now := time.Now()
	number := newTicket(t, st, "m1@dehaan.example", "accountancy-de-haan", "p.dehaan@dehaan-accountancy.example", now.Add(-24*time.Hour))

	out := mustRun(t, "tickets", "time", "--config", cfgPath, strings.ToLower(number), "1h", "--note", "postvak hersteld", "--as", "Sanne")
	if !strings.Contains(out, number+": 1h remote from ") || !strings.Contains(out, "recorded (record ") || !strings.Contains(out, "1h recorded, 1h billable of a 2h budget\n") {
		t.Errorf("tickets time: %q", out)
	}
	out = mustRun(t, "tickets", "time", "--config", cfgPath, number, "45m", "--at", now.Add(-3*time.Hour).Format(time.RFC3339),
		"--no-bill", "--as", "Sanne", "--idempotency-key", "k1")
	if !strings.Contains(out, "not billable") || !strings.Contains(out, "1h45m recorded, 1h billable") {
		t.Errorf("not billable: %q", out)
	}
	// The same key again records nothing.
	out = mustRun(t, "tickets", "time", "--config", cfgPath, number, "45m", "--at", now.Add(-3*time.Hour).Format(time.RFC3339),
		"--no-bill", "--as", "Sanne", "--idempotency-key", "k1")
	if !strings.Contains(out, "already recorded with this idempotency key") || !strings.Contains(out, "1h45m recorded") {
		t.Errorf("replay: %q", out)
	}
	out = mustRun(t, "tickets", "time", "--config", cfgPath, number, "0:35", "--as", "Piet")
	if !strings.Contains(out, "2h20m recorded, 1h35m billable of a 2h budget: past 75%") {
		t.Errorf("warning: %q", out)
	}
	// Without a duration: the records and the budget.
	out = mustRun(t, "tickets", "time", "--config", cfgPath, number)
	for _, want := range []string{"ID", "ACTIVITY", "postvak hersteld", "Sanne", "Piet", "false", "2h20m recorded, 1h35m billable of a 2h budget: past 75%"} {
		if !strings.Contains(out, want) {
			t.Errorf("listing lacks %q:\n%s", want, out)
		}
	}
	var sum struct {
		Records  []ticket.TimeRecord `json:"records"`
		Billable int                 `json:"billable_minutes"`
		State    string              `json:"budget_state"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "tickets", "time", "--config", cfgPath, number, "--json")), &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Records) != 3 || sum.Billable != 95 || sum.State != "warning" {
		t.Errorf("JSON: %+v", sum)
	}
	// A wrong record is voided.
	wrong := mustRun(t, "tickets", "time", "--config", cfgPath, number, "3h", "--at", now.Add(-4*time.Hour).Format(time.RFC3339), "--json")
	var w ticket.TimeRecord
	if err := json.Unmarshal([]byte(wrong), &w); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, "tickets", "time", "--config", cfgPath, number, "--void", w.ID, "--reason", "typo", "--as", "Lisa")
	if !strings.Contains(out, "record "+w.ID+" (3h remote from ") || !strings.Contains(out, ") voided\n") || !strings.Contains(out, "2h20m recorded, 1h35m billable") {
		t.Errorf("void: %q", out)
	}
	if out := mustRun(t, "tickets", "time", "--config", cfgPath, number); !strings.Contains(out, w.ID) || !strings.Contains(out, "void") {
		t.Errorf("listing after void:\n%s", out)
	}
	// More time agreed with the customer.
	if out := mustRun(t, "tickets", "time", "--config", cfgPath, number, "--budget", "4h", "--reason", "estimate agreed", "--as", "Lisa"); !strings.Contains(out, "2h20m recorded, 1h35m billable of an agreed 4h budget\n") {
		t.Errorf("budget: %q", out)
	}
	mustRun(t, "tickets", "time", "--config", cfgPath, number, "--budget", "0")
	// tickets show says it too.
	if out := mustRun(t, "tickets", "show", "--config", cfgPath, number); !strings.Contains(out, "Time:         2h20m recorded, 1h35m billable of a 2h budget: past 75% (maildesk tickets time "+number+")") {
		t.Errorf("tickets show:\n%s", out)
	}
	// Refusals name what is wrong, and change nothing.
	for args, want := range map[string]string{
		"1h --activity op_locatie": `unknown activity "op_locatie" for plan "support" (want one of on_site, remote, travel)`,
		"90s":                      "must be whole minutes",
		"soon":                     `"soon" is no duration`,
	} {
		var o, e bytes.Buffer
		if code := run(append([]string{"tickets", "time", "--config", cfgPath, number}, strings.Fields(args)...), &o, &e); code == 0 || !strings.Contains(e.String(), want) {
			t.Errorf("tickets time %s: exit %d, %q; want %q", args, code, e.String(), want)
		}
	}
	if tot, _ := st.TimeTotals(ctx, number); tot.Minutes != 140 {
		t.Errorf("refusals recorded time: %+v", tot)
	}

	// November 2026, with records placed in it: the statement prices them
	// as TestOxineo (package billing) computed by hand.
	nov := newTicket(t, st, "m2@dehaan.example", "accountancy-de-haan", "p.dehaan@dehaan-accountancy.example", time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC))
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	for i, r := range []ticket.TimeRecord{
		{Start: time.Date(2026, 11, 20, 16, 30, 0, 0, ams), Minutes: 75, Billable: true, Note: "eerste analyse"},
		{Start: time.Date(2026, 11, 21, 10, 0, 0, 0, ams), Minutes: 20, Billable: true},
	} {
		r.Ticket, r.Customer, r.Activity, r.Agent, r.RecordedAt = nov, "accountancy-de-haan", "remote", "Sanne", r.Start
		if _, _, err := st.AddTime(ctx, r, "r"+string(rune('0'+i)), "", ticket.Event{Kind: ticket.EventTime}, ticket.BudgetNotes{}); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := csv.NewReader(strings.NewReader(mustRun(t, "billing", "statement", "--config", cfgPath, "--customer", "accountancy-de-haan", "--month", "2026-11"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows[1:] {
		got = append(got, r[2]+" "+r[6]+" "+r[7]+" "+r[11]+" "+r[12])
	}
	// 30 min at 85 + 45 min at 110 on Friday; 20 min on Saturday -> 30 at 130; the fee.
	want := []string{nov + " work kantooruren 30 42.50", nov + " work buiten kantooruren 45 82.50", nov + " work weekend en feestdagen 30 65.00",
		" fee  0 275.00", " total  105 465.00"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("statement:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var js struct {
		Desk    string `json:"desk"`
		Total   int64  `json:"total_cents"`
		Tickets []struct {
			Subject string `json:"subject"`
		} `json:"tickets"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "billing", "statement", "--config", cfgPath, "--customer", "accountancy-de-haan", "--month", "2026-11", "--format", "json")), &js); err != nil {
		t.Fatal(err)
	}
	if js.Total != 46500 || js.Desk != "Oxineo Support" || len(js.Tickets) != 1 || js.Tickets[0].Subject != "Outlook m2@dehaan.example" {
		t.Errorf("JSON statement %+v", js)
	}
	pdf := filepath.Join(t.TempDir(), "s.pdf")
	mustRun(t, "billing", "statement", "--config", cfgPath, "--customer", "accountancy-de-haan", "--month", "2026-11", "--format", "pdf", "--output", pdf)
	if raw, err := os.ReadFile(pdf); err != nil || !bytes.HasPrefix(raw, []byte("%PDF-")) {
		t.Errorf("PDF: %v %q", err, raw[:min(len(raw), 8)])
	}
	for args, want := range map[string]string{
		"--customer nobody --month 2026-11":                           `unknown customer "nobody"`,
		"--customer accountancy-de-haan --month 11-26":                "is no month",
		"--customer accountancy-de-haan --month 2026-11 --format xml": "--format must be one of csv, json, pdf",
	} {
		var o, e bytes.Buffer
		if code := run(append([]string{"billing", "statement", "--config", cfgPath}, strings.Fields(args)...), &o, &e); code == 0 || !strings.Contains(e.String(), want) {
			t.Errorf("billing statement %s: exit %d, %q; want %q", args, code, e.String(), want)
		}
	}
}

// billing quote prints the split and the priced lines, as sla due prints a
// deadline: the example configurations' Try lines.
func TestBillingQuote(t *testing.T) {
	exampleEnv(t)
	for _, tc := range []struct {
		args       string
		want, rule string
	}{
		{"--config oxineo.yaml --plan support --at 2026-11-20T16:30:00+01:00 --duration 1h15m",
			"2026-11-20 16:30-17:00  kantooruren         30m\n2026-11-20 17:00-17:45  buiten kantooruren  45m\n\n" +
				"kantooruren         remote  30m    85.00/h   42.50\nbuiten kantooruren  remote  45m    110.00/h  82.50\n" +
				"total                       1h15m            EUR 125.00\n", `rule: plan "support", type incident, P3: 85.00 EUR an hour`},
		{"--config qiqq.yaml --plan standard --type functioneel --at 2026-11-17T10:00:00+01:00 --duration 4m --channel phone",
			"channel phone", "rule: billed time rounded up to units of 15m per rate line"},
		{"--config qiqq.yaml --plan standard --type beheerd --priority P3 --at 2026-11-17 10:00 --duration 1h",
			"0.00 (free type beheerd)\ntotal", "note: type beheerd has no priority P3 (it has P1, P2): a ticket asking for it gets P2"},
		{"--config webagency.yaml --plan standby --at 2026-12-05T10:00:00+01:00 --duration 20m",
			"inzet tijdens standby  remote  1h  95.00/h  95.00", ""},
	} {
		args := strings.Fields(tc.args)
		for i, a := range args {
			if strings.HasSuffix(a, ".yaml") {
				args[i] = filepath.Join(examplesDir, a)
			}
		}
		// "--at 2026-11-17 10:00" is one flag value with a space.
		for i := 0; i+2 < len(args); i++ {
			if args[i] == "--at" && !strings.Contains(args[i+1], "T") {
				args = append(args[:i+1], append([]string{args[i+1] + " " + args[i+2]}, args[i+3:]...)...)
			}
		}
		var out, errOut bytes.Buffer
		if code := run(append([]string{"billing", "quote"}, args...), &out, &errOut); code != 0 {
			t.Errorf("%s: exit %d %s", tc.args, code, errOut.String())
			continue
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s:\n%s\nwant %q", tc.args, out.String(), tc.want)
		}
		if !strings.Contains(errOut.String(), tc.rule) {
			t.Errorf("%s: stderr %q, want %q", tc.args, errOut.String(), tc.rule)
		}
	}
	for args, want := range map[string]string{
		"--plan support --at 2026-11-20T16:30:00+01:00":                            "needs --duration",
		"--plan support --at 2026-11-20T16:30:00+01:00 --duration 90s":             "must be whole minutes",
		"--plan nope --at 2026-11-20T16:30:00+01:00 --duration 1h":                 `unknown plan "nope" (plans: support)`,
		"--plan support --at tomorrow --duration 1h":                               `"tomorrow" is no time`,
		"--plan support --at 2026-11-20T16:30:00+01:00 --duration 1h --activity x": `unknown activity "x"`,
	} {
		var out, errOut bytes.Buffer
		full := append([]string{"billing", "quote", "--config", filepath.Join(examplesDir, "oxineo.yaml")}, strings.Fields(args)...)
		if code := run(full, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), want) {
			t.Errorf("%s: exit %d %q, want %q", args, code, errOut.String(), want)
		}
	}
	var out, errOut bytes.Buffer
	full := []string{"billing", "quote", "--config", filepath.Join(examplesDir, "maildesk.yaml"), "--plan", "standard", "--at", "2026-11-20T16:30:00+01:00", "--duration", "1h"}
	if code := run(full, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "no billing rules (plans.standard.billing)") {
		t.Errorf("a plan without billing: exit %d %q", code, errOut.String())
	}
}
