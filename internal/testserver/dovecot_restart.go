package testserver

import (
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Start starts a stopped Dovecot again on the same IMAP and LMTP ports with
// the same mail directory, so that clients see a server restart: their
// connections dropped, the mailboxes (and their UIDVALIDITY) unchanged.
// It fails the test if the server cannot be started.
func (d *DovecotServer) Start(t testing.TB) {
	t.Helper()
	d.mu.Lock()
	running := d.p != nil
	d.mu.Unlock()
	if running {
		t.Fatalf("testserver: dovecot start: already running (call Stop first)")
	}
	bin := mustFindBinary(t, "dovecot", "dovecot-imapd dovecot-lmtpd")
	acct, err := dovecotRunAs()
	if err != nil {
		t.Fatalf("testserver: dovecot start: %v", err)
	}
	imapPort, err := portOf(d.IMAPAddr)
	if err != nil {
		t.Fatalf("testserver: dovecot start: %v", err)
	}
	lmtpPort, err := portOf(d.LMTPAddr)
	if err != nil {
		t.Fatalf("testserver: dovecot start: %v", err)
	}
	// The ports can only be taken by someone else in the gap; retrying
	// covers a slow release of the old sockets.
	for attempt := 0; attempt < 10; attempt++ {
		if err = d.start(bin, acct, imapPort, lmtpPort); err == nil || !errors.Is(err, errBindRace) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("testserver: dovecot restart: %v", err)
	}
}

// Restart stops Dovecot with StopAll and starts it again on the same
// ports (see Start), as "systemctl restart dovecot" would.
func (d *DovecotServer) Restart(t testing.TB) {
	t.Helper()
	d.StopAll()
	d.Start(t)
}

// StopAll stops Dovecot the way a service manager does (systemd's
// KillMode=control-group): SIGTERM to the master and every process it
// started, then SIGKILL to what is left. Stop signals the master only,
// and Dovecot's imap processes then keep serving the connections they
// have (a client would not notice the restart). Safe to call more than
// once.
func (d *DovecotServer) StopAll() {
	d.mu.Lock()
	p := d.p
	d.p = nil
	d.mu.Unlock()
	if p == nil {
		return
	}
	// The master runs in a process group of its own (sysProcAttr), which
	// its children inherit.
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
}

func portOf(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}
