package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
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
	http  string // the daemon's HTTP address
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
	// A yaml.Node keeps the file as written (dates stay dates, anchors
	// anchors); only the sections about where the servers are change.
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s.yaml: %v", name, err)
	}
	var redis map[string]any
	if err := yaml.Unmarshal([]byte("redis:\n"+redisYAML), &redis); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	setKey(t, root, "redis", redis["redis"])
	setKey(t, root, "imap", map[string]any{"address": dc.IMAPAddr, "security": "none", "username": desk,
		"password_file": "imap-password", "poll_interval": "1s", "command_timeout": "10s"})
	setKey(t, root, "smtp", map[string]any{"address": smtp.Addr, "security": "none"})
	// The API runs on the daemon's business clock, as the CLI cannot:
	// tickets taken by phone go through it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	setKey(t, root, "http", map[string]any{"listen": httpAddr})
	setKey(t, root, "log", map[string]any{"level": "debug", "format": "text"})
	d := mapValue(root, "desk")
	if mapValue(d, "agents") == nil {
		setKey(t, d, "agents", []any{map[string]any{"email": "agent@desk.example", "name": "Agent"}})
	}
	if mapValue(d, "managers") == nil {
		setKey(t, d, "managers", []any{map[string]any{"email": "boss@desk.example", "name": "Boss"}})
	}
	contacts := mapValue(root, "contacts_file").Value
	out, err := yaml.Marshal(&doc)
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
	c := &contractEnv{env: e, clock: &contractClock{}, http: httpAddr}
	c.clock.jump(at)
	return c
}

// mapValue is the value of key in the mapping node m, nil when it has none.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setKey sets key in the mapping node m to v.
func setKey(t *testing.T, m *yaml.Node, key string, v any) {
	t.Helper()
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = &n
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, &n)
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

