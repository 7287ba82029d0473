package notify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
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

// admitScript counts the notification in each sliding window and admits it
// only if every window has room; a notification counted before (a retry)
// is admitted again without counting twice. KEYS: recipient zset, desk
// zset. ARGV: now (ms), member, #recipient rates, #desk rates, then
// window (ms) and max per rate.
var admitScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local member = ARGV[2]
local nr, nd = tonumber(ARGV[3]), tonumber(ARGV[4])
local function check(key, first, n)
  if n == 0 or redis.call('ZSCORE', key, member) then return 0, 0 end
  local longest = 0
  for i = 0, n - 1 do
    local w = tonumber(ARGV[first + 2*i])
    local max = tonumber(ARGV[first + 2*i + 1])
    if w > longest then longest = w end
    if redis.call('ZCOUNT', key, '(' .. (now - w), '+inf') >= max then return i + 1, 0 end
  end
  return 0, longest
end
local r, rl = check(KEYS[1], 5, nr)
if r > 0 then return {1, r} end
local d, dl = check(KEYS[2], 5 + 2*nr, nd)
if d > 0 then return {2, d} end
for _, kl in ipairs({{KEYS[1], rl}, {KEYS[2], dl}}) do
  if kl[2] > 0 then
    redis.call('ZREMRANGEBYSCORE', kl[1], '-inf', now - kl[2])
    redis.call('ZADD', kl[1], now, member)
    redis.call('PEXPIRE', kl[1], kl[2])
  end
end
return {0, 0}
`)

// admit decides whether n may be sent now, and counts it if so.
func (l Limits) admit(ctx context.Context, o *Outbox, n Notification, now time.Time) (verdict, error) {
	if len(l.PerRecipient) == 0 && len(l.Desk) == 0 {
		return verdict{}, nil
	}
	args := []any{now.UnixMilli(), n.ID, len(l.PerRecipient), len(l.Desk)}
	for _, r := range append(append([]Rate(nil), l.PerRecipient...), l.Desk...) {
		args = append(args, r.Window.Milliseconds(), r.Max)
	}
	keys := []string{o.kp + "rate:" + strings.ToLower(n.To), o.kp + "rate:desk"}
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
