package lease

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/internal/testserver"
)

const ttl = 600 * time.Millisecond

type replica struct {
	m      *Manager
	rdb    *redis.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// running counts this replica's work per key.
	mu      sync.Mutex
	running map[string]bool
}

func start(t *testing.T, addr, name string, keys []string, active *atomic.Int32, overlap *atomic.Bool) *replica {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	r := &replica{rdb: rdb, running: map[string]bool{}}
	r.m = NewManager(rdb, name, ttl, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Go(func() { r.m.Heartbeat(ctx) })
	for _, k := range keys {
		r.wg.Go(func() {
			r.m.Hold(ctx, k, func(ctx context.Context) error {
				if active != nil && active.Add(1) > 1 {
					overlap.Store(true)
				}
				r.set(k, true)
				<-ctx.Done()
				r.set(k, false)
				if active != nil {
					active.Add(-1)
				}
				return nil
			})
		})
	}
	t.Cleanup(func() { r.stop(); rdb.Close() })
	return r
}

func (r *replica) set(k string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running[k] = on
}

func (r *replica) holds() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, on := range r.running {
		if on {
			n++
		}
	}
	return n
}

func (r *replica) stop() { r.cancel(); r.wg.Wait() }

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// Three replicas, one mailbox: one works it; when that one dies without
// giving the lease back, another takes over within the lease time.
func TestOneHolderAndTakeover(t *testing.T) {
	rs := testserver.Redis(t)
	var active atomic.Int32
	var overlap atomic.Bool
	key := Key("md:{d}:", "INBOX")
	rep := []*replica{
		start(t, rs.Addr, "a", []string{key}, &active, &overlap),
		start(t, rs.Addr, "b", []string{key}, &active, &overlap),
		start(t, rs.Addr, "c", []string{key}, &active, &overlap),
	}
	waitFor(t, 2*ttl, "a holder", func() bool { return active.Load() == 1 })
	time.Sleep(2 * ttl)
	if overlap.Load() {
		t.Fatal("two replicas worked the mailbox at once")
	}
	var holder *replica
	for _, r := range rep {
		if r.holds() == 1 {
			holder = r
		}
	}
	// The holder dies: its connection goes, so it can neither renew nor
	// give back the lease. (Its work only ends when it notices.)
	holder.rdb.Close()
	took := waitFor(t, 3*ttl, "a new holder", func() bool {
		for _, r := range rep {
			if r != holder && r.holds() == 1 {
				return true
			}
		}
		return false
	})
	if took > ttl+ttl/2+200*time.Millisecond {
		t.Errorf("takeover took %v, lease time %v", took, ttl)
	}
}

// Two mailboxes over two replicas: one each, also when the second replica
// joins after the first took both.
func TestLeasesSpreadOverReplicas(t *testing.T) {
	rs := testserver.Redis(t)
	keys := []string{Key("md:{a}:", "INBOX"), Key("md:{b}:", "INBOX")}
	first := start(t, rs.Addr, "first", keys, nil, nil)
	waitFor(t, 3*ttl, "the only replica holds both", func() bool { return first.holds() == 2 })
	second := start(t, rs.Addr, "second", keys, nil, nil)
	waitFor(t, 12*ttl, "one each", func() bool { return first.holds() == 1 && second.holds() == 1 })
	// And it stays so.
	time.Sleep(6 * ttl)
	if first.holds() != 1 || second.holds() != 1 {
		t.Errorf("holds %d and %d, want 1 each", first.holds(), second.holds())
	}
	// The second stops cleanly: the first takes both again.
	second.stop()
	waitFor(t, 6*ttl, "the remaining replica holds both", func() bool { return first.holds() == 2 })
}
