package ticket

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/maildesk/maildesk/internal/scripttest"
	"github.com/redis/go-redis/v9"
)

// One table test per Lua script of the package: replays (the same call
// twice), conflicts (the data changed since the caller read it) and the
// once-only rules, against a real redis-server. The scripts' main paths
// are tested with the functions that use them (store_test.go,
// journal_test.go, retention_test.go, erase_test.go, index_test.go); these
// add the cases those leave out. Each step runs on the state the steps
// before it left.

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// mustCreate makes a ticket of customer acme from mail dedupe.
func mustCreate(t *testing.T, s *Store, dedupe string) string {
	t.Helper()
	r, err := s.Create(context.Background(), dedupe, New{Subject: "Printer on fire " + dedupe, Priority: "P3",
		Customer: "acme", Contact: "jan@acme.example", MessageID: dedupe, Text: "It burns.", CreatedAt: t0}, nil)
	if err != nil || !r.Created {
		t.Fatalf("create %s: %+v, %v", dedupe, r, err)
	}
	return r.Number
}

func field(t *testing.T, rdb *redis.Client, key, f string) string {
	t.Helper()
	v, err := rdb.HGet(context.Background(), key, f).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	return v
}

func zscore(t *testing.T, rdb *redis.Client, key, member string) string {
	t.Helper()
	v, err := rdb.ZScore(context.Background(), key, member).Result()
	if errors.Is(err, redis.Nil) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func TestCommitLua(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	create := func(dedupe string, number int64) func() (any, error) {
		return func() (any, error) {
			return s.Create(ctx, dedupe, New{Subject: "s", Contact: "jan@acme.example", MessageID: dedupe, CreatedAt: t0, Number: number}, note)
		}
	}
	reject := func(dedupe string) func() (any, error) {
		return func() (any, error) {
			return s.Reject(ctx, dedupe, Rejection{Sender: "eve@elsewhere.example", MessageID: dedupe, At: t0}, note)
		}
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "a stranger's mail", Run: reject("r1@x"), Want: Result{Number: "rejected", Created: true, Notified: true}},
		{Name: "its replay", Run: reject("r1@x"), Want: Result{Number: "rejected"}},
		{Name: "moved back once the sender is authorised", Run: create("r1@x", 0), Want: Result{Number: "SD-1", Created: true, Notified: true}},
		{Name: "replay of that", Run: create("r1@x", 0), Want: Result{Number: "SD-1"}},
		{Name: "a rejection replayed after it made a ticket", Run: reject("r1@x"), Want: Result{Number: "SD-1"}},
		{Name: "a mail Redis knows from the previous generation of seen", Run: func() (any, error) {
			if err := rdb.HSet(ctx, s.key(seenPrev), "old@x", "SD-1").Err(); err != nil {
				return nil, err
			}
			return s.Create(ctx, "old@x", New{Subject: "s"}, note)
		}, Want: Result{Number: "SD-1"}},
		{Name: "re-created under its number", Run: create("m7@x", 7), Want: Result{Number: "SD-7", Created: true, Notified: true}},
		{Name: "another mail under a number that is taken", Run: create("other@x", 7),
			Err: `commit ticket for "other@x": ticket number taken: SD-7 belongs to another mail`, Is: ErrNumberTaken},
		{Name: "replay of the mail under its number", Run: create("m7@x", 7), Want: Result{Number: "SD-7"}},
		{Name: "a new mail takes the number after the highest", Run: create("m8@x", 0), Want: Result{Number: "SD-8", Created: true, Notified: true}},
		{Name: "below the floor", Run: func() (any, error) {
			r := s.CommitBatch(ctx, []Commit{{Dedupe: "m9@x", Ticket: &New{Subject: "s"}, Floor: 12}})
			return r[0].Result, r[0].Err
		}, Err: `commit ticket for "m9@x": redis is behind the mailbox journal: sequence 8 is below 12`, Is: ErrBehind},
	})
	// Acknowledgements: one per ticket made, none for a replay; a notice
	// for the one rejection.
	if n := outboxLen(t, rdb); n != 4 {
		t.Errorf("outbox has %d entries, want 4", n)
	}
}

