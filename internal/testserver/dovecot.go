package testserver

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

//go:embed dovecot.conf.tmpl
var dovecotConfTemplate string

// DovecotServer is a Dovecot 2.3 instance with IMAP and LMTP on loopback.
// Any user name logs in with Password; LMTP creates the user's Maildir.
type DovecotServer struct {
	IMAPAddr string
	LMTPAddr string
	Password string // "secret" for every user

	dir string
	mu  sync.Mutex
	p   *proc
}

// dovecotAccount is the account Dovecot runs as.
type dovecotAccount struct {
	user, group string
	uid, gid    int
	cred        *syscall.Credential // nil: run as ourselves
}

// Dovecot starts Dovecot on free loopback ports in a fresh directory.
//
// Dovecot refuses to deliver mail as root ("userdb returned 0 as uid"), so as
// root it runs as the system user "dovecot"; otherwise as the current user.
func Dovecot(t testing.TB) *DovecotServer {
	t.Helper()
	bin := mustFindBinary(t, "dovecot", "dovecot-imapd dovecot-lmtpd")
	acct, err := dovecotRunAs()
	if err != nil {
		t.Fatalf("testserver: dovecot: %v", err)
	}
	dir, err := dovecotDir(acct)
	if err != nil {
		t.Fatalf("testserver: dovecot: %v", err)
	}
	// Registered before Stop, so it runs after Stop (cleanups are LIFO).
	t.Cleanup(func() { _ = os.RemoveAll(dir) })

	d := &DovecotServer{dir: dir, Password: "secret"}
	for attempt := 0; attempt < 5; attempt++ {
		var imapPort, lmtpPort int
		if imapPort, err = freePort(); err != nil {
			break
		}
		if lmtpPort, err = freePort(); err != nil {
			break
		}
		if err = d.start(bin, acct, imapPort, lmtpPort); err == nil || !errors.Is(err, errBindRace) {
			break
		}
	}
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	t.Cleanup(d.Stop)
	return d
}

func dovecotRunAs() (dovecotAccount, error) {
	var u *user.User
	var err error
	if os.Geteuid() == 0 {
		if u, err = user.Lookup("dovecot"); err != nil {
			return dovecotAccount{}, fmt.Errorf("running as root, but the system user \"dovecot\" "+
				"(created by the dovecot-core package) is missing: %w", err)
		}
	} else if u, err = user.Current(); err != nil {
		return dovecotAccount{}, fmt.Errorf("current user: %w", err)
	}
	acct := dovecotAccount{user: u.Username}
	if acct.uid, err = strconv.Atoi(u.Uid); err != nil {
		return dovecotAccount{}, fmt.Errorf("uid of %s: %w", u.Username, err)
	}
	if acct.gid, err = strconv.Atoi(u.Gid); err != nil {
		return dovecotAccount{}, fmt.Errorf("gid of %s: %w", u.Username, err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return dovecotAccount{}, fmt.Errorf("group %s of %s: %w", u.Gid, u.Username, err)
	}
	acct.group = g.Name
	if os.Geteuid() == 0 {
		acct.cred = &syscall.Credential{Uid: uint32(acct.uid), Gid: uint32(acct.gid)}
	}
	return acct, nil
}

// dovecotDir creates a directory the Dovecot account owns. t.TempDir is of
// no use as root: its parent is 0700 root, which the dovecot user cannot
// traverse.
func dovecotDir(acct dovecotAccount) (string, error) {
	parent := os.TempDir()
	if acct.cred != nil && !worldTraversable(parent) {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "testserver-dovecot-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	if acct.cred != nil {
		if err := os.Chown(dir, acct.uid, acct.gid); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// worldTraversable reports whether every directory from / to dir can be
// entered by other users.
func worldTraversable(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// start runs Dovecot on the given ports (Restart passes the old ones).
func (d *DovecotServer) start(bin string, acct dovecotAccount, imapPort, lmtpPort int) error {
	greeting := "testserver " + filepath.Base(d.dir) + " ready"
	conf := strings.NewReplacer(
		"@DIR@", d.dir,
		"@USER@", acct.user,
		"@GROUP@", acct.group,
		"@UID@", strconv.Itoa(acct.uid),
		"@GID@", strconv.Itoa(acct.gid),
		"@IMAP_PORT@", strconv.Itoa(imapPort),
		"@LMTP_PORT@", strconv.Itoa(lmtpPort),
		"@GREETING@", greeting,
	).Replace(dovecotConfTemplate)
	confPath := filepath.Join(d.dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return fmt.Errorf("dovecot: write config: %w", err)
	}
	d.IMAPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(imapPort))
	d.LMTPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(lmtpPort))

	// -F keeps the master in the foreground, so we own its process and
	// SIGTERM to it stops all of Dovecot.
	p, err := startProc("dovecot (imap "+d.IMAPAddr+", lmtp "+d.LMTPAddr+")", bin,
		[]string{"-F", "-c", confPath}, d.dir, filepath.Join(d.dir, "stderr.log"), acct.cred,
		filepath.Join(d.dir, "dovecot.log"))
	if err != nil {
		return err
	}
	// An open port is not enough: the greeting comes from imap-login, which
	// the master starts only after the listener exists.
	err = waitReady(p, func() error {
		if line, err := readGreeting(d.IMAPAddr); err != nil || !strings.HasPrefix(line, "* OK") || !strings.HasSuffix(line, greeting) {
			return fmt.Errorf("IMAP greeting %q: %v", line, err)
		}
		if line, err := readGreeting(d.LMTPAddr); err != nil || !strings.HasPrefix(line, "220 ") || !strings.HasSuffix(line, greeting) {
			return fmt.Errorf("LMTP greeting %q: %v", line, err)
		}
		return nil
	})
	if err != nil {
		p.stop()
		return err
	}
	d.mu.Lock()
	d.p = p
	d.mu.Unlock()
	return nil
}

// Stop terminates Dovecot and waits for it; safe to call more than once.
func (d *DovecotServer) Stop() {
	d.mu.Lock()
	p := d.p
	d.p = nil
	d.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

// LogTail returns the end of Dovecot's logs, for failure messages of tests.
func (d *DovecotServer) LogTail() string {
	return (&proc{logs: []string{
		filepath.Join(d.dir, "stderr.log"), filepath.Join(d.dir, "dovecot.log"),
	}}).logTail()
}

// Deliver hands raw to Dovecot's LMTP for rcpt, as an MTA would. The
// envelope sender is the From address of raw, or a fixed sender.
func (d *DovecotServer) Deliver(t testing.TB, rcpt string, raw []byte) {
	t.Helper()
	if err := lmtpDeliver(d.LMTPAddr, senderOf(raw), []string{rcpt}, raw); err != nil {
		t.Fatalf("testserver: dovecot deliver: %v\n--- dovecot log tail ---\n%s", err, d.LogTail())
	}
}

// Mailbox returns all messages of user's mailbox (e.g. "INBOX"), read over
// IMAP; empty when the mailbox does not exist.
func (d *DovecotServer) Mailbox(t testing.TB, user, mailbox string) []Message {
	t.Helper()
	msgs, err := readMailbox(d.IMAPAddr, user, d.Password, mailbox)
	if err != nil {
		t.Fatalf("testserver: dovecot mailbox: %v\n--- dovecot log tail ---\n%s", err, d.LogTail())
	}
	return msgs
}
