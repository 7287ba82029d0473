package workflow

// Time records: agents record their work on a ticket (issue 21) by mail
// (#time 45m remote), the CLI (tickets time), the API and the ticket page,
// all through RecordTime, so that every route checks the same and makes a
// record once however often it is retried.

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/maildesk/maildesk/address"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// Routes a time record can come by (ticket.TimeRecord.Via).
const (
	ViaMail = "mail"
	ViaCLI  = "cli"
	ViaAPI  = "api"
	ViaPage = "page"
)

// Limits of a time record: one record is at most a day's work; work
// entered two months late is most likely a typo in the date (and would
// change a statement already sent).
const (
	MaxTimeRecord   = 24 * time.Hour
	MaxTimeBackdate = 62 * 24 * time.Hour
	maxTimeNote     = 2000 // characters
)

// TimeEntry is work an agent records on a ticket.
type TimeEntry struct {
	// Duration is how long, in whole minutes.
	Duration time.Duration
	// At is when the work started; zero: it ended now.
	At time.Time
	// Activity is one of the plan's (config.Plan.ActivityNames); "" is
	// remote.
	Activity string
	// Billable: nil is the activity's default (billing.activities.<a>
	// .billable, true unless it says otherwise).
	Billable *bool
	// Note says what was done; it is printed on the customer's statement.
	Note string
	// Via is the route (ViaMail, ViaCLI, ViaAPI, ViaPage).
	Via string
}

// TimeSummary is a ticket's recorded time and its budget, for the ticket's
// views (tickets time, the API, the ticket page).
type TimeSummary struct {
	Ticket  string              `json:"ticket"`
	Records []ticket.TimeRecord `json:"records"`
	ticket.TimeTotals
	// Budget is the billable time the ticket may take without the
	// customer's permission (plans.<plan>.billing.budget), in minutes; 0:
	// none. WarnAt is the share (percent) at which agents are warned.
	Budget int `json:"budget_minutes,omitempty"`
	WarnAt int `json:"budget_warn_at,omitempty"`
	// BudgetState is "" (no budget), "ok", "warning" (past WarnAt) or
	// "reached".
	BudgetState string `json:"budget_state,omitempty"`
}

// OwnBudget is the ticket's own budget in minutes (SetTimeBudget); 0:
// the plan's applies.
func (s TimeSummary) OwnBudget() int { return s.TimeTotals.Budget }

// The states of TimeSummary.BudgetState.
const (
	BudgetOK      = "ok"
	BudgetWarning = "warning"
	BudgetReached = "reached"
)

// RecordTime records e on ticket number as an agent's mail asked: dedupe
// is the mail's dedupe key (a replayed mail records nothing twice) and
// messageID its Message-ID, which replies thread by.
func (s *Service) RecordTime(ctx context.Context, number string, by Agent, e TimeEntry, dedupe, messageID string) (ticket.TimeRecord, bool, error) {
	if dedupe == "" {
		return ticket.TimeRecord{}, false, fmt.Errorf("time on %s: no dedupe key", number)
	}
	return s.recordTime(ctx, number, by, e, "mail "+dedupe, messageID, "")
}

// RecordTimeRequest records e on ticket number as an API client, the CLI
// or the ticket page asked; key is the request's idempotency key, scoped
// to the agent by the caller ("" for none): the same request again
// returns the same record (created false), another under the same key is
// ErrKeyReused.
func (s *Service) RecordTimeRequest(ctx context.Context, number string, by Agent, e TimeEntry, key string) (ticket.TimeRecord, bool, error) {
	sum := e.sum()
	if key != "" {
		key = "request " + key
	}
	rec, created, err := s.recordTime(ctx, number, by, e, key, "", sum)
	if err == nil && !created && rec.RequestSum != sum {
		return rec, false, fmt.Errorf("%w: it recorded %s on %s with another request; use a new key for new time", ErrKeyReused, rec.ID, rec.Ticket)
	}
	return rec, created, err
}

