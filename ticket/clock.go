package ticket

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Clock is a ticket's SLA clock: the deadlines package sla computed, kept
// with the ticket so that they change only when priority or plan does
// (design invariant), and the pauses while the desk waits for the customer.
type Clock struct {
	// Plan, Language, Arrival and Type are what the deadlines were computed
	// from; a recomputation starts from them again.
	Plan     string    `json:"plan"`
	Language string    `json:"language,omitempty"`
	Arrival  time.Time `json:"arrival"`
	// Type is the ticket's support type whose targets apply; "" for the
	// plan's own (clocks stored before types existed).
	Type     string `json:"type,omitempty"`
	Priority string `json:"priority"`
	// Rule names the plan rule that applied (Kwikqy's Dutch fallback).
	Rule string `json:"rule,omitempty"`
	// Target is the first-response target as configured ("4h").
	Target           string    `json:"target,omitempty"`
	Start            time.Time `json:"start"`
	FirstResponseDue time.Time `json:"first_response_due,omitzero"`
	ResolutionDue    time.Time `json:"resolution_due,omitzero"`
	// WarnAt is when the desk is warned that the first response is due
	// soon (a share of the target).
	WarnAt time.Time `json:"warn_at,omitzero"`
	// PausedAt is set while the clock stands still (waiting for the
	// customer); Paused is the business time it stood still before.
	PausedAt time.Time     `json:"paused_at,omitzero"`
	Paused   time.Duration `json:"paused,omitempty"`

	// Set by the escalation and the first agent reply, each once.
	WarnedAt    time.Time `json:"warned_at,omitzero"`
	BreachedAt  time.Time `json:"breached_at,omitzero"`
	RespondedAt time.Time `json:"responded_at,omitzero"`
}

// Running reports whether the first-response clock is ticking.
func (c *Clock) Running() bool {
	return c != nil && c.PausedAt.IsZero() && !c.FirstResponseDue.IsZero() && c.RespondedAt.IsZero()
}

// schedule is the warn and breach time in ms for the due-time sets, ""
// where nothing is to be scheduled.
func (c *Clock) schedule() [2]string {
	var s [2]string
	if !c.Running() {
		return s
	}
	if !c.WarnAt.IsZero() && c.WarnAt.Before(c.FirstResponseDue) {
		s[0] = strconv.FormatInt(c.WarnAt.UnixMilli(), 10)
	}
	s[1] = strconv.FormatInt(c.FirstResponseDue.UnixMilli(), 10)
	return s
}

// Escalation is a kind of SLA alert. Each ticket gets each kind once.
type Escalation string

const (
	Warning Escalation = "warning"
	Breach  Escalation = "breach"
)

// Keys of the due-time sets (sorted sets scored by unix ms): what the sweep
// reads, so that its cost grows with what is due, not with open tickets.
// The warned and breached sets hold tickets at risk and overdue for the
// managers' digest, scored by deadline.
const (
	warnSet     = "sla:warn"
	breachSet   = "sla:breach"
	warnedSet   = "sla:warned"
	breachedSet = "sla:breached"
)

func (s *Store) dueSet(e Escalation) string {
	if e == Warning {
		return s.key(warnSet)
	}
	return s.key(breachSet)
}

//go:embed clock.lua
var clockSrc string

var clockScript = redis.NewScript(clockSrc)

// SetClock stores a recomputed clock of ticket number (a new priority or
// plan, a pause, a resumption) and reschedules its alerts. Alerts already
// sent are not sent again.
func (s *Store) SetClock(ctx context.Context, number string, c *Clock) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("set SLA clock of %s: encode: %w", number, err)
	}
	sched := c.schedule()
	keys := []string{s.key("t:" + number), s.key(warnSet), s.key(breachSet), s.key(warnedSet), s.key(breachedSet)}
	err = clockScript.Run(ctx, s.rdb, keys, number, string(b), sched[0], sched[1],
		strconv.FormatInt(c.FirstResponseDue.UnixMilli(), 10)).Err()
	if err != nil {
		if errors.Is(scriptErr(err), ErrNotFound) {
			return fmt.Errorf("set SLA clock of %s: %w", number, ErrNotFound)
		}
		return fmt.Errorf("set SLA clock of %s: %w", number, err)
	}
	return nil
}

// Due is one scheduled alert.
type Due struct {
	Number string
	At     time.Time // when it was due
}

