package httpapi

import (
	"encoding/base64"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// shoot saves the page at a phone's and a desktop's width as name-phone.png
// and name-desktop.png in dir, checks that it fits a phone without
// scrolling sideways, and that the files are images of those widths.
func shoot(t *testing.T, b *testserver.Browser, dir, name string) {
	t.Helper()
	if !b.FitsWidth(390) {
		t.Errorf("%s does not fit a phone's width (390 CSS pixels)", name)
	}
	for _, s := range []struct {
		suffix string
		width  int
		mobile bool
	}{{"phone", 390, true}, {"desktop", 1280, false}} {
		path := filepath.Join(dir, name+"-"+s.suffix+".png")
		b.Screenshot(path, s.width, s.mobile)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if img.Bounds().Dx() != s.width {
			t.Errorf("%s is %d pixels wide, want %d", path, img.Bounds().Dx(), s.width)
		}
	}
}

// noScriptRan: the pages opened no dialog (the hostile alert()s stayed
// text) and hold no script element or event handler.
func noScriptRan(t *testing.T, b *testserver.Browser, what string) {
	t.Helper()
	if d := b.Dialogs(); len(d) > 0 {
		t.Errorf("%s: a script ran: dialogs %q", what, d)
	}
	dom := b.DOM()
	inertDOM(t, what, dom)
}

// inertDOM is inert for a DOM the browser built (no doctype in it).
func inertDOM(t *testing.T, what, dom string) {
	t.Helper()
	inert(t, what, "<!doctype html>"+dom)
}

// TestTicketPageChromium: an agent reads a ticket with hostile content in
// every place and answers it from its page in headless Chromium; the reply
// is queued for the customer; screenshots at phone and desktop width.
func TestTicketPageChromium(t *testing.T) {
	bin := testserver.FindChromium(t)
	dir := testserver.ScreenshotDir(t)
	f := newPageFixture(t, fakeMailbox{"hostile-1@acme.example": hostileMail})
	f.mailTicket(hostileMail)
	b := testserver.StartBrowser(t, bin)
	b.Headers(map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+aliceToken))})

	b.Open(f.srv.URL + "/")
	noScriptRan(t, b, "dashboard")
	b.Click(`a[href="/tickets/SD-1"]`)
	if !strings.HasSuffix(b.URL(), "/tickets/SD-1") {
		t.Fatalf("the dashboard's link leads to %s", b.URL())
	}
	text := b.Text()
	for _, want := range []string{"SD-1: Printer <script>alert('subject')</script>", "It broke <script>alert('body')</script> again.",
		"<script>alert('file')</script>.html", "screen.png", "Reply to the customer", "Internal note"} {
		if !strings.Contains(text, want) {
			t.Errorf("the ticket page does not show %q", want)
		}
	}
	noScriptRan(t, b, "ticket page")
	shoot(t, b, dir, "ticket")

	b.Fill("#reply-message", "We replaced the toner; please try again.")
	b.Click(`form[action="/tickets/SD-1/reply"] button`)
	if text = b.Text(); !strings.Contains(text, "Reply recorded and mailed") || !strings.Contains(text, "We replaced the toner; please try again.") {
		t.Errorf("after the reply:\n%s", text)
	}
	entries, err := f.outbox.List(t.Context())
	if err != nil || len(entries) != 1 || entries[0].Notification.Kind != notify.AgentReply || entries[0].Notification.To != "jan@acme.example" ||
		entries[0].Notification.Agent != "alice" {
		t.Errorf("outbox %+v %v", entries, err)
	}
	shoot(t, b, dir, "ticket-replied")
	noScriptRan(t, b, "ticket page after the reply")
}

