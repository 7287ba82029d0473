package ticket

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// EventTime is an agent's time record in a ticket's history.
const EventTime = "time"

// TimeRecord is one piece of an agent's work on a ticket: who, when it
// started, how long, what, whether it is billable, and a note. Records are
// kept apart from the ticket's own fields, under keys of their own.
type TimeRecord struct {
	ID       string    `json:"id"`
	Ticket   string    `json:"ticket"`
	Customer string    `json:"customer"`
	Agent    string    `json:"agent"`
	Start    time.Time `json:"start"`
	Minutes  int       `json:"minutes"`
	Activity string    `json:"activity"`
	Billable bool      `json:"billable"`
	Note     string    `json:"note,omitempty"`
	// RecordedAt is when it was recorded; Via the route: mail, cli, api or
	// page.
	RecordedAt time.Time `json:"recorded_at"`
	Via        string    `json:"via"`
	// RequestSum identifies the request that made it, so that a replay
	// under its key can be told from another request under the same key.
	RequestSum string `json:"request_sum,omitempty"`
	// VoidedAt is when an agent (VoidedBy) voided the record, why in
	// VoidReason: it stays, marked, but counts nowhere. Nil: it counts.
	VoidedAt   *time.Time `json:"voided_at,omitempty"`
	VoidedBy   string     `json:"voided_by,omitempty"`
	VoidReason string     `json:"void_reason,omitempty"`
}

// End is when the record's work ended.
func (r TimeRecord) End() time.Time { return r.Start.Add(time.Duration(r.Minutes) * time.Minute) }

// TimeTotals are the sums of a ticket's time records, in minutes, and when
// its budget's warning and its reaching were told (zero: not yet).
type TimeTotals struct {
	Minutes  int `json:"minutes"`
	Billable int `json:"billable_minutes"`
	// Budget is the ticket's own budget in minutes, agreed with the
	// customer (SetTimeBudget); 0: the plan's.
	Budget    int       `json:"own_budget_minutes,omitempty"`
	WarnedAt  time.Time `json:"budget_warned_at,omitzero"`
	ReachedAt time.Time `json:"budget_reached_at,omitzero"`
}

// BudgetNotes are the notifications a time record queues when it brings
// the ticket's billable time to WarnAt or Limit minutes (0: none), each
// once per ticket.
type BudgetNotes struct {
	WarnAt, Limit int
	Warn, Reached [][]string
}

//go:embed time.lua
var timeSrc string

var timeScript = redis.NewScript(timeSrc)

//go:embed timebudget.lua
var timeBudgetSrc string

var timeBudgetScript = redis.NewScript(timeBudgetSrc)

// SetTimeBudget gives ticket number its own budget of minutes (0: the
// plan's again) with the history event ev; b.WarnAt and b.Limit are the
// thresholds that budget makes (its notes are not used): a mark of one the
// ticket's billable time is below is removed, so that reaching it is told.
func (s *Store) SetTimeBudget(ctx context.Context, number string, minutes int, ev Event, b BudgetNotes) error {
	e, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("time budget of %s: encode event: %w", number, err)
	}
	keys := []string{s.key("t:" + number + ":timesum"), s.key("t:" + number + ":events"), s.key("t:" + number)}
	err = timeBudgetScript.Run(ctx, s.rdb, keys, number, minutes, b.WarnAt, b.Limit, string(e), ev.At.UTC().Format(time.RFC3339Nano)).Err()
	switch {
	case errors.Is(scriptErr(err), ErrNotFound):
		return fmt.Errorf("time budget of %s: %w", number, ErrNotFound)
	case err != nil:
		return fmt.Errorf("time budget of %s: %w", number, err)
	}
	return nil
}

//go:embed timevoid.lua
var timeVoidSrc string

var timeVoidScript = redis.NewScript(timeVoidSrc)

// ErrNoRecord: the ticket has no time record of that id.
var ErrNoRecord = errors.New("no such time record")

