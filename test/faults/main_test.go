// Package faults is the fault-injection suite (issue 9): the real maildesk
// binary, run as a child process against real Redis, Dovecot and an SMTP
// server, is crashed with SIGKILL, loses Redis, Dovecot and its SMTP relay,
// sees Redis lose recent writes (a backup restored, a host crash; the
// repair from the mailbox journal, issue 16),
// is fed by a badly behaved auto-responder and by abusive senders; after
// each run the mailboxes, tickets, rejections, outbox and the mail that went
// out are checked against the invariants of design.md.
//
// The tests need redis-server and Dovecot (./scripts/test installs them)
// and take a minute and a half (they run in parallel); -short skips them.
// FAULTS_SEED=N repeats a run's random choices (every test logs its seed);
// FAULTS_KEEP_LOGS=DIR keeps the daemon's log of every test there.
package faults

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildesk/maildesk/internal/testserver"
)

// deskAddr is the servicedesk's address and IMAP user.
const deskAddr = "servicedesk@desk.example"

// binary is the maildesk binary built by TestMain (without -race: the
// daemon has to be fast enough to ingest thousands of mails in seconds).
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips itself
	}
	dir, err := os.MkdirTemp("", "maildesk-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "maildesk")
	t0 := time.Now()
	// "go test" puts the go command that runs it first in PATH.
	cmd := exec.Command("go", "build", "-o", binary, "github.com/maildesk/maildesk/cmd/maildesk")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "faults: go build ./cmd/maildesk: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	if testing.Verbose() {
		fmt.Printf("faults: built %s in %s\n", binary, time.Since(t0).Round(time.Millisecond))
	}
	// The tests spend most of their time waiting (for leases and claims
	// to expire, for the relay to recover), so they all run at once
	// unless -parallel says otherwise: the suite takes as long as its
	// longest test, not the sum of two queues.
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		_ = flag.Set("test.parallel", "8")
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("fault injection runs real servers for minutes; skipped with -short")
	}
}

// seedFor returns the seed of a test's random choices: FAULTS_SEED when set,
// else one from the clock. It is logged, so a failure can be replayed.
func seedFor(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FAULTS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("FAULTS_SEED=%q: %v", s, err)
		}
		seed = v
	}
	// Tests running in parallel with the same FAULTS_SEED still differ.
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	t.Logf("seed %d (repeat with FAULTS_SEED=%d)", seed, seed)
	return seed ^ h.Sum64()
}

// contact is an authorised sender of the test directory.
type contact struct{ email, name, customer string }

// contacts are ten people at three customers: the senders of the
// authorised mail.
var contacts = []contact{
	{"jan.jansen@acme.example", "Jan Jansen", "acme"},
	{"piet.pieters@acme.example", "Piet Pieters", "acme"},
	{"marie.devries@acme.example", "Marie de Vries", "acme"},
	{"kees.bakker@acme.example", "Kees Bakker", "acme"},
	{"anna.visser@globex.example", "Anna Visser", "globex"},
	{"tom.smit@globex.example", "Tom Smit", "globex"},
	{"eva.mulder@globex.example", "Eva Mulder", "globex"},
	{"lotte.deboer@initech.example", "Lotte de Boer", "initech"},
	{"bram.meijer@initech.example", "Bram Meijer", "initech"},
	{"sanne.bos@initech.example", "Sanne Bos", "initech"},
}

// contactsYAML is the contacts file for contacts plus extra YAML contact
// lines (already indented) for customer acme.
func contactsYAML(extraAcme ...string) string {
	var b strings.Builder
	b.WriteString("customers:\n")
	for _, cust := range []string{"acme", "globex", "initech"} {
		fmt.Fprintf(&b, "  - id: %s\n    name: %s BV\n    plan: standard\n    contacts:\n", cust, strings.ToUpper(cust[:1])+cust[1:])
		first := true
		for _, c := range contacts {
			if c.customer != cust {
				continue
			}
			fmt.Fprintf(&b, "      - {email: %s, name: %s, main: %v, language: en}\n", c.email, c.name, first)
			first = false
		}
		if cust == "acme" {
			for _, l := range extraAcme {
				b.WriteString("      - " + l + "\n")
			}
		}
	}
	return b.String()
}

