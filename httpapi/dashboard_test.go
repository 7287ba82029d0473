package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ticket"
)

type fakeLister struct {
	tickets []ticket.Ticket
	err     error
}

func (f fakeLister) OpenTickets(context.Context) ([]ticket.Ticket, error) { return f.tickets, f.err }

var dashAms = mustLoc("Europe/Amsterdam")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// dashNow is Monday 23 November 2026, 14:00 in Amsterdam (13:00 UTC).
var dashNow = time.Date(2026, 11, 23, 14, 0, 0, 0, dashAms)

func hm(h, m int) time.Time { return time.Date(2026, 11, 23, h, m, 0, 0, dashAms) }

var dashCustomers = map[string]*config.Customer{
	"acme":    {ID: "acme", Name: "Acme BV"},
	"globex":  {ID: "globex", Name: "Globex"},
	"initech": {ID: "initech", Name: "Initech"},
}

func dashCustomer(id string) *config.Customer { return dashCustomers[id] }

// sampleTickets: one of each clock state, spread over customers, in an
// order the dashboard must change.
func sampleTickets() []ticket.Ticket {
	return []ticket.Ticket{
		{Number: "SD-1", Subject: "Invoice question", Status: ticket.StatusNew, Priority: "P3", Customer: "initech",
			Contact: "bob@initech.example", CreatedAt: hm(9, 0),
			SLA: &ticket.Clock{Start: hm(9, 0), FirstResponseDue: hm(17, 0), WarnAt: hm(15, 0), RespondedAt: hm(10, 0)}},
		{Number: "SD-2", Subject: "Feature: dark mode <script>alert(1)</script>", Status: ticket.StatusNew, Priority: "P4",
			Customer: "globex", Contact: "ann@globex.example", ContactName: "Ann & Co", CreatedAt: hm(9, 0).Add(-50 * time.Hour)},
		{Number: "SD-3", Subject: "Mail is slow", Status: ticket.StatusInProgress, Priority: "P2", Customer: "acme",
			Contact: "jan@acme.example", ContactName: "Jan", Assignee: "piet", CreatedAt: hm(10, 40),
			SLA: &ticket.Clock{Start: hm(10, 40), FirstResponseDue: hm(18, 10), WarnAt: hm(17, 0)}},
		{Number: "SD-4", Subject: "Printer on fire", Status: ticket.StatusAcknowledged, Priority: "P1", Customer: "acme",
			Contact: "jan@acme.example", CreatedAt: hm(9, 25),
			SLA: &ticket.Clock{Start: hm(9, 25), FirstResponseDue: hm(13, 25), WarnAt: hm(12, 25)}},
		{Number: "SD-5", Subject: "VPN down", Status: ticket.StatusNew, Priority: "P1", Customer: "globex",
			Contact: "ann@globex.example", CreatedAt: hm(12, 0),
			SLA: &ticket.Clock{Start: hm(12, 0), FirstResponseDue: hm(14, 20), WarnAt: hm(13, 30)}},
		{Number: "SD-6", Subject: "Done already", Status: ticket.StatusResolved, Priority: "P1", Customer: "zeta",
			Contact: "x@zeta.example", CreatedAt: hm(8, 0),
			SLA: &ticket.Clock{Start: hm(8, 0), FirstResponseDue: hm(9, 0)}},
		{Number: "SD-7", Subject: "Waiting for logs", Status: ticket.StatusWaitingCustomer, Priority: "P2", Customer: "acme",
			Contact: "jan@acme.example", CreatedAt: hm(9, 0),
			SLA: &ticket.Clock{Start: hm(9, 0), FirstResponseDue: hm(17, 0), PausedAt: hm(13, 0)}},
		{Number: "SD-8", Subject: "Unknown customer", Status: ticket.StatusNew, Priority: "P3", Customer: "zeta",
			Contact: "x@zeta.example", CreatedAt: hm(13, 35),
			SLA: &ticket.Clock{Start: hm(13, 35), FirstResponseDue: hm(15, 35), WarnAt: hm(15, 0)}},
		{Number: "SD-9", Subject: "Closed long ago", Status: ticket.StatusClosed, Priority: "P3", Customer: "acme",
			Contact: "jan@acme.example", CreatedAt: hm(7, 0)},
	}
}

func getDashboard(t *testing.T, l TicketLister, loc *time.Location, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	h := NewDashboard(l, dashCustomer, "Acme IT servicedesk", func() time.Time { return dashNow }, loc)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

var rowRE = regexp.MustCompile(`(?s)<tr class="([a-z]+)">\s*<th scope="row">([^<]*)</th>(.*?)</tr>`)

type dashRowSeen struct {
	class string
	html  string
}

// rowsOf returns the ticket rows of a page in order.
func rowsOf(body string) (numbers []string, rows map[string]dashRowSeen) {
	rows = map[string]dashRowSeen{}
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		numbers = append(numbers, m[2])
		rows[m[2]] = dashRowSeen{class: m[1], html: m[3]}
	}
	return numbers, rows
}

