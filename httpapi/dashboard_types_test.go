package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ticket"
)

// Issue 15.7: tickets on a plan with support types show their type's name
// in the desk's language; on plans without types nothing is added.
func TestDashboardSupportTypes(t *testing.T) {
	customers := map[string]*config.Customer{"q": {ID: "q", Name: "QiQQ klant", Plan: "qiqq"}, "k": {ID: "k", Name: "Kwik", Plan: "standard"}}
	plans := map[string]config.Plan{
		"qiqq": {DefaultType: "functioneel", Types: map[string]config.SupportType{
			"beheerd":     {Names: map[string]string{"nl": "Technische support op door QiQQ geleverde diensten", "en": "Technical support on services QiQQ provides"}},
			"functioneel": {Names: map[string]string{"nl": "Functioneel support"}},
		}},
		"standard": {},
	}
	tickets := []ticket.Ticket{
		{Number: "SD-1", Subject: "a", Status: ticket.StatusNew, Type: "beheerd", Priority: "P2", Customer: "q", CreatedAt: hm(9, 0)},
		{Number: "SD-2", Subject: "b", Status: ticket.StatusNew, Type: "functioneel", Priority: "P3", Customer: "q", CreatedAt: hm(9, 0)},
		{Number: "SD-3", Subject: "c", Status: ticket.StatusNew, Type: ticket.TypeIncident, Priority: "P1", Customer: "k", CreatedAt: hm(9, 0)},
	}
	h := NewDashboard(fakeLister{tickets: tickets}, func(id string) *config.Customer { return customers[id] }, "Desk",
		func() time.Time { return dashNow }, dashAms, WithPriorityLabels(plans, "en"))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	_, rows := rowsOf(rec.Body.String())
	for n, want := range map[string]string{
		"SD-1": `<td class="subject">a<br><span class="type muted">Technical support on services QiQQ provides</span></td>`,
		"SD-2": `<td class="subject">b<br><span class="type muted">Functioneel support</span></td>`, // no English name: the Dutch one
		"SD-3": `<td class="subject">c</td>`,
	} {
		if !strings.Contains(rows[n].html, want) {
			t.Errorf("%s: want %s in\n%s", n, want, rows[n].html)
		}
	}
}
