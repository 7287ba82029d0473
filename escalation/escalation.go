// Package escalation runs the SLA clock of tickets: it starts the clock when
// a ticket is made, stops it while the desk waits for the customer and
// restarts it, recomputes it when the priority changes, and sweeps the
// due-time sets for warnings and breach alerts and the managers' digest.
// The deadline arithmetic is package sla's; this package applies it to
// stored tickets and turns what is due into mail.
package escalation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/sla"
	"github.com/maildesk/maildesk/ticket"
)

// Escalator holds what the clock and the sweeps need. Its methods are safe
// for concurrent use; several replicas may sweep at once (each alert is
// sent by exactly one, see ticket.Store.Escalate).
type Escalator struct {
	Store *ticket.Store
	Plans *sla.Plans
	// Outbox receives the digest; alerts are queued by the store together
	// with the mark that they were sent.
	Outbox *notify.Outbox
	// Customer looks up a customer in the current directory (for its name
	// and account managers); nil when unknown.
	Customer func(id string) *config.Customer
	// WarnShare is the share of the first-response time after which the
	// desk is warned (0.75).
	WarnShare float64
	// LateAfter: an alert this long overdue says it is late.
	LateAfter time.Duration
	// Agents get warnings; Managers get warnings, breaches and the digest.
	Agents, Managers []config.Person
	// Language of the alerts (the desk's).
	Language string
	Log      *slog.Logger
}

// Start computes the clock of a ticket of plan and priority in language
// arriving at arrival; nil when the plan has no SLA clock.
func (e *Escalator) Start(plan, priority, language string, arrival time.Time) (*ticket.Clock, error) {
	d, err := e.Plans.Due(plan, priority, language, arrival)
	if err != nil {
		return nil, fmt.Errorf("starting the SLA clock: %w", err)
	}
	if d.Calendar == nil {
		return nil, nil
	}
	c := &ticket.Clock{Plan: plan, Language: language, Arrival: arrival}
	e.fill(c, d)
	return c, nil
}

func (e *Escalator) fill(c *ticket.Clock, d sla.Due) {
	c.Priority, c.Rule, c.Start = d.Priority, d.Rule, d.Start
	c.Target = ""
	if !d.Targets.FirstResponse.IsZero() {
		c.Target = d.Targets.FirstResponse.String()
	}
	c.FirstResponseDue, c.ResolutionDue = d.FirstResponse, d.Resolution
	c.WarnAt = d.WarnAt(e.WarnShare)
}

// due rebuilds the computation a clock came from.
func (e *Escalator) due(c *ticket.Clock) (sla.Due, error) {
	d, err := e.Plans.Due(c.Plan, c.Priority, c.Language, c.Arrival)
	if err != nil {
		return d, fmt.Errorf("recomputing the SLA clock: %w", err)
	}
	if d.Calendar == nil {
		return d, fmt.Errorf("recomputing the SLA clock: plan %q has no SLA calendar any more", c.Plan)
	}
	return d, nil
}

// used is the business time that has counted against the targets by at.
func used(d sla.Due, c *ticket.Clock, at time.Time) time.Duration {
	end := at
	if !c.PausedAt.IsZero() && c.PausedAt.Before(at) {
		end = c.PausedAt
	}
	return max(d.Calendar.Between(d.Start, end)-c.Paused, 0)
}

// clock loads the clock of ticket number; nil when it has none.
func (e *Escalator) clock(ctx context.Context, number string) (*ticket.Ticket, *ticket.Clock, error) {
	t, err := e.Store.Get(ctx, number)
	if err != nil {
		return nil, nil, err
	}
	return t, t.SLA, nil
}

// Reprioritise recomputes the deadlines of ticket number for a priority
// set at `at`: the business time already used counts towards the new
// target (sla.Due.At).
func (e *Escalator) Reprioritise(ctx context.Context, number, priority string, at time.Time) error {
	return e.reclassify(ctx, number, "", priority, at)
}

