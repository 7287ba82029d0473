package escalation

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
)

// BenchmarkSweep times one escalation sweep that finds 100 tickets due
// (breach alerts to two recipients each) among 10,000 and 1,000,000 open
// tickets. The other open tickets are in the due-time sets, as they would
// be, scored in the future; their hashes are left out, since a sweep never
// reads them. The two figures should be close: a sweep's cost grows with
// what is due, not with what is open.
func BenchmarkSweep(b *testing.B) {
	for _, open := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("open=%d", open), func(b *testing.B) {
			f := newFixture(b)
			ctx := context.Background()
			arrival := at(b, "2026-11-23 09:00")
			var due []string
			for i := range 100 {
				due = append(due, f.create(b, fmt.Sprintf("due%d", i), "standard", "P1", arrival))
			}
			future := float64(at(b, "2027-06-01 09:00").UnixMilli())
			for start := 0; start < open-len(due); start += 10_000 {
				_, err := f.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
					var zs []redis.Z
					for i := start; i < min(start+10_000, open-len(due)); i++ {
						zs = append(zs, redis.Z{Score: future + float64(i), Member: "SD-" + strconv.Itoa(1000+i)})
					}
					p.ZAdd(ctx, "md:{d}:sla:warn", zs...)
					p.ZAdd(ctx, "md:{d}:sla:breach", zs...)
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			deadline := float64(at(b, "2026-11-23 13:00").UnixMilli())
			now := at(b, "2026-11-23 13:01")
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				// Re-arm the 100 due tickets and empty the outbox.
				_, err := f.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
					for _, n := range due {
						p.HDel(ctx, "md:{d}:t:"+n, "sla_breached_at", "sla_warned_at")
						p.ZAdd(ctx, "md:{d}:sla:breach", redis.Z{Score: deadline, Member: n})
					}
					p.Del(ctx, f.ob.Key())
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				st, err := f.e.Sweep(ctx, now)
				if err != nil || st.Breaches != len(due) {
					b.Fatalf("sweep %+v %v, want %d breaches", st, err, len(due))
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/sweep")
		})
	}
}
