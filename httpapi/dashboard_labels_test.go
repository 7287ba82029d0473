package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ticket"
)

// Issue 15.9: the dashboard shows a priority in the plan's words, the code
// in the title; without labels it shows the code.
func TestDashboardPriorityLabels(t *testing.T) {
	customers := map[string]*config.Customer{"q": {ID: "q", Name: "QiQQ klant", Plan: "qiqq"}, "k": {ID: "k", Name: "Kwik", Plan: "premium"}}
	plans := map[string]config.Plan{
		"qiqq":     {PriorityLabels: map[string]map[string]string{"nl": {"P1": "Direct", "P3": "Standaard"}}},
		"premium":  {PriorityLabels: map[string]map[string]string{"en": {"P1": "P1 (Service Blocker)"}}},
		"standard": {},
	}
	tickets := []ticket.Ticket{
		{Number: "SD-1", Subject: "a", Status: ticket.StatusNew, Priority: "P1", Customer: "q", Language: "en", CreatedAt: hm(9, 0)},
		{Number: "SD-2", Subject: "b", Status: ticket.StatusNew, Priority: "P2", Customer: "q", CreatedAt: hm(9, 0)},
		{Number: "SD-3", Subject: "c", Status: ticket.StatusNew, Priority: "P1", Customer: "k", Language: "en", CreatedAt: hm(9, 0)},
		{Number: "SD-4", Subject: "d", Status: ticket.StatusNew, Priority: "P3", Customer: "none", CreatedAt: hm(9, 0)},
	}
	tests := []struct {
		name string
		opts []DashboardOption
		want map[string]string
	}{
		{"labels", []DashboardOption{WithPriorityLabels(plans, "nl")}, map[string]string{
			"SD-1": `<td class="prio" title="P1">Direct</td>`,
			"SD-2": `<td class="prio">P2</td>`,
			"SD-3": `<td class="prio" title="P1">P1 (Service Blocker)</td>`, // the ticket's language
			"SD-4": `<td class="prio">P3</td>`,
		}},
		{"none", nil, map[string]string{"SD-1": `<td class="prio">P1</td>`, "SD-3": `<td class="prio">P1</td>`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewDashboard(fakeLister{tickets: tickets}, func(id string) *config.Customer { return customers[id] }, "Desk",
				func() time.Time { return dashNow }, dashAms, tt.opts...)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			_, rows := rowsOf(rec.Body.String())
			for n, cell := range tt.want {
				if !strings.Contains(rows[n].html, cell) {
					t.Errorf("%s: want %s in\n%s", n, cell, rows[n].html)
				}
			}
		})
	}
}
