package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/internal/testserver"
)

// Two desks in one process, and a second replica running the same two: the
// mailbox leases spread one desk to each replica; when one replica stops,
// the other works both.
func TestDesksSpreadOverReplicas(t *testing.T) {
	rs, dc, sm := testserver.Redis(t), testserver.Dovecot(t), testserver.SMTP(t)
	dir := t.TempDir()
	log := &testserver.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", log.String())
		}
	})
	var configs []string
	for _, id := range []string{"alpha", "beta"} {
		sub := filepath.Join(dir, id)
		if err := os.MkdirAll(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		cfg := fmt.Sprintf(`desk: {id: %[1]s, address: %[1]s@desk.example, ticket_prefix: %[2]s}
redis: {url: %[3]s}
imap: {address: %[4]s, security: none, username: %[1]s@desk.example, password: %[5]s, poll_interval: 1s, command_timeout: 10s, lease: 3s}
smtp: {address: %[6]s, security: none}
http: {listen: ""}
log: {level: debug, format: text}
contacts_file: contacts.yaml
`, id, strings.ToUpper(id[:1]), rs.URL, dc.IMAPAddr, dc.Password, sm.Addr)
		for name, content := range map[string]string{"maildesk.yaml": cfg, "contacts.yaml": defaultContacts} {
			if err := os.WriteFile(filepath.Join(sub, name), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		configs = append(configs, filepath.Join(sub, "maildesk.yaml"))
	}
	args := []string{"--config", configs[0], "--config", configs[1]}
	run := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- cmdRun(ctx, args, log) }()
		return func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("replica did not stop within 30s")
			}
		}
	}
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	// holders names the replica holding each desk's lease ("" for none).
	holders := func() []string {
		var out []string
		for _, id := range []string{"alpha", "beta"} {
			v, _ := rdb.Get(context.Background(), "md:{"+id+"}:lease:imap:INBOX").Result()
			// The lock's value is a 22-character token, then the replica.
			if len(v) > 22 {
				v = v[22:]
			}
			out = append(out, v)
		}
		return out
	}
	deliver := func(id, msgID string) {
		dc.Deliver(t, id+"@desk.example", []byte(strings.ReplaceAll(mail("Jan <jan@acme.example>", "Printer "+msgID, msgID), "\n", "\r\n")))
	}
	processed := func(id string, n int) func() bool {
		return func() bool { return len(dc.Mailbox(t, id+"@desk.example", "Processed")) == n }
	}

	stopFirst := run()
	eventually(t, 10*time.Second, "one replica holding both leases", func() bool {
		h := holders()
		return h[0] != "" && h[0] == h[1]
	})
	deliver("alpha", "a1@acme.example")
	deliver("beta", "b1@acme.example")
	eventually(t, 10*time.Second, "both desks' mail handled", func() bool { return processed("alpha", 1)() && processed("beta", 1)() })

	stopSecond := run()
	eventually(t, 30*time.Second, "one desk per replica", func() bool {
		h := holders()
		return h[0] != "" && h[1] != "" && h[0] != h[1]
	})
	deliver("alpha", "a2@acme.example")
	deliver("beta", "b2@acme.example")
	eventually(t, 10*time.Second, "both desks' mail handled by two replicas", func() bool { return processed("alpha", 2)() && processed("beta", 2)() })

	stopFirst()
	eventually(t, 15*time.Second, "the remaining replica holding both leases", func() bool {
		h := holders()
		return h[0] != "" && h[0] == h[1]
	})
	deliver("alpha", "a3@acme.example")
	deliver("beta", "b3@acme.example")
	eventually(t, 10*time.Second, "both desks' mail handled again", func() bool { return processed("alpha", 3)() && processed("beta", 3)() })
	eventually(t, 10*time.Second, "six acknowledgements sent", func() bool { return len(sm.Messages()) >= 6 })
	time.Sleep(1500 * time.Millisecond) // a duplicate would come within a tick
	stopSecond()

	// Each mail one ticket and one acknowledgement, whoever handled it.
	acks := map[string]int{}
	for _, m := range sm.Messages() {
		acks[header(m.Data, "Subject")]++
	}
	for subject, n := range acks {
		if n != 1 {
			t.Errorf("%d mails with subject %q, want 1", n, subject)
		}
	}
	if len(acks) != 6 {
		t.Errorf("%d acknowledgements, want 6: %v", len(acks), acks)
	}
}