func TestAppendLua(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	n := mustCreate(t, s, "m1@x")
	appendMail := func(dedupe, number, from string) func() (any, error) {
		return func() (any, error) {
			return s.Append(ctx, dedupe, number, Event{At: t0.Add(time.Hour), Kind: EventReply, From: from, MessageID: dedupe, Text: "still"})
		}
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "a follow-up", Run: appendMail("m2@x", n, "Piet <piet@acme.example>"), Want: Result{Number: n, Created: true}},
		{Name: "its replay", Run: appendMail("m2@x", n, "Piet <piet@acme.example>"), Want: Result{Number: n}},
		{Name: "the same sender again", Run: appendMail("m3@x", n, "piet@acme.example"), Want: Result{Number: n, Created: true}},
		{Name: "a replay known from the previous generation of seen", Run: func() (any, error) {
			if err := rdb.HSet(ctx, s.key(seenPrev), "m0@x", n).Err(); err != nil {
				return nil, err
			}
			return appendMail("m0@x", n, "piet@acme.example")()
		}, Want: Result{Number: n}},
		{Name: "a mail rejected before (old versions kept it in seen)", Run: func() (any, error) {
			if err := rdb.HSet(ctx, s.key("seen"), "r1@x", "rejected").Err(); err != nil {
				return nil, err
			}
			return appendMail("r1@x", n, "piet@acme.example")()
		}, Want: Result{Number: n, Created: true}},
		{Name: "no such ticket", Run: appendMail("m4@x", "SD-9", "piet@acme.example"), Err: "append to SD-9: ticket not found", Is: ErrNotFound},
	})
	if evs, _ := s.Events(ctx, n); len(evs) != 3 {
		t.Errorf("%d events, want 3", len(evs))
	}
	if p := field(t, rdb, s.key("t:"+n), "people"); p != "jan@acme.example piet@acme.example" {
		t.Errorf("people %q: each person once", p)
	}
}

func TestChangeLua(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	n := mustCreate(t, s, "m1@x")
	notes := [][]string{{"id", "progress"}}
	apply := func(number string, c Change) func() (any, error) {
		return func() (any, error) { return s.Apply(ctx, number, c, notes) }
	}
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	scripttest.Run(t, []scripttest.Step{
		{Name: "an agent's reply by mail", Run: apply(n, Change{At: at(1), ExpectStatus: StatusNew, Status: StatusInProgress, FirstResponse: true, Dedupe: "a1@x"}), Want: true},
		{Name: "its replay", Run: apply(n, Change{At: at(2), ExpectStatus: StatusNew, Status: StatusInProgress, FirstResponse: true, Dedupe: "a1@x"}), Want: false},
		{Name: "a change validated against a status that is gone", Run: apply(n, Change{At: at(2), ExpectStatus: StatusNew, Status: StatusResolved}),
			Err: "change SD-1: ticket changed meanwhile: it is in_progress now, not new", Is: ErrConflict},
		{Name: "a second reply: the first response stays", Run: apply(n, Change{At: at(3), FirstResponse: true}), Want: true},
		{Name: "an API request", Run: apply(n, Change{At: at(4), Priority: "P2", Request: "key-1"}), Want: true},
		{Name: "its replay", Run: apply(n, Change{At: at(5), Priority: "P1", Request: "key-1"}), Want: false},
		{Name: "a customer's reply on the ticket needs an agent", Run: apply(n, Change{At: at(6), NeedsAgent: true}), Want: true},
		{Name: "another: the first one's time stays", Run: apply(n, Change{At: at(7), NeedsAgent: true}), Want: true},
		{Name: "a mail rejected before (old versions kept it in seen)", Run: func() (any, error) {
			if err := rdb.HSet(ctx, s.key("seen"), "r1@x", "rejected").Err(); err != nil {
				return nil, err
			}
			return s.Apply(ctx, n, Change{At: at(8), Handled: true, Dedupe: "r1@x"}, notes)
		}, Want: true},
		{Name: "no such ticket", Run: apply("SD-9", Change{At: at(9), Status: StatusResolved}), Err: "change SD-9: ticket not found", Is: ErrNotFound},
	})
	tk, err := s.Get(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Status != StatusInProgress || tk.Priority != "P2" || tk.FirstResponseAt == nil || !tk.FirstResponseAt.Equal(at(1)) || tk.NeedsAgentSince != nil {
		t.Errorf("ticket %+v", tk)
	}
	if got := zscore(t, rdb, s.key("idx:needs_agent"), n); got != "" {
		t.Errorf("handled ticket still waits for an agent (score %s)", got)
	}
	if n := outboxLen(t, rdb); n != 6 {
		t.Errorf("outbox has %d entries, want one per change made (6)", n)
	}
}

func TestClockLua(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	n := mustCreate(t, s, "m1@x")
	due := t0.Add(4 * time.Hour)
	clock := func(warn, deadline time.Time) *Clock {
		return &Clock{Plan: "standard", Priority: "P3", Start: t0, WarnAt: warn, FirstResponseDue: deadline}
	}
	set := func(number string, c *Clock) func() (any, error) {
		return func() (any, error) { return nil, s.SetClock(ctx, number, c) }
	}
	// sched is the ticket's entries in the warn, breach, warned and
	// breached sets.
	sched := func() (any, error) {
		var out [4]string
		for i, k := range []string{warnSet, breachSet, warnedSet, breachedSet} {
			out[i] = zscore(t, rdb, s.key(k), n)
		}
		return out, nil
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "set", Run: set(n, clock(due.Add(-time.Hour), due))},
		{Name: "scheduled", Run: sched, Want: [4]string{ms(due.Add(-time.Hour)), ms(due), "", ""}},
		{Name: "set again", Run: set(n, clock(due.Add(-time.Hour), due))},
		{Name: "scheduled once", Run: sched, Want: [4]string{ms(due.Add(-time.Hour)), ms(due), "", ""}},
		{Name: "the warning is sent", Run: func() (any, error) {
			return s.Escalate(ctx, Warning, Due{Number: n, At: due.Add(-time.Hour)}, due, due.Add(-time.Hour), nil)
		}, Want: true},
		{Name: "a later deadline (lower priority)", Run: set(n, clock(due.Add(time.Hour), due.Add(2*time.Hour)))},
		{Name: "no second warning; at risk with the new deadline", Run: sched, Want: [4]string{"", ms(due.Add(2 * time.Hour)), ms(due.Add(2 * time.Hour)), ""}},
		{Name: "paused", Run: set(n, &Clock{Plan: "standard", Priority: "P3", Start: t0, FirstResponseDue: due, PausedAt: t0.Add(time.Hour)})},
		{Name: "nothing scheduled while paused", Run: sched, Want: [4]string{"", "", "", ""}},
		{Name: "no such ticket", Run: set("SD-9", clock(due, due)), Err: "set SLA clock of SD-9: ticket not found", Is: ErrNotFound},
	})
}