// TestCustomerPagesChromium: a customer opens the status link, reads the
// agent's reply, answers; a dead link is the one "not found"; a contact
// signs in to "My tickets". Screenshots of each page at phone and desktop
// width; hostile content stays text on each.
func TestCustomerPagesChromium(t *testing.T) {
	bin := testserver.FindChromium(t)
	dir := testserver.ScreenshotDir(t)
	f := newCustomerDesk(t)
	number := f.mail("From: \"<img src=x onerror=alert('name')>\" <jan@acme.example>\nSubject: Printer <script>alert('subject')</script>\nMessage-ID: <c1@acme.example>\n\n" +
		"De printer op de tweede verdieping doet niets <script>alert('body')</script>.\n\n> eerdere mail\n")
	f.mail("From: ann@acme.example\nSubject: VPN traag\nMessage-ID: <c2@acme.example>\n\nSinds vanochtend.\n")
	if err := f.work.Reply(f.ctx, number, workflowAgent("Alice"), "Wij hebben de toner vervangen. Werkt het weer?", ticket.StatusWaitingCustomer, ""); err != nil {
		t.Fatal(err)
	}
	b := testserver.StartBrowser(t, bin)
	b.Open(f.srv.URL + f.link(notify.AgentReply, number, "jan@acme.example"))
	text := b.Text()
	for _, want := range []string{"Melding SD-1: Printer <script>alert('subject')</script>", "wacht op uw reactie", "Wij hebben de toner vervangen.",
		"Alice", "niets <script>alert('body')</script>."} {
		if !strings.Contains(text, want) {
			t.Errorf("the status page does not show %q:\n%s", want, text)
		}
	}
	noScriptRan(t, b, "status page")
	shoot(t, b, dir, "status")
	b.Fill("#message", "Ja, hij werkt weer. Dank!")
	b.Click(`form[action^="/s/"] button[type=submit]`)
	if text = b.Text(); !strings.Contains(text, "Uw reactie is aan de melding toegevoegd") || !strings.Contains(text, "Ja, hij werkt weer. Dank!") {
		t.Errorf("after the reply:\n%s", text)
	}
	events, _ := f.store.Events(f.ctx, number)
	replied := false
	for _, e := range events {
		replied = replied || e.Kind == ticket.EventReply && e.Channel == ticket.ChannelWeb && e.From == "jan@acme.example" && e.Text == "Ja, hij werkt weer. Dank!"
	}
	if tk, _ := f.store.Get(f.ctx, number); !replied || tk.Status != ticket.StatusInProgress {
		t.Errorf("the reply is not on the ticket, or it is still waiting: %+v", events)
	}
	shoot(t, b, dir, "status-replied")

	b.Open(f.srv.URL + "/s/AAAAAAAAAAAAAAAAAAAAAAAAAA")
	if !strings.Contains(b.Text(), "This link does not work") && !strings.Contains(b.Text(), "Deze link werkt niet") {
		t.Errorf("forged link:\n%s", b.Text())
	}
	shoot(t, b, dir, "not-found")

	b.Open(f.srv.URL + "/s/")
	shoot(t, b, dir, "ask")
	b.Fill("#email", "jan@acme.example")
	b.Click(`form[action="/s/"] button`)
	shoot(t, b, dir, "asked")
	b.Open(f.srv.URL + f.link(notify.SignIn, "", "jan@acme.example"))
	shoot(t, b, dir, "sign-in")
	b.Click(`form button[type=submit]`)
	if !strings.HasSuffix(b.URL(), "/s/my/") {
		t.Fatalf("signed in at %s", b.URL())
	}
	text = b.Text()
	for _, want := range []string{"SD-1: Printer <script>alert('subject')</script>", "SD-2: VPN traag", "alle meldingen van uw organisatie"} {
		if !strings.Contains(text, want) {
			t.Errorf("My tickets does not show %q:\n%s", want, text)
		}
	}
	noScriptRan(t, b, "my tickets")
	shoot(t, b, dir, "my-tickets")
	b.Click(`a[href="/s/my/SD-2"]`)
	shoot(t, b, dir, "my-ticket")
	noScriptRan(t, b, "a ticket of my tickets")
}

func workflowAgent(name string) workflow.Agent { return workflow.Agent{Name: name} }
