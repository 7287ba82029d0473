package faults

import (
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/maildesk/maildesk/internal/testserver"
)

// deliverOverTime delivers c in chunks of size every interval into the
// desk's Maildir while the daemon runs; at[i] runs right after chunk i
// (0-based) was delivered. It returns when all is delivered and every
// event has run.
func deliverOverTime(t *testing.T, d *desk, c *corpus, size int, every time.Duration, at map[int]func()) {
	t.Helper()
	last := -1
	for i := range at {
		last = max(last, i)
	}
	t0 := time.Now()
	for i, next := 0, 0; next < len(c.mails) || i <= last; i++ {
		time.Sleep(time.Until(t0.Add(time.Duration(i) * every)))
		if next < len(c.mails) {
			end := min(next+size, len(c.mails))
			d.dc.DeliverMaildir(t, deskAddr, c.raws(next, end))
			next = end
		}
		if f := at[i]; f != nil {
			f()
		}
	}
}

// TestRedisRestartDuringIngest takes Redis away twice while 2,000 mails
// arrive (100 every 500 ms): once stopped cleanly (SIGTERM) for 3 s, once
// killed (SIGKILL) for 2 s; both times it comes back on the same port with
// its append-only file (fsync always). Meanwhile commits fail, so mail must
// stay in the inbox until Redis is back; the outbox can neither be read nor
// recorded. The same checks as after the kills follow; each outage may
// cost one duplicate notification (SMTP accepted, recording it failed) and
// one ticket whose delivered acknowledgement is not marked (see
// TestFaultAfterDeliveryRecorded).
func TestRedisRestartDuringIngest(t *testing.T) {
	skipShort(t)
	t.Parallel()
	rng := rand.New(rand.NewPCG(seedFor(t), 10))
	d := newDesk(t, deskOptions{Redis: testserver.RedisOptions{AppendOnly: true}})
	c := newCorpus(rng, 2000)
	d.start()
	d.waitLog(0, connectedLine, 30*time.Second)
	t0 := time.Now()
	down := func(how string, stop func()) func() {
		return func() {
			stop()
			t.Logf("%s: Redis %s", time.Since(t0).Round(time.Millisecond), how)
		}
	}
	up := func() {
		d.redis.Restart(t)
		t.Logf("%s: Redis started again", time.Since(t0).Round(time.Millisecond))
	}
	deliverOverTime(t, d, c, 100, 500*time.Millisecond, map[int]func(){
		4:  down("stopped (SIGTERM)", d.redis.Stop),
		10: up,
		13: down("killed (SIGKILL)", d.redis.Kill),
		17: up,
	})
	d.waitQuiet(len(c.mails), 150*time.Second)
	d.verify(c, expect{faults: 2})
	if ok, err := d.daemon.Exited(); ok {
		t.Errorf("maildesk exited during the Redis outages: %v", err)
	}
}

// TestDovecotRestartDuringIngest stops Dovecot for 3 s while 2,000 mails
// arrive (100 every 500 ms; the Maildir keeps receiving them while the
// server is down) and starts it again on the same ports: the watcher's
// connection drops in the middle of fetching or moving, and it must
// reconnect and go on without losing or repeating anything.
func TestDovecotRestartDuringIngest(t *testing.T) {
	skipShort(t)
	t.Parallel()
	rng := rand.New(rand.NewPCG(seedFor(t), 11))
	d := newDesk(t, deskOptions{})
	c := newCorpus(rng, 2000)
	d.start()
	d.waitLog(0, connectedLine, 30*time.Second)
	t0 := time.Now()
	var offset int64
	deliverOverTime(t, d, c, 100, 500*time.Millisecond, map[int]func(){
		5: func() {
			d.dc.StopAll()
			t.Logf("%s: Dovecot stopped (all its processes, as systemd does)", time.Since(t0).Round(time.Millisecond))
		},
		11: func() {
			offset = d.logSize()
			d.dc.Start(t)
			t.Logf("%s: Dovecot started again", time.Since(t0).Round(time.Millisecond))
		},
	})
	d.waitLog(offset, connectedLine, 60*time.Second)
	t.Logf("%s: maildesk reconnected", time.Since(t0).Round(time.Millisecond))
	d.waitQuiet(len(c.mails), 120*time.Second)
	d.verify(c, expect{})
}