func TestEscalateLua(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	n := mustCreate(t, s, "m1@x")
	warn, due := t0.Add(3*time.Hour), t0.Add(4*time.Hour)
	if err := s.SetClock(ctx, n, &Clock{Plan: "standard", Priority: "P3", Start: t0, WarnAt: warn, FirstResponseDue: due}); err != nil {
		t.Fatal(err)
	}
	escalate := func(e Escalation, number string, listed time.Time) func() (any, error) {
		return func() (any, error) {
			return s.Escalate(ctx, e, Due{Number: number, At: listed}, due, listed, [][]string{{"id", string(e) + "/" + number}})
		}
	}
	atRisk := func() (any, error) {
		w, b, err := s.AtRisk(ctx)
		return [2][]string{w, b}, err
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "a warning listed at another time (the clock changed)", Run: escalate(Warning, n, warn.Add(time.Minute)), Want: false},
		{Name: "the warning", Run: escalate(Warning, n, warn), Want: true},
		{Name: "its replay (another replica, a repeated sweep)", Run: escalate(Warning, n, warn), Want: false},
		{Name: "at risk", Run: atRisk, Want: [2][]string{{n}, {}}},
		{Name: "the breach", Run: escalate(Breach, n, due), Want: true},
		{Name: "its replay", Run: escalate(Breach, n, due), Want: false},
		{Name: "breached, no longer at risk", Run: atRisk, Want: [2][]string{{}, {n}}},
		{Name: "an alert of a ticket that is gone", Run: func() (any, error) {
			if err := rdb.ZAdd(ctx, s.key(warnSet), redis.Z{Score: float64(warn.UnixMilli()), Member: "SD-9"}).Err(); err != nil {
				return nil, err
			}
			return escalate(Warning, "SD-9", warn)()
		}, Want: false},
		{Name: "it is no longer due", Run: func() (any, error) { return s.DueNow(ctx, Warning, due, 10) }, Want: []Due{}},
	})
	if v := field(t, rdb, s.key("t:"+n), "sla_warned_at"); v != warn.Format(time.RFC3339Nano) {
		t.Errorf("sla_warned_at %q, want the first warning's time", v)
	}
	if n := outboxLen(t, rdb); n != 2 {
		t.Errorf("outbox has %d entries, want 2 (a warning, a breach)", n)
	}
}

