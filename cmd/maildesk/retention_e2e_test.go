package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
)

// `maildesk retention run`, through real servers: a ticket closed longer
// ago than retention.closed_after loses its personal data, its original
// mail and the follow-up go from the Processed folder (and nothing else
// does), an old quarantined mail and old outbox records go on their own
// clocks, and --dry-run first lists it all without changing anything.
func TestRetentionEndToEnd(t *testing.T) {
	e := newEnv(t, "retention: {closed_after: 1d}\n")
	e.deliver(mail("Jan Jansen <jan@acme.example>", "Printer kapot", "m1@acme.example"))
	e.deliver(mail("Piet <piet@acme.example>", "VPN", "p1@acme.example"))
	stop := e.start()
	eventually(t, 20*time.Second, "two tickets", func() bool { return len(e.tickets()) == 2 })
	e.deliver(mail("Jan Jansen <jan@acme.example>", "Re: [SD-1] Printer kapot", "r1@acme.example", "In-Reply-To: <m1@acme.example>"))
	eventually(t, 20*time.Second, "the follow-up filed", func() bool { return e.count(desk, "Processed") == 3 && e.count(desk, "INBOX") == 0 })
	stop()

	cli := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		full := append([]string{args[0], args[1], "--config", e.config}, args[2:]...)
		if code := run(full, &out, &errOut); code != 0 {
			t.Fatalf("maildesk %v: exit %d\n%s%s", args, code, out.String(), errOut.String())
		}
		return out.String()
	}
	cli("tickets", "set", "SD-1", "status=closed", "--as", "Agent")
	// Closed two days ago, as far as retention can tell.
	ctx := context.Background()
	_, rdb, err := openDesk(ctx, e.config)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if err := rdb.ZAdd(ctx, config.KeyPrefix("acme-it")+"idx:closed", redis.Z{Score: float64(time.Now().Add(-48 * time.Hour).UnixMilli()), Member: "SD-1"}).Err(); err != nil {
		t.Fatal(err)
	}

	// An unreadable mail quarantined long ago, and a dead letter and a
	// skipped entry older than retention.outbox (90d by default).
	old := time.Now().Add(-100 * 24 * time.Hour)
	appendMail(t, e, "Quarantine", mail("Jan Jansen <jan@acme.example>", "garbled", "q1@acme.example"), old)
	kp := config.KeyPrefix("acme-it")
	for _, stream := range []string{kp + "outbox:dead", kp + "outbox:skipped"} {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, ID: fmt.Sprintf("%d-0", old.UnixMilli()), Values: []any{"to", "jan@acme.example"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}

	out := cli("retention", "run", "--dry-run")
	for _, want := range []string{"SD-1    anonymise  acme", "1 tickets would be anonymised or deleted",
		"1 quarantined mails older than retention.quarantine (90d) would be deleted from Quarantine",
		"1 dead letters and 1 skipped outbox entries older than retention.outbox (90d) would be removed"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SD-2") {
		t.Errorf("dry run lists the open ticket:\n%s", out)
	}
	if n := e.count(desk, "Processed") + e.count(desk, "Quarantine"); n != 4 {
		t.Fatalf("dry run deleted mail: %d left", n)
	}
	out = cli("retention", "run")
	if !strings.Contains(out, "SD-1    anonymise") || !strings.Contains(out, "2 mails were deleted from the IMAP folders; 0 wait") ||
		!strings.Contains(out, "1 quarantined mails older than retention.quarantine (90d) were deleted") ||
		!strings.Contains(out, "1 dead letters and 1 skipped outbox entries older than retention.outbox (90d) were removed") {
		t.Errorf("run:\n%s", out)
	}
	if n := e.count(desk, "Quarantine"); n != 0 {
		t.Errorf("Quarantine after retention: %d mails", n)
	}
	for _, stream := range []string{kp + "outbox:dead", kp + "outbox:skipped"} {
		if n, _ := rdb.XLen(ctx, stream).Result(); n != 0 {
			t.Errorf("%s after retention: %d entries", stream, n)
		}
	}
	left := e.dc.Mailbox(t, desk, "Processed")
	if len(left) != 1 || !strings.Contains(header(left[0].Raw, "Message-ID"), "p1@acme.example") {
		t.Errorf("Processed after retention: %d mails", len(left))
	}
	var shown map[string]any
	if err := json.Unmarshal([]byte(cli("tickets", "show", "SD-1", "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	if shown["subject"] != "" || shown["contact"] != "" || shown["anonymised_at"] == nil || shown["customer"] != "acme" || shown["events"] != nil && len(shown["events"].([]any)) != 0 {
		t.Errorf("SD-1 after retention: %v", shown)
	}
	if out := cli("tickets", "list", "--all", "--contact", "jan@acme.example"); strings.Contains(out, "SD-1") {
		t.Errorf("jan's tickets still list SD-1:\n%s", out)
	}
}

// appendMail puts raw into folder as a mail that arrived at at.
func appendMail(t *testing.T, e *env, folder, raw string, at time.Time) {
	t.Helper()
	c, err := imapclient.DialInsecure(e.dc.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(desk, e.dc.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	_ = c.Create(folder, nil).Wait()
	b := []byte(strings.ReplaceAll(raw, "\n", "\r\n"))
	cmd := c.Append(folder, int64(len(b)), &imap.AppendOptions{Time: at})
	if _, err := cmd.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}