func (s *Service) recordTime(ctx context.Context, number string, by Agent, e TimeEntry, key, threadID, sum string) (ticket.TimeRecord, bool, error) {
	t, err := s.Store.Get(ctx, number)
	if err != nil {
		return ticket.TimeRecord{}, false, err
	}
	s.settle()
	now := s.Now()
	planName, plan := s.plan(t)
	r, err := checkTime(t.Number, planName, plan, e, now)
	if err != nil {
		return r, false, err
	}
	r.Customer, r.Agent, r.RecordedAt, r.RequestSum = t.Customer, by.String(), now, sum
	ev := ticket.Event{At: now, Kind: ticket.EventTime, From: by.String(), Text: describeTime(r, s.Location)}
	notes, err := s.budgetNotes(ctx, t, plan, r, by)
	if err != nil {
		return r, false, err
	}
	rec, created, err := s.Store.AddTime(ctx, r, key, threadID, ev, notes)
	if err != nil {
		return rec, false, err
	}
	if created && s.TimeRecorded != nil {
		s.TimeRecorded(rec)
	}
	if created {
		s.Log.Info("time recorded", "ticket", t.Number, "agent", by.String(), "minutes", rec.Minutes,
			"activity", rec.Activity, "billable", rec.Billable, "start", rec.Start, "via", rec.Via)
	}
	return rec, created, nil
}

// checkTime validates e for a ticket on plan and makes the record of it.
func checkTime(number, planName string, plan config.Plan, e TimeEntry, now time.Time) (ticket.TimeRecord, error) {
	bad := func(format string, args ...any) (ticket.TimeRecord, error) {
		return ticket.TimeRecord{}, fmt.Errorf("time on %s: %w: "+format, append([]any{number, ErrInvalid}, args...)...)
	}
	act := cmp.Or(config.ActivityKey(e.Activity), config.ActivityRemote)
	note := strings.TrimSpace(e.Note)
	switch {
	case e.Duration <= 0:
		return bad("the duration must be more than 0 (like 45m or 1h30m)")
	case e.Duration%time.Minute != 0:
		return bad("the duration must be whole minutes (got %s)", e.Duration)
	case e.Duration > MaxTimeRecord:
		return bad("%s is more than one record may hold (%s): record each day's work on its own", e.Duration, "24h")
	case !plan.HasActivity(act):
		return bad("%v", plan.UnknownActivityError(planName, act))
	case utf8.RuneCountInString(note) > maxTimeNote:
		return bad("the note has %d characters, at most %d", utf8.RuneCountInString(note), maxTimeNote)
	}
	start := e.At
	if start.IsZero() {
		start = now.Add(-e.Duration)
	}
	start = start.Truncate(time.Minute)
	end := start.Add(e.Duration)
	switch {
	case end.After(now.Add(MaxClockSkew)):
		return bad("the work would end at %s, in the future (it is %s now)", end.Format(time.RFC3339), now.Format(time.RFC3339))
	case start.Before(now.Add(-MaxTimeBackdate)):
		return bad("the work started at %s, more than %s ago: check the date", start.Format(time.RFC3339), "62 days")
	}
	billable := plan.ActivityBillable(act)
	if e.Billable != nil {
		billable = *e.Billable
	}
	return ticket.TimeRecord{Ticket: number, Start: start, Minutes: int(e.Duration / time.Minute), Activity: act,
		Billable: billable, Note: note, Via: e.Via}, nil
}

// describeTime is the history's text for a record: "45m remote from
// 2026-11-20 16:30, billable: replaced the switch".
func describeTime(r ticket.TimeRecord, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	bill := "billable"
	if !r.Billable {
		bill = "not billable"
	}
	s := fmt.Sprintf("%s %s from %s, %s", FormatMinutes(r.Minutes), strings.ReplaceAll(r.Activity, "_", " "),
		r.Start.In(loc).Format("2006-01-02 15:04"), bill)
	if r.Note != "" {
		s += ": " + r.Note
	}
	return s
}

// FormatMinutes writes minutes as agents write durations: "45m", "2h",
// "1h30m".
func FormatMinutes(m int) string {
	switch {
	case m != 0 && m%60 == 0:
		return strconv.Itoa(m/60) + "h"
	case m > 60:
		return fmt.Sprintf("%dh%dm", m/60, m%60)
	}
	return strconv.Itoa(m) + "m"
}

