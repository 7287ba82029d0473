package main

import (
	"fmt"
	"io"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/sla"
)

// cmdSLA is "maildesk sla due": the first-response deadline of a ticket
// arriving at a given time, from the config alone (no Redis, no IMAP), so
// that an operator can check a calendar and a contract's targets before the
// daemon applies them.
func cmdSLA(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "due" {
		return fmt.Errorf("%w: sla needs a subcommand: due", errUsage)
	}
	fs, path := newFlags("sla due")
	plan := fs.String("plan", "", "plan name")
	priority := fs.String("priority", "", "P1..P4")
	language := fs.String("language", "", "nl or en; empty: the plan's own rules")
	at := fs.String("at", "", "arrival time, RFC 3339")
	if err := parseFlags(fs, path, args[1:]); err != nil {
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
	cfg, err := config.LoadSecrets(*path, 0)
	if err != nil {
		return err
	}
	plans, err := sla.FromConfig(cfg)
	if err != nil {
		return fmt.Errorf("building SLA calendars from %s: %w", *path, err)
	}
	due, err := plans.Due(*plan, *priority, *language, arrival)
	switch {
	case err != nil:
		return err
	case due.Calendar == nil:
		return fmt.Errorf("plan %q has no SLA calendar and targets: its tickets get no deadline", *plan)
	case due.FirstResponse.IsZero():
		return fmt.Errorf("no first-response target for %s under %s", *priority, due.Rule)
	}
	fmt.Fprintln(stdout, due.FirstResponse.In(due.Calendar.Location()).Format(time.RFC3339))
	return nil
}