// Replan recomputes the deadlines of ticket number for the plan its
// customer moved to at `at`, the same way: the business time already used
// (counted in the old plan's calendar) counts towards the new plan's
// target. A plan without SLA calendar leaves the ticket without deadlines.
func (e *Escalator) Replan(ctx context.Context, number, plan string, at time.Time) error {
	t, err := e.Store.Get(ctx, number)
	if err != nil {
		return err
	}
	if t.SLA == nil {
		// From a plan without clock: the new plan's clock runs from the
		// ticket's arrival, as if it had always been on it.
		if t.Type != ticket.TypeIncident || !ticket.Open(t.Status) || t.FirstResponseAt != nil {
			return nil
		}
		c, err := e.Start(plan, t.Priority, t.Language, t.CreatedAt)
		if err != nil || c == nil {
			return err
		}
		return e.Store.SetClock(ctx, number, c)
	}
	return e.reclassify(ctx, number, plan, "", at)
}

func (e *Escalator) reclassify(ctx context.Context, number, plan, priority string, at time.Time) error {
	_, c, err := e.clock(ctx, number)
	if err != nil || c == nil {
		return err
	}
	old, err := e.due(c)
	if err != nil {
		return err
	}
	spent := used(old, c, at)
	priority = cmp.Or(priority, c.Priority)
	d := old
	if plan != "" && plan != c.Plan {
		if d, err = e.Plans.Due(plan, priority, c.Language, c.Arrival); err != nil {
			return fmt.Errorf("moving %s to plan %q: %w", number, plan, err)
		}
		c.Plan = plan
		if d.Calendar == nil {
			c.Priority, c.Rule, c.Target = priority, d.Rule, ""
			c.FirstResponseDue, c.ResolutionDue, c.WarnAt = time.Time{}, time.Time{}, time.Time{}
			return e.Store.SetClock(ctx, number, c)
		}
		// Keep the time the clock stood still in the new calendar's terms,
		// so that a later resumption counts the same used time.
		c.Paused = 0
		c.Paused = max(used(d, c, at)-spent, 0)
	}
	nd, err := d.At(priority, at, spent)
	if err != nil {
		return fmt.Errorf("recomputing the SLA clock of %s: %w", number, err)
	}
	e.fill(c, nd)
	return e.Store.SetClock(ctx, number, c)
}

// Restore gives ticket number, made an incident by the desk (it was a
// feature request), its SLA clock as if it had been an incident from its
// arrival: the business time since it arrived counts against the target
// of the priority it has now. A first response already given stays given.
// It is idempotent: a repeat computes the same clock.
func (e *Escalator) Restore(ctx context.Context, number string, at time.Time) error {
	t, err := e.Store.Get(ctx, number)
	if err != nil {
		return err
	}
	if t.Type != ticket.TypeIncident {
		return nil
	}
	plan := config.DefaultPlan
	if t.SLA != nil && t.SLA.Plan != "" {
		plan = t.SLA.Plan
	}
	if cu := e.customer(t.Customer); cu != nil && cu.Plan != "" {
		plan = cu.Plan
	}
	lang := t.Language
	if t.SLA != nil && t.SLA.Language != "" {
		lang = t.SLA.Language
	}
	c, err := e.Start(plan, t.Priority, lang, t.CreatedAt)
	if err != nil || c == nil {
		return err
	}
	switch {
	case t.SLA != nil && !t.SLA.RespondedAt.IsZero():
		c.RespondedAt = t.SLA.RespondedAt
	case t.FirstResponseAt != nil:
		c.RespondedAt = *t.FirstResponseAt
	}
	return e.Store.SetClock(ctx, number, c)
}

