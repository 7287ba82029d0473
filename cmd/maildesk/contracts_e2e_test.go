package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"go.yaml.in/yaml/v3"

	"github.com/maildesk/maildesk/internal/testserver"
)

// The seed contracts walked clause by clause on the real servers, each with
// its example configuration from deploy/examples as shipped: only where
// the servers are and who the desk's agents are is changed. The daemon runs
// on a business clock the test sets, so that a clause about Friday evening
// is tested on a Friday evening.

// contractClock is the daemon's business clock: a moment the test chose,
// advancing with real time, that the test can move.
type contractClock struct {
	mu        sync.Mutex
	base, set time.Time
}

func (c *contractClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.set.Add(time.Since(c.base))
}

// jump moves the clock to at.
func (c *contractClock) jump(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.base, c.set = time.Now(), at
}

type contractEnv struct {
	*env
	clock *contractClock
}

// newContractEnv runs deploy/examples/<name>.yaml with its contacts file
// against this test's Dovecot, SMTP sink and Redis, starting at the
// business time at.
func newContractEnv(t *testing.T, name string, at time.Time) *contractEnv {
	t.Helper()
	rs, redisYAML := testRedis(t)
	dc := testserver.Dovecot(t)
	smtp := testserver.SMTP(t)
	smtp.ForwardTo(dc)
	e := &env{t: t, redis: rs, dc: dc, smtp: smtp, log: &testserver.Buffer{}, dir: t.TempDir()}

	src := filepath.Join("..", "..", "deploy", "examples")
	raw, err := os.ReadFile(filepath.Join(src, name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("%s.yaml: %v", name, err)
	}
	var redis map[string]any
	if err := yaml.Unmarshal([]byte("redis:\n"+redisYAML), &redis); err != nil {
		t.Fatal(err)
	}
	cfg["redis"] = redis["redis"]
	cfg["imap"] = map[string]any{"address": dc.IMAPAddr, "security": "none", "username": desk,
		"password_file": "imap-password", "poll_interval": "1s", "command_timeout": "10s"}
	cfg["smtp"] = map[string]any{"address": smtp.Addr, "security": "none"}
	cfg["http"] = map[string]any{"listen": ""}
	cfg["log"] = map[string]any{"level": "debug", "format": "text"}
	d := cfg["desk"].(map[string]any)
	if d["agents"] == nil {
		d["agents"] = []any{map[string]any{"email": "agent@desk.example", "name": "Agent"}}
	}
	if d["managers"] == nil {
		d["managers"] = []any{map[string]any{"email": "boss@desk.example", "name": "Boss"}}
	}
	contacts := cfg["contacts_file"].(string)
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	craw, err := os.ReadFile(filepath.Join(src, contacts))
	if err != nil {
		t.Fatal(err)
	}
	for file, content := range map[string][]byte{name + ".yaml": out, contacts: craw, "imap-password": []byte(dc.Password + "\n")} {
		if err := os.WriteFile(filepath.Join(e.dir, file), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.config = filepath.Join(e.dir, name+".yaml")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("maildesk log:\n%s", e.log.String())
		}
	})
	c := &contractEnv{env: e, clock: &contractClock{}}
	c.clock.jump(at)
	return c
}

// run starts the daemon on the contract clock; the returned stop waits for
// a clean shutdown.
func (c *contractEnv) run() (stop func()) {
	c.t.Helper()
	cfg, _, err := loadConfig(c.config)
	if err != nil {
		c.t.Fatalf("loading %s: %v", c.config, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runDaemonAt(ctx, cfg, newLogger(cfg.Log, c.log), c.clock.now) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				c.t.Errorf("maildesk run: %v", err)
			}
		case <-time.After(30 * time.Second):
			c.t.Fatal("maildesk did not shut down within 30s")
		}
	}
}

