package notify

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/ticket"
)

// recordSent runs record, the record that a notification the relay just
// accepted was sent, until it succeeds or Redis refuses it for a reason
// that does not pass. A full Redis (maxmemory, noeviction) refuses it for
// as long as it is full; giving up then would send the mail again once
// Redis takes writes. The claim on the notification stands meanwhile (it
// lasts claimTTL), so no other sender takes it; after half of that the
// record is given up as before.
func (d *Delivery) recordSent(ctx context.Context, log *slog.Logger, record func() error) error {
	const minWait, maxWait = 100 * time.Millisecond, 2 * time.Second
	give := time.Now().Add(d.claimTTL() / 2)
	warned := false
	for wait := minWait; ; wait = min(2*wait, maxWait) {
		err := record()
		if err == nil || !ticket.Unavailable(err) || time.Now().After(give) {
			return err
		}
		if !warned {
			log.Warn("notification delivered, but Redis does not take the record of it yet; retrying, not sending again", "err", err)
			warned = true
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// txError is the error of a MULTI/EXEC: Redis answers a transaction with a
// refused command with EXECABORT, the reason being that command's error.
func txError(cmds []redis.Cmder, err error) error {
	if err == nil {
		return nil
	}
	for _, c := range cmds {
		if cerr := c.Err(); cerr != nil && cerr != err {
			return fmt.Errorf("%w (%v)", cerr, err)
		}
	}
	return err
}
