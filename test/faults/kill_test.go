package faults

import (
	"math/rand/v2"
	"testing"
	"time"
)

// connectedLine is logged by the daemon once it holds the mailbox's lease
// and has selected the inbox: from then on it ingests.
const connectedLine = `"msg":"imap connected"`

// Log lines that trigger a kill: the outcome of one mail (committed,
// about to be moved) and the delivery of one notification (SMTP accepted,
// about to be recorded).
const (
	outcomeLine   = `"outcome":"`
	deliveredLine = `"msg":"notification delivered"`
)

// TestKillDuringIngest crashes the daemon (SIGKILL) 6 to 8 times while it
// ingests 2,000 mails, restarting it each time, then checks that no mail
// was lost, no Message-ID got two tickets, and every ticket got exactly one
// acknowledgement but for at most one extra mail per kill.
//
// 400 mails wait before the first start (a backlog); of every further
// chunk half arrives while the daemon is dead, half once its successor is
// connected (through IDLE). A kill comes right after the running daemon
// logged the outcome of its n-th mail since it started, n random within the
// mail waiting for it: in the middle of a fetched batch, between commits
// and moves. Every third kill, at random, comes after its m-th delivered
// notification instead, in the middle of sending acknowledgements and
// notices. The restart follows after a random pause of up to 300 ms; the
// successor takes over the mailbox when the dead one's lease (imap.lease
// 3s) has run out.
func TestKillDuringIngest(t *testing.T) {
	skipShort(t)
	t.Parallel()
	rng := rand.New(rand.NewPCG(seedFor(t), 9))
	d := newDesk(t, deskOptions{})
	c := newCorpus(rng, 2000)

	const backlog = 400
	kills := 6 + rng.IntN(3)
	chunk := (len(c.mails) - backlog + kills - 1) / kills
	d.dc.DeliverMaildir(t, deskAddr, c.raws(0, backlog))
	next, waiting := backlog, backlog
	deliver := func(n int) {
		end := min(next+n, len(c.mails))
		d.dc.DeliverMaildir(t, deskAddr, c.raws(next, end))
		waiting += end - next
		next = end
	}

	t0 := time.Now()
	for i := 1; i <= kills; i++ {
		offset := d.logSize()
		d.start()
		d.waitLog(offset, connectedLine, 30*time.Second)
		if i > 1 {
			deliver(chunk - chunk/2)
		}
		trigger, n := outcomeLine, 1+rng.IntN(max(1, waiting*9/10))
		if rng.IntN(3) == 0 {
			trigger, n = deliveredLine, 1+rng.IntN(max(1, waiting/2))
		}
		reached := d.waitLogCount(offset, trigger, n, 10*time.Second)
		pid := d.daemon.Pid()
		d.daemon.Kill()
		inbox := -1
		if cs, err := d.counts(); err == nil {
			inbox = cs["INBOX"]
		}
		what := "mail outcome"
		if trigger == deliveredLine {
			what = "delivered notification"
		}
		if !reached {
			what += " (not reached in 10s: killed anyway)"
		}
		pause := time.Duration(rng.IntN(300)) * time.Millisecond
		t.Logf("kill %d at %s after the %d. %s: pid %d, %d of %d delivered mails still in INBOX; restart after %s",
			i, time.Since(t0).Round(time.Millisecond), n, what, pid, inbox, next, pause)
		waiting = max(0, inbox)
		deliver(chunk / 2)
		time.Sleep(pause)
	}
	d.start()
	deliver(len(c.mails))
	t.Logf("all %d mails delivered, %d kills done after %s", len(c.mails), kills, time.Since(t0).Round(time.Millisecond))
	// A notification being sent when its daemon was killed keeps its
	// per-notification claim until the claim expires (2 x smtp.timeout +
	// 1 min): up to about a minute after the last kill.
	d.waitQuiet(len(c.mails), 150*time.Second)
	d.verify(c, expect{faults: kills})
}
