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
	"github.com/maildesk/maildesk/notify"
)

// purgeMail is a mail for the purge tests.
func purgeMail(from, id string) []byte {
	return fmt.Appendf(nil, "From: %s\r\nTo: servicedesk@desk.example\r\nSubject: test %s\r\nMessage-ID: <%s>\r\n\r\nbody\r\n", from, id, id)
}

// sentCopy is the desk's copy of its mail to to in the sent folder (the
// journal's trace).
func sentCopy(to, id string) []byte {
	return fmt.Appendf(nil, "From: servicedesk@desk.example\r\nTo: %s\r\nSubject: ack %s\r\nMessage-ID: <%s>\r\n%s: %s/ack\r\n\r\nbody\r\n",
		to, id, id, notify.TraceHeaderID, id)
}

// filer signs in to dc as user and returns what files raw in folder
// (created when missing), arrived at at with flags.
func filer(t *testing.T, dc *testserver.DovecotServer, user string) func(folder string, raw []byte, at time.Time, flags ...imap.Flag) {
	t.Helper()
	c, err := imapclient.DialInsecure(dc.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, dc.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	return func(folder string, raw []byte, at time.Time, flags ...imap.Flag) {
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
}

// Retention and erasure delete exactly the mails meant, on a real Dovecot:
// by Message-ID (not one whose id merely contains it), by sender, and
// refused and quarantined mails and the desk's copies of sent mail by
// arrival date, the copies of mail to a person with their mails; the inbox is never touched, and another
// client's \Deleted mail is not expunged with them.
func TestPurgeDeletesOnlyThoseMails(t *testing.T) {
	dc := testserver.Dovecot(t)
	const user = "desk@desk.example"
	put := filer(t, dc, user)
	old := time.Date(2020, 3, 1, 10, 0, 0, 0, time.UTC)
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
	// The desk's copies of its mail (the journal's trace), and a mail
	// someone else filed in the same folder, which is not the desk's.
	put("Sent", sentCopy("jan@acme.example", "c1@desk.example"), old)
	put("Sent", sentCopy("Jan <JAN@acme.example>", "c2@desk.example"), now)
	put("Sent", sentCopy("piet@acme.example", "c3@desk.example"), old)
	put("Sent", sentCopy("piet@acme.example", "c4@desk.example"), now)
	put("Sent", purgeMail("servicedesk@desk.example", "own@desk.example"), old)

	w := NewMailbox(WatcherConfig{Address: dc.IMAPAddr, Security: "none", Username: user, Password: dc.Password,
		Mailbox: "INBOX", Processed: "Processed", Rejected: "Rejected", Quarantine: "Quarantine", Sent: "Sent",
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

	// retention.sent: the desk's old copies go (c1 and c3), not a mail
	// of someone else's in the folder, nor the new copies.
	if n, err := w.PurgeSentBefore(ctx, now.Add(-24*time.Hour), true); err != nil || n != 2 {
		t.Fatalf("dry purge of old copies of sent mail = %d, %v", n, err)
	}
	if n, err := w.PurgeSentBefore(ctx, now.Add(-24*time.Hour), false); err != nil || n != 2 {
		t.Fatalf("purge of old copies of sent mail = %d, %v", n, err)
	}
	if got := ids("Sent"); got != "c2@desk.example c4@desk.example own@desk.example" {
		t.Errorf("Sent after purge by date: %s", got)
	}

	// Erasure: jan's mails, and the copies of the desk's mail to jan (c2).
	if n, err := w.PurgeFrom(ctx, "Jan@ACME.example", true); err != nil || n != 4 {
		t.Fatalf("dry purge from jan = %d, %v", n, err)
	}
	if n, err := w.PurgeFrom(ctx, "Jan@ACME.example", false); err != nil || n != 4 {
		t.Fatalf("purge from jan = %d, %v", n, err)
	}
	if got := ids("Sent"); got != "c4@desk.example own@desk.example" {
		t.Errorf("Sent after purge from jan: %s", got)
	}
	if got := ids("Processed"); got != "m3@acme.example m4@acme.example" {
		t.Errorf("Processed after purge from jan: %s", got)
	}
	if got := ids("Rejected") + "|" + ids("Quarantine") + "|" + ids("INBOX"); got != "||m1@acme.example" {
		t.Errorf("Rejected|Quarantine|INBOX after purge from jan: %s", got)
	}
}

// An address with an international domain is erased however its mails
// write it: the canonical (ASCII) form erasure is given, or the Unicode
// form the desk's own copies keep (the mailer writes the recipient as
// given) and customers' mail clients send.
func TestPurgeFromInternationalDomain(t *testing.T) {
	dc := testserver.Dovecot(t)
	const user = "desk@desk.example"
	file := filer(t, dc, user)
	put := func(folder string, raw []byte) { t.Helper(); file(folder, raw, time.Now()) }
	put("Processed", purgeMail("Jan <jan@bücher.example>", "m1@bücher.example"))
	put("Processed", purgeMail("jan@xn--bcher-kva.example", "m2@bücher.example"))
	put("Processed", purgeMail("piet@bücher.example", "m3@bücher.example"))
	put("Sent", sentCopy("jan@bücher.example", "c1@desk.example"))
	put("Sent", sentCopy("Jan <jan@xn--bcher-kva.example>", "c2@desk.example"))
	put("Sent", sentCopy("piet@bücher.example", "c3@desk.example"))

	w := NewMailbox(WatcherConfig{Address: dc.IMAPAddr, Security: "none", Username: user, Password: dc.Password,
		Mailbox: "INBOX", Processed: "Processed", Rejected: "Rejected", Quarantine: "Quarantine", Sent: "Sent",
		CommandTimeout: 10 * time.Second}, slog.New(slog.DiscardHandler))
	for _, who := range []string{"jan@xn--bcher-kva.example", "Jan@Bücher.example"} {
		if n, err := w.PurgeFrom(context.Background(), who, true); err != nil || n != 4 {
			t.Errorf("dry purge from %s = %d, %v; want jan's 2 mails and 2 copies", who, n, err)
		}
	}
	if n, err := w.PurgeFrom(context.Background(), "jan@xn--bcher-kva.example", false); err != nil || n != 4 {
		t.Fatalf("purge from jan = %d, %v", n, err)
	}
	for folder, want := range map[string]int{"Processed": 1, "Sent": 1} {
		if got := len(dc.Mailbox(t, user, folder)); got != want {
			t.Errorf("%s holds %d mails after the purge, want %d (piet's)", folder, got, want)
		}
	}
}