func TestDashboardOrderAndSummary(t *testing.T) {
	rec := getDashboard(t, fakeLister{tickets: sampleTickets()}, dashAms, "GET", "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("code %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	body := rec.Body.String()
	numbers, _ := rowsOf(body)
	// Acme has the breached ticket; Globex the next deadline (at risk);
	// zeta a running clock; Initech only an answered one.
	// Within Acme: breached, running by deadline, paused.
	want := []string{"SD-4", "SD-3", "SD-7", "SD-5", "SD-2", "SD-8", "SD-1"}
	if strings.Join(numbers, " ") != strings.Join(want, " ") {
		t.Errorf("rows %v, want %v", numbers, want)
	}
	headings := regexp.MustCompile(`<h2 id="customer-\d+">([^<]*) <span`).FindAllStringSubmatch(body, -1)
	var names []string
	for _, h := range headings {
		names = append(names, h[1])
	}
	if got := strings.Join(names, "|"); got != "Acme BV|Globex|zeta|Initech" {
		t.Errorf("customers %s", got)
	}
	for _, s := range []string{
		`<meta http-equiv="refresh" content="30">`,
		`<span class="n">7</span> open`,
		`<span class="n">1</span> at risk`,
		`<span class="n">1</span> breached`,
		`<title>(1 breached) Acme IT servicedesk: open tickets</title>`,
		`Acme BV <span class="counts">3 open, 1 breached</span>`,
		`Globex <span class="counts">2 open, 1 at risk</span>`,
		`<th scope="col">First response</th>`,
	} {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %s", s)
		}
	}
	for _, s := range []string{"SD-6", "SD-9", "Done already", "<script"} {
		if strings.Contains(body, s) {
			t.Errorf("page shows %s", s)
		}
	}
}

func TestDashboardClock(t *testing.T) {
	rec := getDashboard(t, fakeLister{tickets: sampleTickets()}, dashAms, "GET", "/")
	_, rows := rowsOf(rec.Body.String())
	tests := []struct {
		number, class, text, width, due, age string
	}{
		// due 13:25, now 14:00
		{"SD-4", "breached", "overdue 35m", "width: 100%", "due <time datetime=\"2026-11-23T12:25:00Z\">13:25</time>", ">4h<"},
		// warn 13:30, due 14:20: 120 of 140 minutes
		{"SD-5", "warning", "20m left", "width: 85%", ">14:20</time>", ">2h<"},
		// due 18:10: 200 of 450 minutes
		{"SD-3", "ok", "4h 10m left", "width: 44%", ">18:10</time>", ">3h<"},
		{"SD-8", "ok", "1h 35m left", "width: 20%", ">15:35</time>", ">25m<"},
		// paused at 13:00: 4 of 8 hours
		{"SD-7", "paused", ">paused<", "width: 50%", "", ">5h<"},
		// answered at 10:00: 1 of 8 hours
		{"SD-1", "answered", ">answered<", "width: 12%", "", ">5h<"},
		{"SD-2", "none", ">no SLA<", "width: 0%", "", ">2d 7h<"},
	}
	for _, tt := range tests {
		t.Run(tt.number, func(t *testing.T) {
			r, ok := rows[tt.number]
			if !ok {
				t.Fatalf("no row %s", tt.number)
			}
			if r.class != tt.class {
				t.Errorf("row class %q, want %q", r.class, tt.class)
			}
			for _, s := range []string{`class="bar ` + tt.class + `" aria-hidden="true"`, tt.text, tt.width, tt.due, tt.age} {
				if !strings.Contains(r.html, s) {
					t.Errorf("row lacks %q: %s", s, r.html)
				}
			}
			if tt.due == "" && strings.Contains(r.html, "due") {
				t.Errorf("row shows a deadline: %s", r.html)
			}
		})
	}
}

func TestDashboardEscapes(t *testing.T) {
	rec := getDashboard(t, fakeLister{tickets: sampleTickets()}, dashAms, "GET", "/")
	_, rows := rowsOf(rec.Body.String())
	r := rows["SD-2"].html
	for _, s := range []string{"Feature: dark mode &lt;script&gt;alert(1)&lt;/script&gt;", "Ann &amp; Co"} {
		if !strings.Contains(r, s) {
			t.Errorf("row lacks %s: %s", s, r)
		}
	}
}

func TestDashboardTimezone(t *testing.T) {
	tests := []struct {
		loc        *time.Location
		due, stamp string
	}{
		{dashAms, "13:25", "times in Europe/Amsterdam (CET)"},
		{time.UTC, "12:25", "times in UTC"},
		{mustLoc("America/New_York"), "07:25", "times in America/New_York (EST)"},
	}
	for _, tt := range tests {
		t.Run(tt.loc.String(), func(t *testing.T) {
			body := getDashboard(t, fakeLister{tickets: sampleTickets()}, tt.loc, "GET", "/").Body.String()
			_, rows := rowsOf(body)
			if r := rows["SD-4"].html; !strings.Contains(r, ">"+tt.due+"</time>") {
				t.Errorf("SD-4 lacks due %s: %s", tt.due, r)
			}
			if !strings.Contains(body, tt.stamp) {
				t.Errorf("page lacks %q", tt.stamp)
			}
		})
	}
}

