package faults

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/internal/testserver"
)

// Issue 16.1: Redis loses recent writes. The mailbox is the journal: every
// filed mail carries its outcome, every mail sent has a copy in Sent, and
// the daemon, finding Redis behind them, holds intake and mail to
// customers and repairs Redis from them. The audit (verify) reads the
// outcomes from the mailboxes: none missing, no number on two mails, no
// ticket acknowledged twice but for one mail per fault.

// repairedLine is logged once the daemon has repaired Redis.
const repairedLine = `"msg":"journal repair done"`

// checkRepairCommand runs `maildesk repair --dry-run` and expects it to find
// Redis in step with the mailbox.
func checkRepairCommand(t *testing.T, d *desk) {
	t.Helper()
	out, err := d.cli("repair", "--dry-run")
	if err != nil {
		t.Fatalf("repair --dry-run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "in step with the mailbox journal") {
		t.Errorf("repair --dry-run after the repair:\n%s", out)
	}
}

// TestRedisRestoredFromOlderBackup: an operator restores a backup of Redis
// taken 100 mails earlier while mail keeps arriving (300 mails, 20 every
// 300 ms after the first 100): the tickets, refusals and delivery records
// made since the backup are gone from Redis, and the outbox holds again
// the acknowledgements that were queued when it was taken.
func TestRedisRestoredFromOlderBackup(t *testing.T) {
	skipShort(t)
	// Not parallel: the issue-16 scenarios are short and run before the
	// long parallel ones, so as not to load the machine under their
	// timing (TestSMTPOutage's first half minute).
	rng := rand.New(rand.NewPCG(seedFor(t), 16))
	d := newDesk(t, deskOptions{Redis: testserver.RedisOptions{AppendOnly: true}})
	c := newCorpus(rng, 300)
	d.start()
	d.waitLog(0, connectedLine, 30*time.Second)
	d.dc.DeliverMaildir(t, deskAddr, c.raws(0, 100))
	d.waitQuiet(100, 90*time.Second)
	backup := d.redis.Snapshot(t)
	t.Logf("backup taken after %d mails", 100)

	rest := &corpus{mails: c.mails[100:], run: c.run}
	var offset int64
	t0 := time.Now()
	deliverOverTime(t, d, rest, 20, 300*time.Millisecond, map[int]func(){
		5: func() {
			offset = d.logSize()
			d.redis.RestoreSnapshot(t, backup)
			t.Logf("%s: Redis restored from the backup (%d mails delivered since)", time.Since(t0).Round(time.Millisecond), 6*20)
		},
	})
	d.waitLog(offset, repairedLine, 60*time.Second)
	d.waitQuiet(len(c.mails), 120*time.Second)
	d.verify(c, expect{faults: 1})
	checkRepairCommand(t, d)
}

// TestRedisHostCrashEverysec: Redis with appendfsync everysec is killed
// (SIGKILL) in the middle of ingest, which on one machine loses nothing
// (the kernel has the writes); then a host crash is simulated: the
// append-only file loses everything written after a point (here 100 mails'
// worth, where a real crash loses about a second), and Redis starts from
// it while the daemon runs on.
func TestRedisHostCrashEverysec(t *testing.T) {
	skipShort(t)
	// Not parallel: the issue-16 scenarios are short and run before the
	// long parallel ones, so as not to load the machine under their
	// timing (TestSMTPOutage's first half minute).
	rng := rand.New(rand.NewPCG(seedFor(t), 17))
	d := newDesk(t, deskOptions{Redis: testserver.RedisOptions{AppendOnly: true, Args: []string{"--appendfsync", "everysec"}}})
	c := newCorpus(rng, 300)
	d.start()
	d.waitLog(0, connectedLine, 30*time.Second)
	d.dc.DeliverMaildir(t, deskAddr, c.raws(0, 60))
	// Killed while the mails are being handled.
	d.waitLogCount(0, outcomeLine, 20, 30*time.Second)
	d.redis.Kill()
	d.redis.Restart(t)
	t.Log("Redis killed (SIGKILL) and started again")
	d.waitQuiet(60, 90*time.Second)

	size := d.redis.AOFSize(t)
	d.dc.DeliverMaildir(t, deskAddr, c.raws(60, 160))
	d.waitQuiet(160, 90*time.Second)
	offset := d.logSize()
	d.redis.KillAndTruncateAOF(t, size)
	d.redis.Restart(t)
	t.Logf("host crash: Redis lost the writes of the last 100 mails (AOF cut back to %d bytes)", size)
	d.waitLog(offset, repairedLine, 60*time.Second)

	d.dc.DeliverMaildir(t, deskAddr, c.raws(160, len(c.mails)))
	d.waitQuiet(len(c.mails), 120*time.Second)
	d.verify(c, expect{faults: 2})
	checkRepairCommand(t, d)
}

// TestRepairCommandAfterRestore is the runbook of docs/operations.md: the
// daemon stopped, Redis restored from a backup 50 mails old, `maildesk
// repair --dry-run` shows what is missing, `maildesk repair` restores it
// and verifies, and the daemon started again sends nothing twice and gives
// no number twice.
func TestRepairCommandAfterRestore(t *testing.T) {
	skipShort(t)
	// Not parallel: the issue-16 scenarios are short and run before the
	// long parallel ones, so as not to load the machine under their
	// timing (TestSMTPOutage's first half minute).
	rng := rand.New(rand.NewPCG(seedFor(t), 18))
	d := newDesk(t, deskOptions{Redis: testserver.RedisOptions{AppendOnly: true}})
	c := newCorpus(rng, 150)
	d.start()
	d.waitLog(0, connectedLine, 30*time.Second)
	d.dc.DeliverMaildir(t, deskAddr, c.raws(0, 50))
	d.waitQuiet(50, 90*time.Second)
	backup := d.redis.Snapshot(t)
	d.dc.DeliverMaildir(t, deskAddr, c.raws(50, 100))
	d.waitQuiet(100, 90*time.Second)
	d.daemon.Stop()
	d.redis.RestoreSnapshot(t, backup)

	out, err := d.cli("repair", "--dry-run")
	if err != nil {
		t.Fatalf("repair --dry-run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Redis is behind the mailbox journal") || !strings.Contains(string(out), "re-create the ticket: Processed uid") {
		t.Fatalf("repair --dry-run after the restore:\n%s", out)
	}
	if again, _ := d.cli("repair", "--dry-run"); string(again) != string(out) {
		t.Errorf("--dry-run changed something: first\n%s\nthen\n%s", out, again)
	}
	out, err = d.cli("repair")
	if err != nil {
		t.Fatalf("repair: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "verified: Redis is in step with the mailbox journal") {
		t.Fatalf("repair:\n%s", out)
	}
	t.Logf("maildesk repair:\n%.1500s", out)

	offset := d.logSize()
	d.start()
	d.waitLog(offset, connectedLine, 30*time.Second)
	d.dc.DeliverMaildir(t, deskAddr, c.raws(100, len(c.mails)))
	d.waitQuiet(len(c.mails), 90*time.Second)
	d.verify(c, expect{})
	checkRepairCommand(t, d)
}
