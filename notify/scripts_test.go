package notify

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
	"time"

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

// step is one call of a script and what it must answer: got is compared
// with want (reflect.DeepEqual), err with the error's whole text ("" for
// none).
type step struct {
	name string
	run  func() (any, error)
	want any
	err  string
}

func runSteps(t *testing.T, steps []step) {
	t.Helper()
	for i, st := range steps {
		got, err := st.run()
		switch {
		case st.err == "" && err != nil:
			t.Fatalf("step %d (%s): %v", i, st.name, err)
		case st.err != "" && (err == nil || err.Error() != st.err):
			t.Fatalf("step %d (%s): error %v, want %q", i, st.name, err, st.err)
		case st.err == "" && !reflect.DeepEqual(got, st.want):
			t.Fatalf("step %d (%s): got %#v, want %#v", i, st.name, got, st.want)
		}
	}
}

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
	runSteps(t, []step{
		{name: "nothing claimed", run: release("r1"), want: int64(0)},
		{name: "r1 claims", run: take("r1"), want: true},
		{name: "r2 cannot release r1's claim", run: release("r2"), want: int64(0)},
		{name: "r1 still holds it", run: holder, want: "r1"},
		{name: "r1 releases", run: release("r1"), want: int64(1)},
		{name: "its replay", run: release("r1"), want: int64(0)},
		{name: "r2 claims after r1's claim is gone (expired)", run: take("r2"), want: true},
		{name: "r1's late release leaves r2's claim", run: release("r1"), want: int64(0)},
		{name: "r2 holds it", run: holder, want: "r2"},
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
	runSteps(t, []step{
		{name: "nothing claimed", run: extend("r1"), want: int64(0)},
		{name: "no claim made by it", run: check(func() (int64, error) { return rdb.Exists(ctx, claim).Result() }), want: int64(0)},
		{name: "r1 claims for a minute", run: func() (any, error) { return rdb.SetNX(ctx, claim, "r1", time.Minute).Result() }, want: true},
		{name: "r2 cannot extend r1's claim", run: extend("r2"), want: int64(0)},
		{name: "still a minute", run: extended, want: false},
		{name: "r1 extends", run: extend("r1"), want: int64(1)},
		{name: "its replay", run: extend("r1"), want: int64(1)},
		{name: "now an hour", run: extended, want: true},
		{name: "r1 releases", run: func() (any, error) { return releaseScript.Run(ctx, rdb, []string{claim}, "r1").Int64() }, want: int64(1)},
		{name: "a renewal after the release does not bring the claim back", run: extend("r1"), want: int64(0)},
		{name: "the claim stays gone", run: check(func() (int64, error) { return rdb.Exists(ctx, claim).Result() }), want: int64(0)},
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
	runSteps(t, []step{
		{name: "first to jan", run: admit("jan@x", "SD-1/ack", at), want: []int64{0, 0}},
		{name: "its replay (a retry)", run: admit("jan@x", "SD-1/ack", at.Add(time.Minute)), want: []int64{0, 0}},
		{name: "counted once for jan", run: count(rcpt("jan@x")), want: int64(1)},
		{name: "counted once for the desk", run: count(ob.kp + "rate:desk"), want: int64(1)},
		{name: "second to jan", run: admit("jan@x", "SD-2/ack", at.Add(time.Minute)), want: []int64{0, 0}},
		{name: "third to jan: the hourly rate is full", run: admit("jan@x", "SD-3/ack", at.Add(2*time.Minute)), want: []int64{1, 1}},
		{name: "not counted", run: count(rcpt("jan@x")), want: int64(2)},
		{name: "a retry of one counted before is admitted over the full rate", run: admit("jan@x", "SD-1/ack", at.Add(3*time.Minute)), want: []int64{0, 0}},
		{name: "to piet", run: admit("piet@x", "SD-4/ack", at.Add(3*time.Minute)), want: []int64{0, 0}},
		{name: "to kees", run: admit("kees@x", "SD-5/ack", at.Add(3*time.Minute)), want: []int64{0, 0}},
		{name: "the desk's rate is full", run: admit("anna@x", "SD-6/ack", at.Add(4*time.Minute)), want: []int64{2, 1}},
		{name: "not counted for anna", run: count(rcpt("anna@x")), want: int64(0)},
		{name: "an hour on, jan's third goes", run: admit("jan@x", "SD-3/ack", later), want: []int64{0, 0}},
		{name: "jan's fourth: the daily rate is full", run: admit("jan@x", "SD-7/ack", later.Add(time.Minute)), want: []int64{1, 2}},
		{name: "the desk window dropped the one older than an hour", run: count(ob.kp + "rate:desk"), want: int64(4)},
		{name: "jan's day keeps all three", run: count(rcpt("jan@x")), want: int64(3)},
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
	runSteps(t, []step{
		{name: "the entry by stream id and notification id", run: fields(good, "SD-1/ack"), want: []any{"id", "SD-1/ack", "to", "jan@x"}},
		{name: "its replay", run: fields(good, "SD-1/ack"), want: []any{"id", "SD-1/ack", "to", "jan@x"}},
		{name: "another notification under that stream id", run: fields(good, "SD-2/ack"), want: []any{"gone"}},
		{name: "an unreadable entry, named without id", run: fields(bad, ""), want: []any{"garbage", "1"}},
		{name: "a readable one named without id", run: fields(good, ""), want: []any{"gone"}},
		{name: "an id never used", run: fields("1-1", "SD-1/ack"), want: []any{"gone"}},
		{name: "nothing refuses", run: checks("0"), want: []any{"pass", int64(0)}},
		{name: "recipient suppressed", run: set(sup, "hard bounce"), want: "OK"},
		{name: "refused while suppressed", run: checks("0"), want: []any{"suppressed", "hard bounce"}},
		{name: "an agent's reply leaves the suppression", run: checks("-"), want: []any{"pass", int64(0)}},
		{name: "still suppressed", run: checks("0"), want: []any{"suppressed", "hard bounce"}},
		{name: "lifted", run: checks("1"), want: []any{"pass", int64(1)}},
		{name: "lifting again lifts nothing", run: checks("1"), want: []any{"pass", int64(0)}},
		{name: "delivered", run: set(sent, "2026-11-23T09:00:00Z"), want: "OK"},
		{name: "refused once delivered, whatever lift says", run: checks("1"), want: []any{"sent", "2026-11-23T09:00:00Z"}},
		{name: "also for an agent's reply", run: checks("-"), want: []any{"sent", "2026-11-23T09:00:00Z"}},
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
	runSteps(t, []step{
		{name: "another notification under that stream id", run: requeue(ob.dead, dead, "SD-9/ack", "0"), want: []any{"gone"}},
		{name: "delivered meanwhile", run: set(ob.sentKey("SD-1/ack"), "2026-11-23T09:00:00Z"), want: "OK"},
		{name: "refused", run: requeue(ob.dead, dead, "SD-1/ack", "1"), want: []any{"sent", "2026-11-23T09:00:00Z"}},
		{name: "the dead letter stays", run: length(ob.dead), want: int64(2)},
		{name: "the record gone again", run: func() (any, error) { return rdb.Del(ctx, ob.sentKey("SD-1/ack")).Result() }, want: int64(1)},
		{name: "recipient suppressed", run: set(sup, "hard bounce"), want: "OK"},
		{name: "refused while suppressed", run: requeue(ob.dead, dead, "SD-1/ack", "0"), want: []any{"suppressed", "hard bounce"}},
		{name: "requeued, lifting the suppression", run: requeue(ob.dead, dead, "SD-1/ack", "1"), want: []any{"ok", newID, int64(1)}},
		{name: "its replay queues no second copy", run: requeue(ob.dead, dead, "SD-1/ack", "1"), want: []any{"gone"}},
		{name: "one entry in the outbox", run: length(ob.stream), want: int64(1)},
		{name: "its fields without the record's own", run: func() (any, error) {
			m, err := rdb.XRange(ctx, ob.stream, made[0], made[0]).Result()
			if err != nil || len(m) != 1 {
				return m, err
			}
			return m[0].Values, nil
		}, want: map[string]any{"id": "SD-1/ack", "to": "jan@x"}},
		{name: "suppressed again", run: set(sup, "complaint"), want: "OK"},
		{name: "an agent's reply is requeued and leaves the suppression", run: requeue(ob.skipped, skipped, "SD-2/ack", "-"), want: []any{"ok", newID, int64(0)}},
		{name: "still suppressed", run: check(func() (string, error) { return rdb.Get(ctx, sup).Result() }), want: "complaint"},
		{name: "the skipped stream is empty", run: length(ob.skipped), want: int64(0)},
		{name: "an unreadable dead letter, named without id", run: requeue(ob.dead, unreadable, "", "-"), want: []any{"ok", newID, int64(0)}},
		{name: "three in the outbox", run: length(ob.stream), want: int64(3)},
		{name: "none dead", run: length(ob.dead), want: int64(0)},
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
	runSteps(t, []step{
		{name: "no group yet: new, due anyway", run: retry(fresh, first, "SD-1/ack", "0"), want: []any{"new", int64(0)}},
		{name: "not read by a sender yet", run: retry(ob, id, "SD-1/ack", "0"), want: []any{"new", int64(0)}},
		{name: "r1 reads it", run: func() (any, error) {
			s, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: ob.group, Consumer: "r1", Streams: []string{ob.stream, ">"}, Count: 1}).Result()
			return len(s), err
		}, want: 1},
		{name: "pending with r1, not due", run: pending, want: []any{"r1", int64(1), false}},
		{name: "made due", run: retry(ob, id, "SD-1/ack", "0"), want: []any{"due", int64(0), "r1", int64(1), int64(0)}},
		{name: "due, its delivery count left alone", run: pending, want: []any{"r1", int64(1), true}},
		{name: "its replay", run: retry(ob, id, "SD-1/ack", "0"), want: []any{"due", int64(0), "r1", int64(1), int64(0)}},
		{name: "still one delivery", run: pending, want: []any{"r1", int64(1), true}},
		{name: "its delivery uncertain", run: func() (any, error) {
			return rdb.HSet(ctx, ob.uncertain, id, `{"at":"2026-11-23T09:00:00Z","reason":"no answer to DATA","resent":true}`).Result()
		}, want: int64(1)},
		{name: "made due, to be sent again", run: retry(ob, id, "SD-1/ack", "0"), want: []any{"due", int64(0), "r1", int64(1), int64(1)}},
		{name: "marked retry, the rest kept", run: uncertainty,
			want: map[string]any{"at": "2026-11-23T09:00:00Z", "reason": "no answer to DATA", "resent": true, "retry": true}},
		{name: "its replay", run: retry(ob, id, "SD-1/ack", "0"), want: []any{"due", int64(0), "r1", int64(1), int64(1)}},
		{name: "still one record", run: uncertainty,
			want: map[string]any{"at": "2026-11-23T09:00:00Z", "reason": "no answer to DATA", "resent": true, "retry": true}},
		{name: "an unreadable uncertainty", run: func() (any, error) { return rdb.HSet(ctx, ob.uncertain, id, "timeout").Result() }, want: int64(0)},
		{name: "made due all the same", run: retry(ob, id, "SD-1/ack", "0"), want: []any{"due", int64(0), "r1", int64(1), int64(1)}},
		{name: "kept as the reason", run: uncertainty, want: map[string]any{"reason": "unreadable record: timeout", "retry": true}},
		{name: "unreadable again, its failure note kept", run: func() (any, error) {
			if err := rdb.HSet(ctx, ob.uncertain, id, "timeout").Err(); err != nil {
				return nil, err
			}
			return rdb.HSet(ctx, ob.errors, id, failureNote(1, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), uncertainNote+"timeout")).Result()
		}, want: int64(1)},
		{name: "made due with its note", run: retry(ob, id, "SD-1/ack", "0"), want: []any{"due", int64(0), "r1", int64(1), int64(1)}},
		{name: "the moment taken from the note", run: uncertainty,
			want: map[string]any{"at": "2026-11-23T09:00:00Z", "reason": "unreadable record: timeout", "retry": true}},
		{name: "recipient suppressed", run: set(sup, "hard bounce"), want: "OK"},
		{name: "refused while suppressed", run: retry(ob, id, "SD-1/ack", "0"), want: []any{"suppressed", "hard bounce"}},
		{name: "lifted", run: retry(ob, id, "SD-1/ack", "1"), want: []any{"due", int64(1), "r1", int64(1), int64(1)}},
		{name: "r2 claims it from r1 (retryDue)", run: func() (any, error) {
			ids, err := rdb.XClaimJustID(ctx, &redis.XClaimArgs{Stream: ob.stream, Group: ob.group, Consumer: "r2", Messages: []string{id}}).Result()
			return len(ids), err
		}, want: 1},
		{name: "made due where it is, with r2", run: retry(ob, id, "SD-1/ack", "0"), want: []any{"due", int64(0), "r2", int64(1), int64(1)}},
		{name: "r2 holds it, due", run: pending, want: []any{"r2", int64(1), true}},
		{name: "delivered meanwhile", run: set(ob.sentKey("SD-1/ack"), "2026-11-23T09:00:00Z"), want: "OK"},
		{name: "refused once delivered", run: retry(ob, id, "SD-1/ack", "1"), want: []any{"sent", "2026-11-23T09:00:00Z"}},
		{name: "another notification under that stream id", run: retry(ob, id, "SD-9/ack", "0"), want: []any{"gone"}},
		{name: "dropped meanwhile", run: func() (any, error) { return rdb.XDel(ctx, ob.stream, id).Result() }, want: int64(1)},
		{name: "gone", run: retry(ob, id, "SD-1/ack", "0"), want: []any{"gone"}},
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
	runSteps(t, []step{
		{name: "r2 is sending it", run: func() (any, error) { return rdb.SetNX(ctx, claim, "r2", time.Hour).Result() }, want: true},
		{name: "refused while being sent", run: drop("SD-1/ack"), want: []any{"busy", "r2"}},
		{name: "the entry stays", run: length(ob.stream), want: int64(1)},
		{name: "r2's send is over", run: func() (any, error) { return rdb.Del(ctx, claim).Result() }, want: int64(1)},
		{name: "another notification under that stream id", run: drop("SD-9/ack"), want: []any{"gone"}},
		{name: "dropped", run: drop("SD-1/ack"), want: []any{"ok", newID}},
		{name: "its replay keeps no second dead letter", run: drop("SD-1/ack"), want: []any{"gone"}},
		{name: "one dead letter", run: length(ob.dead), want: int64(1)},
		{name: "with the fields, the operator's reason and where it was", run: func() (any, error) {
			m, err := rdb.XRange(ctx, ob.dead, made[0], made[0]).Result()
			if err != nil || len(m) != 1 {
				return m, err
			}
			return m[0].Values, nil
		}, want: map[string]any{"id": "SD-1/ack", "to": "jan@x", "reason": "dropped by operator: wrong address", "outbox_id": id}},
		{name: "gone from the outbox", run: length(ob.stream), want: int64(0)},
		{name: "acknowledged", run: func() (any, error) {
			p, err := rdb.XPending(ctx, ob.stream, ob.group).Result()
			if err != nil {
				return nil, err
			}
			return p.Count, nil
		}, want: int64(0)},
		{name: "its failure forgotten", run: check(func() (int64, error) { return rdb.HLen(ctx, ob.errors).Result() }), want: int64(0)},
		{name: "its uncertainty forgotten", run: check(func() (int64, error) { return rdb.HLen(ctx, ob.uncertain).Result() }), want: int64(0)},
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
