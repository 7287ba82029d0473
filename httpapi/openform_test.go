package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// The dashboard's form opens a ticket for a call through the workflow, as
// the API and the CLI do: behind the token check with its cross-origin
// protection, escaping what it shows, one ticket however often it is
// submitted.
func TestDashboardOpenForm(t *testing.T) {
	ctx := context.Background()
	rs := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { rdb.Close() })
	outbox := notify.NewOutbox(rdb, "d")
	store := ticket.NewStore(rdb, ticket.Options{DeskID: "d", TicketPrefix: "SD", OutboxKey: outbox.Key()})
	dir := authz.NewDirectory([]config.Customer{
		{ID: "acme", Name: "Acme <b>BV</b>", Contacts: []config.Contact{{Email: "jan@acme.example", Name: "Jan \u202eJansen"}}},
		{ID: "globex", Name: "Globex", Contacts: []config.Contact{{Email: "ann@globex.example", Name: "Ann"}}},
	})
	now := func() time.Time { return dashNow }
	work := &workflow.Service{Store: store, Customer: dir.Customer, Authz: dir, Priority: "P3", Language: "en",
		Location: dashAms, Log: slog.New(slog.DiscardHandler), Now: now}
	dash := NewDashboard(store, dir.Customer, "Acme IT", now, dashAms, WithOpenForm(work, dir.Customers))
	srv := httptest.NewServer(Handler(nil, nil,
		Mount{Pattern: "GET /{$}", Handler: RequireToken(testTokens, dash)},
		Mount{Pattern: OpenPath, Handler: RequireToken(testTokens, dash)}))
	t.Cleanup(srv.Close)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, form url.Values, hdr ...string) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, srv.URL+path, body)
		req.SetBasicAuth("", aliceToken) // as a browser does
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", srv.URL)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	tickets := func() []ticket.Ticket {
		t.Helper()
		ts, err := store.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}

	res, page := do("GET", OpenPath, nil)
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Security-Policy"), "form-action 'self'") {
		t.Fatalf("form: %d %v\n%s", res.StatusCode, res.Header, page)
	}
	for _, want := range []string{`<form method="post" action="/tickets/new">`, `<option value="acme">Acme &lt;b&gt;BV&lt;/b&gt;</option>`,
		`<option value="jan@acme.example">Jan Jansen, Acme &lt;b&gt;BV&lt;/b&gt;</option>`, `value="phone" checked`, `type="datetime-local"`} {
		if !strings.Contains(page, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "\u202e") {
		t.Errorf("form has script or a bidi override:\n%s", page)
	}
	key := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(page)
	if key == nil {
		t.Fatalf("no key in the form:\n%s", page)
	}

	form := url.Values{"key": {key[1]}, "customer": {"acme"}, "contact": {"jan@acme.example"}, "channel": {"phone"},
		"at": {"2026-11-23T13:20"}, "priority": {""}, "type": {"incident"},
		"subject": {`Printer <script>alert(1)</script>`}, "message": {"Jan belde: de printer doet niets."}}
	// Submitted twice (a double click): one ticket.
	for range 2 {
		res, page = do("POST", OpenPath, form)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != OpenPath+"?opened=SD-1" {
			t.Fatalf("post: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), page)
		}
	}
	ts := tickets()
	if len(ts) != 1 {
		t.Fatalf("%d tickets, want 1", len(ts))
	}
	tk := ts[0]
	if tk.Channel != "phone" || tk.OpenedBy != "alice" || !tk.CreatedAt.Equal(time.Date(2026, 11, 23, 12, 20, 0, 0, time.UTC)) || tk.Priority != "P3" {
		t.Errorf("ticket %+v", tk)
	}
	if n, _ := rdb.XLen(ctx, outbox.Key()).Result(); n != 1 {
		t.Errorf("outbox %d, want the acknowledgement", n)
	}
	if _, page = do("GET", OpenPath+"?opened=SD-1", nil); !strings.Contains(page, "Ticket <strong>SD-1</strong> opened") {
		t.Errorf("no notice:\n%s", page)
	}
	if _, page = do("GET", OpenPath+"?opened=All+tickets+deleted", nil); strings.Contains(page, "deleted") {
		t.Errorf("the page says what a link wants:\n%s", page)
	}

	// Refused: the form comes back with the reason and what was entered.
	bad := url.Values{"key": {"k-2"}, "customer": {"acme"}, "contact": {"ann@globex.example"}, "subject": {`VPN "down" <b>`}, "message": {"x"}}
	res, page = do("POST", OpenPath, bad)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "ann@globex.example is a contact of customer globex, not of acme") ||
		!strings.Contains(page, `value="VPN &#34;down&#34; &lt;b&gt;"`) || !strings.Contains(page, `<option value="acme" selected>`) {
		t.Errorf("refusal: %d\n%s", res.StatusCode, page)
	}
	bad.Set("contact", "jan@acme.example")
	bad.Set("at", "tomorrow")
	if res, page = do("POST", OpenPath, bad); res.StatusCode != http.StatusBadRequest || !strings.Contains(page, `&#34;tomorrow&#34; is no time`) {
		t.Errorf("bad time: %d\n%s", res.StatusCode, page)
	}
	// A page of another site posting with the browser's credentials.
	res, _ = do("POST", OpenPath, url.Values{"key": {"k-3"}, "customer": {"acme"}, "contact": {"jan@acme.example"}, "subject": {"S"}, "message": {"M"}},
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if res.StatusCode != http.StatusForbidden || len(tickets()) != 1 {
		t.Errorf("cross-site post: %d, %d tickets", res.StatusCode, len(tickets()))
	}
	// Without a token nothing.
	req, _ := http.NewRequest("GET", srv.URL+OpenPath, nil)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("without token: %v %v", res.StatusCode, err)
	}

	// The dashboard links to the form and shows the ticket's channel.
	_, page = do("GET", "/", nil)
	if !strings.Contains(page, `<a href="/tickets/new">`) || !strings.Contains(page, `Printer &lt;script&gt;alert(1)&lt;/script&gt; <span class="channel">(phone)</span>`) {
		t.Errorf("dashboard:\n%s", page)
	}
}

// A dashboard without an opener has no form and no link.
func TestDashboardWithoutOpenForm(t *testing.T) {
	if rec := getDashboard(t, fakeLister{}, dashAms, "GET", OpenPath); rec.Code != http.StatusNotFound {
		t.Errorf("form without opener: %d", rec.Code)
	}
	if rec := getDashboard(t, fakeLister{}, dashAms, "GET", "/"); strings.Contains(rec.Body.String(), OpenPath) {
		t.Errorf("link without opener:\n%s", rec.Body)
	}
}
