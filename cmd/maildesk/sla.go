package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/configload"
	"github.com/maildesk/maildesk/sla"
)

var slaCommand = &command{name: "sla", subs: []*command{
	{name: "due", flags: "--config FILE --plan NAME --priority P [--type T] [--language nl|en] --at TIME",
		summary: "first-response deadline of a ticket arriving at TIME (RFC 3339)", run: cmdSLADue},
}}

// cmdSLADue is "maildesk sla due": the first-response deadline of a ticket
// arriving at a given time, from the config alone (no Redis, no IMAP), so
// that an operator can check a calendar and a contract's targets before the
// daemon applies them. The deadline goes to stdout, for scripts; the rule
// that applied, and a priority the type does not have, to stderr.
func cmdSLADue(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("sla due")
	plan := fs.String("plan", "", "plan name")
	priority := fs.String("priority", "", "P1..P4")
	language := fs.String("language", "", "nl or en; empty: the plan's own rules")
	typ := fs.String("type", "", "the ticket's type (plans.<plan>.types); empty: the type a new mail's ticket gets")
	at := fs.String("at", "", "arrival time, RFC 3339")
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	switch {
	case *plan == "":
		return fmt.Errorf("%w: sla due needs --plan NAME", errUsage)
	case *priority == "":
		return fmt.Errorf("%w: sla due needs --priority P1..P4", errUsage)
	case *at == "":
		return fmt.Errorf("%w: sla due needs --at TIME (RFC 3339, e.g. 2026-04-24T15:00:00+02:00)", errUsage)
	case *language != "" && *language != "nl" && *language != "en":
		return fmt.Errorf("%w: --language must be nl or en (got %q)", errUsage, *language)
	}
	arrival, err := time.Parse(time.RFC3339, *at)
	if err != nil {
		return fmt.Errorf("%w: --at %q is not an RFC 3339 time like 2026-04-24T15:00:00+02:00", errUsage, *at)
	}
	// Only the calendars and plans: no secret of any server.
	cfg, err := configload.LoadSecrets(*path, 0)
	if err != nil {
		return err
	}
	plans, err := sla.FromConfig(cfg)
	if err != nil {
		return fmt.Errorf("building SLA calendars from %s: %w", *path, err)
	}
	p, ok := cfg.Plans[*plan]
	if !ok {
		return fmt.Errorf("unknown plan %q (plans: %s)", *plan, strings.Join(plans.Names(), ", "))
	}
	ty := cmp.Or(config.TypeKey(*typ), p.NewType())
	if !p.HasType(ty) {
		return p.UnknownTypeError(*plan, ty)
	}
	prio := strings.ToUpper(*priority)
	if !slices.Contains(config.Priorities, prio) {
		return fmt.Errorf("unknown priority %q (want one of %s)", *priority, strings.Join(config.Priorities, ", "))
	}
	// What the desk does with a mail asking for a priority the type does
	// not have (QiQQ: no Standaard on its own services).
	if got := authz.NearestPriority(p.TypePriorities(ty), prio); got != prio {
		fmt.Fprintf(stderr, "note: type %s has no priority %s (it has %s): a ticket asking for it gets %s\n",
			ty, prio, strings.Join(p.TypePriorities(ty), ", "), got)
		prio = got
	}
	due, err := plans.DueOfType(*plan, ty, prio, *language, arrival)
	switch {
	case err != nil:
		return err
	case !config.HasClock(ty):
		return fmt.Errorf("type %s has no SLA clock: feature requests get no deadline", ty)
	case due.Calendar == nil:
		return fmt.Errorf("plan %q has no SLA calendar and targets: its tickets get no deadline", *plan)
	case due.FirstResponse.IsZero():
		return fmt.Errorf("no first-response target for %s under %s", prio, due.Rule)
	}
	fmt.Fprintln(stdout, due.FirstResponse.In(due.Calendar.Location()).Format(time.RFC3339))
	rule := due.Rule
	if !due.ByType && len(p.Types) > 0 {
		rule += fmt.Sprintf(" (type %s has no target of its own for %s)", ty, prio)
	}
	fmt.Fprintf(stderr, "rule: %s: %s, first response %s\n", rule, prio, due.Targets.FirstResponse)
	// The days the calendar treated otherwise than their weekday between
	// arrival and deadline: why a deadline is later (a holiday, a company
	// day off) or sooner (standby) than the weekly hours say.
	for _, x := range due.Calendar.Exceptions(arrival, due.FirstResponse) {
		fmt.Fprintf(stderr, "calendar: %s\n", x)
	}
	return nil
}