// Pause stops the clock of ticket number at `at` (waiting for the
// customer): no alerts until Resume.
func (e *Escalator) Pause(ctx context.Context, number string, at time.Time) error {
	_, c, err := e.clock(ctx, number)
	if err != nil || c == nil || !c.PausedAt.IsZero() {
		return err
	}
	c.PausedAt = at
	return e.Store.SetClock(ctx, number, c)
}

// Resume restarts a paused clock at `at`: the remaining business time runs
// from there.
func (e *Escalator) Resume(ctx context.Context, number string, at time.Time) error {
	_, c, err := e.clock(ctx, number)
	if err != nil || c == nil || c.PausedAt.IsZero() {
		return err
	}
	d, err := e.due(c)
	if err != nil {
		return err
	}
	if at.After(c.PausedAt) {
		c.Paused += d.Calendar.Between(c.PausedAt, at)
	}
	c.PausedAt = time.Time{}
	nd, err := d.At(c.Priority, at, used(d, c, at))
	if err != nil {
		return fmt.Errorf("resuming the SLA clock of %s: %w", number, err)
	}
	e.fill(c, nd)
	return e.Store.SetClock(ctx, number, c)
}

// Responded stops the first-response clock for good: an agent answered.
func (e *Escalator) Responded(ctx context.Context, number string, at time.Time) error {
	_, c, err := e.clock(ctx, number)
	if err != nil || c == nil || !c.RespondedAt.IsZero() {
		return err
	}
	c.RespondedAt = at
	return e.Store.SetClock(ctx, number, c)
}

// Stats counts what one sweep did.
type Stats struct {
	Warnings, Breaches, Late int
}

// sweepPage bounds one read of a due-time set.
const sweepPage = 100

// Sweep sends the warnings and breach alerts due at now: what a missed
// tick or downtime left behind too, marked late. Its cost grows with what
// is due, not with the open tickets.
func (e *Escalator) Sweep(ctx context.Context, now time.Time) (Stats, error) {
	var st Stats
	// Breaches first: a ticket whose warning and deadline both passed while
	// the daemon was down needs the breach alert, and then no warning.
	for _, kind := range []ticket.Escalation{ticket.Breach, ticket.Warning} {
		for {
			due, err := e.Store.DueNow(ctx, kind, now, sweepPage)
			if err != nil {
				return st, err
			}
			for _, d := range due {
				if ctx.Err() != nil {
					return st, nil
				}
				if err := e.escalate(ctx, kind, d, now, &st); err != nil {
					return st, err
				}
			}
			if len(due) < sweepPage {
				break
			}
		}
	}
	return st, nil
}

func (e *Escalator) escalate(ctx context.Context, kind ticket.Escalation, d ticket.Due, now time.Time, st *Stats) error {
	log := e.log().With("ticket", d.Number, "alert", string(kind))
	t, err := e.Store.Get(ctx, d.Number)
	if errors.Is(err, ticket.ErrNotFound) {
		_, err = e.Store.Escalate(ctx, kind, d, d.At, now, nil)
		return err
	}
	if err != nil {
		return err
	}
	c := t.SLA
	if c == nil {
		// No readable clock any more: nothing to alert about.
		_, err = e.Store.Escalate(ctx, kind, d, d.At, now, nil)
		return err
	}
	var notes [][]string
	late := now.Sub(d.At) > e.LateAfter
	switch {
	case !c.Running() || !clockApplies(t):
		// Unscheduled meanwhile (answered, paused): nothing to say.
	case kind == ticket.Warning && !now.Before(c.FirstResponseDue):
		// Already overdue: the breach alert said all there is.
	default:
		notes = e.alerts(kind, t, late)
		if len(notes) == 0 {
			log.Warn("SLA alert has no recipients: configure desk.managers (and desk.agents)")
		}
	}
	sent, err := e.Store.Escalate(ctx, kind, d, c.FirstResponseDue, now, notes)
	if err != nil || !sent || len(notes) == 0 {
		return err
	}
	if kind == ticket.Warning {
		st.Warnings++
	} else {
		st.Breaches++
	}
	if late {
		st.Late++
	}
	log.Info("SLA alert queued", "deadline", c.FirstResponseDue, "recipients", len(notes), "late", late)
	return nil
}

