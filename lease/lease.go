// Package lease decides which replica watches which mailbox. Every replica
// runs every desk it is configured with, but only the holder of a
// mailbox's lease (a lock in Redis with a time to live, renewed while the
// work runs) fetches from it. When the holder dies, its lease runs out and
// another replica takes over within the lease time. Replicas take no more
// than their fair share of the leases (mailboxes divided by live replicas),
// so several desks spread over the replicas.
//
// A lease is not a fence: for a moment after a holder stalls, two replicas
// may work one mailbox. That is safe because every commit is idempotent;
// the lease only keeps them from doing all work twice.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bsm/redislock"
	"github.com/redis/go-redis/v9"
)

// RegistryKey holds the live replicas (sorted set scored by their last
// heartbeat, ms). Used on its own, never with desk keys in one command, so
// it needs no hash tag.
const RegistryKey = "md:replicas"

// Manager holds the leases of one process.
type Manager struct {
	rdb     redis.UniversalClient
	locks   *redislock.Client
	replica string
	ttl     time.Duration
	log     *slog.Logger

	mu    sync.Mutex
	wants int // leases this process competes for (its mailboxes)
	held  atomic.Int32
	// stepping: one of this process's leases is being given back; one at a
	// time, so that rebalancing does not drop them all.
	stepping atomic.Bool
	// freeSince: when a lease was first seen free by this process while it
	// was at its share; after a lease time it takes it anyway (the other
	// replicas may not run that desk at all).
	freeSince map[string]time.Time
}

// NewManager returns the lease manager of this process, named replica in
// the registry; ttl is the lease time (takeover after a crash within it);
// log nil: slog.Default().
func NewManager(rdb redis.UniversalClient, replica string, ttl time.Duration, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.Default()
	}
	return &Manager{rdb: rdb, locks: redislock.New(rdb), replica: replica, ttl: ttl, log: log, freeSince: map[string]time.Time{}}
}

// Held is the number of leases this process holds.
func (m *Manager) Held() int { return int(m.held.Load()) }

// Heartbeat keeps this replica in the registry until ctx ends.
func (m *Manager) Heartbeat(ctx context.Context) {
	t := time.NewTicker(m.ttl / 3)
	defer t.Stop()
	for {
		m.beat(ctx)
		select {
		case <-ctx.Done():
			_ = m.rdb.ZRem(context.WithoutCancel(ctx), RegistryKey, m.replica).Err()
			return
		case <-t.C:
		}
	}
}

func (m *Manager) beat(ctx context.Context) {
	now := time.Now()
	_, err := m.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, RegistryKey, redis.Z{Score: float64(now.UnixMilli()), Member: m.replica})
		// Replicas silent for three lease times are gone.
		p.ZRemRangeByScore(ctx, RegistryKey, "-inf", strconv.FormatInt(now.Add(-3*m.ttl).UnixMilli(), 10))
		return nil
	})
	if err != nil && ctx.Err() == nil {
		m.log.Warn("replica heartbeat failed", "err", err)
	}
}

// share is how many leases this replica should hold at most.
func (m *Manager) share(ctx context.Context, wants int) int {
	n, err := m.rdb.ZCard(ctx, RegistryKey).Result()
	if err != nil || n < 1 {
		return wants
	}
	return int(math.Ceil(float64(wants) / float64(n)))
}