// DueNow lists at most limit alerts of kind e due at or before now,
// earliest first.
func (s *Store) DueNow(ctx context.Context, e Escalation, now time.Time, limit int64) ([]Due, error) {
	zs, err := s.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{
		Key: s.dueSet(e), Start: "-inf", Stop: strconv.FormatInt(now.UnixMilli(), 10), ByScore: true, Count: limit,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("list due SLA %ss: %w", e, err)
	}
	out := make([]Due, len(zs))
	for i, z := range zs {
		out[i] = Due{Number: z.Member.(string), At: time.UnixMilli(int64(z.Score))}
	}
	return out, nil
}

//go:embed mark.lua
var markSrc string

//go:embed escalate.lua
var escalateSrc string

var escalateScript = redis.NewScript(queueSrc + markSrc + escalateSrc)

//go:embed escalate_all.lua
var escalateAllSrc string

var escalateAllScript = redis.NewScript(queueSrc + markSrc + escalateAllSrc)

// Escalate records alert d of kind e (of a ticket whose first response is
// due at deadline) as sent at `at` and queues its
// notifications (field/value pairs, each with its "id"), in one step: only
// if d is still scheduled as listed, so that of two replicas sweeping at
// once, and of a sweep repeated after a crash, exactly one sends it. It
// reports whether this call did.
func (s *Store) Escalate(ctx context.Context, e Escalation, d Due, deadline, at time.Time, notes [][]string) (bool, error) {
	marker, set := "sla_warned_at", s.key(warnedSet)
	if e == Breach {
		marker, set = "sla_breached_at", s.key(breachedSet)
	}
	args := []any{d.Number, strconv.FormatInt(d.At.UnixMilli(), 10), marker, at.UTC().Format(time.RFC3339Nano),
		strconv.FormatInt(deadline.UnixMilli(), 10)}
	for _, n := range notes {
		args = append(args, len(n))
		for _, v := range n {
			args = append(args, v)
		}
	}
	keys := []string{s.dueSet(e), s.key("t:" + d.Number), set, s.key(warnedSet), s.outbox}
	done, err := escalateScript.Run(ctx, s.rdb, keys, args...).Int()
	if err != nil {
		return false, fmt.Errorf("escalate %s of %s: %w", e, d.Number, err)
	}
	return done == 1, nil
}

// Alert is one SLA alert of one ticket as a sweep found it due: its kind,
// its entry in the due-time set, and the ticket's first-response deadline.
type Alert struct {
	Kind     Escalation
	Due      Due
	Deadline time.Time
}

// EscalateAll records alerts as sent at `at` and queues notes (each
// notification field/value pairs with its "id", and may be about several
// of the alerts), all in one step, and only if every alert is still
// scheduled as listed and its ticket exists. Otherwise it changes nothing
// and returns the indexes of the alerts that are not: the caller leaves
// them out, makes the notifications anew and calls again. So of two sweeps
// at once, and of a sweep repeated after a crash, exactly one sends each
// alert, and no notification names an alert another sweep sent.
func (s *Store) EscalateAll(ctx context.Context, alerts []Alert, at time.Time, notes [][]string) (stale []int, err error) {
	if len(alerts) == 0 {
		return nil, nil
	}
	keys := []string{s.dueSet(Warning), s.dueSet(Breach), s.key(warnedSet), s.key(breachedSet), s.outbox}
	args := []any{at.UTC().Format(time.RFC3339Nano), len(alerts)}
	for _, a := range alerts {
		keys = append(keys, s.key("t:"+a.Due.Number))
		args = append(args, string(a.Kind), a.Due.Number, strconv.FormatInt(a.Due.At.UnixMilli(), 10),
			strconv.FormatInt(a.Deadline.UnixMilli(), 10))
	}
	for _, n := range notes {
		args = append(args, len(n))
		for _, v := range n {
			args = append(args, v)
		}
	}
	res, err := escalateAllScript.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("escalate %d SLA alerts (%s first): %w", len(alerts), alerts[0].Due.Number, err)
	}
	for _, i := range res {
		stale = append(stale, int(i))
	}
	return stale, nil
}

// AtRisk lists the tickets that were warned but not yet breached, and the
// breached ones, each by deadline: the managers' digest.
func (s *Store) AtRisk(ctx context.Context) (warned, breached []string, err error) {
	var w, b *redis.StringSliceCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		w = p.ZRange(ctx, s.key(warnedSet), 0, -1)
		b = p.ZRange(ctx, s.key(breachedSet), 0, -1)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list tickets at risk: %w", err)
	}
	return w.Val(), b.Val(), nil
}
