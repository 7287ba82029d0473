package faults

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/maildesk/maildesk/internal/testserver"
)

// TestKillLeaseHolder runs three daemons against one Redis and one
// mailbox. Only the holder of the mailbox's lease fetches (it alone logs
// "imap connected"); the outbox's consumer group lets all three send. The
// holder is killed (SIGKILL) in the middle of ingesting 2,000 mails; another
// daemon must take the mailbox over within the lease time (imap.lease 3s,
// plus a third of it for noticing), and the invariants must hold: nothing
// lost, one ticket per Message-ID, one acknowledgement per ticket but for
// one extra for the kill.
func TestKillLeaseHolder(t *testing.T) {
	skipShort(t)
	t.Parallel()
	rng := rand.New(rand.NewPCG(seedFor(t), 11))
	d := newDesk(t, deskOptions{})
	c := newCorpus(rng, 2000)
	d.dc.DeliverMaildir(t, deskAddr, c.raws(0, 1000))

	procs := []*testserver.Process{d.daemon}
	for i := 2; i <= 3; i++ {
		p := testserver.NewProcess(t, fmt.Sprintf("maildesk-%d", i), filepath.Join(d.dir, fmt.Sprintf("maildesk-%d.log", i)), binary, "run", "--config", d.config)
		p.Env = d.env
		procs = append(procs, p)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s log, last lines:\n%s", p.Log, p.LogTail(40))
			}
		})
	}
	for _, p := range procs {
		p.Start(t)
	}
	count := func(p *testserver.Process, substr string) int {
		return bytes.Count(readFrom(p.Log, 0), []byte(substr))
	}
	holder := func() *testserver.Process {
		for _, p := range procs {
			if p.Running() && count(p, connectedLine) > 0 {
				return p
			}
		}
		return nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for holder() == nil {
		if time.Now().After(deadline) {
			t.Fatal("no daemon took the mailbox within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	h := holder()
	for _, p := range procs {
		if p != h && count(p, connectedLine) > 0 {
			t.Fatalf("two daemons connected to the mailbox at once: %s and %s", h.Log, p.Log)
		}
	}
	// Kill it in the middle of the backlog.
	n := 100 + rng.IntN(500)
	deadline = time.Now().Add(30 * time.Second)
	for count(h, outcomeLine) < n && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	h.Kill()
	killed := time.Now()
	t.Logf("killed the lease holder (%s) after %d mail outcomes", h.Log, count(h, outcomeLine))
	d.dc.DeliverMaildir(t, deskAddr, c.raws(1000, len(c.mails)))

	var successor *testserver.Process
	for successor == nil {
		if time.Since(killed) > 15*time.Second {
			t.Fatal("no daemon took the mailbox over within 15s")
		}
		for _, p := range procs {
			if p != h && count(p, connectedLine) > 0 {
				successor = p
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(killed)
	t.Logf("%s took the mailbox over after %s", successor.Log, took.Round(time.Millisecond))
	if took > 3*time.Second+time.Second+500*time.Millisecond {
		t.Errorf("takeover took %s, more than the lease time (3s) plus the renewal interval", took)
	}

	d.daemon = successor // waitQuiet and verify read through the CLI and mailboxes
	d.waitQuiet(len(c.mails), 150*time.Second)
	d.verify(c, expect{faults: 1})
	senders := 0
	for _, p := range procs {
		if count(p, deliveredLine) > 0 {
			senders++
		}
	}
	if senders < 2 {
		t.Errorf("notifications were sent by %d daemon(s); the consumer group should spread them", senders)
	}
}
