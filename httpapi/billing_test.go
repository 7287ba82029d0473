package httpapi

import (
	"bytes"
	"context"
	"encoding/csv"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/billing"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// billingFixture is the API fixture with time records and statements:
// acme is on an Oxineo-like plan (€85 office hours, €110 outside, 15-minute
// units, a 2-hour budget); globex's plan has no billing.
func billingFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, testTokens)
	plans := map[string]config.Plan{
		"standard": {Calendar: "office", Billing: &config.Billing{Currency: "EUR", Rate: 8500, Unit: config.Duration(15 * time.Minute),
			Budget:  config.Duration(2 * time.Hour),
			Classes: []config.RateClass{{Name: "office", When: []string{"office"}}, {Name: "outside", Rate: new(config.Money(11000))}}}},
		"small": {MaxContacts: 1},
	}
	cfg := &config.Config{Desk: config.Desk{Name: "Acme IT", Location: time.UTC}, Plans: plans,
		Calendars: map[string]config.Calendar{"office": {Timezone: "Europe/Amsterdam", Hours: map[string][]string{"mon-fri": {"09:00-17:00"}}}}}
	rules, err := billing.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	customers, _, err := authz.NewStore(f.rdb, "acme-it").Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	directory := authz.NewDirectory(customers)
	log := slog.New(slog.NewTextHandler(f.logs, nil))
	work := &workflow.Service{Store: f.store, Language: "en", Log: log, Authz: directory, Customer: directory.Customer, Plans: plans, Priority: "P3"}
	api := NewAPI(APIConfig{Tickets: f.store, Workflow: work, Time: work,
		Statements: &workflow.Statements{Store: f.store, Rules: rules, Customer: directory.Customer, Desk: "Acme IT", Language: "nl",
			Now: func() time.Time { return time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC) }},
		Contacts: authz.NewStore(f.rdb, "acme-it"), Outbox: f.outbox, Plans: plans, Tokens: testTokens, Log: log})
	f.srv.Close()
	f.srv = httptest.NewServer(Handler(nil, nil, Mount{Pattern: APIPrefix, Handler: api}))
	t.Cleanup(f.srv.Close)
	return f
}

func TestAPITime(t *testing.T) {
	f := billingFixture(t)
	at := time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Minute)
	body := `{"duration": "45m", "at": "` + at.Format(time.RFC3339) + `", "note": "reset the <VPN>"}`
	run(t, f, []step{
		{name: "recorded", method: "POST", path: "/api/v1/tickets/sd-1/time", body: body, hdr: []string{"Idempotency-Key", "t-1"}, code: 201,
			check: func(t *testing.T, f *fixture, b []byte) {
				r := decode[ticket.TimeRecord](t, b)
				if r.Ticket != "SD-1" || r.Minutes != 45 || !r.Start.Equal(at) || r.Agent != "alice" || r.Via != "api" || !r.Billable ||
					r.Activity != "remote" || r.Note != "reset the <VPN>" || r.Customer != "acme" {
					t.Errorf("record %+v", r)
				}
			}},
		{name: "replayed", method: "POST", path: "/api/v1/tickets/SD-1/time", body: body, hdr: []string{"Idempotency-Key", "t-1"}, code: 200,
			want: []string{`"minutes":45`}},
		{name: "key reused", method: "POST", path: "/api/v1/tickets/SD-1/time", body: `{"duration": "1h"}`, hdr: []string{"Idempotency-Key", "t-1"},
			code: 422, want: []string{"idempotency key reused"}},
		{name: "not billable, on site", method: "POST", path: "/api/v1/tickets/SD-1/time", code: 201,
			body: `{"duration": "1:30", "activity": "on site", "billable": false}`, want: []string{`"activity":"on_site"`, `"billable":false`}},
		{name: "unknown activity", method: "POST", path: "/api/v1/tickets/SD-1/time", body: `{"duration": "1h", "activity": "coffee"}`,
			code: 400, want: []string{`unknown activity "coffee" for plan "standard"`}},
		{name: "no duration", method: "POST", path: "/api/v1/tickets/SD-1/time", body: `{}`, code: 400, want: []string{"duration is required"}},
		{name: "bad duration", method: "POST", path: "/api/v1/tickets/SD-1/time", body: `{"duration": "soon"}`, code: 400, want: []string{"is no duration"}},
		{name: "bad at", method: "POST", path: "/api/v1/tickets/SD-1/time", body: `{"duration": "1h", "at": "14:00"}`, code: 400, want: []string{"RFC 3339"}},
		{name: "unknown ticket", method: "POST", path: "/api/v1/tickets/SD-99/time", body: `{"duration": "1h"}`, code: 404},
		{name: "the ticket's time", method: "GET", path: "/api/v1/tickets/SD-1/time", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				s := decode[workflow.TimeSummary](t, b)
				if len(s.Records) != 2 || s.Minutes != 135 || s.Billable != 45 || s.Budget != 120 || s.BudgetState != workflow.BudgetOK {
					t.Errorf("summary %+v", s)
				}
			}},
		{name: "a ticket without time", method: "GET", path: "/api/v1/tickets/SD-2/time", code: 200, want: []string{`"records":[]`, `"minutes":0`}},
	})
	sum, err := f.store.TimeRecords(context.Background(), "SD-1")
	if err != nil || len(sum) != 2 {
		t.Fatal(sum, err)
	}
	id := sum[1].ID
	run(t, f, []step{
		{name: "voided", method: "DELETE", path: "/api/v1/tickets/SD-1/time/" + id + "?reason=typo", code: 200,
			want: []string{`"id":"` + id + `"`, `"voided_by":"alice"`, `"void_reason":"typo"`, `"voided_at":`}},
		{name: "voided again", method: "DELETE", path: "/api/v1/tickets/SD-1/time/" + id, code: 200, want: []string{`"void_reason":"typo"`}},
		{name: "no such record", method: "DELETE", path: "/api/v1/tickets/SD-1/time/nope", code: 404, want: []string{`no time record "nope"`}},
		{name: "the totals without it", method: "GET", path: "/api/v1/tickets/SD-1/time", code: 200, want: []string{`"minutes":45`}},
		{name: "own budget", method: "PUT", path: "/api/v1/tickets/SD-1/time/budget", body: `{"budget": "6h", "reason": "estimate agreed"}`, code: 200,
			want: []string{`"budget_minutes":360`, `"own_budget_minutes":360`, `"budget_state":"ok"`}},
		{name: "back to the plan's", method: "PUT", path: "/api/v1/tickets/SD-1/time/budget", body: `{"budget": "0"}`, code: 200,
			want: []string{`"budget_minutes":120`}},
		{name: "budget required", method: "PUT", path: "/api/v1/tickets/SD-1/time/budget", body: `{}`, code: 400, want: []string{"budget is required"}},
		{name: "budget too large", method: "PUT", path: "/api/v1/tickets/SD-1/time/budget", body: `{"budget": "2000h"}`, code: 400, want: []string{"to 1000h"}},
	})
}

