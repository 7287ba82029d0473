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
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
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
	// PlanLabels are the configured plans by name, for the words the
	// customer's plan has for the priorities (config.PriorityLabel) that
	// alerts and digests name; nil: the codes.
	PlanLabels map[string]config.Plan
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
	// Log is where clocks and alerts are logged; nil: slog.Default().
	Log *slog.Logger

	// defaultsOnce sets Log when unset (settle).
	defaultsOnce sync.Once
}

// settle sets Log, when unset, to its default, once: an Escalator is
// written as a literal and shared, so the paths that log (dueOf, which
// every clock goes through, Sweep and ReplanChanged) call this first, and
// the rest reads the field as it is.
func (e *Escalator) settle() {
	e.defaultsOnce.Do(func() {
		if e.Log == nil {
			e.Log = slog.Default()
		}
	})
}

// Start computes the clock of a ticket of plan, type typ and priority in
// language arriving at arrival; nil when the plan or the type has no SLA
// clock.
func (e *Escalator) Start(plan, typ, priority, language string, arrival time.Time) (*ticket.Clock, error) {
	d, err := e.dueOf(plan, typ, priority, language, arrival)
	if err != nil {
		return nil, fmt.Errorf("starting the SLA clock: %w", err)
	}
	if d.Calendar == nil {
		return nil, nil
	}
	c := &ticket.Clock{Plan: plan, Type: typ, Language: language, Arrival: arrival}
	e.fill(c, d)
	return c, nil
}

// dueOf is Plans.DueOfType, except that a type the plan no longer has (the
// configuration changed since the ticket got it, or its customer moved to
// another plan) counts by the plan's own targets: its clock keeps running
// until an agent gives it one of the plan's types.
func (e *Escalator) dueOf(plan, typ, priority, language string, arrival time.Time) (sla.Due, error) {
	e.settle()
	d, err := e.Plans.DueOfType(plan, typ, priority, language, arrival)
	if errors.Is(err, sla.ErrUnknownType) {
		e.Log.Warn("ticket type unknown to its plan: its plan's own targets apply", "plan", plan, "type", typ, "err", err)
		return e.Plans.DueOfType(plan, "", priority, language, arrival)
	}
	return d, err
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
	d, err := e.dueOf(c.Plan, c.Type, c.Priority, c.Language, c.Arrival)
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
	return e.reclassify(ctx, number, "", "", priority, at)
}

// Retype recomputes the deadlines of ticket number for the type and
// priority it has now (the desk changed its type at `at`), as Reprioritise
// does: the business time used counts towards the new type's target, so
// that a clock that never stood still runs as if the ticket had had this
// type from its arrival. A ticket without a clock (it was a feature
// request) gets one from its arrival (Restore).
func (e *Escalator) Retype(ctx context.Context, number string, at time.Time) error {
	t, err := e.Store.Get(ctx, number)
	if err != nil {
		return err
	}
	if !config.HasClock(t.Type) {
		return nil
	}
	if t.SLA == nil {
		return e.Restore(ctx, number, at)
	}
	return e.reclassify(ctx, number, "", t.Type, t.Priority, at)
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
		if !config.HasClock(t.Type) || !ticket.Open(t.Status) || t.FirstResponseAt != nil {
			return nil
		}
		c, err := e.Start(plan, t.Type, t.Priority, t.Language, t.CreatedAt)
		if err != nil || c == nil {
			return err
		}
		return e.Store.SetClock(ctx, number, c)
	}
	return e.reclassify(ctx, number, plan, "", "", at)
}

