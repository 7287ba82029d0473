package main

import (
	"bytes"
	"io"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/internal/testserver"
)

// The seed contracts' authorisation rules, end to end through Dovecot:
// what each mail becomes and what its sender is told.

// sent waits for n mails and returns them by subject, naming recipients.
func (e *env) sent(n int) map[string]testserver.Received {
	e.t.Helper()
	e.smtp.WaitFor(e.t, n, 15*time.Second)
	time.Sleep(1200 * time.Millisecond) // a wrong extra mail would come within a tick
	out := map[string]testserver.Received{}
	var subjects []string
	for _, m := range e.smtp.Messages() {
		out[header(m.Data, "Subject")] = m
		subjects = append(subjects, header(m.Data, "Subject")+" -> "+strings.Join(m.To, ","))
	}
	if len(e.smtp.Messages()) != n {
		e.t.Fatalf("sent %d mails, want %d: %v", len(e.smtp.Messages()), n, subjects)
	}
	return out
}

// decodeQP is a sent mail with its quoted-printable parts decoded, for
// looking for text in it (the header is left as it is).
func decodeQP(raw []byte) string {
	b, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return string(raw)
	}
	return string(b)
}

func (e *env) ticket(number string) map[string]any {
	e.t.Helper()
	for _, tk := range e.ticketsJSON() {
		if tk["number"] == number {
			return tk
		}
	}
	e.t.Fatalf("no ticket %s", number)
	return nil
}

// QiQQ: only pre-authorised persons report, others are refused and told;
// the main contact is authorised by default; only some may report with the
// priorities that carry a special rate (Hoog, Direct), which every mail
// calls by the contract's words.
func TestSeedQiQQ(t *testing.T) {
	e := newEnvWith(t, `plans:
  standaard:
    default_priority: P3
    priority_labels: {nl: {P1: Direct, P2: Hoog, P3: Standaard}}
priority:
  words: {P1: [direct, spoed], P2: [hoog]}
`, `customers:
  - id: bakkerij
    name: Bakkerij De Korenschoof
    plan: standaard
    contacts:
      - {email: anna@korenschoof.example, name: Anna, main: true, language: nl}
      - {email: bas@korenschoof.example, name: Bas, language: nl, max_priority: P3}
`)
	e.deliver(mail("Anna <anna@korenschoof.example>", "DIRECT: kassa werkt niet", "q1@korenschoof.example"))
	e.deliver(mail("Bas <bas@korenschoof.example>", "Direct: printer", "q2@korenschoof.example"))
	e.deliver(mail("Kees <kees@elders.example>", "Wachtwoord vergeten", "q3@elders.example"))
	stop := e.start()
	defer stop()
	got := e.sent(3)

	if tk := e.ticket("SD-1"); tk["priority"] != "P1" {
		t.Errorf("main contact asking Direct: %v", tk)
	}
	if tk := e.ticket("SD-2"); tk["priority"] != "P3" || tk["requested_priority"] != "P1" {
		t.Errorf("contact without the right to Direct: %v", tk)
	}
	ack := got["[SD-2] Direct: printer"].Data
	if !strings.Contains(string(ack), "U vroeg om prioriteit Direct") {
		t.Errorf("ack to Bas does not explain the priority in the contract's words:\n%s", ack)
	}
	// A stranger has no language of record: the one they wrote in (Dutch).
	if m, ok := got["Niet in behandeling genomen: Wachtwoord vergeten"]; !ok || m.To[0] != "kees@elders.example" || m.From != "" {
		t.Errorf("no notice to the unauthorised sender")
	}
	if n := len(e.tickets()); n != 2 {
		t.Errorf("%d tickets, want 2", n)
	}
	// The desk raises Bas's ticket: the progress mail says it in the
	// contract's words too (issue 15.9).
	var out, errOut bytes.Buffer
	if code := run([]string{"tickets", "set", "--config", e.config, "SD-2", "priority=P2", "reason=kassa ligt ook plat", "--as", "Eva"}, &out, &errOut); code != 0 {
		t.Fatalf("tickets set: exit %d %s", code, errOut.String())
	}
	got = e.sent(4)
	update := decodeQP(got["[SD-2] Bijgewerkt: Direct: printer"].Data)
	if !strings.Contains(update, "Prioriteit: Standaard → Hoog") {
		t.Errorf("progress mail to Bas does not use the contract's words:\n%s", update)
	}
}

