package httpapi

import (
	"strings"
	"testing"
)

// The dashboard narrows to a customer, a status and an assignee, by a GET
// form whose choices come from the open tickets.
func TestDashboardFilters(t *testing.T) {
	for _, tt := range []struct {
		query, want string
	}{
		{"", "SD-4 SD-3 SD-7 SD-5 SD-2 SD-8 SD-1"},
		{"?customer=acme", "SD-4 SD-3 SD-7"},
		{"?status=waiting_customer", "SD-7"},
		{"?assignee=PIET", "SD-3"},
		{"?assignee=-&customer=acme", "SD-4 SD-7"},
		{"?customer=nobody-at-all", ""},
	} {
		rec := getDashboard(t, fakeLister{tickets: sampleTickets()}, dashAms, "GET", "/"+tt.query)
		body := rec.Body.String()
		numbers, _ := rowsOf(body)
		if got := strings.Join(numbers, " "); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.query, got, tt.want)
		}
		if !strings.Contains(body, `<form class="filters" method="get" action="/"`) || !strings.Contains(body, `<option value="acme"`) ||
			!strings.Contains(body, `<option value="piet"`) || !strings.Contains(body, `<option value="waiting_customer"`) {
			t.Errorf("%q: no filter form with the tickets' customers, assignees and statuses", tt.query)
		}
		if (tt.query != "") != strings.Contains(body, `<a href="/">Show all</a>`) {
			t.Errorf("%q: the way back to all tickets", tt.query)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") {
			t.Errorf("CSP %q", csp)
		}
	}
	body := getDashboard(t, fakeLister{tickets: sampleTickets()}, dashAms, "GET", "/?customer=acme&assignee=piet").Body.String()
	for _, want := range []string{`<option value="acme" selected>Acme BV</option>`, `<option value="piet" selected>piet</option>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the form does not keep %s", want)
		}
	}
}