func TestEscalateAllLua(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	warn, due := t0.Add(3*time.Hour), t0.Add(4*time.Hour)
	var alerts []Alert
	for _, id := range []string{"m1@x", "m2@x"} {
		n := mustCreate(t, s, id)
		if err := s.SetClock(ctx, n, &Clock{Plan: "standard", Priority: "P3", Start: t0, WarnAt: warn, FirstResponseDue: due}); err != nil {
			t.Fatal(err)
		}
		alerts = append(alerts, Alert{Kind: Warning, Due: Due{Number: n, At: warn}, Deadline: due})
	}
	stale := Alert{Kind: Breach, Due: Due{Number: "SD-1", At: due.Add(time.Minute)}, Deadline: due}
	gone := Alert{Kind: Warning, Due: Due{Number: "SD-9", At: warn}, Deadline: due}
	escalate := func(as ...Alert) func() (any, error) {
		return func() (any, error) {
			return s.EscalateAll(ctx, as, warn, [][]string{{"id", "digest"}})
		}
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "one alert listed at another time: nothing sent", Run: escalate(alerts[0], stale, alerts[1]), Want: []int{1}},
		{Name: "and one of a ticket that is gone", Run: escalate(gone, alerts[0], alerts[1]), Want: []int{0}},
		{Name: "outbox untouched", Run: func() (any, error) { return outboxLen(t, rdb), nil }, Want: int64(0)},
		{Name: "without them", Run: escalate(alerts...), Want: []int(nil)},
		{Name: "the replay", Run: escalate(alerts...), Want: []int{0, 1}},
		{Name: "sent once", Run: func() (any, error) { return outboxLen(t, rdb), nil }, Want: int64(1)},
		{Name: "the breach of one", Run: escalate(Alert{Kind: Breach, Due: Due{Number: "SD-2", At: due}, Deadline: due}), Want: []int(nil)},
		{Name: "at risk and breached", Run: func() (any, error) {
			w, b, err := s.AtRisk(ctx)
			return [2][]string{w, b}, err
		}, Want: [2][]string{{"SD-1"}, {"SD-2"}}},
	})
}

func TestTimeLua(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	n1, n2 := mustCreate(t, s, "m1@x"), mustCreate(t, s, "m2@x")
	budget := BudgetNotes{WarnAt: 40, Limit: 60, Warn: [][]string{{"id", "warn"}}, Reached: [][]string{{"id", "reached"}}}
	add := func(number, key string, minutes int) func() (any, error) {
		return func() (any, error) {
			r := TimeRecord{Ticket: number, Customer: "acme", Agent: "ann", Start: t0, Minutes: minutes, Billable: true,
				Activity: "repair", RecordedAt: t0.Add(time.Hour), Via: "cli"}
			got, created, err := s.AddTime(ctx, r, key, key+"@mail", Event{At: t0, Kind: EventTime}, budget)
			return fmt.Sprint(got.Minutes, created), err
		}
	}
	// told is what the ticket's budget marks and the outbox say: whether a
	// warning and a reaching were recorded, and the outbox's length.
	told := func(number string) func() (any, error) {
		return func() (any, error) {
			tt, err := s.TimeTotals(ctx, number)
			return fmt.Sprint(tt.Billable, !tt.WarnedAt.IsZero(), !tt.ReachedAt.IsZero(), outboxLen(t, rdb)), err
		}
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "30 minutes", Run: add(n1, "k1", 30), Want: "30 true"},
		{Name: "the replay, changed: the first record", Run: add(n1, "k1", 45), Want: "30 false"},
		{Name: "counted once", Run: told(n1), Want: "30 false false 0"},
		{Name: "to 45: the warning", Run: add(n1, "k2", 15), Want: "15 true"},
		{Name: "warned", Run: told(n1), Want: "45 true false 1"},
		{Name: "to 55: no second warning", Run: add(n1, "k3", 10), Want: "10 true"},
		{Name: "to 75: reached", Run: add(n1, "k4", 20), Want: "20 true"},
		{Name: "to 85: nothing more", Run: add(n1, "k5", 10), Want: "10 true"},
		{Name: "told once each", Run: told(n1), Want: "85 true true 2"},
		{Name: "past both at once", Run: add(n2, "k6", 90), Want: "90 true"},
		{Name: "only the reaching is told", Run: told(n2), Want: "90 true true 3"},
		{Name: "no such ticket", Run: add("SD-9", "k7", 5), Err: "time on SD-9: ticket not found", Is: ErrNotFound},
	})
	if got, err := s.FindByMessageID(ctx, "k1@mail"); err != nil || got != n1 {
		t.Errorf("the agent's mail threads to %q, %v", got, err)
	}
}