// cli runs a maildesk command on this desk's configuration and returns
// its output; it fails the test when the command fails.
func (c *contractEnv) cli(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.try(args...)
	if code != 0 {
		c.t.Fatalf("maildesk %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// try runs a maildesk command and returns what it printed and its exit code.
func (c *contractEnv) try(args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	args = append(args[:1:1], append([]string{args[1], "--config", c.config}, args[2:]...)...)
	code = run(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// shown is "tickets show NUMBER --json".
type shownTicket struct {
	Number            string   `json:"number"`
	Status            string   `json:"status"`
	Type              string   `json:"type"`
	Priority          string   `json:"priority"`
	RequestedPriority string   `json:"requested_priority"`
	PriorityReason    string   `json:"priority_reason"`
	Customer          string   `json:"customer"`
	Contact           string   `json:"contact"`
	Participants      []string `json:"participants"`
	SLA               *struct {
		Plan             string    `json:"plan"`
		Rule             string    `json:"rule"`
		Target           string    `json:"target"`
		Arrival          time.Time `json:"arrival"`
		FirstResponseDue time.Time `json:"first_response_due"`
	} `json:"sla"`
	Events []struct {
		Kind    string `json:"kind"`
		From    string `json:"from"`
		Changes []struct {
			Field, Old, New, Reason string
		} `json:"changes"`
	} `json:"events"`
}

func (c *contractEnv) show(number string) shownTicket {
	c.t.Helper()
	var tk shownTicket
	if err := json.Unmarshal([]byte(c.cli("tickets", "show", number, "--json")), &tk); err != nil {
		c.t.Fatalf("tickets show %s --json: %v", number, err)
	}
	return tk
}

// waitTicket waits until the mail with Message-ID id has made a ticket and
// returns its number.
func (c *contractEnv) waitTicket(id string) string {
	c.t.Helper()
	var number string
	eventually(c.t, 20*time.Second, "a ticket for <"+id+">", func() bool {
		for _, tk := range c.ticketsJSON() {
			if tk["message_id"] == id {
				number, _ = tk["number"].(string)
				return true
			}
		}
		return false
	})
	return number
}

// mailTo waits for a mail to rcpt whose subject contains subject and
// returns its decoded text.
func (c *contractEnv) mailTo(rcpt, subject string) string {
	c.t.Helper()
	var text string
	eventually(c.t, 20*time.Second, "a mail to "+rcpt+" about "+subject, func() bool {
		for _, m := range c.smtp.Messages() {
			if strings.Contains(header(m.Data, "Subject"), subject) && containsFold(m.To, rcpt) {
				text = textOf(c.t, m.Data)
				return true
			}
		}
		return false
	})
	return text
}

// mailsTo counts the mails so far to rcpt whose subject contains subject.
func (c *contractEnv) mailsTo(rcpt, subject string) int {
	n := 0
	for _, m := range c.smtp.Messages() {
		if strings.Contains(header(m.Data, "Subject"), subject) && containsFold(m.To, rcpt) {
			n++
		}
	}
	return n
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// textOf is the decoded text/plain of a mail the desk sent.
func textOf(t *testing.T, raw []byte) string {
	t.Helper()
	r, err := gomail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("reading a sent mail: %v", err)
	}
	var text strings.Builder
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading a sent mail's parts: %v", err)
		}
		if h, ok := p.Header.(*gomail.InlineHeader); ok {
			if ct, _, _ := h.ContentType(); ct == "text/plain" {
				b, _ := io.ReadAll(p.Body)
				text.Write(b)
			}
		}
	}
	return text.String()
}

// contractMail is a mail from a customer's contact; body is its text.
func contractMail(from, subject, id, body string, headers ...string) string {
	h := ""
	for _, x := range headers {
		h += x + "\n"
	}
	return "From: " + from + "\nTo: " + desk + "\nSubject: " + subject + "\nMessage-ID: <" + id + ">\nDate: Tue, 08 Dec 2026 10:00:00 +0100\n" +
		h + "Content-Type: text/plain; charset=utf-8\n\n" + body + "\n"
}

var amsterdam = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		panic(err)
	}
	return loc
}()

func local(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, amsterdam)
	if err != nil {
		panic(err)
	}
	return t
}

// due checks a ticket's first-response deadline for an arrival within
// opening hours: want after the arrival, counted in plan wantPlan.
func (c *contractEnv) due(tk shownTicket, wantPlan string, want time.Duration) {
	c.t.Helper()
	if tk.SLA == nil {
		c.t.Fatalf("%s has no SLA clock, want plan %s", tk.Number, wantPlan)
	}
	if tk.SLA.Plan != wantPlan {
		c.t.Errorf("%s counts in plan %s (rule %q), want %s", tk.Number, tk.SLA.Plan, tk.SLA.Rule, wantPlan)
	}
	if got := tk.SLA.FirstResponseDue.Sub(tk.SLA.Arrival); got != want {
		c.t.Errorf("%s: first response due %s after arrival %s, want %s (due %s)", tk.Number, got, tk.SLA.Arrival.In(amsterdam), want, tk.SLA.FirstResponseDue.In(amsterdam))
	}
}

