package ingest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildesk/maildesk/internal/testserver"
)

// purgeMail is a mail for the purge tests.
func purgeMail(from, id string) []byte {
	return fmt.Appendf(nil, "From: %s\r\nTo: servicedesk@desk.example\r\nSubject: test %s\r\nMessage-ID: <%s>\r\n\r\nbody\r\n", from, id, id)
}

// Retention and erasure delete exactly the mails meant, on a real Dovecot:
// by Message-ID (not one whose id merely contains it), by sender, and
// refused and quarantined mails by arrival date; the inbox is never touched, and another
// client's \Deleted mail is not expunged with them.
func TestPurgeDeletesOnlyThoseMails(t *testing.T) {
	dc := testserver.Dovecot(t)
	const user = "desk@desk.example"
	c, err := imapclient.DialInsecure(dc.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, dc.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2020, 3, 1, 10, 0, 0, 0, time.UTC)
	put := func(folder string, raw []byte, at time.Time, flags ...imap.Flag) {
		t.Helper()
		_ = c.Create(folder, nil).Wait()
		cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Time: at, Flags: flags})
		if _, err := cmd.Write(raw); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	put("INBOX", purgeMail("jan@acme.example", "m1@acme.example"), now)
	put("Processed", purgeMail("Jan <jan@acme.example>", "m1@acme.example"), now)
	put("Processed", purgeMail("jan@acme.example", "xm1@acme.example"), now) // contains m1's id
	put("Processed", purgeMail("piet@acme.example", "m2@acme.example"), now)
	put("Processed", purgeMail("bojan@acme.example", "m3@acme.example"), now) // contains jan's address
	put("Processed", purgeMail("kees@acme.example", "m4@acme.example"), now, imap.FlagDeleted)
	put("Rejected", purgeMail("stranger@elsewhere.example", "s1@elsewhere.example"), old)
	put("Rejected", purgeMail("JAN@acme.example", "s2@acme.example"), now)
	put("Quarantine", purgeMail("jan@acme.example", "q1@acme.example"), old)
	put("Quarantine", purgeMail("jan@acme.example", "q3@acme.example"), now)

	w := NewMailbox(WatcherConfig{Address: dc.IMAPAddr, Security: "none", Username: user, Password: dc.Password,
		Mailbox: "INBOX", Processed: "Processed", Rejected: "Rejected", Quarantine: "Quarantine",
		CommandTimeout: 10 * time.Second}, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	ids := func(folder string) string {
		t.Helper()
		var out []string
		for _, m := range dc.Mailbox(t, user, folder) {
			_, rest, _ := bytes.Cut(m.Raw, []byte("Message-ID: <"))
			id, _, _ := bytes.Cut(rest, []byte(">"))
			out = append(out, string(id))
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}

	n, err := w.PurgeMessageIDs(ctx, []string{"m1@acme.example", "<m2@acme.example>", "gone@acme.example"})
	if err != nil || n != 2 {
		t.Fatalf("purge by Message-ID = %d, %v", n, err)
	}
	if got := ids("Processed"); got != "m3@acme.example m4@acme.example xm1@acme.example" {
		t.Errorf("Processed after purge by Message-ID: %s", got)
	}
	if got := ids("INBOX"); got != "m1@acme.example" {
		t.Errorf("INBOX touched: %s", got)
	}

	if n, err := w.PurgeRejectedBefore(ctx, now.Add(-24*time.Hour), true); err != nil || n != 1 {
		t.Fatalf("dry purge of old refused mail = %d, %v", n, err)
	}
	if n, err := w.PurgeRejectedBefore(ctx, now.Add(-24*time.Hour), false); err != nil || n != 1 {
		t.Fatalf("purge of old refused mail = %d, %v", n, err)
	}
	if got := ids("Rejected"); got != "s2@acme.example" {
		t.Errorf("Rejected after purge by date: %s", got)
	}

	// retention.quarantine: the old unreadable mail goes, the new stays.
	if n, err := w.PurgeQuarantinedBefore(ctx, now.Add(-24*time.Hour), true); err != nil || n != 1 || ids("Quarantine") != "q1@acme.example q3@acme.example" {
		t.Fatalf("dry purge of old quarantined mail = %d, %v", n, err)
	}
	if n, err := w.PurgeQuarantinedBefore(ctx, now.Add(-24*time.Hour), false); err != nil || n != 1 {
		t.Fatalf("purge of old quarantined mail = %d, %v", n, err)
	}
	if got := ids("Quarantine") + "|" + ids("Rejected") + "|" + ids("INBOX"); got != "q3@acme.example|s2@acme.example|m1@acme.example" {
		t.Errorf("Quarantine|Rejected|INBOX after purge by date: %s", got)
	}

	if n, err := w.PurgeFrom(ctx, "Jan@ACME.example", true); err != nil || n != 3 {
		t.Fatalf("dry purge from jan = %d, %v", n, err)
	}
	if n, err := w.PurgeFrom(ctx, "Jan@ACME.example", false); err != nil || n != 3 {
		t.Fatalf("purge from jan = %d, %v", n, err)
	}
	if got := ids("Processed"); got != "m3@acme.example m4@acme.example" {
		t.Errorf("Processed after purge from jan: %s", got)
	}
	if got := ids("Rejected") + "|" + ids("Quarantine") + "|" + ids("INBOX"); got != "||m1@acme.example" {
		t.Errorf("Rejected|Quarantine|INBOX after purge from jan: %s", got)
	}
}
