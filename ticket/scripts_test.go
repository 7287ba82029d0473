package ticket

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// One table test per Lua script of the package: replays (the same call
// twice), conflicts (the data changed since the caller read it) and the
// once-only rules, against a real redis-server. The scripts' main paths
// are tested with the functions that use them (store_test.go,
// journal_test.go, retention_test.go, erase_test.go, index_test.go); these
// add the cases those leave out. Each step runs on the state the steps
// before it left.

// step is one call of a script and what it must answer: got is compared
// with want (reflect.DeepEqual), err with the error's whole text ("" for
// none), and is (when set) with errors.Is.
type step struct {
	name string
	run  func() (any, error)
	want any
	err  string
	is   error
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
		case st.is != nil && !errors.Is(err, st.is):
			t.Fatalf("step %d (%s): error %v is not %v", i, st.name, err, st.is)
		case st.err == "" && !reflect.DeepEqual(got, st.want):
			t.Fatalf("step %d (%s): got %#v, want %#v", i, st.name, got, st.want)
		}
	}
}

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
	runSteps(t, []step{
		{name: "a stranger's mail", run: reject("r1@x"), want: Result{Number: "rejected", Created: true, Notified: true}},
		{name: "its replay", run: reject("r1@x"), want: Result{Number: "rejected"}},
		{name: "moved back once the sender is authorised", run: create("r1@x", 0), want: Result{Number: "SD-1", Created: true, Notified: true}},
		{name: "replay of that", run: create("r1@x", 0), want: Result{Number: "SD-1"}},
		{name: "a rejection replayed after it made a ticket", run: reject("r1@x"), want: Result{Number: "SD-1"}},
		{name: "a mail Redis knows from the previous generation of seen", run: func() (any, error) {
			if err := rdb.HSet(ctx, s.key(seenPrev), "old@x", "SD-1").Err(); err != nil {
				return nil, err
			}
			return s.Create(ctx, "old@x", New{Subject: "s"}, note)
		}, want: Result{Number: "SD-1"}},
		{name: "re-created under its number", run: create("m7@x", 7), want: Result{Number: "SD-7", Created: true, Notified: true}},
		{name: "another mail under a number that is taken", run: create("other@x", 7),
			err: `commit ticket for "other@x": ticket number taken: SD-7 belongs to another mail`, is: ErrNumberTaken},
		{name: "replay of the mail under its number", run: create("m7@x", 7), want: Result{Number: "SD-7"}},
		{name: "a new mail takes the number after the highest", run: create("m8@x", 0), want: Result{Number: "SD-8", Created: true, Notified: true}},
		{name: "below the floor", run: func() (any, error) {
			r := s.CommitBatch(ctx, []Commit{{Dedupe: "m9@x", Ticket: &New{Subject: "s"}, Floor: 12}})
			return r[0].Result, r[0].Err
		}, err: `commit ticket for "m9@x": redis is behind the mailbox journal: sequence 8 is below 12`, is: ErrBehind},
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
	runSteps(t, []step{
		{name: "a follow-up", run: appendMail("m2@x", n, "Piet <piet@acme.example>"), want: Result{Number: n, Created: true}},
		{name: "its replay", run: appendMail("m2@x", n, "Piet <piet@acme.example>"), want: Result{Number: n}},
		{name: "the same sender again", run: appendMail("m3@x", n, "piet@acme.example"), want: Result{Number: n, Created: true}},
		{name: "a replay known from the previous generation of seen", run: func() (any, error) {
			if err := rdb.HSet(ctx, s.key(seenPrev), "m0@x", n).Err(); err != nil {
				return nil, err
			}
			return appendMail("m0@x", n, "piet@acme.example")()
		}, want: Result{Number: n}},
		{name: "a mail rejected before (old versions kept it in seen)", run: func() (any, error) {
			if err := rdb.HSet(ctx, s.key("seen"), "r1@x", "rejected").Err(); err != nil {
				return nil, err
			}
			return appendMail("r1@x", n, "piet@acme.example")()
		}, want: Result{Number: n, Created: true}},
		{name: "no such ticket", run: appendMail("m4@x", "SD-9", "piet@acme.example"), err: "append to SD-9: ticket not found", is: ErrNotFound},
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
	runSteps(t, []step{
		{name: "an agent's reply by mail", run: apply(n, Change{At: at(1), ExpectStatus: StatusNew, Status: StatusInProgress, FirstResponse: true, Dedupe: "a1@x"}), want: true},
		{name: "its replay", run: apply(n, Change{At: at(2), ExpectStatus: StatusNew, Status: StatusInProgress, FirstResponse: true, Dedupe: "a1@x"}), want: false},
		{name: "a change validated against a status that is gone", run: apply(n, Change{At: at(2), ExpectStatus: StatusNew, Status: StatusResolved}),
			err: "change SD-1: ticket changed meanwhile: it is in_progress now, not new", is: ErrConflict},
		{name: "a second reply: the first response stays", run: apply(n, Change{At: at(3), FirstResponse: true}), want: true},
		{name: "an API request", run: apply(n, Change{At: at(4), Priority: "P2", Request: "key-1"}), want: true},
		{name: "its replay", run: apply(n, Change{At: at(5), Priority: "P1", Request: "key-1"}), want: false},
		{name: "a customer's reply on the ticket needs an agent", run: apply(n, Change{At: at(6), NeedsAgent: true}), want: true},
		{name: "another: the first one's time stays", run: apply(n, Change{At: at(7), NeedsAgent: true}), want: true},
		{name: "a mail rejected before (old versions kept it in seen)", run: func() (any, error) {
			if err := rdb.HSet(ctx, s.key("seen"), "r1@x", "rejected").Err(); err != nil {
				return nil, err
			}
			return s.Apply(ctx, n, Change{At: at(8), Handled: true, Dedupe: "r1@x"}, notes)
		}, want: true},
		{name: "no such ticket", run: apply("SD-9", Change{At: at(9), Status: StatusResolved}), err: "change SD-9: ticket not found", is: ErrNotFound},
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
	runSteps(t, []step{
		{name: "set", run: set(n, clock(due.Add(-time.Hour), due))},
		{name: "scheduled", run: sched, want: [4]string{ms(due.Add(-time.Hour)), ms(due), "", ""}},
		{name: "set again", run: set(n, clock(due.Add(-time.Hour), due))},
		{name: "scheduled once", run: sched, want: [4]string{ms(due.Add(-time.Hour)), ms(due), "", ""}},
		{name: "the warning is sent", run: func() (any, error) {
			return s.Escalate(ctx, Warning, Due{Number: n, At: due.Add(-time.Hour)}, due, due.Add(-time.Hour), nil)
		}, want: true},
		{name: "a later deadline (lower priority)", run: set(n, clock(due.Add(time.Hour), due.Add(2*time.Hour)))},
		{name: "no second warning; at risk with the new deadline", run: sched, want: [4]string{"", ms(due.Add(2 * time.Hour)), ms(due.Add(2 * time.Hour)), ""}},
		{name: "paused", run: set(n, &Clock{Plan: "standard", Priority: "P3", Start: t0, FirstResponseDue: due, PausedAt: t0.Add(time.Hour)})},
		{name: "nothing scheduled while paused", run: sched, want: [4]string{"", "", "", ""}},
		{name: "no such ticket", run: set("SD-9", clock(due, due)), err: "set SLA clock of SD-9: ticket not found", is: ErrNotFound},
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
	runSteps(t, []step{
		{name: "a warning listed at another time (the clock changed)", run: escalate(Warning, n, warn.Add(time.Minute)), want: false},
		{name: "the warning", run: escalate(Warning, n, warn), want: true},
		{name: "its replay (another replica, a repeated sweep)", run: escalate(Warning, n, warn), want: false},
		{name: "at risk", run: atRisk, want: [2][]string{{n}, {}}},
		{name: "the breach", run: escalate(Breach, n, due), want: true},
		{name: "its replay", run: escalate(Breach, n, due), want: false},
		{name: "breached, no longer at risk", run: atRisk, want: [2][]string{{}, {n}}},
		{name: "an alert of a ticket that is gone", run: func() (any, error) {
			if err := rdb.ZAdd(ctx, s.key(warnSet), redis.Z{Score: float64(warn.UnixMilli()), Member: "SD-9"}).Err(); err != nil {
				return nil, err
			}
			return escalate(Warning, "SD-9", warn)()
		}, want: false},
		{name: "it is no longer due", run: func() (any, error) { return s.DueNow(ctx, Warning, due, 10) }, want: []Due{}},
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
	runSteps(t, []step{
		{name: "one alert listed at another time: nothing sent", run: escalate(alerts[0], stale, alerts[1]), want: []int{1}},
		{name: "and one of a ticket that is gone", run: escalate(gone, alerts[0], alerts[1]), want: []int{0}},
		{name: "outbox untouched", run: func() (any, error) { return outboxLen(t, rdb), nil }, want: int64(0)},
		{name: "without them", run: escalate(alerts...), want: []int(nil)},
		{name: "the replay", run: escalate(alerts...), want: []int{0, 1}},
		{name: "sent once", run: func() (any, error) { return outboxLen(t, rdb), nil }, want: int64(1)},
		{name: "the breach of one", run: escalate(Alert{Kind: Breach, Due: Due{Number: "SD-2", At: due}, Deadline: due}), want: []int(nil)},
		{name: "at risk and breached", run: func() (any, error) {
			w, b, err := s.AtRisk(ctx)
			return [2][]string{w, b}, err
		}, want: [2][]string{{"SD-1"}, {"SD-2"}}},
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
	runSteps(t, []step{
		{name: "30 minutes", run: add(n1, "k1", 30), want: "30 true"},
		{name: "the replay, changed: the first record", run: add(n1, "k1", 45), want: "30 false"},
		{name: "counted once", run: told(n1), want: "30 false false 0"},
		{name: "to 45: the warning", run: add(n1, "k2", 15), want: "15 true"},
		{name: "warned", run: told(n1), want: "45 true false 1"},
		{name: "to 55: no second warning", run: add(n1, "k3", 10), want: "10 true"},
		{name: "to 75: reached", run: add(n1, "k4", 20), want: "20 true"},
		{name: "to 85: nothing more", run: add(n1, "k5", 10), want: "10 true"},
		{name: "told once each", run: told(n1), want: "85 true true 2"},
		{name: "past both at once", run: add(n2, "k6", 90), want: "90 true"},
		{name: "only the reaching is told", run: told(n2), want: "90 true true 3"},
		{name: "no such ticket", run: add("SD-9", "k7", 5), err: "time on SD-9: ticket not found", is: ErrNotFound},
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
	runSteps(t, []step{
		{name: "the plan's budget was reached", run: totals, want: "0 true true"},
		{name: "a budget of 80: warned, not reached", run: set(n, 80)},
		{name: "marks", run: totals, want: "80 true false"},
		{name: "the same again", run: set(n, 80)},
		{name: "marks unchanged", run: totals, want: "80 true false"},
		{name: "a budget of 120", run: set(n, 120)},
		{name: "neither: both are told again", run: totals, want: "120 false false"},
		{name: "back to the plan's", run: set(n, 0)},
		{name: "marks of the plan's stay", run: totals, want: "0 false false"},
		{name: "no such ticket", run: set("SD-9", 80), err: "time budget of SD-9: ticket not found", is: ErrNotFound},
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
	runSteps(t, []step{
		{name: "warned and reached", run: totals, want: "70 true true"},
		{name: "void 20", run: void(ids[1], t0), want: "9:00AM true"},
		{name: "below the limit: told again when reached", run: totals, want: "50 true false"},
		{name: "void it again", run: void(ids[1], t0.Add(time.Hour)), want: "9:00AM false"},
		{name: "counted once", run: totals, want: "50 true false"},
		{name: "no such record", run: void("nope", t0), err: "void time record nope of SD-1: no such time record", is: ErrNoRecord},
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
	runSteps(t, []step{
		{name: "not closed", run: compact(9, 0), want: 0},
		{name: "closed", run: func() (any, error) { return s.Apply(ctx, n, Change{At: t0, Status: StatusClosed}, nil) }, want: true},
		{name: "text changed since it was read", run: compact(8, 0), want: 0},
		{name: "compact", run: compact(9, 0), want: 1},
		{name: "the replay", run: compact(9, 0), want: 0},
		{name: "the text reads as before", run: func() (any, error) {
			tk, err := s.Get(ctx, n)
			if err != nil {
				return nil, err
			}
			return tk.Text, nil
		}, want: "It burns."},
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
	runSteps(t, []step{
		{name: "a", run: add("a@x")},
		{name: "first run, dry: starts nothing", run: rotate(t0, true), want: []int64{0, 0}},
		{name: "first run: the period starts", run: rotate(t0, false), want: []int64{0, 0}},
		{name: "within the period", run: rotate(t0.Add(period-time.Millisecond), false), want: []int64{0, 0}},
		{name: "due, dry", run: rotate(t0.Add(period), true), want: []int64{1, 0}},
		{name: "nothing moved", run: seen, want: [2][]string{{"a@x"}, {}}},
		{name: "due", run: rotate(t0.Add(period), false), want: []int64{1, 0}},
		{name: "its replay", run: rotate(t0.Add(period), false), want: []int64{0, 0}},
		{name: "b", run: add("b@x")},
		{name: "a generation on", run: seen, want: [2][]string{{"b@x"}, {"a@x"}}},
		{name: "again, dry: a would be forgotten", run: rotate(t0.Add(2*period), true), want: []int64{1, 1}},
		{name: "again", run: rotate(t0.Add(2*period), false), want: []int64{1, 1}},
		{name: "a is forgotten", run: seen, want: [2][]string{{}, {"b@x"}}},
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
	runSteps(t, []step{
		{name: "open", run: anonymise(now), want: 0},
		{name: "resolved", run: set(StatusResolved, closed), want: true},
		{name: "resolved after the cutoff", run: anonymise(closed.Add(-time.Millisecond)), want: 0},
		{name: "reopened since it was listed", run: set(StatusInProgress, closed.Add(time.Hour)), want: true},
		{name: "not done any more", run: anonymise(now), want: 0},
		{name: "resolved again", run: set(StatusResolved, closed.Add(2*time.Hour)), want: true},
		{name: "anonymise", run: anonymise(now), want: 1},
		{name: "the replay", run: anonymise(now), want: 0},
		{name: "what is left", run: func() (any, error) {
			return [3]string{field(t, rdb, s.key("t:"+n), "subject"), field(t, rdb, s.key("t:"+n), "customer"), zscore(t, rdb, s.key("idx:anon"), n)}, nil
		}, want: [3]string{"", "acme", ms(closed.Add(2 * time.Hour))}},
		{name: "its mail queued for deletion once", run: func() (any, error) { return rdb.ZCard(ctx, s.key("purge:mail")).Result() }, want: int64(1)},
	})
}

func TestDeleteLua(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	n := mustCreate(t, s, "m1@x")
	closed, now := t0.Add(time.Hour), t0.Add(48*time.Hour)
	del := func(cutoff time.Time) func() (any, error) { return retire(s, rdb, deleteScript, n, cutoff, now) }
	runSteps(t, []step{
		{name: "open", run: del(now), want: 0},
		{name: "closed", run: func() (any, error) { return s.Apply(ctx, n, Change{At: closed, Status: StatusClosed}, nil) }, want: true},
		{name: "anonymised", run: retire(s, rdb, anonymiseScript, n, now, now), want: 1},
		{name: "done after the cutoff", run: del(closed.Add(-time.Millisecond)), want: 0},
		{name: "delete", run: del(now), want: 1},
		{name: "the replay", run: del(now), want: 0},
		{name: "gone", run: func() (any, error) { _, err := s.Get(ctx, n); return nil, err }, err: "ticket " + n + ": ticket not found", is: ErrNotFound},
		{name: "its number is not given again", run: func() (any, error) {
			return s.Create(ctx, "m2@x", New{Subject: "s"}, nil)
		}, want: Result{Number: "SD-2", Created: true}},
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
	runSteps(t, []step{
		{name: "a ticket made before the indexes", run: func() (any, error) {
			return nil, rdb.ZRem(ctx, s.key("idx:created"), n).Err()
		}},
		{name: "index it", run: index(n), want: 1},
		{name: "in every index", run: indexes, want: want},
		{name: "again", run: index(n), want: 1},
		{name: "unchanged", run: indexes, want: want},
		{name: "no such ticket", run: index("SD-9"), want: 0},
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
	runSteps(t, []step{
		{name: "a reply came since the ticket was read", run: func() (any, error) {
			return s.Append(ctx, "m2@x", n, Event{At: t0.Add(time.Hour), Kind: EventReply, From: "jan@acme.example", Text: "more"})
		}, want: Result{Number: n, Created: true}},
		{name: "read before it", run: erase(n, "", 0), want: 0},
		{name: "history read before it", run: erase(n, t0.Add(time.Hour).Format(time.RFC3339Nano), 0), want: 0},
		{name: "as it is", run: erase(n, t0.Add(time.Hour).Format(time.RFC3339Nano), 1), want: 1},
		// What was read before an erasure wrote is read again (another
		// erasure's writing is not told by updated_at or the history's
		// length: TestEraseTwoPeopleAtOnce); the replay changes nothing.
		{name: "the replay changes nothing more", run: erase(n, t0.Add(time.Hour).Format(time.RFC3339Nano), 1), want: 0},
		{name: "no such ticket", run: erase("SD-9", "", 0), want: 0},
		{name: "what is left", run: func() (any, error) {
			return [3]string{field(t, rdb, key, "text"), field(t, rdb, key, "contact"), field(t, rdb, s.key("seen"), "m1@x")}, nil
		}, want: [3]string{"", "erased", ""}},
		{name: "its mail queued for deletion once", run: func() (any, error) { return rdb.ZCard(ctx, s.key("purge:mail")).Result() }, want: int64(1)},
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
	runSteps(t, []step{
		{name: "the first delivery", run: acked(n, t0)},
		{name: "a resend", run: acked(n, t0.Add(time.Hour))},
		{name: "the first time stays", run: func() (any, error) { return field(t, rdb, s.key("t:"+n), "acknowledged_at"), nil }, want: t0.Format(time.RFC3339Nano)},
		{name: "a ticket Redis lost", run: acked("SD-9", t0)},
		{name: "is not made a hash that looks like a ticket", run: func() (any, error) { return rdb.Exists(ctx, s.key("t:SD-9")).Result() }, want: int64(0)},
	})
}

func TestRaiseScript(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	raise := func(seq int64) func() (any, error) { return func() (any, error) { return s.RaiseSequence(ctx, seq) } }
	runSteps(t, []step{
		{name: "to 5", run: raise(5), want: true},
		{name: "the replay", run: raise(5), want: false},
		{name: "never lowered", run: raise(3), want: false},
		{name: "to 9", run: raise(9), want: true},
		{name: "the sequence", run: func() (any, error) { return s.Sequence(ctx) }, want: int64(9)},
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
	runSteps(t, []step{
		{name: "a takes it", run: lock("a"), want: true},
		{name: "b cannot", run: lock("b"), want: false},
		{name: "a releases", run: unlock},
		{name: "b takes it", run: lock("b"), want: true},
		{name: "a's release again (a replay) leaves b's lock", run: func() (any, error) {
			return nil, unlockScript.Run(ctx, s.rdb, []string{s.key("lock:repair")}, "a").Err()
		}},
		{name: "a cannot", run: lock("a"), want: false},
		{name: "b releases", run: unlock},
		{name: "its replay", run: unlock},
		{name: "free", run: lock("c"), want: true},
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
	runSteps(t, []step{
		{name: "the record changed since it was read", run: erase(`{"note":"jan"}`), want: 0},
		{name: "nothing written", run: func() (any, error) { return rdb.HExists(ctx, key, "text").Result() }, want: true},
		{name: "as it is", run: erase(`{"note":"voided"}`), want: 1},
		{name: "both written", run: func() (any, error) {
			return [2]string{field(t, rdb, key, "text"), field(t, rdb, times, "r1")}, nil
		}, want: [2]string{"", `{"note":"(erased)"}`}},
	})
}