// VoidTime voids record id of ticket number (of customer) with the
// history event ev: it no longer counts in the totals, the customer's
// index or statements, and the budget's marks (b.WarnAt, b.Limit; its
// notes are not used) the totals fall below again are removed. It reports
// false for a record voided before, and returns the record as it is.
func (s *Store) VoidTime(ctx context.Context, number, customer, id, by, reason string, at time.Time, ev Event, b BudgetNotes) (TimeRecord, bool, error) {
	e, err := json.Marshal(ev)
	if err != nil {
		return TimeRecord{}, false, fmt.Errorf("void time record %s of %s: encode event: %w", id, number, err)
	}
	keys := []string{s.key("t:" + number + ":time"), s.key("t:" + number + ":timesum"), s.key("time:c:" + customer),
		s.key("t:" + number + ":events"), s.key("t:" + number)}
	res, err := timeVoidScript.Run(ctx, s.rdb, keys, number, id, at.UTC().Format(time.RFC3339Nano), by, reason, string(e), b.WarnAt, b.Limit).Slice()
	switch {
	case errors.Is(scriptErr(err), ErrNoRecord):
		return TimeRecord{}, false, fmt.Errorf("void time record %s of %s: %w", id, number, ErrNoRecord)
	case err != nil:
		return TimeRecord{}, false, fmt.Errorf("void time record %s of %s: %w", id, number, err)
	case len(res) != 2:
		return TimeRecord{}, false, fmt.Errorf("void time record %s of %s: unexpected script reply %v", id, number, res)
	}
	raw, _ := res[0].(string)
	var r TimeRecord
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return TimeRecord{}, false, fmt.Errorf("void time record %s of %s: %w", id, number, err)
	}
	done, _ := res[1].(int64)
	return r, done == 1, nil
}

func (s *Store) timeKeys(number, customer string) []string {
	return []string{s.key("t:" + number), s.key("t:" + number + ":time"), s.key("t:" + number + ":timesum"),
		s.key("time:c:" + customer), s.key("timekeys"), s.key("t:" + number + ":events"), s.outbox, s.key("seen"),
		s.key(timeKeysKey(number))}
}

// AddTime records r on its ticket with the history event ev, and queues
// the budget notifications its new billable total calls for. key makes it
// idempotent ("" for none): a key used before records nothing and returns
// the record it made (created false). threadID is the Message-ID of the
// agent's mail it came in, by which replies thread ("" for none). A
// record without an ID gets one: from key, or random.
func (s *Store) AddTime(ctx context.Context, r TimeRecord, key, threadID string, ev Event, b BudgetNotes) (TimeRecord, bool, error) {
	switch {
	case r.Minutes <= 0:
		return r, false, fmt.Errorf("time on %s: %d minutes", r.Ticket, r.Minutes)
	case r.Customer == "":
		return r, false, fmt.Errorf("time on %s: no customer", r.Ticket)
	}
	if r.ID == "" {
		r.ID = recordID(key)
	}
	rec, err := json.Marshal(r)
	if err != nil {
		return r, false, fmt.Errorf("time on %s: encode record: %w", r.Ticket, err)
	}
	e, err := json.Marshal(ev)
	if err != nil {
		return r, false, fmt.Errorf("time on %s: encode event: %w", r.Ticket, err)
	}
	billable := "0"
	if r.Billable {
		billable = "1"
	}
	args := []any{r.Ticket, r.ID, string(rec), key, r.Start.UnixMilli(), r.Minutes, billable, string(e),
		b.WarnAt, b.Limit, r.RecordedAt.UTC().Format(time.RFC3339Nano), threadID, len(b.Warn)}
	for _, n := range append(slices.Clone(b.Warn), b.Reached...) {
		args = append(args, len(n))
		for _, v := range n {
			args = append(args, v)
		}
	}
	res, err := timeScript.Run(ctx, s.rdb, s.timeKeys(r.Ticket, r.Customer), args...).Slice()
	switch {
	case errors.Is(scriptErr(err), ErrNotFound):
		return r, false, fmt.Errorf("time on %s: %w", r.Ticket, ErrNotFound)
	case err != nil:
		return r, false, fmt.Errorf("time on %s: %w", r.Ticket, err)
	case len(res) != 2:
		return r, false, fmt.Errorf("time on %s: unexpected script reply %v", r.Ticket, res)
	}
	if done, _ := res[0].(int64); done == 1 {
		return r, true, nil
	}
	prev, _ := res[1].(string)
	number, id, _ := strings.Cut(prev, " ")
	old, err := s.TimeRecord(ctx, number, id)
	if err != nil {
		return r, false, fmt.Errorf("time on %s: the record made before under this key: %w", r.Ticket, err)
	}
	return old, false, nil
}