// smtpOutage is how long the relay answers 451 to every recipient: the
// issue's minute. It is most of this test's run time, but the test runs
// in parallel with the others.
const smtpOutage = time.Minute

// TestSMTPOutage runs 2,000 mails (100 every 300 ms) against a relay that
// answers 451 to every recipient for a minute and then recovers, and
// that refuses one contact's address with 550 throughout. Nothing may be
// delivered during the minute, everything waits with the relay's answer as
// its last error, and afterwards every notification is delivered exactly
// once, except the refused contact's: the first dead-lettered with the
// relay's reply, the later ones skipped because the address is suppressed.
func TestSMTPOutage(t *testing.T) {
	skipShort(t)
	t.Parallel()
	rng := rand.New(rand.NewPCG(seedFor(t), 12))
	// Retries every 1 to 5 s (with up to half again of jitter): the
	// recovery shows within seconds, and 1,500 waiting notifications do
	// not turn into a thousand SMTP transactions a second.
	d := newDesk(t, deskOptions{Outbox: `  retry: 1s
  max_backoff: 5s
  recipient_limits: [{max: 100000, per: 1m}]
  desk_limits: [{max: 100000, per: 1m}]
`})
	refused := contacts[5].email // tom.smit@globex.example
	var failing atomic.Bool
	failing.Store(true)
	var refusals, deferrals atomic.Int64
	d.smtp.SetReply(func(rcpt string) error {
		switch {
		case strings.EqualFold(rcpt, refused):
			refusals.Add(1)
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
		case failing.Load():
			deferrals.Add(1)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "relay busy, try again later"}
		}
		return nil
	})
	c := newCorpus(rng, 2000)
	d.start()
	t0 := time.Now()
	deliverOverTime(t, d, c, 100, 300*time.Millisecond, nil)
	d.waitLog(0, connectedLine, 30*time.Second)
	// Half-way through the outage: everything waits, with the 451 (or the
	// refused one's 550 in the dead letters).
	time.Sleep(time.Until(t0.Add(smtpOutage / 2)))
	if n := len(d.smtp.Messages()); n != 0 {
		t.Errorf("%d mails accepted while the relay refused everything", n)
	}
	waiting := d.outbox()
	retried, sending := 0, 0
	for _, e := range waiting {
		// A mail in a send has no answer yet; all others tried have the 451.
		if e.State == "sending" {
			sending++
			continue
		}
		if !strings.Contains(e.LastError, "451") && e.Attempts > 0 {
			t.Errorf("waiting notification %s (%s, %d attempts) has last error %q, want the relay's 451", e.ID, e.State, e.Attempts, e.LastError)
		}
		if e.Attempts > 1 {
			retried++
		}
	}
	t.Logf("%s: %d notifications waiting, %d tried more than once, %d being sent; %d 451 and %d 550 answers so far",
		time.Since(t0).Round(time.Millisecond), len(waiting), retried, sending, deferrals.Load(), refusals.Load())
	// outbox.workers (4) sends at a time, and one more read for the next
	// free worker: more "sending" would be mail counted as tried that was
	// not.
	if sending > 5 {
		t.Errorf("%d notifications shown as being sent, want at most outbox.workers (4) and the one read for the next", sending)
	}
	if len(waiting) < 1000 || retried == 0 {
		t.Errorf("%d notifications waiting, %d retried, half-way through the outage: want the acknowledgements and notices of 2,000 mails, retried", len(waiting), retried)
	}
	dead := d.outbox("--dead")
	if len(dead) == 0 || !strings.Contains(dead[0].Reason, "no such user here") || !strings.EqualFold(dead[0].To, refused) {
		t.Errorf("dead letters half-way = %+v, want the first acknowledgement to %s with the relay's 550", dead, refused)
	}

	time.Sleep(time.Until(t0.Add(smtpOutage)))
	failing.Store(false)
	t.Logf("%s: relay recovered", time.Since(t0).Round(time.Millisecond))
	d.waitQuiet(len(c.mails), 120*time.Second)
	t.Logf("%s: all notifications out", time.Since(t0).Round(time.Millisecond))
	d.verify(c, expect{refused: map[string]bool{refused: true}})
}