func TestTimeBudgetLua(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	n := mustCreate(t, s, "m1@x")
	plan := BudgetNotes{WarnAt: 40, Limit: 60, Warn: [][]string{{"id", "warn"}}, Reached: [][]string{{"id", "reached"}}}
	r := TimeRecord{Ticket: n, Customer: "acme", Agent: "ann", Start: t0, Minutes: 70, Billable: true, RecordedAt: t0}
	if _, _, err := s.AddTime(ctx, r, "k1", "", Event{At: t0, Kind: EventTime}, plan); err != nil {
		t.Fatal(err)
	}
	set := func(number string, minutes int) func() (any, error) {
		return func() (any, error) {
			b := BudgetNotes{WarnAt: minutes * 8 / 10, Limit: minutes}
			if minutes == 0 {
				b = plan
			}
			return nil, s.SetTimeBudget(ctx, number, minutes, Event{At: t0, Kind: EventTime}, b)
		}
	}
	totals := func() (any, error) {
		tt, err := s.TimeTotals(ctx, n)
		return fmt.Sprint(tt.Budget, !tt.WarnedAt.IsZero(), !tt.ReachedAt.IsZero()), err
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "the plan's budget was reached", Run: totals, Want: "0 true true"},
		{Name: "a budget of 80: warned, not reached", Run: set(n, 80)},
		{Name: "marks", Run: totals, Want: "80 true false"},
		{Name: "the same again", Run: set(n, 80)},
		{Name: "marks unchanged", Run: totals, Want: "80 true false"},
		{Name: "a budget of 120", Run: set(n, 120)},
		{Name: "neither: both are told again", Run: totals, Want: "120 false false"},
		{Name: "back to the plan's", Run: set(n, 0)},
		{Name: "marks of the plan's stay", Run: totals, Want: "0 false false"},
		{Name: "no such ticket", Run: set("SD-9", 80), Err: "time budget of SD-9: ticket not found", Is: ErrNotFound},
	})
	if evs, _ := rdb.LLen(ctx, s.key("t:"+n+":events")).Result(); evs != 5 {
		t.Errorf("%d events, want 5 (a record, four budgets)", evs)
	}
}

func TestTimeVoidLua(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	n := mustCreate(t, s, "m1@x")
	b := BudgetNotes{WarnAt: 40, Limit: 60, Warn: [][]string{{"id", "warn"}}, Reached: [][]string{{"id", "reached"}}}
	var ids []string
	for _, m := range []int{50, 20} {
		r, _, err := s.AddTime(ctx, TimeRecord{Ticket: n, Customer: "acme", Agent: "ann", Start: t0, Minutes: m, Billable: true, RecordedAt: t0}, "", "", Event{At: t0, Kind: EventTime}, b)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	void := func(id string, at time.Time) func() (any, error) {
		return func() (any, error) {
			r, done, err := s.VoidTime(ctx, n, "acme", id, "ann", "typo", at, Event{At: at, Kind: EventTime}, b)
			if err != nil {
				return nil, err
			}
			return fmt.Sprintf("%s %v", r.VoidedAt.Format(time.Kitchen), done), nil
		}
	}
	totals := func() (any, error) {
		tt, err := s.TimeTotals(ctx, n)
		return fmt.Sprint(tt.Billable, !tt.WarnedAt.IsZero(), !tt.ReachedAt.IsZero()), err
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "warned and reached", Run: totals, Want: "70 true true"},
		{Name: "void 20", Run: void(ids[1], t0), Want: "9:00AM true"},
		{Name: "below the limit: told again when reached", Run: totals, Want: "50 true false"},
		{Name: "void it again", Run: void(ids[1], t0.Add(time.Hour)), Want: "9:00AM false"},
		{Name: "counted once", Run: totals, Want: "50 true false"},
		{Name: "no such record", Run: void("nope", t0), Err: "void time record nope of SD-1: no such time record", Is: ErrNoRecord},
	})
	if got, _ := s.TimeTickets(ctx, "acme", t0, t0.Add(time.Hour)); !reflect.DeepEqual(got, []string{n}) {
		t.Errorf("statement tickets %v", got)
	}
}

func TestCompactLua(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	n := mustCreate(t, s, "m1@x")
	key := s.key("t:" + n)
	packed, err := packText("It burns.", "")
	if err != nil {
		t.Fatal(err)
	}
	compact := func(text, quoted int) func() (any, error) {
		return func() (any, error) { return compactScript.Run(ctx, rdb, []string{key}, text, quoted, packed).Int() }
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "not closed", Run: compact(9, 0), Want: 0},
		{Name: "closed", Run: func() (any, error) { return s.Apply(ctx, n, Change{At: t0, Status: StatusClosed}, nil) }, Want: true},
		{Name: "text changed since it was read", Run: compact(8, 0), Want: 0},
		{Name: "compact", Run: compact(9, 0), Want: 1},
		{Name: "the replay", Run: compact(9, 0), Want: 0},
		{Name: "the text reads as before", Run: func() (any, error) {
			tk, err := s.Get(ctx, n)
			if err != nil {
				return nil, err
			}
			return tk.Text, nil
		}, Want: "It burns."},
	})
}

