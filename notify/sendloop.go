package notify

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/maildesk/maildesk/internal/rediserr"
)

// SecretHolder is told the desk's Message-ID secret (Mailer.SetSecret).
type SecretHolder interface {
	SetSecret(secret []byte)
}

// SendLoopConfig configures a SendLoop.
type SendLoopConfig struct {
	Delivery *Delivery
	Outbox   *Outbox
	// Secret is given the desk's Message-ID secret once the outbox's
	// consumer group exists, before the first drain.
	Secret SecretHolder
	// Hold, when set and true at a drain's time, skips that drain (the
	// mailbox journal's check of Redis, ingest.Journal.HoldsOutbox).
	Hold func(now time.Time) bool
	// Drained, when set, is told what each drain did (metrics).
	Drained func(Stats)
	Log     *slog.Logger
	// Every is how often the outbox is drained without a Kick; 0 is 1 s.
	Every time.Duration
}

// SendLoop drains the outbox every second and whenever Kick asks, so that
// an acknowledgement follows its ticket's commit at once. One loop per
// replica: a drain is never run twice at the same time here, and the
// consumer group shares the entries between replicas (no once-per-tick
// claim needed).
type SendLoop struct {
	cfg   SendLoopConfig
	kick  chan struct{}
	ready atomic.Bool // the consumer group exists and the secret is set
}

// NewSendLoop returns the send loop of cfg; Run runs it.
func NewSendLoop(cfg SendLoopConfig) *SendLoop {
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &SendLoop{cfg: cfg, kick: make(chan struct{}, 1)}
}

// Kick asks for a drain now: a mail was just queued.
func (l *SendLoop) Kick() {
	select {
	case l.kick <- struct{}{}:
	default: // a drain is already asked for
	}
}

// Run drains until ctx ends.
func (l *SendLoop) Run(ctx context.Context) {
	t := time.NewTicker(l.cfg.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.kick:
		}
		if err := l.Send(ctx); err != nil && ctx.Err() == nil {
			l.cfg.Log.Warn("sending the outbox failed", "err", err)
		}
	}
}

// Send drains the outbox once: acknowledgements, notices, replies and
// alerts. The consumer group is created (again, after Redis lost it) and
// the secret set first.
func (l *SendLoop) Send(ctx context.Context) error {
	if l.cfg.Hold != nil && l.cfg.Hold(time.Now()) {
		return nil
	}
	if !l.ready.Load() {
		if err := l.cfg.Outbox.Init(ctx); err != nil {
			return err
		}
		// Only this loop sends, so the secret is set before any Send and
		// never changes under one.
		secret, err := l.cfg.Outbox.Secret(ctx)
		if err != nil {
			return err
		}
		l.cfg.Secret.SetSecret(secret)
		l.ready.Store(true)
	}
	st, err := l.cfg.Delivery.Drain(ctx)
	if l.cfg.Drained != nil {
		l.cfg.Drained(st)
	}
	if err != nil && rediserr.Is(err, rediserr.NoGroup) {
		// Redis lost its data (restart without persistence): recreate.
		l.ready.Store(false)
	}
	return err
}
