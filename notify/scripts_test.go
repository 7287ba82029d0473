package notify

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/maildesk/maildesk/internal/scripttest"
	"github.com/redis/go-redis/v9"
)

// One table test per Lua script of the package, as ticket/scripts_test.go
// has for ticket's: replays (the same call twice), conflicts (another
// consumer's claim, an entry gone or delivered meanwhile) and the
// once-only rules, against a real redis-server. The scripts' main paths
// are tested with the functions that use them (outbox_test.go,
// admin_test.go); these call each script directly, with the keys its
// caller passes, and check its reply and what it left in Redis. Each step
// runs on the state the steps before it left.

// newID stands for a stream id a script made (XADD *) in a wanted reply.
const newID = "<new stream id>"

// reply runs s and returns its reply with every stream id it made replaced
// by newID; the ids are kept in *made when made is not nil.
func reply(ctx context.Context, rdb *redis.Client, s *redis.Script, keys []string, made *[]string, args ...any) func() (any, error) {
	return func() (any, error) {
		res, err := s.Run(ctx, rdb, keys, args...).Slice()
		if err != nil {
			return nil, err
		}
		for i, v := range res {
			if sv, ok := v.(string); ok && i > 0 && streamIDPattern.MatchString(sv) {
				if made != nil {
					*made = append(*made, sv)
				}
				res[i] = newID
			}
		}
		return res, nil
	}
}

// check turns a look at Redis into a step's run: it answers what it read.
func check[T any](cmd func() (T, error)) func() (any, error) {
	return func() (any, error) {
		v, err := cmd()
		if errors.Is(err, redis.Nil) {
			return "<nil>", nil
		}
		return v, err
	}
}

func TestClaimReleaseLua(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	claim := ob.sendingKey("SD-1/ack")
	release := func(consumer string) func() (any, error) {
		return func() (any, error) { return releaseScript.Run(ctx, rdb, []string{claim}, consumer).Int64() }
	}
	take := func(consumer string) func() (any, error) {
		return func() (any, error) { return rdb.SetNX(ctx, claim, consumer, time.Hour).Result() }
	}
	holder := check(func() (string, error) { return rdb.Get(ctx, claim).Result() })
	scripttest.Run(t, []scripttest.Step{
		{Name: "nothing claimed", Run: release("r1"), Want: int64(0)},
		{Name: "r1 claims", Run: take("r1"), Want: true},
		{Name: "r2 cannot release r1's claim", Run: release("r2"), Want: int64(0)},
		{Name: "r1 still holds it", Run: holder, Want: "r1"},
		{Name: "r1 releases", Run: release("r1"), Want: int64(1)},
		{Name: "its replay", Run: release("r1"), Want: int64(0)},
		{Name: "r2 claims after r1's claim is gone (expired)", Run: take("r2"), Want: true},
		{Name: "r1's late release leaves r2's claim", Run: release("r1"), Want: int64(0)},
		{Name: "r2 holds it", Run: holder, Want: "r2"},
	})
}

func TestClaimExtendLua(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	claim := ob.sendingKey("SD-1/ack")
	extend := func(consumer string) func() (any, error) {
		return func() (any, error) {
			return extendScript.Run(ctx, rdb, []string{claim}, consumer, time.Hour.Milliseconds()).Int64()
		}
	}
	// Whether the claim lives longer than the minute it was taken for: only
	// an extension makes it.
	extended := func() (any, error) {
		ttl, err := rdb.PTTL(ctx, claim).Result()
		return ttl > 30*time.Minute, err
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "nothing claimed", Run: extend("r1"), Want: int64(0)},
		{Name: "no claim made by it", Run: check(func() (int64, error) { return rdb.Exists(ctx, claim).Result() }), Want: int64(0)},
		{Name: "r1 claims for a minute", Run: func() (any, error) { return rdb.SetNX(ctx, claim, "r1", time.Minute).Result() }, Want: true},
		{Name: "r2 cannot extend r1's claim", Run: extend("r2"), Want: int64(0)},
		{Name: "still a minute", Run: extended, Want: false},
		{Name: "r1 extends", Run: extend("r1"), Want: int64(1)},
		{Name: "its replay", Run: extend("r1"), Want: int64(1)},
		{Name: "now an hour", Run: extended, Want: true},
		{Name: "r1 releases", Run: func() (any, error) { return releaseScript.Run(ctx, rdb, []string{claim}, "r1").Int64() }, Want: int64(1)},
		{Name: "a renewal after the release does not bring the claim back", Run: extend("r1"), Want: int64(0)},
		{Name: "the claim stays gone", Run: check(func() (int64, error) { return rdb.Exists(ctx, claim).Result() }), Want: int64(0)},
	})
}