func TestRotateSeenLua(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	period := time.Hour
	rotate := func(now time.Time, dry bool) func() (any, error) {
		return func() (any, error) {
			d := "0"
			if dry {
				d = "1"
			}
			// {rotated, Message-IDs forgotten}
			return rotateSeenScript.Run(ctx, rdb, []string{s.key("seen"), s.key(seenPrev), s.key(seenGen)}, now.UnixMilli(), period.Milliseconds(), d).Int64Slice()
		}
	}
	seen := func() (any, error) {
		cur, err := rdb.HKeys(ctx, s.key("seen")).Result()
		if err != nil {
			return nil, err
		}
		prev, err := rdb.HKeys(ctx, s.key(seenPrev)).Result()
		return [2][]string{cur, prev}, err
	}
	add := func(id string) func() (any, error) {
		return func() (any, error) { return nil, rdb.HSet(ctx, s.key("seen"), id, "SD-1").Err() }
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "a", Run: add("a@x")},
		{Name: "first run, dry: starts nothing", Run: rotate(t0, true), Want: []int64{0, 0}},
		{Name: "first run: the period starts", Run: rotate(t0, false), Want: []int64{0, 0}},
		{Name: "within the period", Run: rotate(t0.Add(period-time.Millisecond), false), Want: []int64{0, 0}},
		{Name: "due, dry", Run: rotate(t0.Add(period), true), Want: []int64{1, 0}},
		{Name: "nothing moved", Run: seen, Want: [2][]string{{"a@x"}, {}}},
		{Name: "due", Run: rotate(t0.Add(period), false), Want: []int64{1, 0}},
		{Name: "its replay", Run: rotate(t0.Add(period), false), Want: []int64{0, 0}},
		{Name: "b", Run: add("b@x")},
		{Name: "a generation on", Run: seen, Want: [2][]string{{"b@x"}, {"a@x"}}},
		{Name: "again, dry: a would be forgotten", Run: rotate(t0.Add(2*period), true), Want: []int64{1, 1}},
		{Name: "again", Run: rotate(t0.Add(2*period), false), Want: []int64{1, 1}},
		{Name: "a is forgotten", Run: seen, Want: [2][]string{{}, {"b@x"}}},
	})
}

// retire runs anonymise.lua or delete.lua on ticket n as RunRetention does.
func retire(s *Store, rdb *redis.Client, sc *redis.Script, n string, cutoff, now time.Time) func() (any, error) {
	return func() (any, error) {
		action := ActionAnonymise
		if sc == deleteScript {
			action = ActionDelete
		}
		return s.retireOne(context.Background(), action, n, cutoff.UnixMilli(), now)
	}
}

func TestAnonymiseLua(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	n := mustCreate(t, s, "m1@x")
	closed, now := t0.Add(time.Hour), t0.Add(48*time.Hour)
	anonymise := func(cutoff time.Time) func() (any, error) { return retire(s, rdb, anonymiseScript, n, cutoff, now) }
	set := func(status string, at time.Time) func() (any, error) {
		return func() (any, error) { return s.Apply(ctx, n, Change{At: at, Status: status}, nil) }
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "open", Run: anonymise(now), Want: 0},
		{Name: "resolved", Run: set(StatusResolved, closed), Want: true},
		{Name: "resolved after the cutoff", Run: anonymise(closed.Add(-time.Millisecond)), Want: 0},
		{Name: "reopened since it was listed", Run: set(StatusInProgress, closed.Add(time.Hour)), Want: true},
		{Name: "not done any more", Run: anonymise(now), Want: 0},
		{Name: "resolved again", Run: set(StatusResolved, closed.Add(2*time.Hour)), Want: true},
		{Name: "anonymise", Run: anonymise(now), Want: 1},
		{Name: "the replay", Run: anonymise(now), Want: 0},
		{Name: "what is left", Run: func() (any, error) {
			return [3]string{field(t, rdb, s.key("t:"+n), "subject"), field(t, rdb, s.key("t:"+n), "customer"), zscore(t, rdb, s.key("idx:anon"), n)}, nil
		}, Want: [3]string{"", "acme", ms(closed.Add(2 * time.Hour))}},
		{Name: "its mail queued for deletion once", Run: func() (any, error) { return rdb.ZCard(ctx, s.key("purge:mail")).Result() }, Want: int64(1)},
	})
}

