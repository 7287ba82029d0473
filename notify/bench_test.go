package notify

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkOutboxToSMTP: notifications per second from the Redis outbox,
// rendered, over SMTP to a local server (in-process go-smtp, which stores
// every message in memory), each recorded as delivered. Limits off: this
// measures the pipeline, not the policy.
func BenchmarkOutboxToSMTP(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("burst=%d", batch), func(b *testing.B) {
			ob, rdb := newOutbox(b)
			srv := startSMTP(b, smtpOpts{})
			m := plainMailer(srv.addr)
			m.SetSecret([]byte("bench"))
			d := &Delivery{Outbox: ob, Sender: m, Consumer: "bench", SendTimeout: 10 * time.Second, Log: slog.New(slog.DiscardHandler)}
			ctx := context.Background()
			b.ResetTimer()
			sent := 0
			for sent < b.N {
				b.StopTimer()
				n := min(batch, b.N-sent)
				for i := range n {
					note := ackNote()
					note.ID = fmt.Sprintf("SD-%d/ack", sent+i)
					note.Ticket = fmt.Sprintf("SD-%d", sent+i)
					note.To = fmt.Sprintf("c%d@customer.example", (sent+i)%500)
					enqueue(b, rdb, ob, "", note)
				}
				b.StartTimer()
				st, err := d.Drain(ctx)
				if err != nil || st.Sent != n {
					b.Fatalf("drain %+v %v, want %d sent", st, err, n)
				}
				sent += n
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
			if got := len(srv.received()); got != b.N {
				b.Fatalf("server received %d, want %d", got, b.N)
			}
		})
	}
}
