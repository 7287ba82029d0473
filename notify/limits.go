package notify

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/address"
)

// Rate is at most Max mails per Window.
type Rate struct {
	Window time.Duration
	Max    int
}

func (r Rate) String() string { return fmt.Sprintf("%d per %s", r.Max, r.Window) }

// Limits guards recipients, and the desk's reputation, against floods of
// automatic mail: a loop with an auto-responder that slipped past the
// classifier, a sender provoking notices, a mass outage. Counting is in
// sliding windows in Redis, so every replica sees the same counts.
type Limits struct {
	// PerRecipient: a recipient over any of these gets no more automatic
	// mail until the window has room; what is not sent is recorded as
	// skipped.
	PerRecipient []Rate
	// Desk caps all automatic mail of the desk; mail over it waits (it is
	// retried later), because here it is likely legitimate.
	Desk []Rate
}

type verdict struct {
	reason string // "" = send
	global bool   // the desk-wide cap, not the recipient's
}

//go:embed admit.lua
var admitSrc string

// admitScript counts a notification in the rate windows (admit.lua).
var admitScript = redis.NewScript(admitSrc)

// rateKey is the rate window of recipient to, by its canonical address:
// one window however the address is written ("Jan <Jan@Acme.example>",
// an international domain in either form), and the key erasure finds.
func (o *Outbox) rateKey(to string) string { return o.kp + "rate:" + address.Key(to) }

// admit decides whether n may be sent now, and counts it if so.
func (l Limits) admit(ctx context.Context, o *Outbox, n Notification, now time.Time) (verdict, error) {
	if len(l.PerRecipient) == 0 && len(l.Desk) == 0 {
		return verdict{}, nil
	}
	args := []any{now.UnixMilli(), n.ID, len(l.PerRecipient), len(l.Desk)}
	for _, r := range append(append([]Rate(nil), l.PerRecipient...), l.Desk...) {
		args = append(args, r.Window.Milliseconds(), r.Max)
	}
	keys := []string{o.rateKey(n.To), o.kp + "rate:desk"}
	res, err := admitScript.Run(ctx, o.rdb, keys, args...).Int64Slice()
	if err != nil {
		return verdict{}, fmt.Errorf("check rate limits for %s: %w", n.ID, err)
	}
	switch res[0] {
	case 1:
		return verdict{reason: l.PerRecipient[res[1]-1].String() + " to " + strings.ToLower(n.To)}, nil
	case 2:
		return verdict{reason: l.Desk[res[1]-1].String() + " for the desk", global: true}, nil
	}
	return verdict{}, nil
}
