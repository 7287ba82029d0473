package httpapi

import (
	"html/template"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ticket"
)

// rowTemplate is the dashboard's row as an html/template (what
// dashRow.HTML replaced for speed): the rows written in Go must be the
// same, byte for byte, hostile text included.
var rowTemplate = template.Must(template.New("row").Parse(`<tr class="{{.State}}">
<th scope="row">{{if .URL}}<a href="{{.URL}}">{{.Number}}</a>{{else}}{{.Number}}{{end}}</th>
<td class="subject">{{.Subject}}{{if .Channel}} <span class="channel">({{.Channel}})</span>{{end}}{{if .Type}}<br><span class="type muted">{{.Type}}</span>{{end}}</td>
<td class="prio"{{if .PriorityLabel}} title="{{.Priority}}"{{end}}>{{or .PriorityLabel .Priority}}</td>
<td>{{.Status}}</td>
<td class="contact">{{.Contact}}</td>
<td>{{if .Assignee}}{{.Assignee}}{{else}}<span class="muted">nobody</span>{{end}}</td>
<td class="age">{{if .Age}}<time datetime="{{.CreatedISO}}" title="created {{.CreatedText}}">{{.Age}}</time>{{end}}</td>
<td class="clock"><span class="bar {{.State}}" aria-hidden="true"><span class="fill" style="display: block; width: {{.Pct}}%"></span></span><span class="clock-text">{{.Clock}}</span>{{if .DueText}} <span class="due">due <time datetime="{{.DueISO}}">{{.DueText}}</time></span>{{end}}</td>
</tr>`))

func TestDashboardRowsAsTemplate(t *testing.T) {
	ts := append(sampleTickets(), ticket.Ticket{Number: "SD-10", Subject: `a+b <script>"x" & 'y'` + "\x00z", Status: ticket.StatusNew,
		Priority: "P1", Customer: "acme", Contact: "j+x@acme.example", ContactName: `Ann "&" <Co>`, Assignee: "o'brien+", CreatedAt: hm(9, 0),
		SLA: &ticket.Clock{Start: hm(9, 0), FirstResponseDue: hm(17, 0), WarnAt: hm(15, 0)}})
	plans := map[string]config.Plan{config.DefaultPlan: {PriorityLabels: map[string]map[string]string{"en": {"P1": "Direct <+>"}}}}
	rows := 0
	for _, opts := range [][]DashboardOption{nil, {WithPriorityLabels(plans, "en")}} {
		d := &dashboard{customer: dashCustomer, desk: "Desk", now: func() time.Time { return dashNow }, loc: dashAms}
		for _, o := range opts {
			o(d)
		}
		for _, g := range d.build(ts, dashNow).Groups {
			for _, r := range g.Rows {
				var want strings.Builder
				if err := rowTemplate.Execute(&want, r); err != nil {
					t.Fatal(err)
				}
				if got := string(r.HTML()); got != want.String() {
					t.Errorf("row %s:\n got %s\nwant %s", r.Number, got, want.String())
				}
				rows++
			}
		}
	}
	if rows < 10 {
		t.Fatalf("only %d rows compared", rows)
	}
}
