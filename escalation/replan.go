package escalation

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ticket"
)

// PlansOf is each customer's plan by customer id: the directory before and
// after a change, as ReplanChanged compares them.
func PlansOf(cs []config.Customer) map[string]string {
	m := make(map[string]string, len(cs))
	for _, c := range cs {
		m[c.ID] = c.PlanName()
	}
	return m
}

// changedPlans are the customers of before whose plan is another in after,
// with their new plan. A customer new in after, or gone from it, changed
// no plan.
func changedPlans(before, after map[string]string) map[string]string {
	moved := map[string]string{}
	for id, plan := range after {
		if old, ok := before[id]; ok && old != plan {
			moved[id] = plan
		}
	}
	return moved
}

// ReplanChanged moves the open tickets of customers whose plan changed
// from before to after (PlansOf) onto their new plan's deadlines at now
// (Replan). Every replica does it; the result is the same. What fails is
// logged: the ticket keeps its old deadlines.
func (e *Escalator) ReplanChanged(ctx context.Context, before, after map[string]string, now time.Time) {
	e.settle()
	moved := changedPlans(before, after)
	if len(moved) == 0 {
		return
	}
	open := true
	page, err := e.Store.Find(ctx, ticket.Query{Open: &open, Customer: slices.Collect(maps.Keys(moved))})
	if err != nil {
		e.Log.Error("customers changed plan, but their tickets keep the old deadlines", "err", err)
		return
	}
	for _, t := range page.Tickets {
		plan, ok := moved[t.Customer]
		if !ok || !ticket.Open(t.Status) {
			continue
		}
		if err := e.Replan(ctx, t.Number, plan, now); err != nil {
			e.Log.Error("ticket keeps its old deadlines", "ticket", t.Number, "plan", plan, "err", err)
			continue
		}
		e.Log.Info("ticket moved to its customer's new plan", "ticket", t.Number, "customer", t.Customer, "plan", plan)
	}
}
