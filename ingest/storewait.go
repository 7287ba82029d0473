package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/maildesk/maildesk/ticket"
)

// waitStore keeps the session while Redis refuses to commit (cause): it
// probes Redis with a write with a short, capped backoff, keeps the IMAP
// session checked meanwhile, and returns nil once Redis takes writes
// again; an error when the session fails or ctx ends.
func (w *Watcher) waitStore(ctx context.Context, s session, cause error) error {
	const minWait, maxWait = 100 * time.Millisecond, 2 * time.Second
	prober, _ := w.pipe.Store.(StoreProber)
	w.setState("waiting_for_redis", cause)
	if now := time.Now().UnixNano(); now-w.refusedWarned.Load() >= int64(time.Minute) {
		w.refusedWarned.Store(now)
		w.log.Warn("redis refuses to commit: keeping the imap session, the mail stays in the inbox until redis takes writes again", "err", cause)
	} else {
		w.log.Debug("redis took a probe and refused the commit after it: still waiting", "err", cause)
	}
	start, checked := time.Now(), time.Now()
	for wait := minWait; ; wait = min(2*wait, maxWait) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed():
			return errors.New("imap connection closed while waiting for redis")
		case <-time.After(wait):
		}
		if time.Since(checked) >= w.cfg.CheckInterval {
			if err := s.noop(); err != nil {
				return err
			}
			checked = time.Now()
		}
		if prober == nil {
			break // the drain is the probe
		}
		pctx, cancel := context.WithTimeout(ctx, maxWait)
		err := prober.ProbeWrite(pctx)
		cancel()
		if err == nil {
			break
		}
	}
	w.log.Info("redis takes writes again: resuming", "waited", time.Since(start).Round(time.Millisecond))
	w.setState("connected", nil)
	// Refused again: the next move saves it.
	if err := w.saveCheckpoint(ctx); storeError(err) == nil {
		return err
	}
	return nil
}

// StoreProber is a store that can tell whether it takes writes
// (ticket.Store.ProbeWrite).
type StoreProber interface {
	ProbeWrite(ctx context.Context) error
}

// storeErr is Redis failing to take what ingest writes (a commit, the
// checkpoint) for a reason that passes (ticket.Unavailable).
type storeErr struct{ err error }

func (e *storeErr) Error() string { return e.err.Error() }
func (e *storeErr) Unwrap() error { return e.err }

// storeError returns the storeErr in err's chain, nil when there is none.
func storeError(err error) error {
	var se *storeErr
	if errors.As(err, &se) {
		return se
	}
	return nil
}

// asStoreError marks err as the store's when Redis is only unavailable. A
// mail not read (its connection broke) is the server's problem, not Redis's.
func asStoreError(err error) error {
	var nr *notReadError
	if err != nil && ticket.Unavailable(err) && storeError(err) == nil && !errors.As(err, &nr) {
		return &storeErr{err: err}
	}
	return err
}
