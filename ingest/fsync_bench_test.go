package ingest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/ticket"
)

// BenchmarkIngestFsync measures what Redis's persistence setting costs the
// intake (docs/operations.md, "Persistence"): the same backlog drained into
// a Redis with an append-only file written with appendfsync always (an
// fsync per commit round trip) and with everysec (an fsync a second), in
// one run, alternating, each iteration a fresh mailbox and desk. The
// watcher does all its work, the journal's keywords included.
//
//	MAILDESK_BENCH_FSYNC_MAILS=2000 go test ./ingest/ -run XXX -bench IngestFsync -benchtime 1x -count 3
func BenchmarkIngestFsync(b *testing.B) {
	n := benchCount(b, "MAILDESK_BENCH_FSYNC_MAILS", 2000)
	dc := testserver.Dovecot(b)
	modes := []string{"always", "everysec"}
	clients := map[string]*redis.Client{}
	for _, m := range modes {
		rs := testserver.RedisWithOptions(b, testserver.RedisOptions{AppendOnly: true, Args: []string{"--appendfsync", m}})
		rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
		b.Cleanup(func() { rdb.Close() })
		if got, err := rdb.ConfigGet(context.Background(), "appendfsync").Result(); err != nil || got["appendfsync"] != m {
			b.Fatalf("redis appendfsync %v, want %s: %v", got, m, err)
		}
		clients[m] = rdb
	}
	customers, contacts := benchDirectory()
	took := map[string]time.Duration{}
	b.StopTimer()
	for i := range b.N {
		// Alternating which goes first, so that a drift in the machine's
		// load (other work, Dovecot's growing folders) favours neither.
		order := modes
		if i%2 == 1 {
			order = []string{modes[1], modes[0]}
		}
		for k, m := range order {
			desk := fmt.Sprintf("fsync%d-%s@%s", i, m, benchDomain)
			deskID := fmt.Sprintf("fsync%d%s", i, m)
			gen := newMailGen(uint64(i*len(modes)+k+1), contacts, desk)
			mails := make([][]byte, n)
			for j := range mails {
				mails[j], _, _ = gen.next()
			}
			dc.DeliverMaildir(b, desk, mails)
			if got, err := indexMailbox(dc.IMAPAddr, desk, dc.Password, "INBOX"); err != nil || got != uint32(n) {
				b.Fatalf("fill mailbox: %d of %d mails: %v", got, n, err)
			}
			store := ticket.NewStore(clients[m], ticket.Options{DeskID: deskID, TicketPrefix: "SD", OutboxKey: config.KeyPrefix(deskID) + "outbox"})
			pipe, log := benchPipeline(store, customers, desk)
			w := NewWatcher(benchWatcherConfig(dc.IMAPAddr, desk, dc.Password), pipe, log)
			b.StartTimer()
			t0 := time.Now()
			stop := runWatcherLabelled(w)
			for st := w.Status(); st.Processed < int64(n) || st.State != "idle"; st = w.Status() {
				if time.Since(t0) > benchTimeout {
					stop()
					b.Fatalf("%s: backlog not drained after %s: %+v", m, benchTimeout, st)
				}
				time.Sleep(5 * time.Millisecond)
			}
			took[m] += time.Since(t0)
			b.StopTimer()
			stop()
		}
	}
	total := float64(n * b.N)
	always, everysec := total/took["always"].Seconds(), total/took["everysec"].Seconds()
	b.Logf("load average after the run: %s", loadAverage())
	b.ReportMetric(always, "always-mails/s")
	b.ReportMetric(everysec, "everysec-mails/s")
	b.ReportMetric(always/everysec, "always/everysec")
}

// loadAverage is /proc/loadavg's 1, 5 and 15 minute averages: a figure
// measured on a busy machine says so.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