// Hold runs work while this process holds the lease named key, taking it
// whenever it is free and this replica is below its share, until ctx ends.
// work's context ends when the lease is lost (Redis unreachable for a
// lease time, or another holder) or given up to rebalance; Hold then waits
// for the lease again.
func (m *Manager) Hold(ctx context.Context, key string, work func(ctx context.Context) error) {
	m.mu.Lock()
	m.wants++
	m.mu.Unlock()
	poll := m.ttl / 3
	for ctx.Err() == nil {
		lock, err := m.obtain(ctx, key)
		if err != nil {
			if !errors.Is(err, redislock.ErrNotObtained) && ctx.Err() == nil {
				m.log.Warn("cannot take mailbox lease, retrying", "lease", key, "err", err)
			}
			sleep(ctx, m.nextTry(ctx, key, poll))
			continue
		}
		m.held.Add(1)
		m.log.Info("mailbox lease taken", "lease", key, "replica", m.replica)
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			m.keep(lctx, cancel, lock)
		}()
		if err := work(lctx); err != nil && lctx.Err() == nil {
			m.log.Warn("work under lease ended", "lease", key, "err", err)
		}
		cancel()
		<-done
		m.held.Add(-1)
		_ = lock.Release(context.WithoutCancel(ctx))
		if ctx.Err() == nil {
			m.log.Info("mailbox lease given up", "lease", key, "replica", m.replica)
			// Let another replica have it first.
			sleep(ctx, m.ttl)
			m.stepping.Store(false)
		}
	}
}

// nextTry is how long a replica that did not get the lease waits before it
// tries again: poll, or less when the lease runs out sooner. A holder that
// died stops renewing, and its lease is taken over the moment it expires
// rather than up to a poll later (a third of a lease time of deaf mailbox).
func (m *Manager) nextTry(ctx context.Context, key string, poll time.Duration) time.Duration {
	left, err := m.rdb.PTTL(ctx, key).Result()
	if err != nil || left <= 0 || left >= poll {
		return poll
	}
	return left + 10*time.Millisecond
}

// obtain takes the lease if this replica is below its share, or if the
// lease has been free for a lease time anyway.
func (m *Manager) obtain(ctx context.Context, key string) (*redislock.Lock, error) {
	m.mu.Lock()
	wants := m.wants
	m.mu.Unlock()
	if m.Held() >= m.share(ctx, wants) {
		n, err := m.rdb.Exists(ctx, key).Result()
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		since, seen := m.freeSince[key]
		switch {
		case n == 1:
			delete(m.freeSince, key)
			m.mu.Unlock()
			return nil, redislock.ErrNotObtained
		case !seen:
			m.freeSince[key] = time.Now()
			m.mu.Unlock()
			return nil, redislock.ErrNotObtained
		case time.Since(since) < m.ttl:
			m.mu.Unlock()
			return nil, redislock.ErrNotObtained
		}
		m.mu.Unlock()
	}
	lock, err := m.locks.Obtain(ctx, key, m.ttl, &redislock.Options{Metadata: m.replica})
	if err == nil {
		m.mu.Lock()
		delete(m.freeSince, key)
		m.mu.Unlock()
	}
	return lock, err
}

// keep renews lock every third of the lease time; when it cannot, or when
// this replica holds more than its share for a while, it ends the work.
func (m *Manager) keep(ctx context.Context, stop context.CancelFunc, lock *redislock.Lock) {
	t := time.NewTicker(m.ttl / 3)
	defer t.Stop()
	over := 0
	lastOK := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := lock.Refresh(ctx, m.ttl, nil); err != nil {
			if errors.Is(err, redislock.ErrNotObtained) || time.Since(lastOK) > m.ttl*2/3 {
				m.log.Warn("mailbox lease lost, stopping work on it", "lease", lock.Key(), "err", err)
				stop()
				return
			}
			continue
		}
		lastOK = time.Now()
		m.mu.Lock()
		wants := m.wants
		m.mu.Unlock()
		if m.Held() > m.share(ctx, wants) {
			over++
		} else {
			over = 0
		}
		// Give one lease back when over the share for three renewals in a
		// row: a replica that joined gets its part without flapping.
		if over >= 3 && m.stepping.CompareAndSwap(false, true) {
			m.log.Info("giving a mailbox lease to a replica with fewer", "lease", lock.Key())
			stop()
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Key is the lease name of a desk's mailbox.
func Key(keyPrefix, mailbox string) string {
	return fmt.Sprintf("%slease:imap:%s", keyPrefix, mailbox)
}
