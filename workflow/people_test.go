package workflow

import (
	"context"
	"errors"
	"testing"
	"time"

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
