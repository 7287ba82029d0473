package ingest

import (
	"context"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ticket"
)

// turnOrder is an Order that commits straight to the store and records
// what the mail asked of it, in order.
type turnOrder struct {
	store Committer
	calls []string
}

func (o *turnOrder) Exclusive() error {
	o.calls = append(o.calls, "exclusive")
	return nil
}

func (o *turnOrder) Commit(ctx context.Context, c ticket.Commit) (ticket.Result, error) {
	o.calls = append(o.calls, "commit")
	return commitTo(ctx, o.store, c)
}

// TestExclusiveOnFirstRead: a mail waits for its turn (Order.Exclusive)
// once, before its first Redis read and only when it reads; a mail that
// only commits stays in the batched commit.
func TestExclusiveOnFirstRead(t *testing.T) {
	p, _, _ := newPipeline(t, []config.Customer{{ID: "acme", Name: "Acme BV", Contacts: []config.Contact{
		{Email: "jan@acme.example", Name: "Jan"}}}})
	ctx := context.Background()
	mail := func(id, subject, headers string) string {
		return "From: jan@acme.example\nTo: desk@desk.example\nSubject: " + subject + "\nMessage-ID: <" + id + "@t>\n" + headers + "\nbody\n"
	}
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"new mail: a commit only", mail("new", "printer broken", ""), "commit"},
		{"stranger: a commit only", strings.Replace(mail("stranger", "hello", ""), "jan@acme.example", "x@elsewhere.example", 1), "commit"},
		{"reply by header: its turn, then the append", mail("reply", "Re: printer broken", "In-Reply-To: <new@t>\n"), "exclusive"},
		{"reply by tag: its turn, then the append", mail("tagged", "Re: [SD-1] printer broken", ""), "exclusive"},
		{"unknown reference: its turn, then a new ticket", mail("stray", "Re: old", "References: <nowhere@t>\n"), "exclusive commit"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &turnOrder{store: p.Store}
			if _, err := p.Decide(ctx, p.Read(strings.NewReader(tt.raw), ticket.Source{Mailbox: "INBOX", UID: uint32(i + 1)}), o); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(o.calls, " "); got != tt.want {
				t.Fatalf("the mail asked its order for %q, want %q", got, tt.want)
			}
		})
	}
}