func TestAdmitLua(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	// Two recipient rates (2 an hour, 3 a day) and one desk rate (4 an
	// hour), as Limits.admit passes them.
	rcpt := func(to string) string { return ob.kp + "rate:" + to }
	admit := func(to, id string, now time.Time) func() (any, error) {
		return func() (any, error) {
			return admitScript.Run(ctx, rdb, []string{rcpt(to), ob.kp + "rate:desk"},
				now.UnixMilli(), id, 2, 1,
				time.Hour.Milliseconds(), 2, (24 * time.Hour).Milliseconds(), 3,
				time.Hour.Milliseconds(), 4).Int64Slice()
		}
	}
	count := func(key string) func() (any, error) {
		return check(func() (int64, error) { return rdb.ZCard(ctx, key).Result() })
	}
	later := at.Add(time.Hour + time.Second)
	scripttest.Run(t, []scripttest.Step{
		{Name: "first to jan", Run: admit("jan@x", "SD-1/ack", at), Want: []int64{0, 0}},
		{Name: "its replay (a retry)", Run: admit("jan@x", "SD-1/ack", at.Add(time.Minute)), Want: []int64{0, 0}},
		{Name: "counted once for jan", Run: count(rcpt("jan@x")), Want: int64(1)},
		{Name: "counted once for the desk", Run: count(ob.kp + "rate:desk"), Want: int64(1)},
		{Name: "second to jan", Run: admit("jan@x", "SD-2/ack", at.Add(time.Minute)), Want: []int64{0, 0}},
		{Name: "third to jan: the hourly rate is full", Run: admit("jan@x", "SD-3/ack", at.Add(2*time.Minute)), Want: []int64{1, 1}},
		{Name: "not counted", Run: count(rcpt("jan@x")), Want: int64(2)},
		{Name: "a retry of one counted before is admitted over the full rate", Run: admit("jan@x", "SD-1/ack", at.Add(3*time.Minute)), Want: []int64{0, 0}},
		{Name: "to piet", Run: admit("piet@x", "SD-4/ack", at.Add(3*time.Minute)), Want: []int64{0, 0}},
		{Name: "to kees", Run: admit("kees@x", "SD-5/ack", at.Add(3*time.Minute)), Want: []int64{0, 0}},
		{Name: "the desk's rate is full", Run: admit("anna@x", "SD-6/ack", at.Add(4*time.Minute)), Want: []int64{2, 1}},
		{Name: "not counted for anna", Run: count(rcpt("anna@x")), Want: int64(0)},
		{Name: "an hour on, jan's third goes", Run: admit("jan@x", "SD-3/ack", later), Want: []int64{0, 0}},
		{Name: "jan's fourth: the daily rate is full", Run: admit("jan@x", "SD-7/ack", later.Add(time.Minute)), Want: []int64{1, 2}},
		{Name: "the desk window dropped the one older than an hour", Run: count(ob.kp + "rate:desk"), Want: int64(4)},
		{Name: "jan's day keeps all three", Run: count(rcpt("jan@x")), Want: int64(3)},
	})
}

// entryProbe runs entry.lua's functions on their own: entry_fields(KEYS[1],
// ARGV[1], ARGV[2]) when ARGV[3] is "", else checks(KEYS[2], KEYS[3],
// ARGV[3]).
var entryProbe = redis.NewScript(entrySrc + `
if ARGV[3] == '' then
  local f = entry_fields(KEYS[1], ARGV[1], ARGV[2])
  if not f then return {'gone'} end
  return f
end
local refused, lifted = checks(KEYS[2], KEYS[3], ARGV[3])
if refused then return refused end
return {'pass', lifted}
`)

