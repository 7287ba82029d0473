package workflow

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/access"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
)

// The export lists the suppression of mail to the person (a bounce or a
// refusal by the relay: the reason names their address and what their
// server said), which erasure deletes: an access request is answered with
// everything erasure would remove. The export left it out.
func TestExportListsSuppression(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ob := notify.NewOutbox(f.rdb, "d")
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	p := &People{Store: f.st, Outbox: ob, Now: func() time.Time { return now }}
	x, err := p.Export(ctx, "jan@acme.example")
	if err != nil || x.Suppression != nil {
		t.Fatalf("export before = %+v, %v", x.Suppression, err)
	}
	if err := ob.Suppress(ctx, "Jan@Acme.example", 48*time.Hour, "bounced: 550 5.1.1 <jan@acme.example> unknown"); err != nil {
		t.Fatal(err)
	}
	x, err = p.Export(ctx, "JAN@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	if s := x.Suppression; s == nil || s.Reason != "bounced: 550 5.1.1 <jan@acme.example> unknown" ||
		s.Until.Before(now.Add(47*time.Hour)) || s.Until.After(now.Add(48*time.Hour)) {
		t.Errorf("export suppression = %+v", s)
	}
	if _, err := p.Erase(ctx, "jan@acme.example", Agent{Name: "Alice"}, "GDPR-2"); err != nil {
		t.Fatal(err)
	}
	if x, err := p.Export(ctx, "jan@acme.example"); err != nil || x.Suppression != nil {
		t.Errorf("export after the erasure = %+v, %v", x.Suppression, err)
	}
}

// Erasing a person ends their sessions of "My tickets" and their unused
// sign-in links, whatever spelling of the address they were opened with:
// each holds the address (up to access.SessionTTL). Others' stay. Erase
// left them (session 6, room E).
func TestEraseEndsTheirSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	links := access.NewStore(f.rdb, "d", nil)
	session := func(contact string) string {
		t.Helper()
		in, err := links.SignIn(ctx, contact)
		if err != nil {
			t.Fatal(err)
		}
		c, err := links.UseSignIn(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		s, err := links.NewSession(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	jan := []string{session("jan@acme.example"), session("JAN@Acme.Example.")}
	piet := session("piet@acme.example")
	pending, err := links.SignIn(ctx, "Jan@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	p := &People{Store: f.st, Outbox: notify.NewOutbox(f.rdb, "d"), Links: links}
	r, err := p.Erase(ctx, "jan@acme.example", Agent{Name: "Alice"}, "GDPR-2")
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range jan {
		if c, err := links.Session(ctx, s); !errors.Is(err, access.ErrNotFound) {
			t.Errorf("jan's session %d still open for %q, %v", i, c, err)
		}
	}
	if c, err := links.UseSignIn(ctx, pending); !errors.Is(err, access.ErrNotFound) {
		t.Errorf("jan's sign-in link still signs in %q, %v", c, err)
	}
	if c, err := links.Session(ctx, piet); err != nil || c != "piet@acme.example" {
		t.Errorf("piet's session = %q, %v", c, err)
	}
	if left := testserver.Holding(t, f.rdb, "md:{d}:", regexp.MustCompile(`(?i)jan@acme\.example`)); len(left) > 0 {
		t.Errorf("jan's address is still in Redis:\n%s", strings.Join(left, "\n"))
	}
	if r.Sessions != 3 {
		t.Errorf("erasure ended %d sessions and sign-in links, want 3", r.Sessions)
	}
}

// awayMail is a mailbox that cannot be reached (PersonMail).
type awayMail struct{ away bool }

var errAway = errors.New("the IMAP server is away")

func (m *awayMail) err() error {
	if m.away {
		return errAway
	}
	return nil
}
func (m *awayMail) PurgeFrom(context.Context, string, bool) (int, error) { return 0, m.err() }
func (m *awayMail) PurgeMessageIDs(context.Context, []string) (int, error) {
	return 0, m.err()
}
func (m *awayMail) PurgeRejectedBefore(context.Context, time.Time, bool) (int, error) {
	return 0, m.err()
}
func (m *awayMail) PurgeQuarantinedBefore(context.Context, time.Time, bool) (int, error) {
	return 0, m.err()
}
func (m *awayMail) PurgeSentBefore(context.Context, time.Time, bool) (int, error) {
	return 0, m.err()
}

// The delivery records of mail to a person go only once the desk's copies
// of that mail are deleted from the sent folder: the mailbox journal takes
// a copy without its record for Redis having lost writes, holds intake and
// writes the record back. With the mailbox away the erasure says so and
// leaves the records; run again, it removes both.
func TestEraseKeepsDeliveryRecordsWhileTheirCopiesStay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	marker := "md:{d}:sent:" + notify.TicketEventID("SD-1", notify.AgentReply, time.Unix(1, 0), "jan@acme.example")
	f.rdb.Set(ctx, marker, "1", time.Hour)
	mail := &awayMail{away: true}
	p := &People{Store: f.st, Outbox: notify.NewOutbox(f.rdb, "d"), Mail: mail}
	r, err := p.Erase(ctx, "jan@acme.example", Agent{Name: "Alice"}, "GDPR-1")
	if err != nil || r.MailError == "" {
		t.Fatalf("erasure with the mailbox away = %+v, %v; want its mail error", r, err)
	}
	if f.rdb.Exists(ctx, marker).Val() != 1 {
		t.Fatal("the delivery record went while the copy of the mail stays in the sent folder")
	}
	mail.away = false
	if r, err = p.Erase(ctx, "jan@acme.example", Agent{Name: "Alice"}, "GDPR-1"); err != nil || r.MailError != "" {
		t.Fatalf("erasure again = %+v, %v", r, err)
	}
	if f.rdb.Exists(ctx, marker).Val() != 0 {
		t.Error("the delivery record stays after the copies went")
	}
}
