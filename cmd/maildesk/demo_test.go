package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildesk/maildesk/demo"
	"github.com/maildesk/maildesk/internal/testserver"
)

// demoWait bounds every wait of the demo test.
const demoWait = 15 * time.Second

// TestDemo runs `maildesk demo` in-process on free ports with the embedded
// Redis and drives it as the banner tells a newcomer to: one mail from an
// authorised contact, one from a stranger, then Ctrl-C.
func TestDemo(t *testing.T) {
	// A taken HTTP address must not stop the demo: it moves to a free port.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &testserver.Buffer{}, &testserver.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("demo stdout:\n%s\ndemo log:\n%s", stdout.String(), stderr.String())
		}
	})
	started := make(chan *demo.Demo, 1)
	done := make(chan error, 1)
	opts := demo.Options{IMAPPort: 0, SMTPPort: 0, HTTPListen: busy.Addr().String()}
	go func() { done <- runDemo(ctx, opts, 1, stdout, stderr, func(d *demo.Demo) { started <- d }) }()
	var d *demo.Demo
	select {
	case d = <-started:
	case err := <-done:
		t.Fatalf("demo ended before it started: %v", err)
	case <-time.After(demoWait):
		t.Fatalf("demo did not start within %s", demoWait)
	}

	banner := stdout.String()
	for _, want := range []string{
		"maildesk demo is running.",
		"servicedesk@demo.example (IMAP " + d.IMAPAddr + `, password "demo")`,
		"demo send --smtp " + d.SMTPAddr + " --from anna@korenschoof.demo",
		"anna@korenschoof.demo, bas@korenschoof.demo (Bakkerij De Korenschoof), chris@techstart.demo (TechStart BV)",
		"tickets list --config " + d.ConfigPath,
		"http://" + d.HTTPListen + "/readyz",
		"Dashboard:      http://" + d.HTTPListen + "/  (" + busy.Addr().String() + " was in use)",
		demo.EmbeddedRedisNotice,
	} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	if !d.EmbeddedRedis || d.HTTPBusy != busy.Addr().String() || d.HTTPListen == busy.Addr().String() {
		t.Errorf("embedded redis %v, http %q (busy %q)", d.EmbeddedRedis, d.HTTPListen, d.HTTPBusy)
	}

	authorised := demoSend(t, ctx, "--from", "Anna de Vries <anna@korenschoof.demo>", "--subject", "Printer kapot", "--smtp", d.SMTPAddr)
	stranger := demoSend(t, ctx, "--from", "iemand@elders.demo", "--subject", "Hallo", "--smtp", d.SMTPAddr)

	// The ticket, read the way the banner says: tickets list with the config
	// the demo wrote, from outside the demo's own Redis client.
	var ts []listedTicket
	eventually(t, demoWait, "ticket SD-1", func() bool {
		ts = demoTickets(t, d.ConfigPath)
		return len(ts) > 0
	})
	if tk := ts[0]; len(ts) != 1 || tk.Number != "SD-1" || tk.Customer != "qiqq-klant" ||
		tk.Contact != "anna@korenschoof.demo" || tk.MessageID != authorised || tk.Subject != "Printer kapot" {
		t.Errorf("tickets = %+v, want only SD-1 from anna for message %s", ts, authorised)
	}

	desk := d.Config.Desk.Address
	eventually(t, demoWait, "desk mail filed away", func() bool {
		return demoCount(d, desk, "INBOX") == 0 && demoCount(d, desk, "Processed") == 1 && demoCount(d, desk, "Rejected") == 1
	})

	var ack, notice [][]byte
	eventually(t, demoWait, "acknowledgement in anna's INBOX", func() bool {
		ack, _ = demoMailbox(d, "anna@korenschoof.demo", "INBOX")
		return len(ack) > 0
	})
	if subj := demoHeader(ack[0], "Subject"); len(ack) != 1 || !strings.HasPrefix(subj, "[SD-1]") {
		t.Errorf("anna has %d mails, first with subject %q; want one starting with [SD-1]", len(ack), subj)
	}
	if got := demoHeader(ack[0], "In-Reply-To"); got != "<"+authorised+">" {
		t.Errorf("acknowledgement In-Reply-To = %q, want <%s>", got, authorised)
	}
	eventually(t, demoWait, "notice in the stranger's INBOX", func() bool {
		notice, _ = demoMailbox(d, "iemand@elders.demo", "INBOX")
		return len(notice) > 0
	})
	if len(notice) != 1 || demoHeader(notice[0], "In-Reply-To") != "<"+stranger+">" ||
		demoHeader(notice[0], "Auto-Submitted") != "auto-replied" || strings.HasPrefix(demoHeader(notice[0], "Subject"), "[SD-") {
		t.Errorf("stranger's notice: %d mails, first:\n%s", len(notice), notice[0])
	}

	client := &http.Client{Timeout: demoWait}
	resp, err := client.Get("http://" + d.HTTPListen + "/readyz")
	if err != nil {
		t.Fatalf("readyz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("readyz status %d", resp.StatusCode)
	}
	resp, err = client.Get("http://" + d.HTTPListen + "/")
	if err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte("SD-1")) || !bytes.Contains(page, []byte("Bakkerij De Korenschoof")) {
		t.Errorf("dashboard %d:\n%s", resp.StatusCode, page)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo stopped with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not shut down within 10s")
	}
	if !strings.Contains(stdout.String(), "maildesk demo stopped") {
		t.Errorf("no goodbye on stdout:\n%s", stdout.String())
	}
	for _, addr := range []string{d.IMAPAddr, d.SMTPAddr, d.HTTPListen} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after shutdown", addr)
		}
	}
	if _, err := os.Stat(d.ConfigPath); !os.IsNotExist(err) {
		t.Errorf("demo config %s left behind (stat: %v)", d.ConfigPath, err)
	}
}

