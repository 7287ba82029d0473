package ingest

import (
	"context"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// TestRights: the priority a contact may ask for, plans where the desk
// decides, feature requests, participants, spoofing, notices naming the
// main contact.
func TestRights(t *testing.T) {
	no, yes := false, true
	customers := []config.Customer{
		{ID: "qiqq", Name: "QiQQ klant", Plan: "standard", Contacts: []config.Contact{
			{Email: "boss@qiqq.example", Main: true}, {Email: "staff@qiqq.example", MaxPriority: "P2"}, {Email: "colleague@qiqq.example"}}},
		{ID: "oxi", Name: "Oxi BV", Plan: "oxineo", RequireAuthentication: &yes, Domains: []string{"oxi.example"}, Contacts: []config.Contact{
			{Email: "a@oxi.example", Name: "Anna", Main: true, Language: "nl"}, {Email: "b@oxi.example"}}},
		{ID: "other", Contacts: []config.Contact{{Email: "x@other.example"}}},
	}
	p, store, rdb := newPipeline(t, customers)
	p.Plans = map[string]config.Plan{"standard": {DefaultPriority: "P3"}, "oxineo": {CustomerSetsPriority: &no, DefaultPriority: "P3"}}
	p.Rules = PriorityRules{Words: map[string][]string{"P1": {"spoed"}}, FeatureWords: []string{"[feature]"}}
	p.TrustedAuthserv = []string{"mx.desk.example"}
	p.Priority = "P4"
	ctx := context.Background()
	lastNote := func() notify.Notification {
		msgs, _ := rdb.XRevRangeN(ctx, "md:{d}:outbox", "+", "-", 1).Result()
		n, _ := notify.FromFields(msgs[0].Values)
		return n
	}
	outbox := func() int64 { n, _ := rdb.XLen(ctx, "md:{d}:outbox").Result(); return n }
	const oxiAuth = "Authentication-Results: mx.desk.example; dmarc=pass header.from=oxi.example\n"

	tests := []struct {
		name   string
		mail   string
		check  func(t *testing.T, res Result, tk *ticket.Ticket)
		answer bool
	}{
		{"contact asks for what they may", "From: boss@qiqq.example\nSubject: [P1] server down\n", func(t *testing.T, res Result, tk *ticket.Ticket) {
			if tk.Priority != "P1" || tk.PriorityReason != "" {
				t.Fatalf("%+v", tk)
			}
		}, true},
		{"contact capped by max_priority", "From: staff@qiqq.example\nSubject: SPOED server down\nCc: colleague@qiqq.example, x@other.example\n", func(t *testing.T, res Result, tk *ticket.Ticket) {
			if tk.Priority != "P2" || tk.RequestedPriority != "P1" || tk.PriorityReason != authz.ByRights {
				t.Fatalf("%+v", tk)
			}
			if n := lastNote(); n.Priority != "P2" || n.RequestedPriority != "P1" || n.PriorityReason != authz.ByRights {
				t.Fatalf("ack does not explain the cap: %+v", n)
			}
			if len(tk.Participants) != 1 || tk.Participants[0] != "colleague@qiqq.example" {
				t.Fatalf("participants %v, want the colleague only", tk.Participants)
			}
		}, true},
		{"plan where the desk decides", "From: a@oxi.example\nSubject: [P1] alles plat\n" + oxiAuth, func(t *testing.T, res Result, tk *ticket.Ticket) {
			if tk.Priority != "P3" || tk.PriorityReason != authz.ByPlan {
				t.Fatalf("%+v", tk)
			}
		}, true},
		{"no priority asked: plan default", "From: colleague@qiqq.example\nSubject: question\n", func(t *testing.T, res Result, tk *ticket.Ticket) {
			if tk.Priority != "P3" || tk.RequestedPriority != "" {
				t.Fatalf("%+v", tk)
			}
		}, true},
		{"feature request is stored and closed", "From: boss@qiqq.example\nSubject: [feature] dark mode\n", func(t *testing.T, res Result, tk *ticket.Ticket) {
			if tk.Type != ticket.TypeFeatureRequest || tk.Status != ticket.StatusClosed {
				t.Fatalf("%+v", tk)
			}
			if n := lastNote(); n.Type != ticket.TypeFeatureRequest {
				t.Fatalf("ack %+v", n)
			}
		}, true},
		{"participant may follow up", "From: colleague@qiqq.example\nSubject: Re: [SD-2] SPOED server down\n", func(t *testing.T, res Result, tk *ticket.Ticket) {
			if !res.FollowUp || res.Ticket != "SD-2" {
				t.Fatalf("%+v", res)
			}
		}, false},
		{"unauthenticated contact where required: no ticket, no notice", "From: b@oxi.example\nSubject: help\n", func(t *testing.T, res Result, tk *ticket.Ticket) {
			if res.Outcome != Rejected || !res.AuthFailed || !strings.Contains(res.Reason, "authentication failed") {
				t.Fatalf("%+v", res)
			}
		}, false},
		{"forged authentication from an untrusted host", "From: b@oxi.example\nSubject: help\nAuthentication-Results: evil.example; dmarc=pass header.from=oxi.example\n", func(t *testing.T, res Result, tk *ticket.Ticket) {
			if res.Outcome != Rejected {
				t.Fatalf("%+v", res)
			}
		}, false},
		{"stranger whose domain failed our MTA's checks: no notice (backscatter)", "From: someone@forged.example\nSubject: help\nAuthentication-Results: mx.desk.example; dmarc=fail header.from=forged.example\n", func(t *testing.T, res Result, tk *ticket.Ticket) {
			if res.Outcome != Rejected || !strings.Contains(res.Reason, "no notice") {
				t.Fatalf("%+v", res)
			}
		}, false},
		{"known domain, not a contact: notice names the main contact", "From: c@oxi.example\nSubject: help\n" + oxiAuth, func(t *testing.T, res Result, tk *ticket.Ticket) {
			n := lastNote()
			if res.Outcome != Rejected || n.Kind != notify.Rejection || n.MainContact != "a@oxi.example" || n.MainContactName != "Anna" || n.Language != "nl" {
				t.Fatalf("%+v %+v", res, n)
			}
		}, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := outbox()
			raw := tt.mail + "Message-ID: <t" + string(rune('a'+i)) + "@x>\n\nbody\n"
			res, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{})
			if err != nil {
				t.Fatal(err)
			}
			var tk *ticket.Ticket
			if res.Ticket != "" {
				if tk, err = store.Get(ctx, res.Ticket); err != nil {
					t.Fatal(err)
				}
			}
			tt.check(t, res, tk)
			if got := outbox() > before; got != tt.answer {
				t.Fatalf("answer queued = %v, want %v", got, tt.answer)
			}
		})
	}
}