// Oxineo: at most two contact persons per customer create tickets; the
// customer cannot set priority, the desk decides.
func TestSeedOxineo(t *testing.T) {
	e := newEnvWith(t, `plans:
  support: {max_contacts: 2, customer_sets_priority: false, default_priority: P3}
`, `customers:
  - id: klant
    name: Klant BV
    plan: support
    contacts:
      - {email: een@klant.example, name: Een, main: true, language: nl}
      - {email: twee@klant.example, name: Twee, language: nl}
`)
	e.deliver(mail("Een <een@klant.example>", "[P1] Website plat", "o1@klant.example"))
	e.deliver(mail("Drie <drie@klant.example>", "Vraag", "o2@klant.example"))
	stop := e.start()
	defer stop()
	got := e.sent(2)
	if tk := e.ticket("SD-1"); tk["priority"] != "P3" || tk["priority_reason"] != "plan" {
		t.Errorf("customer set the priority: %v", tk)
	}
	if !strings.Contains(string(got["[SD-1] [P1] Website plat"].Data), "servicecontract") {
		t.Errorf("ack does not say the desk sets priorities")
	}

	// A third contact person is refused by the plan's limit, naming it.
	third := filepath.Join(t.TempDir(), "contacts.yaml")
	os.WriteFile(third, []byte(`customers:
  - id: klant
    plan: support
    contacts:
      - {email: een@klant.example, main: true}
      - {email: twee@klant.example}
      - {email: drie@klant.example}
`), 0o600)
	var out, errOut bytes.Buffer
	if code := run([]string{"contacts", "import", "--config", e.config, third}, &out, &errOut); code != 1 ||
		!strings.Contains(out.String()+errOut.String(), "allows at most 2") {
		t.Errorf("import of a third contact: exit %d\n%s%s", code, out.String(), errOut.String())
	}
}

// Kwikqy: a re-classified priority is explained to the customer; feature
// requests are stored and closed without SLA.
func TestSeedKwikqy(t *testing.T) {
	e := newEnvWith(t, `plans:
  standard: {default_priority: P3}
priority:
  words: {P1: ["service blocker"]}
  feature_words: ["[feature]", "feature request"]
`, `customers:
  - id: shop
    name: Shop Ltd
    plan: standard
    contacts:
      - {email: lee@shop.example, name: Lee, main: true, language: en}
      - {email: kim@shop.example, name: Kim, language: en, max_priority: P2}
`)
	e.deliver(mail("Kim <kim@shop.example>", "Service Blocker: checkout down", "k1@shop.example"))
	e.deliver(mail("Lee <lee@shop.example>", "Feature request: dark mode", "k2@shop.example"))
	stop := e.start()
	defer stop()
	got := e.sent(2)
	if tk := e.ticket("SD-1"); tk["priority"] != "P2" || tk["priority_reason"] != "rights" {
		t.Errorf("re-classified ticket: %v", tk)
	}
	if !strings.Contains(string(got["[SD-1] Service Blocker: checkout down"].Data), "You asked for priority P1") {
		t.Errorf("no re-classification notice")
	}
	if tk := e.ticket("SD-2"); tk["type"] != "feature_request" || tk["status"] != "closed" {
		t.Errorf("feature request: %v", tk)
	}
	if !strings.Contains(string(got["[SD-2] Feature request: dark mode"].Data), "no response time") {
		t.Errorf("feature ack does not say it is closed without response time")
	}

	// 2.5, the desk designates feature requests: Lee's "this is no
	// feature request" goes to the agents (desk.agents), once, also when
	// the mail comes again, and not back to Lee; the ticket waits for an
	// agent.
	reply := mail("Lee <lee@shop.example>", "Re: [SD-2] Feature request: dark mode", "k3@shop.example", "In-Reply-To: <k2@shop.example>")
	reply = strings.Replace(reply, "De printer op de tweede verdieping doet het niet.", "This is NOT a feature request: dark mode is broken for everyone.", 1)
	e.deliver(reply)
	e.deliver(reply)
	got = e.sent(3)
	agents, ok := got["[SD-2] Reply on a closed feature request: Feature request: dark mode"]
	if !ok || strings.Join(agents.To, ",") != "agent@desk.example" {
		t.Fatalf("agents' mail %+v", agents)
	}
	for _, s := range []string{"> This is NOT a feature request: dark mode is broken for everyone.", "#type incident", "maildesk tickets set SD-2 type=incident"} {
		if !strings.Contains(decodeQP(agents.Data), s) {
			t.Errorf("agents' mail lacks %q:\n%s", s, agents.Data)
		}
	}
	if tk := e.ticket("SD-2"); tk["status"] != "closed" || tk["needs_agent_since"] == nil {
		t.Errorf("ticket after the reply: %v", tk)
	}
}
