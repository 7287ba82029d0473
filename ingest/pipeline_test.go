package ingest

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// newPipeline is a pipeline of desk "d" over a real Redis with the given
// customers, threading on, a fixed clock; tests adjust its fields.
func newPipeline(t *testing.T, customers []config.Customer) (*Pipeline, *ticket.Store, *redis.Client) {
	t.Helper()
	rs := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { rdb.Close() })
	store := ticket.NewStore(rdb, ticket.Options{DeskID: "d", TicketPrefix: "SD", OutboxKey: "md:{d}:outbox"})
	return &Pipeline{
		Store: store, Threads: store, TicketPrefix: "SD",
		Authz:    authz.NewDirectory(customers),
		Own:      Own{Address: "desk@desk.example", MessageIDDomain: "desk.example", LoopHeader: "X-Maildesk-Loop", DeskID: "d"},
		Language: "en", Priority: "P3", Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC) },
	}, store, rdb
}

// TestPipelineOutcomes: for each kind of mail, what is committed, where it
// goes and whether anything is sent back. Machine mail never gets an answer.
func TestPipelineOutcomes(t *testing.T) {
	p, _, rdb := newPipeline(t, []config.Customer{{ID: "acme", Name: "Acme BV", Contacts: []config.Contact{
		{Email: "jan@acme.example", Name: "Jan", Language: "nl"}, {Email: "monitor@acme.example"}}}})
	outboxKey := config.KeyPrefix("d") + "outbox"
	tests := []struct {
		name    string
		from    string
		headers string
		outcome Outcome
		answer  notify.Kind // "" = nothing sent
	}{
		{"authorised contact", "Jan <JAN@acme.example>", "", Processed, notify.Ack},
		{"stranger", "x@elsewhere.example", "", Rejected, notify.Rejection},
		{"stranger's auto-reply", "y@elsewhere.example", "Auto-Submitted: auto-replied\n", Rejected, ""},
		{"stranger's auto-generated mail", "z@elsewhere.example", "Auto-Submitted: auto-generated\n", Rejected, ""},
		{"Auto-Submitted: no is human", "w@elsewhere.example", "Auto-Submitted: no\n", Rejected, notify.Rejection},
		{"precedence bulk", "a@elsewhere.example", "Precedence: bulk\n", Rejected, ""},
		{"precedence list", "b@elsewhere.example", "Precedence: list\n", Rejected, ""},
		{"precedence junk", "c@elsewhere.example", "Precedence: junk\n", Rejected, ""},
		{"list-id", "d@elsewhere.example", "List-Id: <l.elsewhere.example>\n", Rejected, ""},
		{"empty return-path", "e@elsewhere.example", "Return-Path: <>\n", Rejected, ""},
		{"mailer-daemon", "MAILER-DAEMON@elsewhere.example", "", Rejected, ""},
		{"postmaster", "postmaster@elsewhere.example", "", Rejected, ""},
		{"no-reply", "no-reply@elsewhere.example", "", Rejected, ""},
		{"spam flagged", "f@elsewhere.example", "X-Spam-Flag: YES\n", Rejected, ""},
		{"own mail back", "desk@desk.example", "X-Maildesk-Loop: d\n", Rejected, ""},
		{"authorised out-of-office", "jan@acme.example", "Auto-Submitted: auto-replied\n", Rejected, ""},
		{"authorised monitoring alert", "monitor@acme.example", "Auto-Submitted: auto-generated\n", Processed, ""},
	}
	ctx := context.Background()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := rdb.XLen(ctx, outboxKey).Result()
			raw := "From: " + tt.from + "\nTo: desk@desk.example\nSubject: help " + tt.name + "\nMessage-ID: <" +
				strings.ReplaceAll(tt.name, " ", "-") + "@t>\n" + tt.headers + "\nbody\n"
			res, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{Mailbox: "INBOX", UID: uint32(i + 1)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.outcome {
				t.Fatalf("outcome %v (%s), want %v", res.Outcome, res.Reason, tt.outcome)
			}
			after, _ := rdb.XLen(ctx, outboxKey).Result()
			if tt.answer == "" {
				if after != before || res.Notified {
					t.Fatalf("machine mail got an answer queued")
				}
				return
			}
			if after != before+1 {
				t.Fatalf("outbox grew by %d, want one %s", after-before, tt.answer)
			}
			msgs, _ := rdb.XRevRangeN(ctx, outboxKey, "+", "-", 1).Result()
			n, err := notify.FromFields(msgs[0].Values)
			if err != nil {
				t.Fatal(err)
			}
			if n.Kind != tt.answer || !strings.EqualFold(n.To, addrOf(tt.from)) || n.InReplyTo == "" {
				t.Fatalf("queued %+v", n)
			}
			if n.Kind == notify.Ack && (n.Ticket != res.Ticket || n.Language != "nl" || n.Customer != "Acme BV") {
				t.Fatalf("ack %+v for ticket %s", n, res.Ticket)
			}
		})
	}
}

