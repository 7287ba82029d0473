package testserver

import (
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

//go:embed dovecot.conf.tmpl
var dovecotConfTemplate string

// DovecotServer is a Dovecot 2.3 instance with IMAP and LMTP on loopback,
// and with DovecotWith also OAuth2 sign-in and SMTP submission. Any user
// name logs in with Password; LMTP creates the user's Maildir.
type DovecotServer struct {
	IMAPAddr string
	LMTPAddr string
	// SubmissionAddr is the SMTP submission service (plaintext, AUTH
	// without TLS), "" unless DovecotOptions.SubmissionRelay was set.
	SubmissionAddr string
	Password       string // "secret" for every user

	dir  string
	opts DovecotOptions
	mu   sync.Mutex
	p    *proc
}

// DovecotOptions adds services to the plain IMAP and LMTP server.
type DovecotOptions struct {
	// OAuth adds the SASL mechanisms XOAUTH2 and OAUTHBEARER, accepting
	// the access tokens of this server (its Key and Issuer; the token's
	// email claim must be the user name). Password logins keep working.
	OAuth *OAuthServer
	// SubmissionRelay, host:port of an SMTP server (e.g. SMTP(t).Addr),
	// starts Dovecot's submission service, which relays every mail it
	// accepts from a signed-in user to that server.
	SubmissionRelay string
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
	return DovecotWith(t, DovecotOptions{})
}

// DovecotWith starts Dovecot like Dovecot does, with the services of o.
func DovecotWith(t testing.TB, o DovecotOptions) *DovecotServer {
	t.Helper()
	bin := mustFindBinary(t, "dovecot", "dovecot-imapd dovecot-lmtpd")
	if o.SubmissionRelay != "" {
		if err := checkSubmissionInstalled(); err != nil {
			t.Fatalf("testserver: dovecot: %v", err)
		}
		if _, _, err := net.SplitHostPort(o.SubmissionRelay); err != nil {
			t.Fatalf("testserver: dovecot: SubmissionRelay %q: %v", o.SubmissionRelay, err)
		}
	}
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

	d := &DovecotServer{dir: dir, Password: "secret", opts: o}
	if o.OAuth != nil {
		if err := d.writeOAuth2Config(acct); err != nil {
			t.Fatalf("testserver: dovecot: %v", err)
		}
	}
	for attempt := 0; attempt < 5; attempt++ {
		var imapPort, lmtpPort, submissionPort int
		if imapPort, err = freePort(); err != nil {
			break
		}
		if lmtpPort, err = freePort(); err != nil {
			break
		}
		if o.SubmissionRelay != "" {
			if submissionPort, err = freePort(); err != nil {
				break
			}
			d.SubmissionAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(submissionPort))
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

// checkSubmissionInstalled fails early with the package to install:
// otherwise Dovecot starts and only the first submission connection fails.
func checkSubmissionInstalled() error {
	for _, dir := range []string{"/usr/lib/dovecot", "/usr/libexec/dovecot"} {
		if fi, err := os.Stat(filepath.Join(dir, "submission")); err == nil && fi.Mode()&0o111 != 0 {
			return nil
		}
	}
	return errors.New("the submission service of Dovecot (/usr/lib/dovecot/submission) is not installed: " +
		"run ./scripts/test, which installs it (or: apt-get install dovecot-submissiond)")
}

// writeOAuth2Config writes the oauth2 passdb's settings and the HMAC key it
// validates tokens with. Dovecot looks the key up at
// KEYDIR/<azp claim or "default">/<alg>/<kid header or "default">, base64.
func (d *DovecotServer) writeOAuth2Config(acct dovecotAccount) error {
	s := d.opts.OAuth
	keyDir := filepath.Join(d.dir, "oauth2-keys")
	keyFile := filepath.Join(keyDir, "default", "HS256", "default")
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(s.Key)), 0o600); err != nil {
		return err
	}
	conf := "# oauth2 passdb: validates JWT access tokens of the test's OAuthServer locally\n" +
		"introspection_mode = local\n" +
		"local_validation_key_dict = fs:posix:prefix=" + keyDir + "/\n" +
		"username_attribute = email\n" +
		"issuers = " + s.Issuer + "\n"
	confFile := filepath.Join(d.dir, "dovecot-oauth2.conf.ext")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		return err
	}
	if acct.cred == nil {
		return nil
	}
	// Dovecot's auth process runs as the dovecot user and reads the key.
	for _, p := range []string{keyDir, filepath.Join(keyDir, "default"), filepath.Dir(keyFile), keyFile, confFile} {
		if err := os.Chown(p, acct.uid, acct.gid); err != nil {
			return err
		}
	}
	return nil
}