// reclassify recomputes the clock of ticket number for a new plan, type
// and/or priority ("": unchanged) set at `at`.
func (e *Escalator) reclassify(ctx context.Context, number, plan, typ, priority string, at time.Time) error {
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
	if typ != "" && typ != c.Type {
		// The same calendar (a type changes targets only): the used time
		// carries over as it is.
		if d, err = e.dueOf(c.Plan, typ, priority, c.Language, c.Arrival); err != nil {
			return fmt.Errorf("retyping %s as %q: %w", number, typ, err)
		}
		c.Type = typ
	}
	if plan != "" && plan != c.Plan {
		if d, err = e.dueOf(plan, c.Type, priority, c.Language, c.Arrival); err != nil {
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

// Restore gives ticket number, given a type with an SLA clock by the desk
// (it was a feature request), its SLA clock as if it had had that type from
// its arrival: the business time since it arrived counts against the
// target of the type and priority it has now. A first response already given stays given.
// It is idempotent: a repeat computes the same clock.
func (e *Escalator) Restore(ctx context.Context, number string, at time.Time) error {
	t, err := e.Store.Get(ctx, number)
	if err != nil {
		return err
	}
	if !config.HasClock(t.Type) {
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
	c, err := e.Start(plan, t.Type, t.Priority, lang, t.CreatedAt)
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

// Stats counts what one sweep did: alerts, one per ticket and kind,
// whatever number of mails they went out in.
type Stats struct {
	Warnings, Breaches, Late int
}

// sweepPage bounds one read of a due-time set; a sweep sends what one page
// of each holds together, so one mail per recipient lists at most twice
// this many tickets.
const sweepPage = 100

// Sweep sends the warnings and breach alerts due at now: what a missed
// tick or downtime left behind too, marked late. Its cost grows with what
// is due, not with the open tickets.
//
// What is due together goes out together: a recipient with alerts about
// several tickets gets one mail listing them all (notify.SLAAlerts), one
// with a single alert the single-ticket mail. So an outage at a customer,
// or downtime of the desk, with seventy breaches makes one mail per
// manager, which no rate limit needs to hold back.
func (e *Escalator) Sweep(ctx context.Context, now time.Time) (Stats, error) {
	e.settle()
	var st Stats
	for {
		var batch []dueAlert
		full, progress := false, false
		// Breaches first: a ticket whose warning and deadline both passed
		// while the daemon was down needs the breach alert, and then no
		// warning.
		for _, kind := range []ticket.Escalation{ticket.Breach, ticket.Warning} {
			due, err := e.Store.DueNow(ctx, kind, now, sweepPage)
			if err != nil {
				return st, err
			}
			full = full || len(due) == sweepPage
			for _, d := range due {
				if ctx.Err() != nil {
					return st, nil
				}
				a, done, err := e.prepare(ctx, kind, d, now)
				if err != nil {
					return st, err
				}
				progress = progress || done
				if a != nil {
					batch = append(batch, *a)
				}
			}
		}
		sent, err := e.send(ctx, batch, now, &st)
		if err != nil {
			return st, err
		}
		// A page of alerts that all went elsewhere (another replica's
		// sweep) would be read again forever.
		if !full || !(progress || sent) || ctx.Err() != nil {
			return st, nil
		}
	}
}

// dueAlert is an alert that has something to say, to its recipients.
type dueAlert struct {
	ticket.Alert
	t    *ticket.Ticket
	late bool
	to   []config.Person
}

// prepare looks at alert d of kind: an alert with something to say comes
// back for the batch; one with nothing to say (the ticket is gone, its
// clock unscheduled or answered meanwhile, a warning that the breach
// alert overtook, nobody to tell) is recorded as done at once, and done
// reports whether this call did that.
func (e *Escalator) prepare(ctx context.Context, kind ticket.Escalation, d ticket.Due, now time.Time) (_ *dueAlert, done bool, _ error) {
	log := e.Log.With("ticket", d.Number, "alert", string(kind))
	t, err := e.Store.Get(ctx, d.Number)
	if errors.Is(err, ticket.ErrNotFound) {
		done, err = e.Store.Escalate(ctx, kind, d, d.At, now, nil)
		return nil, done, err
	}
	if err != nil {
		return nil, false, err
	}
	c := t.SLA
	if c == nil {
		// No readable clock any more: nothing to alert about.
		done, err = e.Store.Escalate(ctx, kind, d, d.At, now, nil)
		return nil, done, err
	}
	switch {
	case !c.Running() || !clockApplies(t):
		// Unscheduled meanwhile (answered, paused): nothing to say.
	case kind == ticket.Warning && !now.Before(c.FirstResponseDue):
		// Already overdue: the breach alert said all there is.
	default:
		if to := e.recipients(kind, t); len(to) > 0 {
			return &dueAlert{Alert: ticket.Alert{Kind: kind, Due: d, Deadline: c.FirstResponseDue}, t: t,
				late: now.Sub(d.At) > e.LateAfter, to: to}, false, nil
		}
		log.Warn("SLA alert has no recipients: configure desk.managers (and desk.agents)")
	}
	done, err = e.Store.Escalate(ctx, kind, d, c.FirstResponseDue, now, nil)
	return nil, done, err
}

// send records the alerts of batch as sent and queues their mail, in one
// step (ticket.Store.EscalateAll). Alerts another sweep sent meanwhile are
// left out and the mail made again without them. It reports whether it
// sent any.
func (e *Escalator) send(ctx context.Context, batch []dueAlert, now time.Time, st *Stats) (bool, error) {
	for len(batch) > 0 {
		alerts := make([]ticket.Alert, len(batch))
		for i, a := range batch {
			alerts[i] = a.Alert
		}
		notes := e.mails(batch, now)
		stale, err := e.Store.EscalateAll(ctx, alerts, now, notes)
		if err != nil {
			return false, err
		}
		if len(stale) == 0 {
			for _, a := range batch {
				if a.Kind == ticket.Warning {
					st.Warnings++
				} else {
					st.Breaches++
				}
				if a.late {
					st.Late++
				}
				e.Log.Info("SLA alert queued", "ticket", a.Due.Number, "alert", string(a.Kind),
					"deadline", a.Deadline, "recipients", len(a.to), "late", a.late, "batch", len(batch))
			}
			return true, nil
		}
		drop := make(map[int]bool, len(stale))
		for _, i := range stale {
			drop[i] = true
		}
		kept := batch[:0:0]
		for i, a := range batch {
			if !drop[i] {
				kept = append(kept, a)
			}
		}
		batch = kept
	}
	return false, nil
}

// mails makes the notifications of a batch: per recipient, the
// single-ticket alert when the batch has one alert for them, else one
// notify.SLAAlerts listing all of theirs, in the order of the batch
// (breaches first).
func (e *Escalator) mails(batch []dueAlert, now time.Time) [][]string {
	type inbox struct {
		p      config.Person
		alerts []int
	}
	var order []string
	byAddr := map[string]*inbox{}
	for i, a := range batch {
		for _, p := range a.to {
			addr := strings.ToLower(p.Email)
			in, ok := byAddr[addr]
			if !ok {
				in = &inbox{p: p}
				byAddr[addr] = in
				order = append(order, addr)
			}
			in.alerts = append(in.alerts, i)
		}
	}
	// The id of a multi-ticket mail is unique to what it lists: the same
	// batch made again (after stale alerts were left out) gets another.
	h := sha256.New()
	for _, a := range batch {
		fmt.Fprintf(h, "%s/%s/%d\n", a.Kind, a.Due.Number, a.Due.At.UnixMilli())
	}
	batchID := strconv.FormatInt(now.UnixMilli(), 10) + "-" + hex.EncodeToString(h.Sum(nil)[:6])
	out := make([][]string, 0, len(order))
	for _, addr := range order {
		in := byAddr[addr]
		if len(in.alerts) == 1 {
			a := batch[in.alerts[0]]
			out = append(out, e.alert(a.Kind, a.t, in.p, a.late).Fields())
			continue
		}
		n := notify.Notification{
			ID: notify.SLAAlertsID(batchID, addr), Kind: notify.SLAAlerts, To: in.p.Email, ToName: in.p.Name,
			Language: e.Language,
		}
		for _, i := range in.alerts {
			a := batch[i]
			n.Late = n.Late || a.late
			cust := e.customer(a.t.Customer)
			n.Items = append(n.Items, notify.DigestItem{
				Ticket: a.t.Number, Customer: cmp.Or(customerName(cust), a.t.Customer),
				Subject: a.t.Subject, Priority: a.t.Priority, Deadline: a.Deadline, Breached: a.Kind == ticket.Breach,
				PriorityLabel: config.PriorityLabel(e.PlanLabels, cust, e.Language, a.t.Priority),
				Target:        a.t.SLA.Target, ReportedBy: reporter(a.t),
			})
		}
		out = append(out, n.Fields())
	}
	return out
}

// recipients are the people an alert of kind about t goes to, each once:
// agents and managers are warned; managers and the customer's managers
// are told of a breach.
func (e *Escalator) recipients(kind ticket.Escalation, t *ticket.Ticket) []config.Person {
	to := append(append([]config.Person(nil), e.Agents...), e.Managers...)
	if kind == ticket.Breach {
		to = append([]config.Person(nil), e.Managers...)
		if cust := e.customer(t.Customer); cust != nil {
			to = append(to, cust.Managers...)
		}
	}
	seen := map[string]bool{}
	var out []config.Person
	for _, p := range to {
		addr := strings.ToLower(p.Email)
		if addr == "" || seen[addr] {
			continue
		}
		seen[addr] = true
		out = append(out, p)
	}
	return out
}

// alert is the single-ticket alert of kind about t to p.
func (e *Escalator) alert(kind ticket.Escalation, t *ticket.Ticket, p config.Person, late bool) notify.Notification {
	nk := notify.SLAWarning
	if kind == ticket.Breach {
		nk = notify.SLABreach
	}
	cust := e.customer(t.Customer)
	return notify.Notification{
		ID: notify.SLAAlertID(t.Number, nk, p.Email), Kind: nk, To: p.Email, ToName: p.Name,
		Language: e.Language, Ticket: t.Number, TicketKey: t.Key, Subject: t.Subject, Priority: t.Priority,
		PriorityLabel: config.PriorityLabel(e.PlanLabels, cust, e.Language, t.Priority),
		Customer:      cmp.Or(customerName(cust), t.Customer), Deadline: t.SLA.FirstResponseDue,
		Target: t.SLA.Target, Late: late, ReportedBy: reporter(t),
	}
}

// reporter is who reported t: "Name <address>" or the address.
func reporter(t *ticket.Ticket) string {
	if t.ContactName != "" {
		return t.ContactName + " <" + t.Contact + ">"
	}
	return t.Contact
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
			cust := e.customer(t.Customer)
			items = append(items, notify.DigestItem{
				Ticket: t.Number, Customer: cmp.Or(customerName(cust), t.Customer),
				Subject: t.Subject, Priority: t.Priority, Deadline: t.SLA.FirstResponseDue, Breached: group.breached,
				PriorityLabel: config.PriorityLabel(e.PlanLabels, cust, e.Language, t.Priority),
			})
		}
	}
	if len(items) == 0 {
		return 0, nil
	}
	day := now.Format("2006-01-02")
	for _, m := range e.Managers {
		n := notify.Notification{
			ID: notify.DigestID(day, m.Email), Kind: notify.Digest, To: m.Email, ToName: m.Name,
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
