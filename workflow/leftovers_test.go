package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/access"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// busyTicket gives ticket number of the time fixture what a worked ticket
// holds: an agent's reply (history, outbox), a note by request key, time
// recorded by request key, by agent's mail and without a key, status links
// for its contact and for another contact of the customer
// (progress_to_all), and closes it. It returns the links' secrets.
func busyTicket(t *testing.T, f *fixture, number string) []string {
	t.Helper()
	ctx := context.Background()
	by := Agent{Name: "Piet", Email: "piet@desk.example"}
	if err := f.s.Reply(ctx, number, by, "We reset the VPN.", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.s.NoteRequest(ctx, number, by, "Called them.", "note-"+number); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.RecordTimeRequest(ctx, number, by, TimeEntry{Duration: 30 * time.Minute, Via: ViaCLI}, "k-"+number); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.RecordTime(ctx, number, by, TimeEntry{Duration: 15 * time.Minute, Via: ViaMail}, "d-"+number+"@desk.example", "t-"+number+"@desk.example"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.RecordTimeRequest(ctx, number, by, TimeEntry{Duration: 10 * time.Minute, Via: ViaAPI}, ""); err != nil {
		t.Fatal(err)
	}
	links := access.NewStore(f.rdb, "d", nil)
	var secrets []string
	for _, to := range []string{"a@oxi.example", "B@oxi.example"} {
		s, err := links.Mint(ctx, number, to)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s)
	}
	if _, err := f.st.Apply(ctx, number, ticket.Change{At: f.s.Now(), Status: ticket.StatusClosed}, nil); err != nil {
		t.Fatal(err)
	}
	return secrets
}

// resolves reports which of secrets still open a status page.
func resolves(t *testing.T, f *fixture, secrets []string) []bool {
	t.Helper()
	links := access.NewStore(f.rdb, "d", nil)
	out := make([]bool, len(secrets))
	for i, s := range secrets {
		_, err := links.Resolve(context.Background(), s)
		if err != nil && !errors.Is(err, access.ErrNotFound) {
			t.Fatal(err)
		}
		out[i] = err == nil
	}
	return out
}

// outsideTheTicket are the places a deleted ticket's number may stay:
// the Message-IDs the desk remembers (retention.seen ages them: a replayed
// mail must not make a new ticket) and the outbox's streams and delivery
// marks (retention.outbox and their own expiry).
var outsideTheTicket = regexp.MustCompile(`^md:\{d\}:(seen|seen:prev|outbox(:[a-z]+)?|sent:[^ ]*|traced:[^ ]*|sentmail:[^ ]*): `)

// retention.keep deleting a ticket removes everything it owned: the
// idempotency keys of its time and change requests, its status links
// (which hold the contact's address) and the contacts' lists of them. It
// left the fields of timekeys and requests and the links behind (session
// 6, room A).
func TestRetentionDeleteLeavesNothing(t *testing.T) {
	f, number := timeFixture(t)
	ctx := context.Background()
	secrets := busyTicket(t, f, number)
	keep := f.create(t, "acme", "jan@acme.example")
	kept := busyTicket(t, f, keep)
	// The kept ticket is reopened: only the first is due.
	if _, err := f.st.Apply(ctx, keep, ticket.Change{At: f.s.Now().Add(time.Minute), Status: ticket.StatusInProgress}, nil); err != nil {
		t.Fatal(err)
	}
	p := ticket.RetentionPolicy{Keep: 24 * time.Hour, Batch: 10}
	r, err := f.st.RunRetention(ctx, p, nil, f.s.Now().Add(48*time.Hour), false)
	if err != nil || len(r.Tickets) != 1 || r.Tickets[0].Number != number || r.Tickets[0].Action != ticket.ActionDelete {
		t.Fatalf("retention = %+v, %v", r, err)
	}
	var left []string
	for _, h := range testserver.Holding(t, f.rdb, "md:{d}:", regexp.MustCompile(`(^|[^A-Z0-9-])`+number+`($|[^0-9])`)) {
		if !outsideTheTicket.MatchString(h) {
			left = append(left, h)
		}
	}
	if len(left) > 0 {
		t.Errorf("the deleted %s is still in Redis:\n%s", number, strings.Join(left, "\n"))
	}
	if got := resolves(t, f, append(secrets, kept...)); got[0] || got[1] || !got[2] || !got[3] {
		t.Errorf("links resolve: %v, want the deleted ticket's not, the kept one's yes", got)
	}
	// The kept ticket's time request key still makes its request idempotent.
	by := Agent{Name: "Piet", Email: "piet@desk.example"}
	if _, created, err := f.s.RecordTimeRequest(ctx, keep, by, TimeEntry{Duration: 30 * time.Minute, Via: ViaCLI}, "k-"+keep); err != nil || created {
		t.Errorf("replayed time request on %s: created %v, %v", keep, created, err)
	}
}

// retention.closed_after anonymising a ticket ends its status links: an
// anonymous record has no contact to show it to, and a link holds the
// contact's address.
func TestRetentionAnonymiseRevokesLinks(t *testing.T) {
	f, number := timeFixture(t)
	ctx := context.Background()
	secrets := busyTicket(t, f, number)
	p := ticket.RetentionPolicy{ClosedAfter: 24 * time.Hour, Batch: 10}
	r, err := f.st.RunRetention(ctx, p, nil, f.s.Now().Add(48*time.Hour), false)
	if err != nil || len(r.Tickets) != 1 || r.Tickets[0].Action != ticket.ActionAnonymise {
		t.Fatalf("retention = %+v, %v", r, err)
	}
	if got := resolves(t, f, secrets); got[0] || got[1] {
		t.Errorf("links of the anonymised %s resolve: %v", number, got)
	}
	var left []string
	for _, h := range testserver.Holding(t, f.rdb, "md:{d}:", regexp.MustCompile(`(?i)[ab]@oxi\.example|:links`)) {
		if !outsideTheTicket.MatchString(h) {
			left = append(left, h)
		}
	}
	if len(left) > 0 {
		t.Errorf("the links' addresses are still in Redis:\n%s", strings.Join(left, "\n"))
	}
}

// Erasing a person ends every status link minted for them: on tickets
// they are the contact of, a participant in, on tickets of their customer
// they only got progress mail about (progress_to_all), and links minted
// before links were listed per contact. Others' links keep working. Erase
// left them all (session 6, room A).
func TestEraseRevokesTheirLinks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	own := f.create(t, "acme", "jan@acme.example")
	f.rdb.Del(ctx, "md:{d}:seen") // create's dedupe key is the same for every ticket of a contact
	part := f.create(t, "acme", "piet@acme.example", "Jan@Acme.example")
	f.rdb.Del(ctx, "md:{d}:seen")
	other := f.create(t, "acme", "kees@acme.example")
	links := access.NewStore(f.rdb, "d", nil)
	mint := func(number, to string) string {
		t.Helper()
		s, err := links.Mint(ctx, number, to)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	secrets := []string{mint(own, "jan@acme.example"), mint(part, "JAN@acme.example"), mint(other, "jan@acme.example"),
		mint(part, "piet@acme.example"), mint(other, "kees@acme.example")}
	// A link from before the contact's list: only its ticket lists it.
	legacy := mint(part, "jan@acme.example")
	sum := sha256.Sum256([]byte(legacy))
	f.rdb.ZRem(ctx, "md:{d}:"+ticket.ContactLinksPrefix+"jan@acme.example", hex.EncodeToString(sum[:]))
	secrets = append(secrets, legacy)
	p := &People{Store: f.st, Outbox: notify.NewOutbox(f.rdb, "d"), Links: links}
	r, err := p.Erase(ctx, "jan@acme.example", Agent{Name: "Alice"}, "GDPR-1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Links != 4 {
		t.Errorf("erasure ended %d links, want 4", r.Links)
	}
	if got := resolves(t, f, secrets); got[0] || got[1] || got[2] || !got[3] || !got[4] || got[5] {
		t.Errorf("links resolve: %v, want only piet's and kees's", got)
	}
	if left := testserver.Holding(t, f.rdb, "md:{d}:", regexp.MustCompile(`(?i)jan@acme\.example`)); len(left) > 0 {
		t.Errorf("jan's address is still in Redis:\n%s", strings.Join(left, "\n"))
	}
	for _, n := range []string{own, part, other} {
		if c, err := links.Count(ctx, n); err != nil || c != map[string]int{own: 0, part: 1, other: 1}[n] {
			t.Errorf("%s counts %d links, %v", n, c, err)
		}
	}
}
