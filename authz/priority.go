package authz

import (
	"slices"

	"github.com/maildesk/maildesk/config"
)

// Why a ticket's priority differs from what its mail asked for. The
// acknowledgement tells the contact (Kwikqy's re-classification notice).
const (
	// ByPlan: the plan does not let customers set priority (Oxineo).
	ByPlan = "plan"
	// ByRights: the contact may not ask for priorities this urgent (QiQQ).
	ByRights = "rights"
	// ByType: the ticket's support type has no such priority (QiQQ: no
	// Standaard for support on the services QiQQ manages).
	ByType = "type"
)

// Priority is the outcome of applying rights to a requested priority.
type Priority struct {
	Priority  string // what the ticket gets
	Requested string // what the mail asked for; "" when nothing
	Reason    string // "" when Priority is what was asked (or the default); ByPlan, ByRights
}

// Changed reports whether the contact must be told that the desk set
// another priority than they asked for.
func (p Priority) Changed() bool { return p.Reason != "" }

// EffectivePriority applies the plan's and the contact's rights to the
// priority a mail asked for. fallback is the desk's default priority.
func EffectivePriority(plan config.Plan, contact *config.Contact, requested, fallback string) Priority {
	def := plan.DefaultPriority
	if def == "" {
		def = fallback
	}
	out := Priority{Priority: def, Requested: requested}
	switch {
	case requested == "":
	case !plan.SetsPriority():
		if requested != def {
			out.Reason = ByPlan
		}
	case contact != nil && capOf(plan, contact) != "" && urgency(requested) < urgency(capOf(plan, contact)):
		out.Priority, out.Reason = capOf(plan, contact), ByRights
	default:
		out.Priority = requested
	}
	return out
}

// capOf is the highest priority contact may ask for: its own max_priority
// (which may be above the plan's default cap), else the plan's.
func capOf(plan config.Plan, contact *config.Contact) string {
	if contact.MaxPriority != "" {
		return contact.MaxPriority
	}
	return plan.ContactMaxPriority
}

// urgency orders the priorities: P1 (most urgent) is 1, P4 4, anything
// else after them.
func urgency(p string) int {
	if i := slices.Index(config.Priorities, p); i >= 0 {
		return i + 1
	}
	return len(config.Priorities) + 1
}

// NearestPriority is the priority in allowed nearest in urgency to p: p
// itself when allowed, else the nearest, the more urgent of two equally
// near (QiQQ's missing Standaard becomes Hoog: a contract that has no
// lower level for a kind of support answers it sooner, never later). ""
// when allowed is empty.
func NearestPriority(allowed []string, p string) string {
	best, bestDist := "", 0
	for _, a := range allowed {
		if a == p {
			return p
		}
		d := urgency(a) - urgency(p)
		if d < 0 {
			// More urgent: wins a tie.
			d = -d*2 - 1
		} else {
			d *= 2
		}
		if best == "" || d < bestDist {
			best, bestDist = a, d
		}
	}
	return best
}

// ForType applies the priorities of type typ on plan to pr (the outcome of
// EffectivePriority): a priority the type does not have becomes the
// nearest one it has. The reason stays when there was one (the contact's
// cap then holds within the type's priorities; on a plan where the desk
// decides, the desk's default moved); otherwise it is ByType.
func ForType(plan config.Plan, typ string, pr Priority) Priority {
	allowed := plan.TypePriorities(typ)
	p := NearestPriority(allowed, pr.Priority)
	if p == pr.Priority || p == "" {
		return pr
	}
	pr.Priority = p
	if pr.Reason == "" {
		pr.Reason = ByType
	}
	return pr
}
