package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/internal/testserver"
)

const desk = "servicedesk@desk.example"

// env is a desk wired to real Redis, Dovecot and an SMTP server that
// forwards what maildesk sends into Dovecot mailboxes.
type env struct {
	t      *testing.T
	redis  *testserver.RedisServer
	dc     *testserver.DovecotServer
	smtp   *testserver.SMTPServer
	config string
	dir    string // the config's directory
	log    *testserver.Buffer
}

const defaultContacts = `customers:
  - id: acme
    name: Acme BV
    plan: standard
    contacts:
      - {email: jan@acme.example, name: Jan Jansen, main: true, language: nl}
      - {email: Piet@Acme.example, name: Piet Pieters}
`

func newEnv(t *testing.T, extra string) *env {
	t.Helper()
	return newEnvWith(t, extra, defaultContacts)
}

// newEnvWith is newEnv with extra config YAML and a contacts file.
func newEnvWith(t *testing.T, extra, contacts string) *env {
	t.Helper()
	return newEnvOpts(t, envOptions{extra: extra, contacts: contacts})
}

// envOptions change how the desk signs in (OAuth2 tests).
type envOptions struct {
	extra, contacts string
	// dovecot, when set, is the IMAP server (and with signIn the SMTP
	// submission server, relaying to the test's SMTP server); smtp is that
	// sink, which must then forward to dovecot.
	dovecot *testserver.DovecotServer
	smtp    *testserver.SMTPServer
	// imapAuth and smtpAuth replace the password lines of the imap and
	// smtp sections; smtpAddr the relay's address.
	imapAuth, smtpAuth, smtpAddr string
}

func newEnvOpts(t *testing.T, o envOptions) *env {
	t.Helper()
	rs, redisYAML := testRedis(t) // MAILDESK_TEST_REDIS=cluster: rs is nil (cluster_e2e_test.go)
	if o.dovecot == nil {
		o.dovecot = testserver.Dovecot(t)
	}
	if o.smtp == nil {
		o.smtp = testserver.SMTP(t)
		o.smtp.ForwardTo(o.dovecot)
	}
	if o.contacts == "" {
		o.contacts = defaultContacts
	}
	if o.imapAuth == "" {
		o.imapAuth = "password_file: imap-password"
	}
	if o.smtpAddr == "" {
		o.smtpAddr = o.smtp.Addr
	}
	e := &env{t: t, redis: rs, dc: o.dovecot, smtp: o.smtp, log: &testserver.Buffer{}}
	extra, contacts := o.extra, o.contacts
	dir := t.TempDir()
	cfg := fmt.Sprintf(`desk:
  id: acme-it
  name: Acme IT Servicedesk
  address: %s
  ticket_prefix: SD
  timezone: Europe/Amsterdam
  language: en
  agents: [{email: agent@desk.example, name: Agent}]
  managers: [{email: boss@desk.example, name: Boss}]
redis:
%s
imap:
  address: %s
  security: none
  username: %s
  %s
  poll_interval: 1s
  command_timeout: 10s
  max_message_size: 20KB
smtp:
  address: %s
  security: none
  %s
http:
  listen: ""
log:
  level: debug
  format: text
contacts_file: contacts.yaml
%s`, desk, redisYAML, e.dc.IMAPAddr, desk, o.imapAuth, o.smtpAddr, o.smtpAuth, extra)
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("maildesk.yaml", cfg)
	write("contacts.yaml", contacts)
	write("imap-password", e.dc.Password+"\n")
	e.config = filepath.Join(dir, "maildesk.yaml")
	e.dir = dir
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("maildesk log:\n%s", e.log.String())
		}
	})
	return e
}

// start runs the daemon until the returned stop is called; stop waits for
// a clean shutdown.
func (e *env) start() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmdRun(ctx, []string{"--config", e.config}, e.log) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				e.t.Errorf("maildesk run: %v", err)
			}
		case <-time.After(30 * time.Second):
			e.t.Fatal("maildesk did not shut down within 30s")
		}
	}
}

func (e *env) deliver(raw string) {
	e.dc.Deliver(e.t, desk, []byte(strings.ReplaceAll(raw, "\n", "\r\n")))
}

func (e *env) count(user, mailbox string) int {
	return len(e.dc.Mailbox(e.t, user, mailbox))
}