// recordID is a record's id: from its idempotency key, so that a replay
// names the same record, or random.
func recordID(key string) string {
	if key == "" {
		return strings.ToLower(rand.Text()[:12])
	}
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:6])
}

// TimeRecord returns one record of ticket number.
func (s *Store) TimeRecord(ctx context.Context, number, id string) (TimeRecord, error) {
	raw, err := s.rdb.HGet(ctx, s.key("t:"+number+":time"), id).Result()
	if errors.Is(err, redis.Nil) {
		return TimeRecord{}, fmt.Errorf("time record %s of %s: %w", id, number, ErrNotFound)
	}
	if err != nil {
		return TimeRecord{}, fmt.Errorf("read time record %s of %s: %w", id, number, err)
	}
	var r TimeRecord
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return TimeRecord{}, fmt.Errorf("read time record %s of %s: %w", id, number, err)
	}
	return r, nil
}

// TimeRecords returns the time records of ticket number, by start.
func (s *Store) TimeRecords(ctx context.Context, number string) ([]TimeRecord, error) {
	number = strings.ToUpper(strings.TrimSpace(number))
	m, err := s.rdb.HGetAll(ctx, s.key("t:"+number+":time")).Result()
	if err != nil {
		return nil, fmt.Errorf("read time records of %s: %w", number, err)
	}
	out := make([]TimeRecord, 0, len(m))
	for id, raw := range m {
		var r TimeRecord
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			return nil, fmt.Errorf("read time record %s of %s: %w", id, number, err)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b TimeRecord) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// TimeTotals returns the sums of ticket number's time records.
func (s *Store) TimeTotals(ctx context.Context, number string) (TimeTotals, error) {
	number = strings.ToUpper(strings.TrimSpace(number))
	m, err := s.rdb.HGetAll(ctx, s.key("t:"+number+":timesum")).Result()
	if err != nil {
		return TimeTotals{}, fmt.Errorf("read time totals of %s: %w", number, err)
	}
	var t TimeTotals
	t.Minutes, _ = strconv.Atoi(m["minutes"])
	t.Billable, _ = strconv.Atoi(m["billable"])
	t.Budget, _ = strconv.Atoi(m["budget"])
	t.WarnedAt, _ = time.Parse(time.RFC3339Nano, m["warned_at"])
	t.ReachedAt, _ = time.Parse(time.RFC3339Nano, m["reached_at"])
	return t, nil
}

// TimeTickets are the tickets of customer with a time record whose work
// started from `from` up to `to`, by number: what a monthly statement
// covers. One range read of the customer's index.
func (s *Store) TimeTickets(ctx context.Context, customer string, from, to time.Time) ([]string, error) {
	members, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: s.key("time:c:" + customer), ByScore: true,
		Start: strconv.FormatInt(from.UnixMilli(), 10), Stop: "(" + strconv.FormatInt(to.UnixMilli(), 10),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("read the time index of %s: %w", customer, err)
	}
	var out []string
	for _, m := range members {
		number, _, _ := strings.Cut(m, " ")
		if !slices.Contains(out, number) {
			out = append(out, number)
		}
	}
	slices.Sort(out)
	return out, nil
}