func TestEntryLua(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	add := func(vals ...any) string {
		id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: ob.stream, Values: vals}).Result()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	good := add("id", "SD-1/ack", "to", "jan@x")
	bad := add("garbage", "1")
	sent, sup := ob.sentKey("SD-1/ack"), ob.suppressKey("jan@x")
	keys := []string{ob.stream, sent, sup}
	fields := func(id, nid string) func() (any, error) {
		return reply(ctx, rdb, entryProbe, keys, nil, id, nid, "")
	}
	checks := func(lift string) func() (any, error) { return reply(ctx, rdb, entryProbe, keys, nil, "", "", lift) }
	set := func(key, v string) func() (any, error) {
		return func() (any, error) { return rdb.Set(ctx, key, v, 0).Result() }
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "the entry by stream id and notification id", Run: fields(good, "SD-1/ack"), Want: []any{"id", "SD-1/ack", "to", "jan@x"}},
		{Name: "its replay", Run: fields(good, "SD-1/ack"), Want: []any{"id", "SD-1/ack", "to", "jan@x"}},
		{Name: "another notification under that stream id", Run: fields(good, "SD-2/ack"), Want: []any{"gone"}},
		{Name: "an unreadable entry, named without id", Run: fields(bad, ""), Want: []any{"garbage", "1"}},
		{Name: "a readable one named without id", Run: fields(good, ""), Want: []any{"gone"}},
		{Name: "an id never used", Run: fields("1-1", "SD-1/ack"), Want: []any{"gone"}},
		{Name: "nothing refuses", Run: checks("0"), Want: []any{"pass", int64(0)}},
		{Name: "recipient suppressed", Run: set(sup, "hard bounce"), Want: "OK"},
		{Name: "refused while suppressed", Run: checks("0"), Want: []any{"suppressed", "hard bounce"}},
		{Name: "an agent's reply leaves the suppression", Run: checks("-"), Want: []any{"pass", int64(0)}},
		{Name: "still suppressed", Run: checks("0"), Want: []any{"suppressed", "hard bounce"}},
		{Name: "lifted", Run: checks("1"), Want: []any{"pass", int64(1)}},
		{Name: "lifting again lifts nothing", Run: checks("1"), Want: []any{"pass", int64(0)}},
		{Name: "delivered", Run: set(sent, "2026-11-23T09:00:00Z"), Want: "OK"},
		{Name: "refused once delivered, whatever lift says", Run: checks("1"), Want: []any{"sent", "2026-11-23T09:00:00Z"}},
		{Name: "also for an agent's reply", Run: checks("-"), Want: []any{"sent", "2026-11-23T09:00:00Z"}},
	})
}