// dueAt checks a deadline that is a moment of the calendar, give or take
// the seconds the mail took to arrive.
func (c *contractEnv) dueAt(tk shownTicket, want time.Time) {
	c.t.Helper()
	if tk.SLA == nil {
		c.t.Fatalf("%s has no SLA clock, want one due %s", tk.Number, want)
	}
	// A mail arrives seconds after the clock was set; within opening hours
	// the deadline moves by as much.
	if d := tk.SLA.FirstResponseDue.Sub(want); d < 0 || d > time.Minute {
		c.t.Errorf("%s: first response due %s, want %s (arrival %s, plan %s, rule %q)", tk.Number,
			tk.SLA.FirstResponseDue.In(amsterdam), want.In(amsterdam), tk.SLA.Arrival.In(amsterdam), tk.SLA.Plan, tk.SLA.Rule)
	}
}

func (tk shownTicket) hasEvent(kind string) bool {
	for _, e := range tk.Events {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

// Kwikqy (seeds 000 in English and 001 in Dutch), deploy/examples/kwikqy.yaml.
func TestContractKwikqy(t *testing.T) {
	c := newContractEnv(t, "kwikqy", local("2026-12-08 10:00")) // a Tuesday
	stop := c.run()
	defer stop()

	// "Priority 1 (P1) - Service Blocker ... Enhanced: 2 hours": a contact
	// of an Enhanced customer reports a service blocker in Dutch, within
	// the Dutch opening hours.
	c.deliver(contractMail("Sanne van Dijk <sanne@vandijk-logistics.example>", "Service Blocker: portaal onbereikbaar", "k1@vandijk.example", "Niemand kan inloggen."))
	sanne := c.show(c.waitTicket("k1@vandijk.example"))
	if sanne.Priority != "P1" {
		t.Errorf("service blocker: priority %s", sanne.Priority)
	}
	c.due(sanne, "enhanced", 2*time.Hour)
	ack := c.mailTo("sanne@vandijk-logistics.example", "Service Blocker: portaal onbereikbaar")
	if !strings.Contains(ack, "P1 (Service Blocker)") || !strings.Contains(ack, "uiterlijk") {
		t.Errorf("ack to Sanne names neither the contract's P1 nor the deadline:\n%s", ack)
	}

	// The customer sets the priority within the rights it gave its
	// contacts; Tom may ask for P2 at most and is told why he got it.
	c.deliver(contractMail("Tom Peters <tom@vandijk-logistics.example>", "Service Blocker: checkout down", "k2@vandijk.example", "Checkout fails for everyone."))
	tom := c.show(c.waitTicket("k2@vandijk.example"))
	if tom.Priority != "P2" || tom.RequestedPriority != "P1" || tom.PriorityReason != "rights" {
		t.Errorf("Tom's P1 request: %+v", tom)
	}
	c.due(tom, "enhanced", 4*time.Hour) // "Priority 2 ... Enhanced: 4 hours", English hours
	if ack := c.mailTo("tom@vandijk-logistics.example", "checkout down"); !strings.Contains(ack, "You asked for priority P1") {
		t.Errorf("Tom is not told why his ticket is P2:\n%s", ack)
	}

	// "Kwikqy may re-classify the priority ... and inform the customer".
	c.cli("tickets", "set", tom.Number, "priority=P3", "--as", "Agent")
	if got := c.mailTo("tom@vandijk-logistics.example", "["+tom.Number+"]"); got == "" {
		t.Errorf("no progress mail for the re-classification")
	}
	if tk := c.show(tom.Number); tk.Priority != "P3" {
		t.Errorf("re-classified ticket: %+v", tk)
	} else {
		// "Priority 3 ... Enhanced: 12 hours" of 09:00-22:00: to 22:00
		// tonight and the seconds the mail took into tomorrow.
		c.dueAt(tk, local("2026-12-09 09:00"))
	}

	// Premium: 1 hour for a P1. A subject that merely mentions a feature
	// request is no feature request when it asks for P1.
	c.deliver(contractMail("Northwind Operations <ops@northwind.example>", "[P1] Service unusable: the feature request form crashes", "k3@northwind.example", "The form throws a 500."))
	nw := c.show(c.waitTicket("k3@northwind.example"))
	if nw.Type != "incident" || nw.Priority != "P1" || nw.Status == "closed" {
		t.Errorf("P1 mentioning a feature request: %+v", nw)
	}
	c.due(nw, "premium", time.Hour)

	// "Kwikqy designates Feature Requests": an explicit marker at the start
	// of the subject, stored and closed without SLA.
	c.deliver(contractMail("Ilse Voss <ilse@bakkerijvoss.example>", "[Functieverzoek] donkere modus", "k4@bakkerijvoss.example", "Graag een donkere modus."))
	fr := c.show(c.waitTicket("k4@bakkerijvoss.example"))
	if fr.Type != "feature_request" || fr.Status != "closed" || fr.SLA != nil {
		t.Errorf("feature request: %+v", fr)
	}

	// The desk turns a feature request into an incident and back: the
	// clock restarts from the arrival, not from the change.
	c.cli("tickets", "set", nw.Number, "type=feature_request", "--as", "Agent")
	if tk := c.show(nw.Number); tk.Type != "feature_request" || tk.Status != "closed" {
		t.Errorf("designated a feature request: %+v", tk)
	}
	c.cli("tickets", "set", nw.Number, "type=incident", "--as", "Agent")
	if tk := c.show(nw.Number); tk.Type != "incident" {
		t.Errorf("back to an incident: %+v", tk)
	} else {
		c.dueAt(tk, nw.SLA.FirstResponseDue)
	}

	// A reply on the closed feature request is put before the agents.
	c.deliver(contractMail("Ilse Voss <ilse@bakkerijvoss.example>", "Re: ["+fr.Number+"] [Functieverzoek] donkere modus",
		"k5@bakkerijvoss.example", "Dit is GEEN functieverzoek, het scherm is onleesbaar.", "In-Reply-To: <k4@bakkerijvoss.example>"))
	eventually(t, 20*time.Second, "the reply recorded on "+fr.Number, func() bool { return c.show(fr.Number).hasEvent("feature_request_reply") })

	// "Dutch requests outside the Dutch opening hours fall back to the
	// Standard targets": Tuesday 19:00, Enhanced, in Dutch: Standard's
	// 4 hours from Wednesday 09:00.
	c.clock.jump(local("2026-12-08 19:00"))
	c.deliver(contractMail("Sanne van Dijk <sanne@vandijk-logistics.example>", "Service Blocker: scanner kapot", "k6@vandijk.example", "De scanners werken niet."))
	late := c.show(c.waitTicket("k6@vandijk.example"))
	if late.SLA == nil || !strings.Contains(late.SLA.Rule, `outside its opening hours: plan "standard"`) {
		t.Errorf("Dutch P1 at 19:00 on Enhanced: %+v", late.SLA)
	}
	c.dueAt(late, local("2026-12-09 13:00"))
	// The same request in English counts in the English hours (to 22:00).
	c.deliver(contractMail("Tom Peters <tom@vandijk-logistics.example>", "High: scanners offline", "k7@vandijk.example", "Our scanners stopped working tonight."))
	eng := c.show(c.waitTicket("k7@vandijk.example"))
	// "Priority 2 ... Enhanced: 4 hours" in 09:00-22:00: three hours
	// tonight, one tomorrow morning.
	c.dueAt(eng, local("2026-12-09 10:00"))

	// "Support only during the term and while invoices are paid": a
	// suspended customer's contact is told why, in Dutch, and the agents
	// see the refused mail.
	c.deliver(contractMail("Jeroen Peeters <jeroen@drukkerijpeeters.example>", "Drukpers storing", "k8@drukkerijpeeters.example", "De pers staat stil."))
	notice := c.mailTo("jeroen@drukkerijpeeters.example", "Drukpers storing")
	if !strings.Contains(notice, "openstaande facturen") || strings.Contains(notice, "suspended") {
		t.Errorf("the notice to a suspended customer does not say why in Dutch:\n%s", notice)
	}
	if out := c.cli("rejections", "list"); !strings.Contains(out, "jeroen@drukkerijpeeters.example") {
		t.Errorf("rejections list does not show the refused mail:\n%s", out)
	}
	// After the term (Bakkerij Voss: active_until 2027-12-31).
	c.clock.jump(local("2028-01-03 10:00"))
	c.deliver(contractMail("Ilse Voss <ilse@bakkerijvoss.example>", "Kassa storing", "k9@bakkerijvoss.example", "De kassa doet het niet."))
	notice = c.mailTo("ilse@bakkerijvoss.example", "Kassa storing")
	if !strings.Contains(notice, "31 december 2027") || strings.Contains(notice, "ended") {
		t.Errorf("the notice after the term does not say in Dutch when it ended:\n%s", notice)
	}
	for _, tk := range c.ticketsJSON() {
		if id := tk["message_id"]; id == "k8@drukkerijpeeters.example" || id == "k9@bakkerijvoss.example" {
			t.Errorf("a ticket for an inactive customer: %v", tk)
		}
	}
}
