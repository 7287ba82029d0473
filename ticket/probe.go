package ticket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/internal/rediserr"
)

// probeTTL keeps the probe key from outliving its purpose.
const probeTTL = 10 * time.Second

// ProbeWrite writes a small key with a short expiry and reports whether
// Redis took it, within ctx's deadline: a full Redis (maxmemory with
// noeviction), a read-only replica or a stopped one fails it, though it may
// still answer PING. It returns when ctx ends even when the client does not
// (go-redis keeps to its own read timeout, not to ctx, and retries).
func (s *Store) ProbeWrite(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		done <- s.rdb.Set(ctx, s.key("probe"), time.Now().UTC().Format(time.RFC3339Nano), probeTTL).Err()
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("redis refuses a write: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("redis did not answer a write in time: %w", ctx.Err())
	}
}

// Unavailable reports whether err is Redis being unreachable or refusing
// writes for now (out of memory, loading, read-only after a failover, a
// failed background save, a busy script, a stopped or stalled server), as
// opposed to an error that repeating the same command would get again. A
// commit that failed so is worth retrying as it is.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if code, _, ok := rediserr.Code(err); ok {
		switch code {
		case rediserr.OOM, rediserr.Loading, rediserr.ReadOnly, rediserr.MasterDown, rediserr.ClusterDown,
			rediserr.TryAgain, rediserr.Busy, rediserr.NoReplicas, rediserr.Misconf, rediserr.NoRepl:
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrPoolTimeout)
}