// open opens a ticket for a call through POST /api/v1/tickets, as the
// dashboard's form does, and returns its number.
func (c *contractEnv) open(fields map[string]string) string {
	c.t.Helper()
	body, _ := json.Marshal(fields)
	var resp *http.Response
	eventually(c.t, 10*time.Second, "the daemon's API", func() bool {
		var err error
		resp, err = http.Post("http://"+c.http+"/api/v1/tickets", "application/json", bytes.NewReader(body))
		return err == nil
	})
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var opened struct {
		Number string `json:"number"`
	}
	if err := json.Unmarshal(b, &opened); resp.StatusCode != http.StatusCreated || err != nil || opened.Number == "" {
		c.t.Fatalf("POST /api/v1/tickets %s: %s %s", body, resp.Status, b)
	}
	return opened.Number
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

// mailWith waits for a mail to rcpt whose text contains text.
func (c *contractEnv) mailWith(rcpt, text string) string {
	c.t.Helper()
	var got string
	eventually(c.t, 20*time.Second, "a mail to "+rcpt+" saying "+text, func() bool {
		for _, m := range c.smtp.Messages() {
			if containsFold(m.To, rcpt) && strings.Contains(textOf(c.t, m.Data), text) {
				got = textOf(c.t, m.Data)
				return true
			}
		}
		return false
	})
	return got
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

	// 4.4 "Priority P1: ... Enhanced Support: 2 hours": a contact of an
	// Enhanced customer reports a Service Blocker in Dutch, within the Dutch
	// opening hours.
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

	// 2.2 "When the Customer submits a Request, he assigns a priority":
	// within the rights given to each contact; Tom may ask for P2 at most
	// and is told why he got it.
	c.deliver(contractMail("Tom Peters <tom@vandijk-logistics.example>", "Service Blocker: checkout down", "k2@vandijk.example", "Checkout fails for everyone."))
	tom := c.show(c.waitTicket("k2@vandijk.example"))
	if tom.Priority != "P2" || tom.RequestedPriority != "P1" || tom.PriorityReason != "rights" {
		t.Errorf("Tom's P1 request: %+v", tom)
	}
	c.due(tom, "enhanced", 4*time.Hour) // "Priority P2: ... Enhanced Support: 4 hours", English hours
	if ack := c.mailTo("tom@vandijk-logistics.example", "checkout down"); !strings.Contains(ack, "You asked for priority P1") {
		t.Errorf("Tom is not told why his ticket is P2:\n%s", ack)
	}

	// 2.2 "Kwikqy reserves the right to change the Customer's priority
	// rating ... and will notify the Customer of such change".
	c.cli("tickets", "set", tom.Number, "priority=P3", "--as", "Agent")
	eventually(t, 20*time.Second, "a progress mail to Tom about the re-classification", func() bool {
		return c.mailsTo("tom@vandijk-logistics.example", "["+tom.Number+"]") == 2 // the ack and this
	})
	if tk := c.show(tom.Number); tk.Priority != "P3" {
		t.Errorf("re-classified ticket: %+v", tk)
	} else {
		// "Priority P3: ... Enhanced Support: 12 hours" of 09:00-22:00: to 22:00
		// tonight and the seconds the mail took into tomorrow.
		c.dueAt(tk, local("2026-12-09 09:00"))
	}

	// "Premium Support: 1 hour" for a P1. 8 "The Customer must mark a
	// Request as 'Service unusable' by marking it as a Priority P1": a
	// subject that merely mentions a feature request is no feature request
	// when it asks for P1.
	c.deliver(contractMail("Northwind Operations <ops@northwind.example>", "[P1] Service unusable: the feature request form crashes", "k3@northwind.example", "The form throws a 500."))
	nw := c.show(c.waitTicket("k3@northwind.example"))
	if nw.Type != "incident" || nw.Priority != "P1" || nw.Status == "closed" {
		t.Errorf("P1 mentioning a feature request: %+v", nw)
	}
	c.due(nw, "premium", time.Hour)

	// 2.5 "If Kwikqy designates a Request as a Feature Request, Kwikqy will
	// save such Requests ... and then consider the matter closed": an
	// explicit marker at the start of the subject, closed without SLA.
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

	// 4.5 "For Requests in Dutch submitted outside of Opening Hours in the
	// Netherlands, Kwikqy will respond within the First Response target
	// times as stated for Workspace Standard Support": Tuesday 19:00,
	// Enhanced, in Dutch: Standard's 4 hours from Wednesday 09:00.
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
	// "Enhanced Support is available in English from Monday until Friday
	// from 9:00 until 22:00": P2's 4 hours are three hours
	// tonight, one tomorrow morning.
	c.dueAt(eng, local("2026-12-09 10:00"))

	// 5.3 "Kwikqy will only provide the support services ... during the
	// term of the Agreement when all invoices due and payable have been
	// settled": a suspended customer's contact is told why, in Dutch, and
	// the agents see the refused mail.
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

// Oxineo's "4 Ster support" (seed 004), deploy/examples/oxineo.yaml.
func TestContractOxineo(t *testing.T) {
	c := newContractEnv(t, "oxineo", local("2026-12-11 17:30")) // a Friday evening
	stop := c.run()
	defer stop()

	// "U als klant kunt niet bepalen of er prioriteit of urgentie moet
	// worden gegeven": a [P1] tag changes nothing, and the contact is told
	// that the desk decides.
	c.deliver(contractMail("Pieter de Haan <p.dehaan@dehaan-accountancy.example>", "[P1] Website plat", "o1@dehaan.example", "De website is niet bereikbaar."))
	tk := c.show(c.waitTicket("o1@dehaan.example"))
	if tk.Priority != "P3" || tk.PriorityReason != "plan" {
		t.Errorf("the customer set the priority: %+v", tk)
	}
	ack := c.mailTo("p.dehaan@dehaan-accountancy.example", "[P1] Website plat")
	if !strings.Contains(ack, "servicecontract") {
		t.Errorf("the ack does not say the desk sets priorities:\n%s", ack)
	}
	// "Wij behandelen alle tickets ... op basis van best effort": the ack
	// promises no deadline.
	if strings.Contains(ack, "uiterlijk") {
		t.Errorf("a best-effort ack states a deadline:\n%s", ack)
	}
	// "Wij streven ernaar om alle tickets binnen 3 dagen op te halen":
	// Friday evening is due Wednesday at closing time.
	c.dueAt(tk, local("2026-12-16 17:00"))

	// "Deze personen worden ook op de hoogte gehouden van de voortgang en
	// afhandeling van deze tickets": both contact persons hear of progress,
	// not only the one who wrote.
	c.cli("tickets", "set", tk.Number, "status=in_progress", "--as", "Agent")
	for _, to := range []string{"p.dehaan@dehaan-accountancy.example", "office@dehaan-accountancy.example"} {
		c.mailTo(to, "["+tk.Number+"]")
	}

	// "Binnen uw organisatie kunt u 2 contactpersonen aanwijzen": a third
	// is refused, naming the limit.
	third := filepath.Join(c.dir, "third.yaml")
	if err := os.WriteFile(third, []byte(`customers:
  - id: accountancy-de-haan
    name: Accountancy De Haan
    plan: support
    contacts:
      - {email: p.dehaan@dehaan-accountancy.example, main: true}
      - {email: office@dehaan-accountancy.example}
      - {email: stagiair@dehaan-accountancy.example}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := c.try("contacts", "import", third); code != 1 || !strings.Contains(out+errOut, "allows at most 2") {
		t.Errorf("import of a third contact person: exit %d\n%s%s", code, out, errOut)
	}
	// Nor can a colleague who is not one of the two open a ticket by
	// mail: they are told so, and nothing is made.
	c.deliver(contractMail("Stagiair <stagiair@dehaan-accountancy.example>", "Printer", "o2@dehaan.example", "De printer doet het niet."))
	if notice := c.mailTo("stagiair@dehaan-accountancy.example", "Printer"); !strings.Contains(notice, "niet geregistreerd") {
		t.Errorf("the notice does not say why:\n%s", notice)
	}
	for _, tk := range c.ticketsJSON() {
		if tk["message_id"] == "o2@dehaan.example" {
			t.Errorf("a ticket for a third person: %v", tk)
		}
	}
}

// The web agency's support page (seed 003), deploy/examples/webagency.yaml.
func TestContractWebAgency(t *testing.T) {
	c := newContractEnv(t, "webagency", local("2026-12-05 10:00")) // a Saturday in an agreed weekend standby
	stop := c.run()
	defer stop()

	// "Wanneer u tijdens een van te voren overeengekomen standby periode
	// daadwerkelijk een beroep op ons doet komen wij binnen 30 minuten in
	// actie."
	c.deliver(contractMail("Marco Dekker <marco@webshopdekker.example>", "Betalingen mislukken", "w1@dekker.example", "Niemand kan afrekenen."))
	standby := c.show(c.waitTicket("w1@dekker.example"))
	c.due(standby, "standby", 30*time.Minute)

	// A customer without standby: "Op werkdagen zijn wij bereikbaar van
	// 08:30 uur tot 18:00 uur", so a P1 ("storing") on Saturday is due an
	// hour after Monday's opening.
	c.deliver(contractMail("Gert Hoekstra <eigenaar@fietsenwinkel-utrecht.example>", "Storing: webshop plat", "w2@fietsen.example", "De webshop geeft een foutmelding."))
	shop := c.show(c.waitTicket("w2@fietsen.example"))
	if shop.Priority != "P1" {
		t.Errorf("'storing' is P1: %+v", shop)
	}
	c.dueAt(shop, local("2026-12-07 09:30"))
	c.mailTo("eigenaar@fietsenwinkel-utrecht.example", "Storing: webshop plat")

	// "Terugkoppeling vind plaats door zo veel mogelijk binnen het ticket te
	// registeren. Hiervan krijgt u een melding per e-mail.": an agent's
	// answer is in the history and in the mail.
	c.cli("tickets", "reply", shop.Number, "--message", "We hebben de server herstart; de webshop werkt weer.", "--as", "Agent")
	c.mailWith("eigenaar@fietsenwinkel-utrecht.example", "server herstart")
	if tk := c.show(shop.Number); !tk.hasEvent("agent_reply") {
		t.Errorf("the feedback is not in the ticket: %+v", tk.Events)
	}

	// "Belt u met ons support nummer dan zullen wij handmatig een ticket
	// binnen de support portal aanmaken": the call's time starts the clock
	// (standby: 30 minutes), the caller gets the acknowledgement, and their
	// answer to it joins the ticket.
	number := c.open(map[string]string{"customer": "webshop-dekker", "contact": "marco@webshopdekker.example",
		"subject": "Voorraad klopt niet", "message": "Marco belde: de voorraad op de site loopt niet bij.",
		"channel": "phone", "at": "2026-12-05T09:50:00+01:00"})
	call := c.show(number)
	c.dueAt(call, local("2026-12-05 10:20"))
	c.mailTo("marco@webshopdekker.example", "Voorraad klopt niet")
	var ackID string
	for _, m := range c.smtp.Messages() {
		if strings.Contains(header(m.Data, "Subject"), "Voorraad klopt niet") {
			ackID = strings.Trim(header(m.Data, "Message-ID"), "<>")
		}
	}
	c.deliver(contractMail("Marco Dekker <marco@webshopdekker.example>", "Re: Voorraad klopt niet", "w4@dekker.example",
		"Het gaat om de fietsbellen.", "In-Reply-To: <"+ackID+">"))
	eventually(t, 20*time.Second, "Marco's answer on "+number, func() bool {
		return c.show(number).hasEvent("reply")
	})

	// "Voor het aanvragen van nieuwe functionaliteit ... vragen we u contact
	// op te nemen": a request for new functionality is ordinary work.
	c.deliver(contractMail("Lotte Visser <webshop@fietsenwinkel-utrecht.example>", "Feature request: filter op framemaat", "w3@fietsen.example", "Kunnen klanten op framemaat filteren?"))
	if tk := c.show(c.waitTicket("w3@fietsen.example")); tk.Type != "incident" || tk.Status == "closed" {
		t.Errorf("a request for new functionality: %+v", tk)
	}
}

// QiQQ's servicedesk (seed 002), deploy/examples/qiqq.yaml.
func TestContractQiQQ(t *testing.T) {
	c := newContractEnv(t, "qiqq", local("2026-12-08 15:00")) // a Tuesday afternoon
	stop := c.run()
	defer stop()

	// "De hoofdcontactpersoon is standaard gemachtigd"; Anna is also named
	// for the priorities with a special rate: her Direct is Direct, "Direct
	// Reactietijd: 1 uur", in the contract's words.
	c.deliver(contractMail("Anna de Wit <anna@korenschoof.example>", "Direct: kassa werkt niet", "q1@korenschoof.example", "De kassa start niet op."))
	anna := c.show(c.waitTicket("q1@korenschoof.example"))
	if anna.Priority != "P1" || anna.Type != "functioneel" {
		t.Errorf("Anna's Direct: %+v", anna)
	}
	c.due(anna, "standard", time.Hour)
	ack := c.mailTo("anna@korenschoof.example", "kassa werkt niet")
	for _, want := range []string{"Prioriteit: Direct", "Soort melding: Functioneel support", "U ontvangt uiterlijk dinsdag 8 december 2026 om 16:00"} {
		if !strings.Contains(ack, want) {
			t.Errorf("Anna's acknowledgement lacks %q:\n%s", want, ack)
		}
	}

	// "De klant geeft aan welke personen gemachtigd zijn om meldingen te
	// doen met een prioriteit waaraan een bijzonder tarief verbonden is":
	// Bas is not, so his Direct is Standaard ("Reactietijd: 3 werkdagen"),
	// and he is told why.
	c.deliver(contractMail("Bas Jansen <bas@korenschoof.example>", "Direct: printer", "q2@korenschoof.example", "De printer drukt niet af."))
	bas := c.show(c.waitTicket("q2@korenschoof.example"))
	if bas.Priority != "P3" || bas.RequestedPriority != "P1" || bas.PriorityReason != "rights" {
		t.Errorf("Bas's Direct: %+v", bas)
	}
	c.dueAt(bas, local("2026-12-11 15:00"))
	if ack := c.mailTo("bas@korenschoof.example", "Direct: printer"); !strings.Contains(ack, "U vroeg om prioriteit Direct") {
		t.Errorf("Bas is not told why his ticket is Standaard:\n%s", ack)
	}

	// "Alleen vooraf gemachtigde personen kunnen meldingen doen ... anderen
	// worden geweigerd en hiervan op de hoogte gesteld."
	c.deliver(contractMail("Kees <kees@elders.example>", "Wachtwoord vergeten", "q3@elders.example", "Ik kan niet inloggen."))
	c.mailTo("kees@elders.example", "Wachtwoord vergeten")
	for _, tk := range c.ticketsJSON() {
		if tk["message_id"] == "q3@elders.example" {
			t.Errorf("a ticket for a stranger: %v", tk)
		}
	}

	// "In alle andere gevallen bepaalt QiQQ de kwalificatie": the printer is
	// a service QiQQ manages, where "Standaard nvt": the ticket becomes Hoog
	// ("Reactietijd: 1 werkdag") from its arrival, and Bas hears of it.
	c.cli("tickets", "set", bas.Number, "type=beheerd", "--as", "Agent")
	retyped := c.show(bas.Number)
	if retyped.Type != "beheerd" || retyped.Priority != "P2" {
		t.Errorf("retyped to beheerd: %+v", retyped)
	}
	c.dueAt(retyped, local("2026-12-09 15:00"))
	c.mailWith("bas@korenschoof.example", "Standaard → Hoog")
	// The desk cannot give such a ticket Standaard.
	if out, errOut, code := c.try("tickets", "set", bas.Number, "priority=P3", "--as", "Agent"); code == 0 || !strings.Contains(out+errOut, "no priority P3") {
		t.Errorf("Standaard on beheerd: exit %d\n%s%s", code, out, errOut)
	}

	// "Tijdens kantooruren kunt u tickets telefonisch aan ons doorgeven ...
	// Wij nemen u melding dan aan en maken hier direct een ticket van."
	number := c.open(map[string]string{"customer": "notariaat-smit", "contact": "kantoor@notariaatsmit.example",
		"subject": "Scanner op de balie", "message": "Marieke belde: de scanner op de balie maakt geen verbinding.",
		"type": "overig", "priority": "P2", "at": "2026-12-08T14:30:00+01:00"})
	call := c.show(number)
	if call.Type != "overig" || call.Priority != "P2" {
		t.Errorf("the phone ticket: %+v", call)
	}
	c.dueAt(call, local("2026-12-09 14:30"))
	if ack := c.mailTo("kantoor@notariaatsmit.example", "Scanner op de balie"); !strings.Contains(ack, "telefonisch") {
		t.Errorf("the caller's acknowledgement does not mention the call:\n%s", ack)
	}
	// Only authorised persons report by phone too.
	if out, errOut, code := c.try("tickets", "open", "--customer", "notariaat-smit", "--contact", "stagiair@notariaatsmit.example",
		"--subject", "Muis kapot", "--message", "Belde over een muis.", "--as", "Agent"); code == 0 || !strings.Contains(out+errOut, "stagiair@notariaatsmit.example") {
		t.Errorf("a phone ticket for an unknown person: exit %d\n%s%s", code, out, errOut)
	}
}