// The statement of a month through the API, as JSON, CSV and PDF.
func TestAPIStatement(t *testing.T) {
	f := billingFixture(t)
	ctx := context.Background()
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	// Friday 20 November 2026 16:30-17:45: 30 min office, 45 min outside.
	if _, _, err := f.store.AddTime(ctx, ticket.TimeRecord{Ticket: "SD-1", Customer: "acme", Agent: "alice", Activity: "remote", Billable: true,
		Start: time.Date(2026, 11, 20, 16, 30, 0, 0, ams), Minutes: 75, RecordedAt: time.Now()}, "", "", ticket.Event{Kind: ticket.EventTime}, ticket.BudgetNotes{}); err != nil {
		t.Fatal(err)
	}
	run(t, f, []step{
		{name: "json", method: "GET", path: "/api/v1/statements/acme/2026-11", code: 200,
			want: []string{`"total_cents":12500`, `"currency":"EUR"`, `"desk":"Acme IT"`, `"number":"SD-1"`, `"class":"outside"`, `"amount_cents":8250`}},
		{name: "another month", method: "GET", path: "/api/v1/statements/acme/2026-10", code: 200, want: []string{`"total_cents":0`, `"tickets":[]`}},
		{name: "unknown customer", method: "GET", path: "/api/v1/statements/nobody/2026-11", code: 404, want: []string{`unknown customer "nobody"`}},
		{name: "a plan without billing", method: "GET", path: "/api/v1/statements/globex/2026-11", code: 400, want: []string{"no billing rules"}},
		{name: "bad month", method: "GET", path: "/api/v1/statements/acme/november", code: 400, want: []string{"is no month"}},
		{name: "bad format", method: "GET", path: "/api/v1/statements/acme/2026-11?format=xml", code: 400, want: []string{"format must be json, csv or pdf"}},
	})
	res, b := f.do("GET", "/api/v1/statements/acme/2026-11?format=csv", "")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
		res.Header.Get("Content-Disposition") != `attachment; filename="statement-acme-2026-11.csv"` {
		t.Fatalf("csv: %d %v", res.StatusCode, res.Header)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(rows) != 4 || rows[3][6] != "total" || rows[3][12] != "125.00" {
		t.Errorf("csv %v %v", rows, err)
	}
	res, b = f.do("GET", "/api/v1/statements/acme/2026-11?format=pdf", "")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Errorf("pdf: %d %v %q", res.StatusCode, res.Header, b[:min(8, len(b))])
	}
}

// Without time records wired (a daemon without them), the routes say so.
func TestAPITimeWithoutBilling(t *testing.T) {
	f := newFixture(t, testTokens)
	run(t, f, []step{
		{name: "time", method: "GET", path: "/api/v1/tickets/SD-1/time", code: 404, want: []string{"no time records"}},
		{name: "statement", method: "GET", path: "/api/v1/statements/acme/2026-11", code: 404, want: []string{"no time records"}},
	})
}