func TestDeleteLua(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	n := mustCreate(t, s, "m1@x")
	closed, now := t0.Add(time.Hour), t0.Add(48*time.Hour)
	del := func(cutoff time.Time) func() (any, error) { return retire(s, rdb, deleteScript, n, cutoff, now) }
	scripttest.Run(t, []scripttest.Step{
		{Name: "open", Run: del(now), Want: 0},
		{Name: "closed", Run: func() (any, error) { return s.Apply(ctx, n, Change{At: closed, Status: StatusClosed}, nil) }, Want: true},
		{Name: "anonymised", Run: retire(s, rdb, anonymiseScript, n, now, now), Want: 1},
		{Name: "done after the cutoff", Run: del(closed.Add(-time.Millisecond)), Want: 0},
		{Name: "delete", Run: del(now), Want: 1},
		{Name: "the replay", Run: del(now), Want: 0},
		{Name: "gone", Run: func() (any, error) { _, err := s.Get(ctx, n); return nil, err }, Err: "ticket " + n + ": ticket not found", Is: ErrNotFound},
		{Name: "its number is not given again", Run: func() (any, error) {
			return s.Create(ctx, "m2@x", New{Subject: "s"}, nil)
		}, Want: Result{Number: "SD-2", Created: true}},
	})
}

func TestIndexOneLua(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	n := mustCreate(t, s, "m1@x")
	index := func(number string) func() (any, error) {
		return func() (any, error) {
			return indexOneScript.Run(ctx, rdb, []string{s.key("t:" + number)}, s.kp, number, t0.UnixMilli(),
				"jan@acme.example piet@acme.example", t0.UnixMilli(), "printer on fire", s.o.SearchWindow, "").Int()
		}
	}
	indexes := func() (any, error) {
		var out []string
		for _, k := range []string{"idx:created", "idx:open", "idx:customer:acme", "idx:contact:piet@acme.example"} {
			out = append(out, zscore(t, rdb, s.key(k), n))
		}
		c, err := rdb.ZCard(ctx, s.key("idx:subjects")).Result()
		return fmt.Sprint(out, c), err
	}
	want := fmt.Sprint([]string{ms(t0), ms(t0), ms(t0), ms(t0)}, 1)
	scripttest.Run(t, []scripttest.Step{
		{Name: "a ticket made before the indexes", Run: func() (any, error) {
			return nil, rdb.ZRem(ctx, s.key("idx:created"), n).Err()
		}},
		{Name: "index it", Run: index(n), Want: 1},
		{Name: "in every index", Run: indexes, Want: want},
		{Name: "again", Run: index(n), Want: 1},
		{Name: "unchanged", Run: indexes, Want: want},
		{Name: "no such ticket", Run: index("SD-9"), Want: 0},
	})
}

func TestEraseTicketLua(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	n := mustCreate(t, s, "m1@x")
	key := s.key("t:" + n)
	// erase removes the contact from ticket number as read with updated_at
	// and events history entries: the ContactName field and the mail.
	erase := func(number, updated string, events int) func() (any, error) {
		return func() (any, error) {
			return eraseTicketScript.Run(ctx, rdb, []string{s.key("t:" + number), s.key("t:" + number + ":events"), s.key("seen"), s.key(seenPrev), s.key("t:" + number + ":time")},
				s.kp, number, updated, events, t0.UnixMilli(), 1, "text", 1, "contact", "erased", -1, 1, "m1@x", "", 0).Int()
		}
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "a reply came since the ticket was read", Run: func() (any, error) {
			return s.Append(ctx, "m2@x", n, Event{At: t0.Add(time.Hour), Kind: EventReply, From: "jan@acme.example", Text: "more"})
		}, Want: Result{Number: n, Created: true}},
		{Name: "read before it", Run: erase(n, "", 0), Want: 0},
		{Name: "history read before it", Run: erase(n, t0.Add(time.Hour).Format(time.RFC3339Nano), 0), Want: 0},
		{Name: "as it is", Run: erase(n, t0.Add(time.Hour).Format(time.RFC3339Nano), 1), Want: 1},
		// What was read before an erasure wrote is read again (another
		// erasure's writing is not told by updated_at or the history's
		// length: TestEraseTwoPeopleAtOnce); the replay changes nothing.
		{Name: "the replay changes nothing more", Run: erase(n, t0.Add(time.Hour).Format(time.RFC3339Nano), 1), Want: 0},
		{Name: "no such ticket", Run: erase("SD-9", "", 0), Want: 0},
		{Name: "what is left", Run: func() (any, error) {
			return [3]string{field(t, rdb, key, "text"), field(t, rdb, key, "contact"), field(t, rdb, s.key("seen"), "m1@x")}, nil
		}, Want: [3]string{"", "erased", ""}},
		{Name: "its mail queued for deletion once", Run: func() (any, error) { return rdb.ZCard(ctx, s.key("purge:mail")).Result() }, Want: int64(1)},
	})
}