// deskOptions adjust a desk's configuration.
type deskOptions struct {
	// Outbox replaces the outbox section (YAML lines below "outbox:").
	Outbox string
	// HTTP replaces the http section (YAML lines below "http:").
	HTTP string
	// Contacts is the contacts file; contactsYAML() when empty.
	Contacts string
	// Redis configures the redis-server (AOF for restarts).
	Redis testserver.RedisOptions
	// Proxy puts a redisProxy between the desk (daemon and CLI) and Redis.
	Proxy bool
	// IMAPProxy puts a TCP proxy between the daemon and Dovecot's IMAP
	// (desk.imapProxy), to freeze, blackhole or watch the connection.
	IMAPProxy bool
	// Desk and SMTP are more YAML lines of those sections (indented);
	// Extra is more top-level sections (calendars, plans, escalation).
	Desk, SMTP, Extra string
}

// Limits without effect: the crash and outage tests count every mail.
const unlimitedOutbox = `  retry: 1s
  max_backoff: 2s
  recipient_limits: [{max: 100000, per: 1m}]
  desk_limits: [{max: 100000, per: 1m}]
`

// desk is one maildesk with its own servers and configuration; the daemon
// runs as a child process of the test.
type desk struct {
	t      *testing.T
	redis  *testserver.RedisServer
	dc     *testserver.DovecotServer
	smtp   *testserver.SMTPServer
	dir    string
	config string
	daemon *testserver.Process
	env    []string
	proxy  *redisProxy // with deskOptions.Proxy
	// imapProxy is between the daemon and Dovecot (deskOptions.IMAPProxy);
	// the tests' own IMAP connections go to Dovecot directly.
	imapProxy *testserver.TCPProxy
}

func newDesk(t *testing.T, o deskOptions) *desk {
	t.Helper()
	if o.Outbox == "" {
		o.Outbox = unlimitedOutbox
	}
	if o.HTTP == "" {
		o.HTTP = "  listen: \"\"\n"
	}
	if o.Contacts == "" {
		o.Contacts = contactsYAML()
	}
	d := &desk{t: t, redis: testserver.RedisWithOptions(t, o.Redis), dc: testserver.Dovecot(t), smtp: testserver.SMTP(t), dir: t.TempDir()}
	redisURL := d.redis.URL
	if o.Proxy {
		d.proxy = newRedisProxy(t, d.redis.Addr)
		redisURL = "redis://" + d.proxy.addr() + "/0"
	}
	imapAddr := d.dc.IMAPAddr
	if o.IMAPProxy {
		d.imapProxy = testserver.NewTCPProxy(t, d.dc.IMAPAddr)
		imapAddr = d.imapProxy.Addr
	}
	cfg := fmt.Sprintf(`desk:
  id: faults
  name: Fault Desk
  address: %s
  ticket_prefix: SD
  timezone: Europe/Amsterdam
  language: en
%sredis:
  url: %s
imap:
  address: %s
  security: none
  username: %s
  password_file: imap-password
  poll_interval: 1s
  command_timeout: 10s
  check_interval: 2s
  max_message_size: 20KB
  lease: 3s
smtp:
  address: %s
  security: none
  timeout: 1s
%soutbox:
%shttp:
%slog:
  level: info
  format: json
contacts_file: contacts.yaml
%s`, deskAddr, o.Desk, redisURL, imapAddr, deskAddr, d.smtp.Addr, o.SMTP, o.Outbox, o.HTTP, o.Extra)
	d.write("maildesk.yaml", cfg)
	d.write("contacts.yaml", o.Contacts)
	d.write("imap-password", d.dc.Password+"\n")
	d.config = filepath.Join(d.dir, "maildesk.yaml")
	// The environment without MAILDESK_* overrides, which would win over
	// the file.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MAILDESK_") {
			d.env = append(d.env, kv)
		}
	}
	d.daemon = testserver.NewProcess(t, "maildesk", filepath.Join(d.dir, "maildesk.log"), binary, "run", "--config", d.config)
	d.daemon.Env = d.env
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("maildesk log (%s), last lines:\n%s", d.daemon.Log, d.daemon.LogTail(60))
		}
	})
	if dir := os.Getenv("FAULTS_KEEP_LOGS"); dir != "" {
		t.Cleanup(func() {
			if b, err := os.ReadFile(d.daemon.Log); err == nil {
				name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + ".log"
				_ = os.WriteFile(filepath.Join(dir, name), b, 0o644)
			}
		})
	}
	if out, err := d.cli("check-config"); err != nil {
		t.Fatalf("check-config: %v\n%s", err, out)
	}
	return d
}

