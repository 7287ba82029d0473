package faults

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"
)

// slaTarget is the first-response target of every priority in the SLA
// test: long enough that the 70 tickets are made and acknowledged before
// the desk goes down, short enough to pass while it is down.
const slaTarget = 30 * time.Second

// TestSLAAlertsAfterDowntime: 70 tickets are made, the desk goes down
// (SIGTERM) and their first-response deadlines pass while it is down; when
// it is back, with the default outbox limits (10 mails per 10 minutes and
// 30 per hour to one address), every manager must be told of every
// breach: nothing skipped, nothing dead-lettered, each ticket once per
// manager. (Before, the recipient limit finished 60 of each manager's 70
// alerts as "skipped".)
func TestSLAAlertsAfterDowntime(t *testing.T) {
	skipShort(t)
	t.Parallel()
	rng := rand.New(rand.NewPCG(seedFor(t), 18))
	managers := []string{"boss@desk.example", "chief@desk.example"}
	d := newDesk(t, deskOptions{
		// The outbox's retries quick, its limits the defaults.
		Outbox: "  retry: 1s\n  max_backoff: 2s\n",
		Desk: "  managers: [{email: " + managers[0] + ", name: Boss}, {email: " + managers[1] + ", name: Chief}]\n" +
			"  agents: [{email: agent@desk.example, name: Agent}]\n",
		Extra: fmt.Sprintf(`calendars:
  always: {hours: {mon-sun: ["00:00-24:00"]}}
plans:
  standard:
    calendar: always
    targets: {P1: {first_response: %[1]s}, P2: {first_response: %[1]s}, P3: {first_response: %[1]s}, P4: {first_response: %[1]s}}
escalation: {interval: 1s, warn_at: 99}
`, slaTarget),
	})
	// Seven tickets from each of the ten contacts: their acknowledgements
	// stay within the limits that are for customers.
	c := &corpus{run: fmt.Sprint(rng.Uint64() % 1e9)}
	per := map[string]int{}
	for len(c.mails) < 70 {
		if m := c.add(rng, kindTicket); per[m.From] == 7 {
			c.mails = c.mails[:len(c.mails)-1]
		} else {
			per[m.From]++
		}
	}
	d.start()
	d.waitLog(0, connectedLine, 30*time.Second)
	t0 := time.Now()
	d.dc.DeliverMaildir(t, deskAddr, c.raws(0, len(c.mails)))
	d.waitQuiet(len(c.mails), 60*time.Second)
	d.daemon.Stop()
	down := time.Since(t0)
	for _, s := range d.sent() {
		if alertKinds[s.kind] {
			t.Fatalf("%s mail sent %s after the mails arrived, before the desk went down: this machine is too slow for a %s target", s.kind, down, slaTarget)
		}
	}
	t.Logf("%s: 70 tickets acknowledged, desk down", down.Round(time.Millisecond))
	time.Sleep(time.Until(t0.Add(slaTarget + 3*time.Second)))
	d.start()
	t.Logf("%s: desk up again", time.Since(t0).Round(time.Millisecond))
	if !d.waitLogCount(0, `"msg":"SLA alert queued"`, 70, 60*time.Second) {
		t.Fatalf("fewer than 70 SLA alerts queued after the restart")
	}
	d.waitQuiet(len(c.mails), 60*time.Second)
	t.Logf("%s: quiet", time.Since(t0).Round(time.Millisecond))

	for _, q := range []string{"--skipped", "--dead"} {
		if es := d.outbox(q); len(es) > 0 {
			t.Errorf("%d notifications %s, first %+v", len(es), q[2:], es[0])
		}
	}
	tickets := d.tickets()
	told := map[string]map[string]int{} // manager -> ticket -> times
	mails := map[string]int{}
	for _, s := range d.sent() {
		if !alertKinds[s.kind] {
			continue
		}
		to := strings.ToLower(s.rcpt[0])
		mails[to]++
		if told[to] == nil {
			told[to] = map[string]int{}
		}
		if s.kind != "sla_alerts" {
			told[to][s.ticket]++
			continue
		}
		// A mail listing several tickets: the text part has a line each.
		for _, m := range alertLineRE.FindAllStringSubmatch(textPart(t, s.raw), -1) {
			told[to][m[1]]++
		}
	}
	for _, m := range managers {
		for _, tk := range tickets {
			if n := told[m][tk.Number]; n != 1 {
				t.Errorf("%s was told of the breach of %s %d times, want once", m, tk.Number, n)
			}
		}
		t.Logf("%s: %d alert mail(s) about %d tickets", m, mails[m], len(told[m]))
	}
	if len(tickets) != 70 {
		t.Errorf("%d tickets, want 70", len(tickets))
	}
	d.verify(c, expect{alerts: true})
}

// alertLineRE finds the tickets in the text of an sla_alerts mail
// ("- SD-4 (P3) Printer — breached, ...").
var alertLineRE = regexp.MustCompile(`(?m)^- (SD-\d+) `)

// textPart is the decoded text/plain part of a sent mail.
func textPart(t *testing.T, raw []byte) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	decode := func(cte string, r io.Reader) string {
		if strings.EqualFold(cte, "quoted-printable") {
			r = quotedprintable.NewReader(r)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return decode(msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no text part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			return decode(p.Header.Get("Content-Transfer-Encoding"), p)
		}
	}
}
