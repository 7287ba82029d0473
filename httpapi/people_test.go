package httpapi

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/workflow"
)

// POST /people/erase and GET /people/export, on the fixture's desk (no
// mailbox: the erasure says the mails stay). The address is never in a
// path, so the request log does not keep it.
func TestAPIPeople(t *testing.T) {
	f := newFixture(t, testTokens)
	run(t, f, []step{
		{name: "no people service", method: "GET", path: "/api/v1/people/export?email=jan@acme.example", code: 501, want: []string{"not available"}},
	})
	f = newFixture(t, testTokens)
	people := &workflow.People{Store: f.store, Outbox: f.outbox, Directory: authz.NewStore(f.rdb, "acme-it")}
	api := NewAPI(APIConfig{Tickets: f.store, Workflow: &workflow.Service{Store: f.store}, Contacts: authz.NewStore(f.rdb, "acme-it"),
		Outbox: f.outbox, People: people, Tokens: testTokens, Log: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	f.srv.Config.Handler = Handler(nil, nil, Mount{Pattern: APIPrefix, Handler: api})
	run(t, f, []step{
		{name: "export", method: "GET", path: "/api/v1/people/export?email=PIET@acme.example", code: 200,
			want: []string{`"person":"piet@acme.example"`, `"role":"contact"`, `"subject":"Mail down"`, `"role":"involved"`, `"customer":"acme"`}},
		{name: "export of nobody", method: "GET", path: "/api/v1/people/export?email=nobody@x.example", code: 200, want: []string{`"tickets":[]`}},
		{name: "export of no address", method: "GET", path: "/api/v1/people/export?email=nobody", code: 400, want: []string{"not an e-mail address"}},
		{name: "erase", method: "POST", path: "/api/v1/people/erase", body: `{"email":"piet@acme.example","reference":"GDPR-1"}`, code: 200,
			want: []string{`"tickets":1`, `"other_tickets":1`, `"mail_error":"no mailbox configured here"`, `"contact_of":["acme"]`}},
		{name: "erase again", method: "POST", path: "/api/v1/people/erase", body: `{"email":"piet@acme.example"}`, code: 200, want: []string{`"tickets":0`}},
		{name: "erase without email", method: "POST", path: "/api/v1/people/erase", body: `{}`, code: 400, want: []string{"email is required"}},
		{name: "gone from the tickets", method: "GET", path: "/api/v1/tickets?contact=piet@acme.example", code: 200, want: []string{"[]"}},
		{name: "others keep theirs", method: "GET", path: "/api/v1/tickets/SD-1", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if strings.Contains(string(b), "piet@") || !strings.Contains(string(b), "Printer on fire") {
					t.Errorf("SD-1: %s", b)
				}
			}},
	})
	if strings.Contains(f.logs.String(), "piet@") {
		t.Errorf("the log names the erased person:\n%s", f.logs.String())
	}
	recs, err := f.rdb.XRange(context.Background(), "md:{acme-it}:erasures", "-", "+").Result()
	if err != nil || len(recs) != 2 || recs[0].Values["reference"] != "GDPR-1" || recs[0].Values["by"] != "alice" {
		t.Errorf("erasure records %+v, %v", recs, err)
	}
}