func (d *desk) write(name, content string) {
	d.t.Helper()
	if err := os.WriteFile(filepath.Join(d.dir, name), []byte(content), 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// start starts the daemon (again).
func (d *desk) start() {
	d.t.Helper()
	d.daemon.Start(d.t)
}

// cli runs "maildesk ARGS --config FILE" as an operator would.
func (d *desk) cli(args ...string) ([]byte, error) {
	cmd := exec.Command(binary, append(args, "--config", d.config)...)
	cmd.Env = d.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.Bytes(), fmt.Errorf("maildesk %s: %v: %s", strings.Join(args, " "), err, errOut.String())
		}
		return out.Bytes(), nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return out.Bytes(), fmt.Errorf("maildesk %s: no answer within 30s", strings.Join(args, " "))
	}
}

// cliJSON runs a listing command with --json into v; it fails the test.
func (d *desk) cliJSON(v any, args ...string) {
	d.t.Helper()
	out, err := d.cli(append(args, "--json")...)
	if err != nil {
		d.t.Fatal(err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		d.t.Fatalf("maildesk %s --json: %v\n%.2000s", strings.Join(args, " "), err, out)
	}
}

// listedTicket is a row of "tickets list --all --limit 0 --json" (every ticket).
type listedTicket struct {
	Number         string     `json:"number"`
	Subject        string     `json:"subject"`
	Status         string     `json:"status"`
	Contact        string     `json:"contact"`
	ContactName    string     `json:"contact_name"`
	MessageID      string     `json:"message_id"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
}

func (d *desk) tickets() []listedTicket {
	d.t.Helper()
	var ts []listedTicket
	d.cliJSON(&ts, "tickets", "list", "--all", "--limit", "0")
	return ts
}

// rejection is a row of "rejections list --json".
type rejection struct {
	Sender    string `json:"sender"`
	Reason    string `json:"reason"`
	MessageID string `json:"message_id"`
	Subject   string `json:"subject"`
}

func (d *desk) rejections() []rejection {
	d.t.Helper()
	var rs []rejection
	d.cliJSON(&rs, "rejections", "list")
	return rs
}

// outboxEntry is a row of "outbox list --json", also with --dead and
// --skipped (then Reason is set).
type outboxEntry struct {
	ID        string `json:"id"`
	State     string `json:"state"` // new, sending, retrying, uncertain
	Kind      string `json:"kind"`
	Ticket    string `json:"ticket"`
	To        string `json:"to"`
	Attempts  int64  `json:"attempts"`
	LastError string `json:"last_error"`
	Reason    string `json:"reason"`
}

// outbox lists the waiting notifications, or with "--dead" or "--skipped"
// those given up or not sent on purpose.
func (d *desk) outbox(queue ...string) []outboxEntry {
	d.t.Helper()
	var es []outboxEntry
	d.cliJSON(&es, append([]string{"outbox", "list"}, queue...)...)
	return es
}

// folders are the mailboxes a mail can be in.
var folders = []string{"INBOX", "Processed", "Rejected", "Quarantine"}

// counts asks Dovecot (IMAP STATUS) how many mails each folder holds; a
// folder that does not exist yet counts 0.
func (d *desk) counts() (map[string]int, error) {
	c, err := imapclient.DialInsecure(d.dc.IMAPAddr, nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	wd := time.AfterFunc(20*time.Second, func() { c.Close() })
	defer wd.Stop()
	if err := c.Login(deskAddr, d.dc.Password).Wait(); err != nil {
		return nil, err
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		return nil, err
	}
	exists := map[string]bool{}
	for _, l := range list {
		exists[l.Mailbox] = true
	}
	out := map[string]int{}
	for _, f := range folders {
		if !exists[f] {
			continue
		}
		st, err := c.Status(f, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			return nil, fmt.Errorf("STATUS %s: %w", f, err)
		}
		out[f] = int(*st.NumMessages)
	}
	_ = c.Logout().Wait()
	return out, nil
}

// waitQuiet waits until the inbox is empty, the other folders hold all
// delivered mails and no notification is waiting in the outbox (only dead
// letters and skipped ones remain, and mail whose delivery is uncertain,
// which waits for an operator): the state in which the invariants are
// checked. Errors (a server being restarted) are retried until timeout.
//
// timeout is how long the desk may go without progress (a mail filed, a
// notification sent): on a loaded machine under -race the same work takes
// several times as long, and what the bound catches is a desk that stopped.
// A desk still making progress gets at most four times timeout in all.
func (d *desk) waitQuiet(delivered int, timeout time.Duration) {
	d.t.Helper()
	t0 := time.Now()
	deadline, limit := t0.Add(timeout), t0.Add(4*timeout)
	var last string
	quiet := 0
	least := -1 // the least work left seen: mails not filed and notifications waiting
	progress := func(left int) {
		if least < 0 || left < least {
			least = left
			deadline = time.Now().Add(timeout)
			if deadline.After(limit) {
				deadline = limit
			}
		}
	}
	for {
		var cs map[string]int
		cs, err := d.counts()
		switch {
		case err != nil:
			last, quiet = "IMAP: "+err.Error(), 0
		case cs["INBOX"] != 0 || cs["Processed"]+cs["Rejected"]+cs["Quarantine"] < delivered:
			last, quiet = fmt.Sprintf("mailboxes %v, %d mails delivered", cs, delivered), 0
			// Notifications are counted only once all mail is filed, so
			// filed mail is progress measured above any outbox.
			progress(1<<20 + max(cs["INBOX"], delivered-cs["Processed"]-cs["Rejected"]-cs["Quarantine"]))
		default:
			out, err := d.cli("outbox", "list", "--json")
			var all, es []outboxEntry
			if err == nil {
				err = json.Unmarshal(out, &all)
			}
			for _, e := range all {
				if e.State != "uncertain" {
					es = append(es, e)
				}
			}
			switch {
			case err != nil:
				last, quiet = "outbox: "+err.Error(), 0
			case len(es) > 0:
				last, quiet = fmt.Sprintf("%d notifications waiting, first %+v", len(es), es[0]), 0
				progress(len(es))
			default:
				// Twice in a row, a second apart: nothing is in flight.
				if quiet++; quiet == 2 {
					d.t.Logf("quiet after %s: mailboxes %v", time.Since(t0).Round(100*time.Millisecond), cs)
					return
				}
			}
		}
		if ok, err := d.daemon.Exited(); ok {
			d.t.Fatalf("maildesk exited (%v) while waiting for it to finish; last state: %s", err, last)
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("not quiet after %s (no progress for %s, or at most %s in all): %s",
				time.Since(t0).Round(time.Second), timeout, 4*timeout, last)
		}
		time.Sleep(time.Second)
	}
}

// logSize is the size of the daemon's log now: waitLog looks for lines
// written after it.
func (d *desk) logSize() int64 {
	fi, err := os.Stat(d.daemon.Log)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// waitLog waits until the daemon's log, after offset, has a line with
// substr; it fails the test after timeout or when the daemon exits.
func (d *desk) waitLog(offset int64, substr string, timeout time.Duration) {
	d.t.Helper()
	if !d.waitLogCount(offset, substr, 1, timeout) {
		d.t.Fatalf("no %s in maildesk's log within %s", substr, timeout)
	}
}

// waitLogCount waits until the daemon's log, after offset, has n lines
// with substr, and reports whether it got them within timeout. It fails the
// test when the daemon exits.
func (d *desk) waitLogCount(offset int64, substr string, n int, timeout time.Duration) bool {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if bytes.Count(readFrom(d.daemon.Log, offset), []byte(substr)) >= n {
			return true
		}
		if ok, err := d.daemon.Exited(); ok {
			d.t.Fatalf("maildesk exited (%v) while waiting for %s in its log\n%s", err, substr, d.daemon.LogTail(30))
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readFrom returns the content of the file from offset on.
func readFrom(path string, offset int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil
	}
	b, _ := io.ReadAll(f)
	return b
}
