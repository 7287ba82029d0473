package notify

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed claim_release.lua
var claimReleaseSrc string

//go:embed claim_extend.lua
var claimExtendSrc string

// releaseScript deletes a claim only if it still holds this consumer's
// name; extendScript renews it on the same condition.
var (
	releaseScript = redis.NewScript(claimReleaseSrc)
	extendScript  = redis.NewScript(claimExtendSrc)
)

// claim takes the claim on the notification for the time of its send, and
// decides under it what may have changed since the entry was read: it was
// sent meanwhile, or its delivery is uncertain and not to be sent again
// yet.
//
// The group gives an entry to one replica, but a replica whose sends are
// slow can have an entry claimed away (retryDue) while it still sends it:
// a claim per notification keeps the second one from sending too.
func (d *Delivery) claim(ctx context.Context, o *outgoing) (bool, error) {
	claim := d.Outbox.sendingKey(o.n.ID)
	held := claim + " " + d.Consumer
	if _, busy := heldClaims.LoadOrStore(held, struct{}{}); busy {
		o.log.Info("notification being sent by this replica already, leaving it")
		return true, nil
	}
	// Forgotten last: the claim in Redis is released first.
	o.release = append(o.release, func() { heldClaims.Delete(held) })
	got, err := d.Outbox.rdb.SetNX(ctx, claim, d.Consumer, d.claimTTL()).Result()
	if err != nil {
		return true, fmt.Errorf("claim notification %s: %w", o.n.ID, err)
	}
	if !got {
		// A claim under this replica's name that this process does not
		// hold is no send in progress: a backup of Redis restored with it
		// (it would hold the mail back for claimTTL), or a process of the
		// same name that died. It is this one's now.
		holder, err := d.Outbox.rdb.Get(ctx, claim).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return true, fmt.Errorf("read the claim of notification %s: %w", o.n.ID, err)
		}
		if holder != d.Consumer {
			o.log.Info("notification being sent by another replica, leaving it")
			return true, nil
		}
		if err := d.Outbox.rdb.Set(ctx, claim, d.Consumer, d.claimTTL()).Err(); err != nil {
			return true, fmt.Errorf("claim notification %s: %w", o.n.ID, err)
		}
		o.log.Info("notification's claim under this replica's name was left from before (a restored Redis, or a restart); taking it")
	}
	// Released only while still ours: an expired claim may be another's.
	o.release = append(o.release, func() { releaseScript.Run(context.WithoutCancel(ctx), d.Outbox.rdb, []string{claim}, d.Consumer) })
	// Kept while the send lasts, which may be smtp.data_timeout (minutes):
	// the claim's own lifetime is short, so that a dead replica's claim
	// holds its notification back only briefly.
	o.release = append(o.release, d.keepClaim(ctx, claim))
	// Again under the claim: the other sender may have finished between
	// the first check and the claim.
	if done, err := d.alreadySent(ctx, o); done || err != nil {
		return true, err
	}
	// Whether to send an uncertain one again is decided here, under the
	// claim, on what Redis holds now: another replica may have just sent
	// it again (and used up the automatic resend). Only an entry tried
	// before (attempt > 1, claimed from the pending ones) can be uncertain,
	// or one of a notification whose uncertainty a repair restored.
	if o.attempt > 1 || o.restored {
		if o.unc, o.uncertain, err = d.Outbox.uncertaintyOf(ctx, o.m.ID, o.n.ID, o.attempt, d.Now()); err != nil {
			return true, err
		}
	}
	if o.uncertain && o.unc.Untraced {
		// Its trace could not be kept when the delivery became uncertain
		// (the mailbox away): without it a repair after Redis lost writes
		// would send it again blindly. Still waiting after this, unless
		// its resend is due.
		if d.Uncertain == nil || d.Uncertain(ctx, o.n, o.unc.At) == nil {
			if err := uncertainTracedScript.Run(ctx, d.Outbox.rdb, []string{d.Outbox.uncertain}, o.m.ID).Err(); err != nil {
				return true, fmt.Errorf("record the trace of uncertain delivery %s: %w", o.n.ID, err)
			}
			o.unc.Untraced = false
		}
	}
	if o.uncertain && !d.resendDue(o.unc, d.Now()) {
		o.log.Info("notification's delivery is uncertain; waiting for an operator or the automatic resend")
		return true, nil
	}
	return false, nil
}

// heldClaims are the claims this process holds, as "claim consumer":
// one in Redis under a consumer name of this process that is not among
// them was not taken by this process (claim).
var heldClaims sync.Map

// keepClaim renews claim every third of its lifetime until the returned
// stop is called. A renewal that fails (Redis away) is retried at the next
// tick; should the claim expire meanwhile, another replica may send the
// notification too, as with any claim.
func (d *Delivery) keepClaim(ctx context.Context, claim string) (stop func()) {
	ttl := d.claimTTL()
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := extendScript.Run(ctx, d.Outbox.rdb, []string{claim}, d.Consumer, ttl.Milliseconds()).Err(); err != nil {
					d.Log.Warn("could not renew the claim of a notification being sent", "claim", claim, "err", err)
				}
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// claimTTL is how long a claim lasts without renewal (keepClaim): long
// enough that Redis blips do not let it expire under a live sender.
func (d *Delivery) claimTTL() time.Duration {
	if d.SendTimeout > 0 {
		return 2*d.SendTimeout + time.Minute
	}
	return 5 * time.Minute
}
