package faults

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// uncertainLine is logged when the relay took a whole mail and never
// answered the end of its DATA.
const uncertainLine = `"msg":"notification delivery uncertain`

// The relay of the issue: it queues the message and loses its reply. A
// short smtp.data_timeout keeps the tests fast; the default is RFC 5321's
// 10 minutes.
const silentSMTP = "  data_timeout: 2s\n"

// TestSMTPSilentAfterDataForAll runs 400 mails against a relay that, for
// its first seconds, takes every message and never answers the end of
// DATA (it has queued the message: the recipient gets it), then recovers.
// Each mail that met the silence is "delivery uncertain": sent once, not
// resent by the retries (which is how a relay came to deliver one mail
// fifty times), listed as uncertain by outbox list; everything after the
// recovery goes out normally. An operator's `outbox retry` sends one of
// them again, the one duplicate allowed.
func TestSMTPSilentAfterDataForAll(t *testing.T) {
	skipShort(t)
	t.Parallel()
	rng := rand.New(rand.NewPCG(seedFor(t), 16))
	d := newDesk(t, deskOptions{SMTP: silentSMTP, Outbox: unlimitedOutbox + "  workers: 4\n"})
	var silent atomic.Bool
	silent.Store(true)
	d.smtp.SetSilentAfterData(func([]string) bool { return silent.Load() })
	c := newCorpus(rng, 400)
	d.start()
	d.waitLog(0, connectedLine, 30*time.Second)
	t0 := time.Now()
	d.dc.DeliverMaildir(t, deskAddr, c.raws(0, 100))
	// Two rounds of the four workers each waiting data_timeout for nothing.
	if !d.waitLogCount(0, uncertainLine, 8, 60*time.Second) {
		t.Fatalf("fewer than 8 uncertain deliveries while the relay was silent")
	}
	silent.Store(false)
	t.Logf("%s: relay answers again", time.Since(t0).Round(time.Millisecond))
	deliverOverTime(t, d, &corpus{mails: c.mails[100:], run: c.run}, 100, 500*time.Millisecond, nil)
	d.waitQuiet(len(c.mails), 120*time.Second)
	t.Logf("%s: quiet", time.Since(t0).Round(time.Millisecond))

	var unc []outboxEntry
	for _, e := range d.outbox() {
		if e.State == "uncertain" {
			unc = append(unc, e)
		}
	}
	if len(unc) < 8 {
		t.Fatalf("%d uncertain deliveries listed by outbox list, want at least 8", len(unc))
	}
	for _, e := range unc {
		if !strings.Contains(e.LastError, "delivery uncertain") || e.Attempts < 1 {
			t.Errorf("uncertain entry %+v: want the reason and its attempt", e)
		}
	}
	// The operator decides a second copy is better than none.
	if out, err := d.cli("outbox", "retry", unc[0].ID); err != nil || !strings.Contains(string(out), "whose delivery was uncertain") {
		t.Fatalf("outbox retry %s: %v\n%s", unc[0].ID, err, out)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if !slices.ContainsFunc(d.outbox(), func(e outboxEntry) bool { return e.ID == unc[0].ID }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not sent within 30s of the operator's retry", unc[0].ID)
		}
	}
	d.verify(c, expect{uncertain: true, faults: 1})
}

// TestSMTPSilentAfterDataForOneRecipient: the relay never answers the end
// of DATA for one contact's mail (a content filter hanging on it) while
// 600 mails arrive. Every mail to that contact is sent once and left
// uncertain; it holds up none of the others, which all go out once.
func TestSMTPSilentAfterDataForOneRecipient(t *testing.T) {
	skipShort(t)
	t.Parallel()
	rng := rand.New(rand.NewPCG(seedFor(t), 17))
	d := newDesk(t, deskOptions{SMTP: silentSMTP, Outbox: unlimitedOutbox + "  workers: 4\n"})
	stuck := contacts[3].email // kees.bakker@acme.example
	d.smtp.SetSilentAfterData(func(rcpts []string) bool {
		return slices.ContainsFunc(rcpts, func(r string) bool { return strings.EqualFold(r, stuck) })
	})
	c := newCorpus(rng, 600)
	d.start()
	d.waitLog(0, connectedLine, 30*time.Second)
	t0 := time.Now()
	deliverOverTime(t, d, c, 100, 500*time.Millisecond, nil)
	d.waitQuiet(len(c.mails), 150*time.Second)
	t.Logf("%s: quiet", time.Since(t0).Round(time.Millisecond))

	wantStuck := 0
	for _, s := range d.sent() {
		if strings.EqualFold(s.rcpt[0], stuck) {
			wantStuck++
		}
	}
	var unc []string
	for _, e := range d.outbox() {
		if e.State != "uncertain" {
			continue
		}
		unc = append(unc, e.ID)
		if !strings.EqualFold(e.To, stuck) {
			t.Errorf("uncertain delivery %s to %s, whose mail the relay answers", e.ID, e.To)
		}
	}
	if wantStuck == 0 || len(unc) != wantStuck {
		t.Errorf("%d uncertain deliveries, the relay holds %d unanswered mails to %s", len(unc), wantStuck, stuck)
	}
	d.verify(c, expect{uncertain: true})
}
