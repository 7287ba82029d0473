package httpapi

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/ticket"
)

// Issue 15.2: a closed feature request the customer replied on is not in
// the open tickets, but at the top of the page, "Needs an agent", longest
// waiting first, with how to make it an incident; the title and summary
// count them.
func TestDashboardNeedsAgent(t *testing.T) {
	since := func(h, m int) *time.Time { v := hm(h, m); return &v }
	tickets := append(sampleTickets(),
		ticket.Ticket{Number: "SD-10", Subject: "Feature request: dark mode <b>now</b>", Status: ticket.StatusClosed, Type: ticket.TypeFeatureRequest,
			Priority: "P3", Customer: "globex", Contact: "ann@globex.example", ContactName: "Ann", CreatedAt: hm(8, 0), NeedsAgentSince: since(13, 30)},
		ticket.Ticket{Number: "SD-11", Subject: "[feature] export", Status: ticket.StatusClosed, Type: ticket.TypeFeatureRequest,
			Priority: "P3", Customer: "acme", Contact: "jan@acme.example", CreatedAt: hm(7, 0), NeedsAgentSince: since(11, 0)},
		ticket.Ticket{Number: "SD-12", Subject: "[feature] left alone", Status: ticket.StatusClosed, Type: ticket.TypeFeatureRequest,
			Priority: "P3", Customer: "acme", Contact: "jan@acme.example", CreatedAt: hm(7, 0)},
	)
	body := getDashboard(t, fakeLister{tickets: tickets}, dashAms, "GET", "/").Body.String()
	top := strings.Index(body, `<section class="needs-agent"`)
	if top < 0 || top > strings.Index(body, `<section class="customer"`) {
		t.Fatalf("no Needs an agent section above the customers:\n%s", body)
	}
	rows := regexp.MustCompile(`(?s)<tr class="needs-agent">\s*<th scope="row">([^<]*)</th>(.*?)</tr>`).FindAllStringSubmatch(body, -1)
	var numbers []string
	for _, r := range rows {
		numbers = append(numbers, r[1])
	}
	if got := strings.Join(numbers, " "); got != "SD-11 SD-10" {
		t.Fatalf("needs an agent: %q, want the longest waiting first and no unmarked ticket", got)
	}
	for _, s := range []string{"Acme BV", "jan@acme.example", "closed feature request", `datetime="2026-11-23T10:00:00Z"`, ">3h<"} {
		if !strings.Contains(rows[0][2], s) {
			t.Errorf("SD-11 lacks %q: %s", s, rows[0][2])
		}
	}
	if !strings.Contains(rows[1][2], "Feature request: dark mode &lt;b&gt;now&lt;/b&gt;") {
		t.Errorf("SD-10 subject not escaped: %s", rows[1][2])
	}
	for _, s := range []string{
		`<title>(2 need an agent) (1 breached) Acme IT servicedesk: open tickets</title>`,
		`<span class="n">2</span> need an agent`,
		`<code>#type incident</code>`, `<code>maildesk tickets set NUMBER type=incident</code>`,
		`<span class="n">7</span> open`, // closed tickets stay out of the open ones
	} {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %s", s)
		}
	}
	// Nothing marked: no section, no count.
	body = getDashboard(t, fakeLister{tickets: sampleTickets()}, dashAms, "GET", "/").Body.String()
	if strings.Contains(body, `<section class="needs-agent"`) || strings.Contains(body, "an agent)") || strings.Contains(body, `class="needs-agent some"`) {
		t.Errorf("page without marked tickets shows the list")
	}
}
