package ingest

import (
	"context"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// Support only during the contract's term and while not suspended (Kwikqy
// 5.3, Oxineo's monthly term): a contact's mail then makes no ticket, is
// kept in Rejected with the reason, and the contact is told why once.
func TestInactiveCustomer(t *testing.T) {
	// The pipeline's clock: 2026-11-21 10:00 UTC.
	tests := []struct {
		name, from, until, suspended string
		reason                       string // "" = a ticket
	}{
		{"within the term", "2026-01-01", "2026-12-31", "", ""},
		{"last day of the term", "", "2026-11-21", "", ""},
		{"before the term", "2026-12-01", "", "", "customer inactive: the support contract starts on 2026-12-01"},
		{"after the term", "", "2026-10-31", "", "customer inactive: the support contract ended on 2026-10-31"},
		{"suspended", "", "", "open invoices", "customer inactive: support is suspended: open invoices"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cu := config.Customer{ID: "acme", Name: "Acme BV", ActiveFrom: tt.from, ActiveUntil: tt.until, Suspended: tt.suspended,
				Contacts: []config.Contact{{Email: "jan@acme.example", Name: "Jan", Language: "nl", Main: true}}}
			p, store, rdb := newPipeline(t, []config.Customer{cu})
			ctx := context.Background()
			raw := "From: Jan <jan@acme.example>\nSubject: Printer kapot\nMessage-ID: <i" + string(rune('a'+i)) + "@acme.example>\n\nkapot\n"
			res, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{})
			if err != nil {
				t.Fatal(err)
			}
			ns, _ := outboxSince(t, rdb, "0")
			if tt.reason == "" {
				if res.Outcome != Processed || len(ns) != 1 || ns[0].Kind != notify.Ack {
					t.Fatalf("active customer: %+v, mails %+v", res, ns)
				}
				return
			}
			if res.Outcome != Rejected || res.Reason != tt.reason {
				t.Fatalf("got %+v, want rejected: %s", res, tt.reason)
			}
			if len(ns) != 1 || ns[0].Kind != notify.Inactive || ns[0].To != "jan@acme.example" || ns[0].Language != "nl" || ns[0].Customer != "Acme BV" {
				t.Fatalf("notice %+v", ns)
			}
			if _, err := notify.Render(notify.Desk{ID: "d", Name: "Desk", Address: "desk@desk.example", DefaultLanguage: "en"}, ns[0]); err != nil {
				t.Fatalf("render: %v", err)
			}
			if tks, _ := store.List(ctx); len(tks) != 0 {
				t.Fatalf("tickets made: %+v", tks)
			}
			rs, err := store.Rejections(ctx)
			if err != nil || len(rs) != 1 || !strings.Contains(rs[0].Reason, "customer inactive") {
				t.Fatalf("audit %+v %v", rs, err)
			}
		})
	}
}