func addrOf(from string) string {
	if i := strings.IndexByte(from, '<'); i >= 0 {
		return strings.Trim(from[i:], "<>")
	}
	return from
}

// A mail with no Message-ID is deduplicated by its content.
func TestPipelineNoMessageIDDedupe(t *testing.T) {
	p, _, _ := newPipeline(t, []config.Customer{{ID: "acme", Contacts: []config.Contact{{Email: "jan@acme.example"}}}})
	raw := "From: jan@acme.example\nSubject: no id\n\nbody\n"
	first, err := p.Process(context.Background(), strings.NewReader(raw), ticket.Source{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := p.Process(context.Background(), strings.NewReader(raw), ticket.Source{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Ticket != "SD-1" || first.Replay || second.Ticket != "SD-1" || !second.Replay {
		t.Fatalf("first %+v second %+v", first, second)
	}
}

// The answer's language: the contact's own, else the one the mail was
// written in (its new text, not the quoted history), else the desk's.
func TestPipelineAnswerLanguage(t *testing.T) {
	p, _, rdb := newPipeline(t, []config.Customer{{ID: "acme", Name: "Acme BV", Domains: []string{"acme.example"}, Contacts: []config.Contact{
		{Email: "jan@acme.example", Language: "en"}, {Email: "piet@acme.example"},
		{Email: "boss@acme.example", Main: true, Language: "en"}}}})
	dutch := "Goedemorgen,\n\nSinds vanochtend kunnen wij niet meer inloggen op de server. Kunnen jullie hier naar kijken?\n"
	english := "Good morning,\n\nSince this morning we cannot log in to the server any more. Could you please look into it?\n"
	tests := []struct {
		name, from, body, want string
	}{
		{"contact's language wins", "jan@acme.example", dutch, "en"},
		{"detected Dutch", "piet@acme.example", dutch, "nl"},
		{"detected English", "piet@acme.example", english, "en"},
		{"quoted history does not count", "piet@acme.example", dutch + "\nOn Mon, 2 Nov 2026, desk wrote:\n> " + strings.ReplaceAll(english, "\n", "\n> "), "nl"},
		{"too short: desk's", "piet@acme.example", "Zie bijlage.\n", "en"},
		{"stranger in Dutch", "x@elsewhere.example", dutch, "nl"},
		{"colleague of a customer in Dutch before main contact's language", "new@acme.example", dutch, "nl"},
		{"colleague too short: main contact's", "new2@acme.example", "Zie bijlage.\n", "en"},
	}
	ctx := context.Background()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := "From: " + tt.from + "\nTo: desk@desk.example\nSubject: server\nMessage-ID: <lang" + string(rune('a'+i)) + "@t>\n\n" + tt.body
			if _, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{Mailbox: "INBOX", UID: uint32(100 + i)}); err != nil {
				t.Fatal(err)
			}
			msgs, _ := rdb.XRevRangeN(ctx, config.KeyPrefix("d")+"outbox", "+", "-", 1).Result()
			n, err := notify.FromFields(msgs[0].Values)
			if err != nil {
				t.Fatal(err)
			}
			if n.To != tt.from || n.Language != tt.want {
				t.Errorf("answer to %s in %q, want %q", n.To, n.Language, tt.want)
			}
		})
	}
}