func TestDashboardEmpty(t *testing.T) {
	tests := []struct {
		name    string
		tickets []ticket.Ticket
	}{
		{"no tickets", nil},
		{"only closed", sampleTickets()[5:6]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := getDashboard(t, fakeLister{tickets: tt.tickets}, dashAms, "GET", "/")
			body := rec.Body.String()
			if rec.Code != http.StatusOK || !strings.Contains(body, "No open tickets") || strings.Contains(body, "<table") {
				t.Errorf("code %d, body %s", rec.Code, body)
			}
			if !strings.Contains(body, `<span class="n">0</span> open`) {
				t.Errorf("summary: %s", body)
			}
		})
	}
}

func TestDashboardRoutes(t *testing.T) {
	l := fakeLister{tickets: sampleTickets()}
	tests := []struct {
		method, target string
		code           int
		body           bool
	}{
		{"GET", "/", 200, true},
		{"HEAD", "/", 200, false},
		{"POST", "/", 405, false},
		{"GET", "/tickets", 404, false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			rec := getDashboard(t, l, dashAms, tt.method, tt.target)
			if rec.Code != tt.code {
				t.Errorf("code %d, want %d", rec.Code, tt.code)
			}
			if got := strings.Contains(rec.Body.String(), "SD-4"); got != tt.body {
				t.Errorf("body has tickets: %v, want %v", got, tt.body)
			}
		})
	}
}

func TestDashboardStoreDown(t *testing.T) {
	rec := getDashboard(t, fakeLister{err: errors.New("dial tcp 127.0.0.1:6379: connection refused")}, dashAms, "GET", "/")
	body := rec.Body.String()
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("code %d", rec.Code)
	}
	// It says so, keeps refreshing, and does not show internals.
	for _, s := range []string{`role="alert"`, "cannot be read", `http-equiv="refresh"`} {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %s", s)
		}
	}
	if strings.Contains(body, "6379") || strings.Contains(body, "No open tickets") {
		t.Errorf("page: %s", body)
	}
}

func TestDashboardCompact(t *testing.T) {
	tests := []struct {
		d          time.Duration
		want       string
		wantCoarse string
	}{
		{-time.Minute, "<1m", "0m"},
		{30 * time.Second, "<1m", "0m"},
		{35 * time.Minute, "35m", "35m"},
		{time.Hour, "1h", "1h"},
		{2*time.Hour + 10*time.Minute, "2h 10m", "2h"},
		{26*time.Hour + 5*time.Minute, "1d 2h", "1d 2h"},
		{48*time.Hour + 5*time.Minute, "2d", "2d"},
	}
	for _, tt := range tests {
		if got := compact(tt.d, 2, false); got != tt.want {
			t.Errorf("compact(%v) = %q, want %q", tt.d, got, tt.want)
		}
		if got := compact(tt.d, 2, true); got != tt.wantCoarse {
			t.Errorf("compact(%v, coarse) = %q, want %q", tt.d, got, tt.wantCoarse)
		}
	}
}

func TestDashboardWhen(t *testing.T) {
	tests := []struct {
		loc  *time.Location
		at   time.Time
		want string
	}{
		{dashAms, hm(23, 59), "23:59"},
		{dashAms, hm(24, 30), "Tue 00:30"},
		{dashAms, hm(-24+9, 0), "Sun 09:00"},
		{dashAms, hm(7*24+9, 0), "30 Nov 09:00"},
		// the same instant is still today in UTC
		{time.UTC, hm(24, 30), "23:30"},
	}
	for _, tt := range tests {
		d := &dashboard{loc: tt.loc}
		if got := d.when(tt.at, dashNow); got != tt.want {
			t.Errorf("when(%v) in %v = %q, want %q", tt.at, tt.loc, got, tt.want)
		}
	}
}

// Finding 7 of issue 14: html/template escapes markup but not control and
// format characters; a subject with a bidi override would turn the row
// around it, one with escapes would reach a terminal reading the page.
func TestDashboardDropsControlAndFormatCharacters(t *testing.T) {
	const deceptive = "\x1b[2J\u009b\u202Eexe.pdf\u202C\u2066\u2069\u200B\uFEFF\u0007"
	tickets := []ticket.Ticket{{Number: "SD-1\u202E", Subject: "Invoice" + deceptive, Status: ticket.StatusNew, Priority: "P3",
		Customer: "acme", Contact: "jan@acme.example", ContactName: "Jan" + deceptive, Assignee: "piet" + deceptive, CreatedAt: hm(9, 0)}}
	customers := func(string) *config.Customer { return &config.Customer{ID: "acme", Name: "Acme" + deceptive} }
	h := NewDashboard(fakeLister{tickets: tickets}, customers, "Desk"+deceptive, func() time.Time { return dashNow }, dashAms)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	body := rec.Body.String()
	for _, r := range body {
		if r != '\n' && r != '\t' && r != '\r' && (unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r)) {
			t.Fatalf("page carries %U:\n%s", r, body)
		}
	}
	for _, want := range []string{"Invoice", "exe.pdf", "Jan", "piet", "Acme"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lost %q", want)
		}
	}
}