func TestRequeueLua(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	add := func(stream string, vals ...any) string {
		id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: vals}).Result()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	dead := add(ob.dead, "id", "SD-1/ack", "to", "jan@x", "reason", "550 no such user", "outbox_id", "1-0")
	skipped := add(ob.skipped, "id", "SD-2/ack", "to", "jan@x", "reason", "suppressed")
	unreadable := add(ob.dead, "junk", "x", "reason", "unreadable")
	sup := ob.suppressKey("jan@x")
	var made []string
	requeue := func(from, id, nid, lift string) func() (any, error) {
		return reply(ctx, rdb, requeueScript, []string{from, ob.stream, ob.sentKey(nid), sup}, &made, id, nid, lift)
	}
	set := func(key, v string) func() (any, error) {
		return func() (any, error) { return rdb.Set(ctx, key, v, 0).Result() }
	}
	length := func(stream string) func() (any, error) {
		return check(func() (int64, error) { return rdb.XLen(ctx, stream).Result() })
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "another notification under that stream id", Run: requeue(ob.dead, dead, "SD-9/ack", "0"), Want: []any{"gone"}},
		{Name: "delivered meanwhile", Run: set(ob.sentKey("SD-1/ack"), "2026-11-23T09:00:00Z"), Want: "OK"},
		{Name: "refused", Run: requeue(ob.dead, dead, "SD-1/ack", "1"), Want: []any{"sent", "2026-11-23T09:00:00Z"}},
		{Name: "the dead letter stays", Run: length(ob.dead), Want: int64(2)},
		{Name: "the record gone again", Run: func() (any, error) { return rdb.Del(ctx, ob.sentKey("SD-1/ack")).Result() }, Want: int64(1)},
		{Name: "recipient suppressed", Run: set(sup, "hard bounce"), Want: "OK"},
		{Name: "refused while suppressed", Run: requeue(ob.dead, dead, "SD-1/ack", "0"), Want: []any{"suppressed", "hard bounce"}},
		{Name: "requeued, lifting the suppression", Run: requeue(ob.dead, dead, "SD-1/ack", "1"), Want: []any{"ok", newID, int64(1)}},
		{Name: "its replay queues no second copy", Run: requeue(ob.dead, dead, "SD-1/ack", "1"), Want: []any{"gone"}},
		{Name: "one entry in the outbox", Run: length(ob.stream), Want: int64(1)},
		{Name: "its fields without the record's own", Run: func() (any, error) {
			m, err := rdb.XRange(ctx, ob.stream, made[0], made[0]).Result()
			if err != nil || len(m) != 1 {
				return m, err
			}
			return m[0].Values, nil
		}, Want: map[string]any{"id": "SD-1/ack", "to": "jan@x"}},
		{Name: "suppressed again", Run: set(sup, "complaint"), Want: "OK"},
		{Name: "an agent's reply is requeued and leaves the suppression", Run: requeue(ob.skipped, skipped, "SD-2/ack", "-"), Want: []any{"ok", newID, int64(0)}},
		{Name: "still suppressed", Run: check(func() (string, error) { return rdb.Get(ctx, sup).Result() }), Want: "complaint"},
		{Name: "the skipped stream is empty", Run: length(ob.skipped), Want: int64(0)},
		{Name: "an unreadable dead letter, named without id", Run: requeue(ob.dead, unreadable, "", "-"), Want: []any{"ok", newID, int64(0)}},
		{Name: "three in the outbox", Run: length(ob.stream), Want: int64(3)},
		{Name: "none dead", Run: length(ob.dead), Want: int64(0)},
	})
}

