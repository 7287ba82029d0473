package notify

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// fillingSender accepts every mail, and the first time fills Redis
// (maxmemory, noeviction) right after, as ingest filling it at the same
// moment would; it frees the memory a little later.
type fillingSender struct {
	scripted
	rdb    *redis.Client
	filled chan struct{}
}

func (s *fillingSender) Send(ctx context.Context, n Notification) error {
	if err := s.scripted.Send(ctx, n); err != nil {
		return err
	}
	select {
	case <-s.filled:
		return nil
	default:
	}
	close(s.filled)
	bg := context.Background()
	if err := s.rdb.ConfigSet(bg, "maxmemory-policy", "noeviction").Err(); err != nil {
		return err
	}
	if err := s.rdb.ConfigSet(bg, "maxmemory", "1").Err(); err != nil {
		return err
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = s.rdb.ConfigSet(bg, "maxmemory", "0").Err()
	}()
	return nil
}

// A Redis that fills up between the relay accepting a mail and the record
// of it does not make the mail go out twice: the record is retried until
// Redis takes it.
func TestFullRedisAfterSendDoesNotResend(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "jan@x", Ticket: "SD-1"})
	sender := &fillingSender{rdb: rdb, filled: make(chan struct{})}
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: 20 * time.Millisecond, SendTimeout: time.Second}
	for range 3 {
		_, err := d.Drain(ctx)
		if n, _ := ob.Depth(ctx); n == 0 && err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond) // memory is back by then
	}
	if n, _ := ob.Depth(ctx); n != 0 || sender.count("SD-1/ack") != 1 {
		t.Fatalf("depth %d, sent %d times; want 0 and once", n, sender.count("SD-1/ack"))
	}
}