// The small scripts inline in Go.

func TestAckedScript(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	n := mustCreate(t, s, "m1@x")
	acked := func(number string, at time.Time) func() (any, error) {
		return func() (any, error) {
			return nil, ackedScript.Run(ctx, rdb, []string{s.key("t:" + number)}, at.Format(time.RFC3339Nano)).Err()
		}
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "the first delivery", Run: acked(n, t0)},
		{Name: "a resend", Run: acked(n, t0.Add(time.Hour))},
		{Name: "the first time stays", Run: func() (any, error) { return field(t, rdb, s.key("t:"+n), "acknowledged_at"), nil }, Want: t0.Format(time.RFC3339Nano)},
		{Name: "a ticket Redis lost", Run: acked("SD-9", t0)},
		{Name: "is not made a hash that looks like a ticket", Run: func() (any, error) { return rdb.Exists(ctx, s.key("t:SD-9")).Result() }, Want: int64(0)},
	})
}

func TestRaiseScript(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	raise := func(seq int64) func() (any, error) { return func() (any, error) { return s.RaiseSequence(ctx, seq) } }
	scripttest.Run(t, []scripttest.Step{
		{Name: "to 5", Run: raise(5), Want: true},
		{Name: "the replay", Run: raise(5), Want: false},
		{Name: "never lowered", Run: raise(3), Want: false},
		{Name: "to 9", Run: raise(9), Want: true},
		{Name: "the sequence", Run: func() (any, error) { return s.Sequence(ctx) }, Want: int64(9)},
	})
}

func TestUnlockScript(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	var release func()
	lock := func(owner string) func() (any, error) {
		return func() (any, error) {
			ok, rel, err := s.Lock(ctx, "repair", owner, time.Hour)
			if ok {
				release = rel
			}
			return ok, err
		}
	}
	unlock := func() (any, error) { release(); return nil, nil }
	scripttest.Run(t, []scripttest.Step{
		{Name: "a takes it", Run: lock("a"), Want: true},
		{Name: "b cannot", Run: lock("b"), Want: false},
		{Name: "a releases", Run: unlock},
		{Name: "b takes it", Run: lock("b"), Want: true},
		{Name: "a's release again (a replay) leaves b's lock", Run: func() (any, error) {
			return nil, unlockScript.Run(ctx, s.rdb, []string{s.key("lock:repair")}, "a").Err()
		}},
		{Name: "a cannot", Run: lock("a"), Want: false},
		{Name: "b releases", Run: unlock},
		{Name: "its replay", Run: unlock},
		{Name: "free", Run: lock("c"), Want: true},
	})
}

// erase_ticket.lua redacts a ticket and its time records together: a
// record changed since it was read (voided) changes nothing, so that a
// retry reads both again (a crash between two steps would leave the
// record's note with the ticket no longer listed under the person).
func TestEraseTicketLuaTimeRecords(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	n := mustCreate(t, s, "m1@x")
	key, times := s.key("t:"+n), s.key("t:"+n+":time")
	rdb.HSet(ctx, times, "r1", `{"note":"voided"}`)
	erase := func(asRead string) func() (any, error) {
		return func() (any, error) {
			return eraseTicketScript.Run(ctx, rdb, []string{key, s.key("t:" + n + ":events"), s.key("seen"), s.key(seenPrev), times},
				s.kp, n, "", 0, t0.UnixMilli(), 1, "text", 0, -1, 0, "", 1, "r1", asRead, `{"note":"(erased)"}`).Int()
		}
	}
	scripttest.Run(t, []scripttest.Step{
		{Name: "the record changed since it was read", Run: erase(`{"note":"jan"}`), Want: 0},
		{Name: "nothing written", Run: func() (any, error) { return rdb.HExists(ctx, key, "text").Result() }, Want: true},
		{Name: "as it is", Run: erase(`{"note":"voided"}`), Want: 1},
		{Name: "both written", Run: func() (any, error) {
			return [2]string{field(t, rdb, key, "text"), field(t, rdb, times, "r1")}, nil
		}, Want: [2]string{"", `{"note":"(erased)"}`}},
	})
}