func TestRetryPendingLua(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	add := func(o *Outbox, vals ...any) string {
		id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: o.stream, Values: vals}).Result()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// An outbox no sender ever ran on has no consumer group yet.
	fresh := NewOutbox(rdb, "fresh")
	first := add(fresh, "id", "SD-1/ack", "to", "jan@x")
	id := add(ob, "id", "SD-1/ack", "to", "jan@x")
	sup := ob.suppressKey("jan@x")
	retry := func(o *Outbox, id, nid, lift string) func() (any, error) {
		return reply(ctx, rdb, retryPendingScript, []string{o.stream, o.sentKey(nid), o.suppressKey("jan@x"), o.uncertain, o.errors}, nil,
			id, nid, lift, o.group, retryNowIdle.Milliseconds())
	}
	set := func(key, v string) func() (any, error) {
		return func() (any, error) { return rdb.Set(ctx, key, v, 0).Result() }
	}
	// pending is the entry's sender, delivery count and whether it is due
	// (idle longer than any backoff).
	pending := func() (any, error) {
		p, err := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: ob.stream, Group: ob.group, Start: id, End: id, Count: 1}).Result()
		if err != nil || len(p) != 1 {
			return p, err
		}
		return []any{p[0].Consumer, p[0].RetryCount, p[0].Idle > retryNowIdle/2}, nil
	}
	uncertainty := func() (any, error) {
		v, err := rdb.HGet(ctx, ob.uncertain, id).Result()
		if err != nil {
			return nil, err
		}
		var m map[string]any
		err = json.Unmarshal([]byte(v), &m)
		return m, err
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "no group yet: new, due anyway", Run: retry(fresh, first, "SD-1/ack", "0"), Want: []any{"new", int64(0)}},
		{Name: "not read by a sender yet", Run: retry(ob, id, "SD-1/ack", "0"), Want: []any{"new", int64(0)}},
		{Name: "r1 reads it", Run: func() (any, error) {
			s, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: ob.group, Consumer: "r1", Streams: []string{ob.stream, ">"}, Count: 1}).Result()
			return len(s), err
		}, Want: 1},
		{Name: "pending with r1, not due", Run: pending, Want: []any{"r1", int64(1), false}},
		{Name: "made due", Run: retry(ob, id, "SD-1/ack", "0"), Want: []any{"due", int64(0), "r1", int64(1), int64(0)}},
		{Name: "due, its delivery count left alone", Run: pending, Want: []any{"r1", int64(1), true}},
		{Name: "its replay", Run: retry(ob, id, "SD-1/ack", "0"), Want: []any{"due", int64(0), "r1", int64(1), int64(0)}},
		{Name: "still one delivery", Run: pending, Want: []any{"r1", int64(1), true}},
		{Name: "its delivery uncertain", Run: func() (any, error) {
			return rdb.HSet(ctx, ob.uncertain, id, `{"at":"2026-11-23T09:00:00Z","reason":"no answer to DATA","resent":true}`).Result()
		}, Want: int64(1)},
		{Name: "made due, to be sent again", Run: retry(ob, id, "SD-1/ack", "0"), Want: []any{"due", int64(0), "r1", int64(1), int64(1)}},
		{Name: "marked retry, the rest kept", Run: uncertainty,
			Want: map[string]any{"at": "2026-11-23T09:00:00Z", "reason": "no answer to DATA", "resent": true, "retry": true}},
		{Name: "its replay", Run: retry(ob, id, "SD-1/ack", "0"), Want: []any{"due", int64(0), "r1", int64(1), int64(1)}},
		{Name: "still one record", Run: uncertainty,
			Want: map[string]any{"at": "2026-11-23T09:00:00Z", "reason": "no answer to DATA", "resent": true, "retry": true}},
		{Name: "an unreadable uncertainty", Run: func() (any, error) { return rdb.HSet(ctx, ob.uncertain, id, "timeout").Result() }, Want: int64(0)},
		{Name: "made due all the same", Run: retry(ob, id, "SD-1/ack", "0"), Want: []any{"due", int64(0), "r1", int64(1), int64(1)}},
		{Name: "kept as the reason", Run: uncertainty, Want: map[string]any{"reason": "unreadable record: timeout", "retry": true}},
		{Name: "unreadable again, its failure note kept", Run: func() (any, error) {
			if err := rdb.HSet(ctx, ob.uncertain, id, "timeout").Err(); err != nil {
				return nil, err
			}
			return rdb.HSet(ctx, ob.errors, id, failureNote(1, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), uncertainNote+"timeout")).Result()
		}, Want: int64(1)},
		{Name: "made due with its note", Run: retry(ob, id, "SD-1/ack", "0"), Want: []any{"due", int64(0), "r1", int64(1), int64(1)}},
		{Name: "the moment taken from the note", Run: uncertainty,
			Want: map[string]any{"at": "2026-11-23T09:00:00Z", "reason": "unreadable record: timeout", "retry": true}},
		{Name: "recipient suppressed", Run: set(sup, "hard bounce"), Want: "OK"},
		{Name: "refused while suppressed", Run: retry(ob, id, "SD-1/ack", "0"), Want: []any{"suppressed", "hard bounce"}},
		{Name: "lifted", Run: retry(ob, id, "SD-1/ack", "1"), Want: []any{"due", int64(1), "r1", int64(1), int64(1)}},
		{Name: "r2 claims it from r1 (retryDue)", Run: func() (any, error) {
			ids, err := rdb.XClaimJustID(ctx, &redis.XClaimArgs{Stream: ob.stream, Group: ob.group, Consumer: "r2", Messages: []string{id}}).Result()
			return len(ids), err
		}, Want: 1},
		{Name: "made due where it is, with r2", Run: retry(ob, id, "SD-1/ack", "0"), Want: []any{"due", int64(0), "r2", int64(1), int64(1)}},
		{Name: "r2 holds it, due", Run: pending, Want: []any{"r2", int64(1), true}},
		{Name: "delivered meanwhile", Run: set(ob.sentKey("SD-1/ack"), "2026-11-23T09:00:00Z"), Want: "OK"},
		{Name: "refused once delivered", Run: retry(ob, id, "SD-1/ack", "1"), Want: []any{"sent", "2026-11-23T09:00:00Z"}},
		{Name: "another notification under that stream id", Run: retry(ob, id, "SD-9/ack", "0"), Want: []any{"gone"}},
		{Name: "dropped meanwhile", Run: func() (any, error) { return rdb.XDel(ctx, ob.stream, id).Result() }, Want: int64(1)},
		{Name: "gone", Run: retry(ob, id, "SD-1/ack", "0"), Want: []any{"gone"}},
	})
}