// With --speed the SLA clock runs fast: a Direct (P1, one office hour)
// ticket warns the agent and then alerts the manager within seconds (12 s
// at 300 times real time).
func TestDemoSpeed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &testserver.Buffer{}, &testserver.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("demo stdout:\n%s\ndemo log:\n%s", stdout.String(), stderr.String())
		}
	})
	started := make(chan *demo.Demo, 1)
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, demo.Options{HTTPListen: ""}, 300, stdout, stderr, func(d *demo.Demo) { started <- d })
	}()
	var d *demo.Demo
	select {
	case d = <-started:
	case err := <-done:
		t.Fatalf("demo ended before it started: %v", err)
	case <-time.After(demoWait):
		t.Fatalf("demo did not start within %s", demoWait)
	}
	if !strings.Contains(stdout.String(), "300× real time") {
		t.Errorf("banner does not tell the clock's speed:\n%s", stdout.String())
	}
	demoSend(t, ctx, "--from", "anna@korenschoof.demo", "--subject", "Direct: kassa werkt niet", "--smtp", d.SMTPAddr)
	subjects := func(user string) string {
		msgs, _ := demoMailbox(d, user, "INBOX")
		var s []string
		for _, m := range msgs {
			s = append(s, demoHeader(m, "Subject"))
		}
		return strings.Join(s, " | ")
	}
	eventually(t, 30*time.Second, "SLA warning to the agent and breach alert to the manager", func() bool {
		return strings.Contains(subjects("agent@demo.example"), "[SD-1] SLA-waarschuwing") &&
			strings.Contains(subjects("teamleider@demo.example"), "[SD-1] SLA-waarschuwing") &&
			strings.Contains(subjects("teamleider@demo.example"), "[SD-1] SLA overschreden")
	})
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not shut down within 10s")
	}
}

func TestDemoSendUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"demo", "send", "--subject", "x"}, &out, &errOut); code != 2 {
		t.Errorf("demo send without --from: exit %d, want 2", code)
	}
	if code := run([]string{"demo", "send", "--from", "nobody", "--subject", "x"}, &out, &errOut); code != 2 {
		t.Errorf("demo send with a bad --from: exit %d, want 2", code)
	}
	if code := run([]string{"demo", "extra"}, &out, &errOut); code != 2 {
		t.Errorf("demo with an argument: exit %d, want 2", code)
	}
}

// demoSend runs `demo send` and returns the Message-ID it printed.
func demoSend(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(ctx, demoWait)
	defer cancel()
	if err := cmdDemoSend(ctx, args, &out); err != nil {
		t.Fatalf("demo send %v: %v", args, err)
	}
	id, ok := strings.CutPrefix(strings.TrimSpace(out.String()), "sent <")
	id, ok2 := strings.CutSuffix(id, ">")
	if !ok || !ok2 || !strings.Contains(id, "@") {
		t.Fatalf("demo send printed %q, want sent <message-id>", out.String())
	}
	return id
}

func demoTickets(t *testing.T, config string) []listedTicket {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run([]string{"tickets", "list", "--config", config, "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("tickets list exit %d: %s", code, errOut.String())
	}
	var ts []listedTicket
	if err := json.Unmarshal(out.Bytes(), &ts); err != nil {
		t.Fatalf("tickets list --json: %v\n%s", err, out.String())
	}
	return ts
}

// demoCount is the number of mails in a mailbox, -1 if it cannot be read.
func demoCount(d *demo.Demo, user, mailbox string) int {
	msgs, err := demoMailbox(d, user, mailbox)
	if err != nil {
		return -1
	}
	return len(msgs)
}

// demoMailbox reads a mailbox over IMAP as its user would. A user that does
// not exist yet (no mail received) is an error, which callers poll past.
func demoMailbox(d *demo.Demo, user, mailbox string) ([][]byte, error) {
	c, err := imapclient.DialInsecure(d.IMAPAddr, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", d.IMAPAddr, err)
	}
	defer c.Close()
	// go-imap has no timeouts; a hung server must fail the test, not hang it.
	watchdog := time.AfterFunc(demoWait, func() { c.Close() })
	defer watchdog.Stop()
	if err := c.Login(user, demo.Password).Wait(); err != nil {
		return nil, fmt.Errorf("login %s: %w", user, err)
	}
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil, fmt.Errorf("examine %s of %s: %w", mailbox, user, err)
	}
	var out [][]byte
	if sel.NumMessages > 0 {
		section := &imap.FetchItemBodySection{Peek: true}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		if err != nil {
			return nil, fmt.Errorf("fetch %s of %s: %w", mailbox, user, err)
		}
		for _, m := range msgs {
			out = append(out, m.FindBodySection(section))
		}
	}
	_ = c.Logout().Wait()
	return out, nil
}

// demoHeader is header with encoded words decoded, as a mail client shows it.
func demoHeader(raw []byte, name string) string {
	v := header(raw, name)
	if dec, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
		return dec
	}
	return v
}