type listedTicket struct {
	Number    string    `json:"number"`
	Subject   string    `json:"subject"`
	Status    string    `json:"status"`
	Priority  string    `json:"priority"`
	Customer  string    `json:"customer"`
	Contact   string    `json:"contact"`
	CreatedAt time.Time `json:"created_at"`
	MessageID string    `json:"message_id"`
}

// tickets runs "maildesk tickets list --all --json" as a user would: every
// ticket, newest first.
func (e *env) tickets() []listedTicket {
	var out, errOut bytes.Buffer
	if code := run([]string{"tickets", "list", "--config", e.config, "--all", "--limit", "0", "--json"}, &out, &errOut); code != 0 {
		e.t.Fatalf("tickets list exit %d: %s", code, errOut.String())
	}
	var ts []listedTicket
	if err := json.Unmarshal(out.Bytes(), &ts); err != nil {
		e.t.Fatalf("tickets list --json is not a JSON array: %v\n%s", err, out.String())
	}
	return ts
}

// ticketsJSON is "tickets list --all --json" as generic maps.
func (e *env) ticketsJSON() []map[string]any {
	var out, errOut bytes.Buffer
	if code := run([]string{"tickets", "list", "--config", e.config, "--all", "--limit", "0", "--json"}, &out, &errOut); code != 0 {
		e.t.Fatalf("tickets list exit %d: %s", code, errOut.String())
	}
	var ts []map[string]any
	if err := json.Unmarshal(out.Bytes(), &ts); err != nil {
		e.t.Fatalf("tickets list --json: %v", err)
	}
	return ts
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mail(from, subject, id string, headers ...string) string {
	h := ""
	for _, x := range headers {
		h += x + "\n"
	}
	return fmt.Sprintf("From: %s\nTo: %s\nSubject: %s\nMessage-ID: <%s>\nDate: Sat, 21 Nov 2026 10:00:00 +0100\n%sContent-Type: text/plain; charset=utf-8\n\nHallo,\n\nDe printer op de tweede verdieping doet het niet.\n", from, desk, subject, id, h)
}

func header(raw []byte, name string) string {
	head, _, _ := bytes.Cut(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")), []byte("\n\n"))
	unfolded := strings.NewReplacer("\n ", " ", "\n\t", " ").Replace(string(head))
	for _, line := range strings.Split(unfolded, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestEndToEnd drives the first complete path through real servers: mail
// waiting at start and mail arriving while idle, authorised and not,
// machine mail, an oversized mail, a duplicate, and a restart.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t, "")
	// Waiting before the daemon starts.
	e.deliver(mail("Jan Jansen <JAN@acme.example>", "Printer kapot", "m1@acme.example"))
	e.deliver(mail("Stranger <stranger@elsewhere.example>", "Please help", "s1@elsewhere.example"))
	e.deliver(mail("Jan Jansen <jan@acme.example>", "Automatisch antwoord: Printer kapot", "ooo@acme.example", "Auto-Submitted: auto-replied"))
	e.deliver(mail("News <news@lists.example>", "Weekly digest", "list1@lists.example", "List-Id: <weekly.lists.example>", "Precedence: list"))
	e.deliver(mail("Jan Jansen <jan@acme.example>", "Huge", "big@acme.example") + strings.Repeat("x", 30*1024) + "\n")

	stop := e.start()
	eventually(t, 20*time.Second, "inbox drained", func() bool { return e.count(desk, "INBOX") == 0 })
	if n := e.count(desk, "Processed"); n != 1 {
		t.Errorf("Processed has %d mails, want 1", n)
	}
	if n := e.count(desk, "Rejected"); n != 3 {
		t.Errorf("Rejected has %d mails, want 3 (stranger, auto-reply, list mail)", n)
	}
	if n := e.count(desk, "Quarantine"); n != 1 {
		t.Errorf("Quarantine has %d mails, want 1 (too large)", n)
	}

	ts := e.tickets()
	if len(ts) != 1 {
		t.Fatalf("tickets = %+v, want one", ts)
	}
	tk := ts[0]
	// "acknowledged" as soon as the acknowledgement is out, which follows
	// the commit at once.
	if tk.Number != "SD-1" || tk.Subject != "Printer kapot" || (tk.Status != "new" && tk.Status != "acknowledged") || tk.Priority != "P3" ||
		tk.Customer != "acme" || tk.Contact != "jan@acme.example" || tk.MessageID != "m1@acme.example" || tk.CreatedAt.IsZero() {
		t.Errorf("ticket = %+v", tk)
	}

	// An acknowledgement to Jan (in Dutch, his language), a notice to the
	// stranger and one to Jan that his huge mail was too large; nothing to
	// the auto-responder or the list.
	e.smtp.WaitFor(t, 3, 15*time.Second)
	time.Sleep(1500 * time.Millisecond) // a further, wrong mail would come within a tick
	got := e.smtp.Messages()
	bySubject := map[string]testserver.Received{}
	var subjects []string
	for _, m := range got {
		s := header(m.Data, "Subject")
		subjects = append(subjects, s+" -> "+strings.Join(m.To, ","))
		bySubject[s] = m
		if len(m.To) != 1 {
			t.Fatalf("mail to %v, want one recipient", m.To)
		}
		// RFC 3834: notices to strangers go with the null reverse-path,
		// mail to contacts with the desk address for its bounces.
		wantFrom := desk
		if strings.Contains(strings.Join(m.To, ","), "stranger@") {
			wantFrom = ""
		}
		if !strings.EqualFold(m.From, wantFrom) {
			t.Errorf("envelope sender of mail to %v is %q, want %q", m.To, m.From, wantFrom)
		}
	}
	if len(got) != 3 {
		t.Fatalf("sent %d mails, want 3: %v", len(got), subjects)
	}
	ackMail, ok := bySubject["[SD-1] Printer kapot"]
	if !ok || !strings.EqualFold(ackMail.To[0], "jan@acme.example") {
		t.Fatalf("no acknowledgement to jan: %v", subjects)
	}
	ack := ackMail.Data
	for name, want := range map[string]string{
		"In-Reply-To":    "<m1@acme.example>",
		"Auto-Submitted": "auto-replied",
	} {
		if got := header(ack, name); got != want {
			t.Errorf("ack %s = %q, want %q", name, got, want)
		}
	}
	if !strings.Contains(header(ack, "From"), desk) || !strings.Contains(header(ack, "References"), "<m1@acme.example>") {
		t.Errorf("ack From/References: %q / %q", header(ack, "From"), header(ack, "References"))
	}
	if !bytes.Contains(ack, []byte("SD-1")) {
		t.Errorf("ack body does not name the ticket:\n%s", ack)
	}
	// The stranger wrote in Dutch (on an English desk), so is answered in Dutch.
	noticeMail, ok := bySubject["Niet in behandeling genomen: Please help"]
	if !ok || noticeMail.To[0] != "stranger@elsewhere.example" {
		t.Fatalf("no notice to the stranger: %v", subjects)
	}
	notice := noticeMail.Data
	if header(notice, "Auto-Submitted") != "auto-replied" || header(notice, "In-Reply-To") != "<s1@elsewhere.example>" {
		t.Errorf("notice headers: %q %q", header(notice, "Auto-Submitted"), header(notice, "In-Reply-To"))
	}
	if m, ok := bySubject["Bericht te groot: Huge"]; !ok || !strings.EqualFold(m.To[0], "jan@acme.example") {
		t.Fatalf("no too-large notice to jan: %v", subjects)
	}
	// The acknowledgement reaches Jan's own mailbox.
	eventually(t, 10*time.Second, "ack and notice in jan's mailbox", func() bool { return e.count("jan@acme.example", "INBOX") == 2 })

	// Jan answers the acknowledgement: his reply joins SD-1, no new ticket,
	// no new acknowledgement.
	ackID := header(ack, "Message-ID")
	e.deliver(mail("Jan Jansen <jan@acme.example>", "Re: [SD-1] Printer kapot", "r1@acme.example", "In-Reply-To: "+ackID, "References: <m1@acme.example> "+ackID))
	eventually(t, 10*time.Second, "reply moved to Processed", func() bool { return e.count(desk, "Processed") == 2 })
	if ts := e.tickets(); len(ts) != 1 {
		t.Fatalf("the reply made a ticket: %+v", ts)
	}

	// New mail while idling becomes a ticket within seconds.
	e.deliver(mail("Piet Pieters <piet@acme.example>", "VPN", "m2@acme.example"))
	eventually(t, 10*time.Second, "ticket SD-2 from new mail", func() bool { return len(e.tickets()) == 2 })

	// The same mail again (a resend, or a second copy): no second ticket or ack.
	e.deliver(mail("Jan Jansen <jan@acme.example>", "Printer kapot", "m1@acme.example"))
	eventually(t, 10*time.Second, "duplicate moved", func() bool { return e.count(desk, "Processed") == 4 })
	stop()

	// A restart with mail still in the inbox processes it; nothing earlier
	// is redone.
	e.deliver(mail("Jan Jansen <jan@acme.example>", "Printer kapot", "m1@acme.example"))
	stop = e.start()
	eventually(t, 20*time.Second, "inbox drained after restart", func() bool { return e.count(desk, "INBOX") == 0 })
	time.Sleep(1500 * time.Millisecond)
	stop()
	if ts := e.tickets(); len(ts) != 2 {
		t.Errorf("tickets after duplicates and restart = %d, want 2", len(ts))
	}
	if n := len(e.smtp.Messages()); n != 4 {
		t.Errorf("sent %d mails in all, want 4 (two acks, two notices)", n)
	}

	var out, errOut bytes.Buffer
	if code := run([]string{"tickets", "show", "--config", e.config, "--json", "sd-1"}, &out, &errOut); code != 0 {
		t.Fatalf("tickets show exit %d: %s", code, errOut.String())
	}
	// Every refusal is on record, the reasons readable.
	out.Reset()
	if code := run([]string{"rejections", "list", "--config", e.config, "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("rejections list exit %d: %s", code, errOut.String())
	}
	var rejected []struct{ Sender, Reason string }
	if err := json.Unmarshal(out.Bytes(), &rejected); err != nil {
		t.Fatal(err)
	}
	var records []string
	for _, r := range rejected {
		records = append(records, r.Sender+": "+r.Reason)
	}
	all := strings.Join(records, "\n")
	for _, want := range []string{
		"stranger@elsewhere.example: unknown sender",
		"news@lists.example: unknown sender (no notice to machine mail: generated",
		"jan@acme.example: machine mail: auto-reply",
		"jan@acme.example: too large",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("rejections lack %q:\n%s", want, all)
		}
	}

	// The original comes back from IMAP as it arrived.
	out.Reset()
	if code := run([]string{"tickets", "raw", "--config", e.config, "SD-1"}, &out, &errOut); code != 0 {
		t.Fatalf("tickets raw exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "Message-ID: <m1@acme.example>") || !strings.Contains(out.String(), "De printer op de tweede verdieping") {
		t.Errorf("tickets raw printed:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"tickets", "show", "--config", e.config, "--json", "sd-1"}, &out, &errOut); code != 0 {
		t.Fatalf("tickets show exit %d: %s", code, errOut.String())
	}
	var shown struct {
		Number         string     `json:"number"`
		Status         string     `json:"status"`
		AcknowledgedAt *time.Time `json:"acknowledged_at"`
		Text           string     `json:"text"`
		Events         []struct {
			Kind      string `json:"kind"`
			MessageID string `json:"message_id"`
		} `json:"events"`
	}
	if err := json.Unmarshal(out.Bytes(), &shown); err != nil {
		t.Fatal(err)
	}
	// History: the delivered acknowledgement made it "acknowledged", then
	// Jan's reply.
	if shown.Number != "SD-1" || shown.AcknowledgedAt == nil || shown.Status != "acknowledged" || !strings.Contains(shown.Text, "printer") ||
		len(shown.Events) != 2 || shown.Events[0].Kind != "change" ||
		shown.Events[1].Kind != "reply" || shown.Events[1].MessageID != "r1@acme.example" {
		t.Errorf("tickets show = %+v", shown)
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("desk:\n  id: Acme IT\n  address: nope\nimap:\n  security: ssl\ncontacts_file: missing.yaml\n"), 0o600)
	var out, errOut bytes.Buffer
	if code := run([]string{"check-config", "--config", bad}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1; out %s err %s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"desk.id", "desk.address", "imap.security", "imap.address"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check-config output lacks %q:\n%s", want, out.String())
		}
	}
	if code := run([]string{"check-config"}, &out, &errOut); code != 2 {
		t.Errorf("check-config without --config: exit %d, want 2", code)
	}
	if code := run([]string{"version"}, &out, &errOut); code != 0 {
		t.Errorf("version exit %d", code)
	}
}
