package ticket

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
)

// A full Redis (maxmemory, noeviction) still answers reads and PING but
// refuses the commit and the probe; both errors are Unavailable, and both
// go once memory is raised. A stopped Redis fails the probe at once.
func TestProbeWriteAndUnavailable(t *testing.T) {
	srv := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	s := NewStore(rdb, Options{DeskID: "acme-it", TicketPrefix: "SD", OutboxKey: config.KeyPrefix("acme-it") + "outbox"})
	ctx := context.Background()
	probe := func() error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return s.ProbeWrite(ctx)
	}
	if err := probe(); err != nil {
		t.Fatalf("probe of a healthy Redis: %v", err)
	}
	if _, err := s.Create(ctx, "before@acme.example", New{Subject: "before"}, note); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	_, cerr := s.Create(ctx, "full@acme.example", New{Subject: "while full"}, note)
	res := s.CommitBatch(ctx, []Commit{{Dedupe: "full2@acme.example", Ticket: &New{Subject: "while full"}, Note: note}})
	perr := probe()
	for what, err := range map[string]error{"create": cerr, "batch commit": res[0].Err, "probe": perr} {
		if err == nil || !Unavailable(err) {
			t.Errorf("%s on a full Redis: %v, want an error Unavailable reports", what, err)
		}
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping of the full Redis: %v (the probe must write to notice it is full)", err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := probe(); err != nil {
		t.Fatalf("probe after memory was raised: %v", err)
	}
	if _, err := s.Create(ctx, "full@acme.example", New{Subject: "while full"}, note); err != nil {
		t.Fatalf("commit after memory was raised: %v", err)
	}

	// Not Unavailable: what a retry would get again.
	for _, err := range []error{nil, redis.Nil, errors.New("commit: bad ticket"), ErrNotFound} {
		if Unavailable(err) {
			t.Errorf("Unavailable(%v) = true", err)
		}
	}
	wrong := rdb.Set(ctx, "md:{acme-it}:x", "1", 0).Err()
	if wrong == nil {
		wrong = rdb.LPush(ctx, "md:{acme-it}:x", "1").Err()
	}
	if Unavailable(wrong) {
		t.Errorf("Unavailable(%v) = true for a wrong type", wrong)
	}

	srv.Stop()
	if err := probe(); err == nil || !Unavailable(err) {
		t.Errorf("probe of a stopped Redis: %v, want an Unavailable error", err)
	}
	_, err := s.Create(ctx, "gone@acme.example", New{Subject: "gone"}, note)
	if !Unavailable(err) {
		t.Errorf("commit to a stopped Redis: %v, want an Unavailable error", err)
	}
}
