package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/internal/testserver"
)

// pngPixel is a 1x1 PNG, the attachment of Jan's mail.
var pngPixel, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")

// The pages end to end on real Redis, Dovecot and SMTP, in headless
// Chromium (issue 20): Jan mails a request with a screenshot; the
// acknowledgement fetched from his mailbox has his status link; the SLA
// warning links the agents to the ticket's page, where the screenshot
// comes out of the original in the IMAP archive; the agent answers there
// and Jan receives the answer; Jan opens his link, reads it and answers on
// the page, and the agent sees that; a forged or revoked link is "not
// found"; and Jan signs in to "My tickets".
func TestPagesEndToEnd(t *testing.T) {
	bin := testserver.FindChromium(t)
	shots := testserver.ScreenshotDir(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	t.Setenv("MAILDESK_HTTP_LISTEN", addr)
	t.Setenv("MAILDESK_HTTP_PUBLIC_URL", base)
	e := newEnv(t, `calendars:
  always: {hours: {mon-sun: ["00:00-24:00"]}}
plans:
  standard: {calendar: always, targets: {P3: {first_response: 8s}}}
escalation: {interval: 1s, warn_at: 25}
`)
	stop := e.start()
	defer stop()

	// inbox waits for the mail in user's INBOX whose subject has s.
	inbox := func(user, s string) []byte {
		t.Helper()
		var found []byte
		eventually(t, 20*time.Second, "a mail "+s+" in "+user+"'s mailbox", func() bool {
			for _, m := range e.dc.Mailbox(t, user, "INBOX") {
				if strings.Contains(header(m.Raw, "Subject"), s) {
					found = m.Raw
					return true
				}
			}
			return false
		})
		return found
	}
	linkRE := regexp.MustCompile(regexp.QuoteMeta(base) + `(/s/[A-Z2-7]{26})\b`)

	e.deliver("From: Jan Jansen <jan@acme.example>\nTo: " + desk + "\nSubject: Printer kapot\nMessage-ID: <p1@acme.example>\n" +
		"Date: Sat, 21 Nov 2026 10:00:00 +0100\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n\n" +
		"De printer op de tweede verdieping doet niets. Zie de schermafdruk.\n--b\nContent-Type: image/png\n" +
		"Content-Disposition: attachment; filename=\"scherm.png\"\nContent-Transfer-Encoding: base64\n\n" +
		base64.StdEncoding.EncodeToString(pngPixel) + "\n--b--\n")
	ack := textOf(t, inbox("jan@acme.example", "[SD-1]"))
	m := linkRE.FindStringSubmatch(ack)
	if m == nil || !strings.Contains(ack, "online volgen") {
		t.Fatalf("the acknowledgement has no status link:\n%s", ack)
	}
	janLink := m[1]

	// The agents' warning links to the ticket's page.
	warning := textOf(t, inbox("agent@desk.example", "SLA warning"))
	if !strings.Contains(warning, "Open the ticket: "+base+"/tickets/SD-1") {
		t.Errorf("the SLA warning does not link to the ticket's page:\n%s", warning)
	}

	agent := testserver.StartBrowser(t, bin)
	agent.Open(base + "/tickets/SD-1")
	if text := agent.Text(); !strings.Contains(text, "De printer op de tweede verdieping doet niets.") || !strings.Contains(text, "scherm.png") {
		t.Fatalf("the ticket page:\n%s", text)
	}
	// The screenshot, out of the original in the Processed folder.
	var href string
	if err := jsonString(agent.Eval(`document.querySelector('a[download]').getAttribute('href')`), &href); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + href)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, pngPixel) || resp.Header.Get("Content-Disposition") != "attachment; filename=scherm.png" {
		t.Errorf("attachment %s: %d %v, %d bytes", href, resp.StatusCode, resp.Header, len(got))
	}
	agent.Fill("#reply-message", "Wij hebben de toner vervangen. Werkt hij weer?")
	agent.Fill("#reply-status", "waiting_customer")
	agent.Click(`form[action="/tickets/SD-1/reply"] button`)
	if !strings.Contains(agent.Text(), "Reply recorded") {
		t.Fatalf("after the agent's reply:\n%s", agent.Text())
	}
	reply := textOf(t, inbox("jan@acme.example", "Re: Printer kapot"))
	if !strings.Contains(reply, "Wij hebben de toner vervangen.") || !linkRE.MatchString(reply) {
		t.Errorf("Jan's copy of the reply:\n%s", reply)
	}

	// Jan opens the link from his acknowledgement.
	jan := testserver.StartBrowser(t, bin)
	jan.Open(base + janLink)
	text := jan.Text()
	for _, want := range []string{"Melding SD-1: Printer kapot", "wacht op uw reactie", "Wij hebben de toner vervangen. Werkt hij weer?", "scherm.png"} {
		if !strings.Contains(text, want) {
			t.Errorf("Jan's status page does not show %q:\n%s", want, text)
		}
	}
	jan.Screenshot(filepath.Join(shots, "e2e-status-phone.png"), 390, true)
	jan.Fill("#message", "Ja, hij werkt weer. Dank u!")
	jan.Click(`form[action="` + janLink + `"] button`)
	if !strings.Contains(jan.Text(), "Uw reactie is aan de melding toegevoegd") {
		t.Errorf("after Jan's reply:\n%s", jan.Text())
	}
	// The agent sees it: on the dashboard first, and on the ticket's page.
	agent.Open(base + "/")
	if text := agent.Text(); !strings.Contains(text, "Needs an agent") || !strings.Contains(text, "The customer replied") {
		t.Errorf("the dashboard does not put Jan's reply first:\n%s", text)
	}
	agent.Open(base + "/tickets/SD-1")
	if text := agent.Text(); !strings.Contains(text, "Customer's reply on the status page: jan@acme.example") ||
		!strings.Contains(text, "Ja, hij werkt weer. Dank u!") || !strings.Contains(text, "in progress") {
		t.Errorf("the agent's page after Jan's reply:\n%s", text)
	}
	agent.Screenshot(filepath.Join(shots, "e2e-ticket-desktop.png"), 1280, false)
	if d := append(agent.Dialogs(), jan.Dialogs()...); len(d) > 0 {
		t.Errorf("scripts ran: %q", d)
	}

	// A forged link and a revoked one: the same "not found".
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, forged := get("/s/AAAAAAAAAAAAAAAAAAAAAAAAAA")
	agent.Open(base + "/tickets/SD-1")
	agent.Click(`form[action="/tickets/SD-1/links"] button`)
	if text := agent.Text(); !strings.Contains(text, "status links are revoked") || !strings.Contains(text, "Internal note: local") ||
		!strings.Contains(text, "Revoked the status links of the customer's side (2).") {
		t.Errorf("after revoking:\n%s", text)
	}
	if code2, revoked := get(janLink); code != 404 || code2 != 404 || revoked != forged {
		t.Errorf("forged %d, revoked %d; same page: %v", code, code2, revoked == forged)
	}

	// My tickets, by a sign-in link mailed to Jan.
	jan.Open(base + "/s/")
	jan.Fill("#email", "jan@acme.example")
	jan.Click(`form[action="/s/"] button`)
	signin := textOf(t, inbox("jan@acme.example", "in te loggen"))
	in := regexp.MustCompile(regexp.QuoteMeta(base) + `(/s/in/[A-Z2-7]{26})\b`).FindStringSubmatch(signin)
	if in == nil {
		t.Fatalf("no sign-in link:\n%s", signin)
	}
	jan.Open(base + in[1])
	jan.Click(`form button[type=submit]`)
	if text := jan.Text(); !strings.Contains(text, "SD-1: Printer kapot") {
		t.Errorf("Jan's tickets:\n%s", text)
	}
	// Nothing in the log gives a link away.
	if log := e.log.String(); strings.Contains(log, janLink) || strings.Contains(log, in[1]) {
		t.Error("the log holds a customer's link")
	}
}

func jsonString(raw []byte, s *string) error { return json.Unmarshal(raw, s) }