func TestDropPendingLua(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	// The entry was tried: r1 holds it, its failure and an uncertainty are
	// recorded, and it carries a stale reason field a dead letter must not
	// repeat.
	id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: ob.stream, Values: []any{"id", "SD-1/ack", "to", "jan@x", "reason", "stale"}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: ob.group, Consumer: "r1", Streams: []string{ob.stream, ">"}, Count: 1}).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.HSet(ctx, ob.errors, id, "421 try later")
	rdb.HSet(ctx, ob.uncertain, id, `{"reason":"no answer"}`)
	claim := ob.sendingKey("SD-1/ack")
	var made []string
	drop := func(nid string) func() (any, error) {
		return reply(ctx, rdb, dropPendingScript, []string{ob.stream, ob.dead, claim, ob.errors, ob.uncertain}, &made,
			id, nid, "dropped by operator: wrong address", ob.group)
	}
	length := func(stream string) func() (any, error) {
		return check(func() (int64, error) { return rdb.XLen(ctx, stream).Result() })
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "r2 is sending it", Run: func() (any, error) { return rdb.SetNX(ctx, claim, "r2", time.Hour).Result() }, Want: true},
		{Name: "refused while being sent", Run: drop("SD-1/ack"), Want: []any{"busy", "r2"}},
		{Name: "the entry stays", Run: length(ob.stream), Want: int64(1)},
		{Name: "r2's send is over", Run: func() (any, error) { return rdb.Del(ctx, claim).Result() }, Want: int64(1)},
		{Name: "another notification under that stream id", Run: drop("SD-9/ack"), Want: []any{"gone"}},
		{Name: "dropped", Run: drop("SD-1/ack"), Want: []any{"ok", newID}},
		{Name: "its replay keeps no second dead letter", Run: drop("SD-1/ack"), Want: []any{"gone"}},
		{Name: "one dead letter", Run: length(ob.dead), Want: int64(1)},
		{Name: "with the fields, the operator's reason and where it was", Run: func() (any, error) {
			m, err := rdb.XRange(ctx, ob.dead, made[0], made[0]).Result()
			if err != nil || len(m) != 1 {
				return m, err
			}
			return m[0].Values, nil
		}, Want: map[string]any{"id": "SD-1/ack", "to": "jan@x", "reason": "dropped by operator: wrong address", "outbox_id": id}},
		{Name: "gone from the outbox", Run: length(ob.stream), Want: int64(0)},
		{Name: "acknowledged", Run: func() (any, error) {
			p, err := rdb.XPending(ctx, ob.stream, ob.group).Result()
			if err != nil {
				return nil, err
			}
			return p.Count, nil
		}, Want: int64(0)},
		{Name: "its failure forgotten", Run: check(func() (int64, error) { return rdb.HLen(ctx, ob.errors).Result() }), Want: int64(0)},
		{Name: "its uncertainty forgotten", Run: check(func() (int64, error) { return rdb.HLen(ctx, ob.uncertain).Result() }), Want: int64(0)},
	})
}

// The scripts never tell Redis's errors apart by their text: a reply's code
// is read in one place (internal/rediserr), and a script asks Redis what
// it needs to know (XINFO GROUPS) instead of catching an error to read it.
func TestScriptsReadNoErrorText(t *testing.T) {
	files, err := filepath.Glob("*.lua")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts found: %v", err)
	}
	caught := regexp.MustCompile(`redis\.pcall\(|\.err\b`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if loc := caught.FindIndex(b); loc != nil {
			t.Errorf("%s reads a Redis error reply (%q): ask Redis instead, or let the error reach Go (rediserr)", f, b[loc[0]:loc[1]])
		}
	}
}