// sum identifies e as asked for (before defaults: a replay without a
// start is the same request, though "now" has moved on).
func (e TimeEntry) sum() string {
	billable := ""
	if e.Billable != nil {
		billable = strconv.FormatBool(*e.Billable)
	}
	b, _ := json.Marshal([]string{e.Duration.String(), atText(e.At), config.ActivityKey(e.Activity), billable, strings.TrimSpace(e.Note)})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// TimeOf is ticket number's recorded time and budget.
func (s *Service) TimeOf(ctx context.Context, number string) (TimeSummary, error) {
	t, err := s.Store.Get(ctx, number)
	if err != nil {
		return TimeSummary{}, err
	}
	recs, err := s.Store.TimeRecords(ctx, t.Number)
	if err != nil {
		return TimeSummary{}, err
	}
	tot, err := s.Store.TimeTotals(ctx, t.Number)
	if err != nil {
		return TimeSummary{}, err
	}
	out := TimeSummary{Ticket: t.Number, Records: recs, TimeTotals: tot}
	_, plan := s.plan(t)
	if budget, warn := budgetOf(plan, tot); budget > 0 {
		out.Budget, out.WarnAt = budget, warn
		out.BudgetState = budgetState(tot.Billable, out.Budget, warn)
	}
	return out, nil
}

// budgetOf is the budget of a ticket on plan with totals tot, in minutes,
// and its warning share: the ticket's own (agreed with the customer),
// else the plan's; 0 for none.
func budgetOf(plan config.Plan, tot ticket.TimeTotals) (int, int) {
	budget, warn := plan.TimeBudget()
	if tot.Budget > 0 {
		return tot.Budget, cmp.Or(warn, config.DefaultBudgetWarnAt)
	}
	return int(budget / time.Minute), warn
}

// budgetMarks are the thresholds of budgetOf in billable minutes.
func budgetMarks(plan config.Plan, tot ticket.TimeTotals) ticket.BudgetNotes {
	budget, warn := budgetOf(plan, tot)
	if budget == 0 {
		return ticket.BudgetNotes{}
	}
	return ticket.BudgetNotes{WarnAt: warnMinutes(budget, warn), Limit: budget}
}

// MaxTimeBudget bounds a ticket's own budget: more is a typo.
const MaxTimeBudget = 1000 * time.Hour

// SetTimeBudget gives ticket number its own time budget d, agreed with the
// customer (Oxineo: "Indien er meer dan 2 uur nodig is om een ticket op te
// lossen, zal dit gebeuren in overleg met een inschatting van de
// benodigde tijd"), or with d 0 returns it to the plan's. The history
// says who set it and why; the warning and the reaching of the new budget
// are told when the ticket's billable time gets there.
func (s *Service) SetTimeBudget(ctx context.Context, number string, by Agent, d time.Duration, reason string) (TimeSummary, error) {
	t, err := s.Store.Get(ctx, number)
	if err != nil {
		return TimeSummary{}, err
	}
	reason = strings.TrimSpace(reason)
	switch {
	case d < 0 || d%time.Minute != 0 || d > MaxTimeBudget:
		return TimeSummary{}, fmt.Errorf("time budget of %s: %w: must be whole minutes from 0 (the plan's) to %s (got %s)", t.Number, ErrInvalid, "1000h", d)
	case utf8.RuneCountInString(reason) > maxTimeNote:
		return TimeSummary{}, fmt.Errorf("time budget of %s: %w: the reason has %d characters, at most %d", t.Number, ErrInvalid, utf8.RuneCountInString(reason), maxTimeNote)
	}
	tot, err := s.Store.TimeTotals(ctx, t.Number)
	if err != nil {
		return TimeSummary{}, err
	}
	_, plan := s.plan(t)
	tot.Budget = int(d / time.Minute)
	s.settle()
	now := s.Now()
	text := "time budget set to " + FormatMinutes(tot.Budget)
	if tot.Budget == 0 {
		text = "time budget back to the plan's"
		if b, _ := plan.TimeBudget(); b > 0 {
			text += " (" + FormatMinutes(int(b/time.Minute)) + ")"
		}
	}
	if reason != "" {
		text += ": " + reason
	}
	if err := s.Store.SetTimeBudget(ctx, t.Number, tot.Budget, ticket.Event{At: now, Kind: ticket.EventTime, From: by.String(), Text: text},
		budgetMarks(plan, tot)); err != nil {
		return TimeSummary{}, err
	}
	s.Log.Info("time budget set", "ticket", t.Number, "agent", by.String(), "minutes", tot.Budget)
	return s.TimeOf(ctx, t.Number)
}

// budgetState is where billable minutes stand against a budget with its
// warning at warn percent.
func budgetState(billable, budget, warn int) string {
	switch {
	case billable >= budget:
		return BudgetReached
	case billable >= warnMinutes(budget, warn):
		return BudgetWarning
	}
	return BudgetOK
}

// warnMinutes is warn percent of budget, rounded up: the warning never
// comes before the share is reached.
func warnMinutes(budget, warn int) int { return (budget*warn + 99) / 100 }

// budgetNotes are the notifications that record r on t queues if it
// brings t's billable time to its budget's warning share or to the budget
// (the store sends each once): to desk.agents and to the assignee when
// that is an address. They say the time recorded with r, as read before
// it; another record made at the same moment may make it a little more.
func (s *Service) budgetNotes(ctx context.Context, t *ticket.Ticket, plan config.Plan, r ticket.TimeRecord, by Agent) (ticket.BudgetNotes, error) {
	if !r.Billable {
		return ticket.BudgetNotes{}, nil
	}
	tot, err := s.Store.TimeTotals(ctx, t.Number)
	if err != nil {
		return ticket.BudgetNotes{}, err
	}
	b := budgetMarks(plan, tot)
	bm := b.Limit
	if bm == 0 {
		return b, nil
	}
	used := tot.Billable + r.Minutes
	var to []config.Person
	seen := map[string]bool{}
	add := func(p config.Person) {
		addr, err := address.Normalise(p.Email)
		if err != nil || seen[addr] {
			return
		}
		seen[addr] = true
		to = append(to, config.Person{Email: addr, Name: p.Name})
	}
	if strings.Contains(t.Assignee, "@") {
		add(config.Person{Email: t.Assignee})
	}
	for _, a := range s.Agents {
		add(a)
	}
	var customer string
	if c := s.customer(t); c != nil {
		customer = c.Name
	}
	for _, p := range to {
		for _, reason := range []string{notify.BudgetWarning, notify.BudgetReached} {
			n := notify.Notification{
				ID: notify.TimeBudgetID(t.Number, reason, p.Email), Kind: notify.TimeBudget,
				To: p.Email, ToName: p.Name, Language: s.Language, Ticket: t.Number, Subject: t.Subject,
				InReplyTo: t.MessageID, Customer: customer, Priority: t.Priority,
				PriorityLabel: s.priorityLabel(t, s.Language, t.Priority),
				Reason:        reason, Target: FormatMinutes(bm), Used: FormatMinutes(used), Agent: cmp.Or(by.Name, by.Email),
			}
			if reason == notify.BudgetWarning {
				b.Warn = append(b.Warn, n.Fields())
			} else {
				b.Reached = append(b.Reached, n.Fields())
			}
		}
	}
	return b, nil
}

// VoidTime voids time record id of ticket number: an agent's correction
// of a wrong record. It stays in the ticket's time, marked, and its
// history says who voided it and why, but it no longer counts in the
// totals or on statements (a statement made before is not changed: make
// it again). Voiding a void record changes nothing (voided false).
func (s *Service) VoidTime(ctx context.Context, number string, by Agent, id, reason string) (ticket.TimeRecord, bool, error) {
	t, err := s.Store.Get(ctx, number)
	if err != nil {
		return ticket.TimeRecord{}, false, err
	}
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > maxTimeNote {
		return ticket.TimeRecord{}, false, fmt.Errorf("void time on %s: %w: the reason has %d characters, at most %d", t.Number, ErrInvalid, utf8.RuneCountInString(reason), maxTimeNote)
	}
	prev, err := s.Store.TimeRecord(ctx, t.Number, strings.TrimSpace(id))
	if errors.Is(err, ticket.ErrNotFound) {
		return ticket.TimeRecord{}, false, fmt.Errorf("void time on %s: %w: it has no time record %q (maildesk tickets time %s lists them)", t.Number, ErrNotFound, id, t.Number)
	}
	if err != nil {
		return ticket.TimeRecord{}, false, err
	}
	s.settle()
	now := s.Now()
	text := "voided the time record " + prev.ID + " (" + describeTime(prev, s.Location) + ")"
	if reason != "" {
		text += ": " + reason
	}
	tot, err := s.Store.TimeTotals(ctx, t.Number)
	if err != nil {
		return ticket.TimeRecord{}, false, err
	}
	_, plan := s.plan(t)
	marks := budgetMarks(plan, tot)
	r, voided, err := s.Store.VoidTime(ctx, t.Number, t.Customer, prev.ID, by.String(), reason, now,
		ticket.Event{At: now, Kind: ticket.EventTime, From: by.String(), Text: text}, marks)
	if errors.Is(err, ticket.ErrNoRecord) {
		// Gone since it was read (its ticket erased by retention).
		return r, false, fmt.Errorf("void time on %s: %w: %w", t.Number, ErrNotFound, err)
	}
	if err == nil && voided {
		s.Log.Info("time record voided", "ticket", t.Number, "agent", by.String(), "record", r.ID, "minutes", r.Minutes)
	}
	return r, voided, err
}
