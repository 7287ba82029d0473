package testserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Helpers of the fault-injection suite (test/faults).

func TestRedisKillKeepsAppendOnlyData(t *testing.T) {
	t.Parallel()
	s := RedisWithOptions(t, RedisOptions{AppendOnly: true})
	if got := redisCmd(t, s.Addr, "SET k v"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	s.Kill()
	s.Kill() // idempotent
	s.Restart(t)
	if got := redisCmd(t, s.Addr, "GET k"); got != "v" {
		t.Errorf("GET k after SIGKILL and restart = %q, want v (appendfsync always)", got)
	}
}

func TestDovecotStopAllAndStart(t *testing.T) {
	t.Parallel()
	d := Dovecot(t)
	d.Deliver(t, "u@test.example", testMail("a@test.example", "u@test.example", "before restart"))
	imapAddr, lmtpAddr := d.IMAPAddr, d.LMTPAddr

	c, err := imapclient.DialInsecure(d.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("u@test.example", d.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}

	d.StopAll()
	d.StopAll() // idempotent
	// Stop would leave the imap process serving this connection; a
	// restart of the service does not.
	done := make(chan error, 1)
	go func() { done <- c.Noop().Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("the IMAP connection still works after StopAll")
		}
	case <-time.After(10 * time.Second):
		t.Errorf("NOOP on a connection to the stopped Dovecot hangs")
	}

	d.Start(t)
	if d.IMAPAddr != imapAddr || d.LMTPAddr != lmtpAddr {
		t.Errorf("restarted on %s/%s, want the old ports %s/%s", d.IMAPAddr, d.LMTPAddr, imapAddr, lmtpAddr)
	}
	d.Deliver(t, "u@test.example", testMail("a@test.example", "u@test.example", "after restart"))
	if msgs := d.Mailbox(t, "u@test.example", "INBOX"); len(msgs) != 2 {
		t.Errorf("INBOX holds %d mails after the restart, want 2", len(msgs))
	}
	c2, err := imapclient.DialInsecure(d.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Login("u@test.example", d.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	st, err := c2.Status("INBOX", &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if st.UIDValidity != sel.UIDValidity {
		t.Errorf("UIDVALIDITY %d after the restart, was %d", st.UIDValidity, sel.UIDValidity)
	}
	d.Restart(t)
	if msgs := d.Mailbox(t, "u@test.example", "INBOX"); len(msgs) != 2 {
		t.Errorf("INBOX holds %d mails after Restart, want 2", len(msgs))
	}
}

func TestProcessKillAndStart(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "p.log")
	p := NewProcess(t, "sleeper", log, "/bin/sh", "-c", "echo started; exec sleep 60")
	if p.Running() || p.Pid() != 0 {
		t.Fatalf("running before Start")
	}
	started := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if b, _ := os.ReadFile(log); strings.Count(string(b), "started") >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %d did not start", n)
			}
		}
	}
	p.Start(t)
	started(1)
	first := p.Pid()
	if !p.Running() {
		t.Fatalf("not running after Start")
	}
	p.Kill()
	if ok, err := p.Exited(); !ok || err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("after Kill: exited %v, %v; want killed", ok, err)
	}
	p.Start(t)
	started(2)
	if p.Pid() == first || !p.Running() {
		t.Errorf("Start after Kill: pid %d (was %d), running %v", p.Pid(), first, p.Running())
	}
	p.Stop()
	if ok, _ := p.Exited(); !ok {
		t.Errorf("still running after Stop")
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "started"); n != 2 {
		t.Errorf("log has %d starts, want 2:\n%s", n, b)
	}
	if tail := p.LogTail(2); !strings.Contains(tail, "started") {
		t.Errorf("LogTail(2) = %q", tail)
	}
}
