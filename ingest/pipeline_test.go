package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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

// redisBytes is what the desk's keys take in Redis, as MEMORY USAGE says.
func redisBytes(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, k := range keys {
		b, err := rdb.MemoryUsage(ctx, k, 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		n += b
	}
	return n
}

// hostileHead is a header block whose every stored field is huge: about
// 700 kB of subject, Message-ID, name and references.
func hostileHead(from, id string) string {
	var refs strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&refs, " <ref%04d.%s@elsewhere.example>", i, strings.Repeat("r", 40))
	}
	return "From: \"" + strings.Repeat("N", 20000) + "\" <" + from + ">\n" +
		"To: desk@desk.example\n" +
		"Subject: " + strings.Repeat("help me ", 60000) + "\n" +
		"Message-ID: <" + id + ">\n" +
		"In-Reply-To: <" + strings.Repeat("i", 5000) + "@elsewhere.example>\n" +
		"References:" + refs.String() + "\n"
}

// Finding 6 of issue 14: a stranger's mail must not grow Redis by its size.
// Every header field stored (subject, ids, name, references) is capped, the
// audit record says it was, and the dedupe entry a rejected mail leaves for
// ever is of bounded size.
func TestPipelineBoundsStrangersStorage(t *testing.T) {
	p, store, rdb := newPipeline(t, []config.Customer{{ID: "acme", Contacts: []config.Contact{{Email: "jan@acme.example"}}}})
	ctx := context.Background()
	before := redisBytes(t, rdb)
	longID := strings.Repeat("m", 200000) + "@elsewhere.example"
	raw := hostileHead("x@elsewhere.example", longID) + "\nbody\n"
	if len(raw) < 700<<10 {
		t.Fatalf("mail of %d bytes is too small to show anything", len(raw))
	}
	res, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{Mailbox: "INBOX", UID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != Rejected || !res.Notified {
		t.Fatalf("result %+v, want rejected with a notice", res)
	}
	if grew := redisBytes(t, rdb) - before; grew > 48<<10 {
		t.Errorf("a %d-byte mail grew Redis by %d bytes", len(raw), grew)
	}
	rs, err := store.Rejections(ctx)
	if err != nil || len(rs) != 1 {
		t.Fatalf("rejections %d, %v", len(rs), err)
	}
	r := rs[0]
	if n := utf8.RuneCountInString(r.Subject); n > maxStoredSubject {
		t.Errorf("audit subject of %d characters", n)
	}
	if len(r.MessageID) > maxStoredID {
		t.Errorf("audit Message-ID of %d bytes", len(r.MessageID))
	}
	if !strings.Contains(r.Reason, "truncated") || !strings.Contains(r.Reason, "subject") || !strings.Contains(r.Reason, "message-id") {
		t.Errorf("audit reason %q does not say what was truncated", r.Reason)
	}
	seen, err := rdb.HKeys(ctx, config.KeyPrefix("d")+"seen").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range seen {
		if len(k) > 128 {
			t.Errorf("a rejected mail is remembered for ever under a %d-byte key", len(k))
		}
	}
	msgs, _ := rdb.XRevRangeN(ctx, config.KeyPrefix("d")+"outbox", "+", "-", 1).Result()
	n, err := notify.FromFields(msgs[0].Values)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.References) > maxStoredReferences || utf8.RuneCountInString(n.ToName) > maxStoredName || len(n.InReplyTo) > maxStoredID {
		t.Errorf("notice queued with %d references, a name of %d characters, In-Reply-To of %d bytes",
			len(n.References), utf8.RuneCountInString(n.ToName), len(n.InReplyTo))
	}

	// The same mail again (a crash before the move) is recognised.
	again, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{Mailbox: "INBOX", UID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replay || again.Notified {
		t.Fatalf("replay %+v", again)
	}
	// Another mail whose id differs only past the cap is another mail.
	other, err := p.Process(ctx, strings.NewReader(strings.Replace(raw, longID, longID[:len(longID)-20]+"x@elsewhere.example", 1)), ticket.Source{Mailbox: "INBOX", UID: 2})
	if err != nil {
		t.Fatal(err)
	}
	if other.Replay {
		t.Fatalf("a different long Message-ID was taken for a replay: %+v", other)
	}
}

// A customer's ticket keeps capped header fields too; a reply naming the
// long original id still finds the ticket.
func TestPipelineBoundsTicketHeader(t *testing.T) {
	p, store, rdb := newPipeline(t, []config.Customer{{ID: "acme", Contacts: []config.Contact{{Email: "jan@acme.example"}}}})
	ctx := context.Background()
	longID := strings.Repeat("t", 100000) + "@acme.example"
	res, err := p.Process(ctx, strings.NewReader(hostileHead("jan@acme.example", longID)+"\nbody\n"), ticket.Source{Mailbox: "INBOX", UID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != Processed || res.Ticket != "SD-1" {
		t.Fatalf("result %+v", res)
	}
	tk, err := store.Get(ctx, "SD-1")
	if err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(tk.Subject); n > maxStoredSubject || !strings.HasSuffix(tk.Subject, "…") {
		t.Errorf("ticket subject of %d characters, ending %q", n, tk.Subject[max(0, len(tk.Subject)-10):])
	}
	if len(tk.MessageID) > maxStoredID || utf8.RuneCountInString(tk.ContactName) > maxStoredName {
		t.Errorf("ticket Message-ID of %d bytes, contact name of %d characters", len(tk.MessageID), utf8.RuneCountInString(tk.ContactName))
	}
	seen, _ := rdb.HKeys(ctx, config.KeyPrefix("d")+"seen").Result()
	for _, k := range seen {
		if len(k) > maxStoredID {
			t.Errorf("seen key of %d bytes", len(k))
		}
	}
	reply := "From: jan@acme.example\nTo: desk@desk.example\nSubject: more\nMessage-ID: <reply@acme.example>\n" +
		"In-Reply-To: <" + longID + ">\n\nanother thing\n"
	rr, err := p.Process(ctx, strings.NewReader(reply), ticket.Source{Mailbox: "INBOX", UID: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !rr.FollowUp || rr.Ticket != "SD-1" {
		t.Fatalf("reply to the long id: %+v", rr)
	}
}

// Finding 11 of issue 14: the notice about a mail too large follows the
// rules of every notice: none when the desk (or the customer) requires
// authentication and the mail has none, none when the desk's MTA found the
// From domain forged, none to machine mail.
func TestPipelineTooLargeNoticeRules(t *testing.T) {
	yes, no := true, false
	// One contact per case: a notice to one address is rate-limited.
	var acme []config.Contact
	for i := range 8 {
		acme = append(acme, config.Contact{Email: fmt.Sprintf("c%d@acme.example", i)})
	}
	p, _, rdb := newPipeline(t, []config.Customer{
		{ID: "acme", Name: "Acme BV", Contacts: acme},
		{ID: "lax", Name: "Lax BV", RequireAuthentication: &no, Contacts: []config.Contact{{Email: "kim@lax.example"}}},
		{ID: "strict", Name: "Strict BV", RequireAuthentication: &yes, Contacts: []config.Contact{{Email: "sam@strict.example"}}},
	})
	p.TrustedAuthserv = []string{"mx.desk.example"}
	outboxKey := config.KeyPrefix("d") + "outbox"
	pass := "Authentication-Results: mx.desk.example; dmarc=pass header.from=acme.example\n"
	fail := "Authentication-Results: mx.desk.example; dmarc=fail header.from=acme.example\n"
	tests := []struct {
		name        string
		requireAuth bool
		from        string
		headers     string
		notice      bool
	}{
		{"authenticated, required", true, "c0@acme.example", pass, true},
		{"unauthenticated, required by the desk", true, "c1@acme.example", "", false},
		{"forged, required by the desk", true, "c2@acme.example", fail, false},
		{"forged, not required", false, "c3@acme.example", fail, false},
		{"unchecked, not required", false, "c4@acme.example", "", true},
		{"unauthenticated, required by the customer", false, "sam@strict.example", "", false},
		{"unauthenticated, customer opted out", true, "kim@lax.example", "", true},
		{"sender's own verdict under another id", true, "c5@acme.example", "Authentication-Results: evil.example; dmarc=pass header.from=acme.example\n", false},
		{"auto-reply", false, "c6@acme.example", "Auto-Submitted: auto-replied\n", false},
		{"null return path", false, "c7@acme.example", "Return-Path: <>\n", false},
		{"stranger", false, "x@elsewhere.example", "", false},
	}
	ctx := context.Background()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.RequireAuth = tt.requireAuth
			before, _ := rdb.XLen(ctx, outboxKey).Result()
			raw := "From: " + tt.from + "\nTo: desk@desk.example\nSubject: big attachment\nMessage-ID: <big" +
				fmt.Sprint(i) + "@t>\n" + tt.headers + "\nbody\n"
			res, err := p.TooLarge(ctx, strings.NewReader(raw), 30<<20, 20<<20, ticket.Source{Mailbox: "INBOX", UID: uint32(i + 1)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != Quarantined {
				t.Fatalf("outcome %v", res.Outcome)
			}
			after, _ := rdb.XLen(ctx, outboxKey).Result()
			if got := after > before; got != tt.notice || res.Notified != tt.notice {
				t.Fatalf("notice queued %v (Notified %v), want %v; reason %q", got, res.Notified, tt.notice, res.Reason)
			}
		})
	}
}