// optionalConfig returns the template values that depend on d.opts.
func (d *DovecotServer) optionalConfig() (protocols, mechanisms, oauth2Passdb, submission string, err error) {
	protocols, mechanisms = "imap lmtp", "plain login"
	if d.opts.OAuth != nil {
		mechanisms += " xoauth2 oauthbearer"
		// Before the static passdb, which is limited to plain and login.
		// auth_verbose: the log names why a token was refused ("Token
		// has expired"), which LogTail shows in a failing test.
		oauth2Passdb = "auth_verbose = yes\n" +
			"passdb {\n" +
			"  driver = oauth2\n" +
			"  mechanisms = xoauth2 oauthbearer\n" +
			"  args = " + filepath.Join(d.dir, "dovecot-oauth2.conf.ext") + "\n" +
			"}"
	}
	if d.opts.SubmissionRelay != "" {
		protocols += " submission"
		relayHost, relayPort, err := net.SplitHostPort(d.opts.SubmissionRelay)
		if err != nil {
			return "", "", "", "", fmt.Errorf("SubmissionRelay %q: %w", d.opts.SubmissionRelay, err)
		}
		port, err := portOf(d.SubmissionAddr)
		if err != nil {
			return "", "", "", "", err
		}
		// hostname: a fixed name in the greeting and Received header
		// instead of the machine's. trusted: the relay takes the mail as
		// from an authenticated user (Dovecot would use XCLIENT if it
		// offered it). ssl = no: the sink is plaintext.
		submission = "hostname = testserver.localhost\n" +
			"submission_relay_host = " + relayHost + "\n" +
			"submission_relay_port = " + relayPort + "\n" +
			"submission_relay_trusted = yes\n" +
			"submission_relay_ssl = no\n" +
			"service submission-login {\n" +
			"  chroot =\n" +
			"  inet_listener submission {\n" +
			"    address = 127.0.0.1\n" +
			"    port = " + strconv.Itoa(port) + "\n" +
			"  }\n" +
			"}\n"
	}
	return protocols, mechanisms, oauth2Passdb, submission, nil
}

// start runs Dovecot on the given ports (Restart passes the old ones; the
// submission port stays in SubmissionAddr).
func (d *DovecotServer) start(bin string, acct dovecotAccount, imapPort, lmtpPort int) error {
	greeting := "testserver " + filepath.Base(d.dir) + " ready"
	protocols, mechanisms, oauth2Passdb, submission, err := d.optionalConfig()
	if err != nil {
		return fmt.Errorf("dovecot: %w", err)
	}
	conf := strings.NewReplacer(
		"@PROTOCOLS@", protocols,
		"@AUTH_MECHANISMS@", mechanisms,
		"@OAUTH2_PASSDB@", oauth2Passdb,
		"@SUBMISSION@", submission,
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
	name := "dovecot (imap " + d.IMAPAddr + ", lmtp " + d.LMTPAddr
	if d.SubmissionAddr != "" {
		name += ", submission " + d.SubmissionAddr
	}
	p, err := startProc(name+")", bin,
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
		if d.SubmissionAddr == "" {
			return nil
		}
		if line, err := readGreeting(d.SubmissionAddr); err != nil || !strings.HasPrefix(line, "220 ") || !strings.HasSuffix(line, greeting) {
			return fmt.Errorf("submission greeting %q: %v", line, err)
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

// Kick ends every session of user (doveadm kick), as an administrator
// would to make a client sign in again, e.g. with a new OAuth2 token:
// Dovecot checks a token only at sign-in. The clients get "* BYE Server
// shutting down." Kick returns once Dovecot no longer lists a session of
// user; kicking a user without sessions is not an error.
func (d *DovecotServer) Kick(t testing.TB, user string) {
	t.Helper()
	if err := d.kick(user); err != nil {
		t.Fatalf("testserver: dovecot kick %s: %v\n--- dovecot log tail ---\n%s", user, err, d.LogTail())
	}
}

func (d *DovecotServer) kick(user string) error {
	bin, err := findBinary("doveadm")
	if err != nil {
		return fmt.Errorf("%w (package dovecot-core)", err)
	}
	// doveadm finds the sessions through the anvil socket under base_dir,
	// hence the instance's config, and signals their processes itself: as
	// root, or as the user Dovecot runs as, it may.
	doveadm := func(args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"-c", filepath.Join(d.dir, "dovecot.conf")}, args...)...)
		cmd.Dir = d.dir
		cmd.Env = append(os.Environ(), "HOME="+d.dir)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := doveadm("kick", user)
	if err != nil && !strings.Contains(out, "no users kicked") {
		return fmt.Errorf("doveadm kick: %v: %s", err, strings.TrimSpace(out))
	}
	// The kicked processes exit asynchronously; wait so that the caller's
	// next step meets a server without the sessions.
	deadline := time.Now().Add(stopTimeout)
	for {
		out, err := doveadm("who", "-1", user)
		if err != nil {
			return fmt.Errorf("doveadm who: %v: %s", err, strings.TrimSpace(out))
		}
		if !whoListsUser(out, user) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sessions still listed %s after the kick:\n%s", stopTimeout, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// whoListsUser reports whether "doveadm who -1" output (a header line,
// then one line per connection) has a connection of user.
func whoListsUser(out, user string) bool {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == user {
			return true
		}
	}
	return false
}