// alerts are the notifications of one alert, one per recipient.
func (e *Escalator) alerts(kind ticket.Escalation, t *ticket.Ticket, late bool) [][]string {
	nk, to := notify.SLAWarning, append(append([]config.Person(nil), e.Agents...), e.Managers...)
	cust := e.customer(t.Customer)
	if kind == ticket.Breach {
		nk, to = notify.SLABreach, append([]config.Person(nil), e.Managers...)
		if cust != nil {
			to = append(to, cust.Managers...)
		}
	}
	reporter := t.Contact
	if t.ContactName != "" {
		reporter = t.ContactName + " <" + t.Contact + ">"
	}
	seen := map[string]bool{}
	var out [][]string
	for _, p := range to {
		addr := strings.ToLower(p.Email)
		if addr == "" || seen[addr] {
			continue
		}
		seen[addr] = true
		n := notify.Notification{
			ID: t.Number + "/" + string(nk) + "/" + addr, Kind: nk, To: p.Email, ToName: p.Name,
			Language: e.Language, Ticket: t.Number, TicketKey: t.Key, Subject: t.Subject, Priority: t.Priority,
			Customer: cmp.Or(customerName(cust), t.Customer), Deadline: t.SLA.FirstResponseDue,
			Target: t.SLA.Target, Late: late, ReportedBy: reporter,
		}
		out = append(out, n.Fields())
	}
	return out
}

// Digest queues the managers' overview of tickets at risk and breached, as
// of now; nothing when there are none. It reports how many tickets it
// listed.
func (e *Escalator) Digest(ctx context.Context, now time.Time) (int, error) {
	warned, breached, err := e.Store.AtRisk(ctx)
	if err != nil {
		return 0, err
	}
	var items []notify.DigestItem
	for _, group := range []struct {
		numbers  []string
		breached bool
	}{{breached, true}, {warned, false}} {
		for _, n := range group.numbers {
			t, err := e.Store.Get(ctx, n)
			if errors.Is(err, ticket.ErrNotFound) {
				continue
			}
			if err != nil {
				return 0, err
			}
			if t.SLA == nil || !t.SLA.Running() || !clockApplies(t) {
				continue
			}
			items = append(items, notify.DigestItem{
				Ticket: t.Number, Customer: cmp.Or(customerName(e.customer(t.Customer)), t.Customer),
				Subject: t.Subject, Priority: t.Priority, Deadline: t.SLA.FirstResponseDue, Breached: group.breached,
			})
		}
	}
	if len(items) == 0 {
		return 0, nil
	}
	day := now.Format("2006-01-02")
	for _, m := range e.Managers {
		n := notify.Notification{
			ID: "digest/" + day + "/" + strings.ToLower(m.Email), Kind: notify.Digest, To: m.Email, ToName: m.Name,
			Language: e.Language, AsOf: now, Items: items,
		}
		if err := e.Outbox.Enqueue(ctx, n); err != nil {
			return 0, err
		}
	}
	return len(items), nil
}

// clockApplies checks what the ticket's own fields (written atomically with
// each status change and reply) say, in case its clock was not updated
// after them (a crash or a Redis blip in between): an answered, waiting,
// resolved or closed ticket gets no alerts.
func clockApplies(t *ticket.Ticket) bool {
	return t.FirstResponseAt == nil && t.Status != ticket.StatusWaitingCustomer && ticket.Open(t.Status)
}

func (e *Escalator) customer(id string) *config.Customer {
	if e.Customer == nil {
		return nil
	}
	return e.Customer(id)
}

func customerName(c *config.Customer) string {
	if c == nil {
		return ""
	}
	return c.Name
}

func (e *Escalator) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}
