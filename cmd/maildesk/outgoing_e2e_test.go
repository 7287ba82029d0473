package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Outgoing mail through real servers when the relay misbehaves: a
// temporary refusal (4xx) is retried until the relay recovers and the mail
// then arrives in the contact's Dovecot mailbox once; a permanent one (5xx)
// is dead-lettered with the relay's reply, and the address gets no more
// automatic mail for a while (recorded as skipped).
func TestOutgoingFailuresEndToEnd(t *testing.T) {
	e := newEnv(t, `outbox: {retry: 1s, max_backoff: 1s}
`)
	var failing atomic.Bool
	failing.Store(true)
	e.smtp.SetReply(func(rcpt string) error {
		switch {
		case strings.EqualFold(rcpt, "jan@acme.example") && failing.Load():
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		case strings.EqualFold(rcpt, "piet@acme.example"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	})
	stop := e.start()
	defer stop()
	e.deliver(mail("Jan <jan@acme.example>", "Printer kapot", "m1@acme.example"))
	e.deliver(mail("Piet <piet@acme.example>", "VPN", "m2@acme.example"))

	outbox := func(args ...string) []map[string]any {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(append([]string{"outbox", "list", "--config", e.config, "--json"}, args...), &out, &errOut); code != 0 {
			t.Fatalf("outbox list %v: exit %d: %s", args, code, errOut.String())
		}
		var v []map[string]any
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			t.Fatalf("outbox list %v: %v\n%s", args, err, out.String())
		}
		return v
	}
	has := func(v []map[string]any, substr string) bool {
		b, _ := json.Marshal(v)
		return strings.Contains(string(b), substr)
	}
	eventually(t, 15*time.Second, "piet's ack dead-lettered with the relay's reply", func() bool {
		return has(outbox("--dead"), "no such user")
	})
	eventually(t, 15*time.Second, "jan's ack waiting with the 451 as its last error", func() bool {
		return has(outbox(), "try again later")
	})
	if n := e.count("jan@acme.example", "INBOX"); n != 0 {
		t.Fatalf("jan has %d mails while the relay refuses", n)
	}
	failing.Store(false)
	eventually(t, 15*time.Second, "jan's ack delivered after the relay recovered", func() bool {
		return e.count("jan@acme.example", "INBOX") == 1
	})
	time.Sleep(2500 * time.Millisecond) // two more retry rounds
	if n := e.count("jan@acme.example", "INBOX"); n != 1 {
		t.Errorf("jan has %d acknowledgements, want exactly 1", n)
	}
	if v := outbox(); len(v) != 0 {
		t.Errorf("outbox not empty after recovery: %v", v)
	}
	// Piet's address was refused: his next ticket is made, its
	// acknowledgement skipped and recorded, not sent.
	e.deliver(mail("Piet <piet@acme.example>", "VPN weer", "m3@acme.example"))
	eventually(t, 15*time.Second, "piet's next ack skipped as suppressed", func() bool {
		return has(outbox("--skipped"), "recipient suppressed")
	})
	if n := len(e.tickets()); n != 3 {
		t.Errorf("%d tickets, want 3", n)
	}
}
