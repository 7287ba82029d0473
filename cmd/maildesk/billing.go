package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/billing"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/configload"
	"github.com/maildesk/maildesk/workflow"
)

var billingCommand = &command{name: "billing", subs: []*command{
	{name: "quote", flags: "--config FILE --plan P --at TIME --duration 45m [--type T] [--priority P]\n[--activity A] [--channel mail|phone|in_person]",
		summary: "what the work costs under the plan's billing rules, split by rate class",
		run: func(_ context.Context, args []string, stdout, stderr io.Writer) error {
			return cmdBillingQuote(args, stdout, stderr)
		}},
	{name: "statement", flags: "--config FILE --customer ID --month 2026-11 [--format csv|json|pdf] [--output FILE]",
		summary: "a customer's monthly statement from the time recorded on its tickets",
		run: func(ctx context.Context, args []string, stdout, _ io.Writer) error {
			return cmdBillingStatement(ctx, args, stdout)
		}},
}}

// cmdBillingQuote is "maildesk billing quote": what a piece of work costs
// under a plan's billing rules, from the config alone (no Redis), as "sla
// due" shows a deadline: the priced lines to stdout, the rules that
// applied to stderr.
func cmdBillingQuote(args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("billing quote")
	planName := fs.String("plan", "", "plan name")
	at := fs.String("at", "", "when the work started: RFC 3339, or YYYY-MM-DD HH:MM in the plan's billing time zone")
	duration := fs.String("duration", "", "how long: 45m, 1h30m or 1:30")
	typ := fs.String("type", "", "the ticket's type (plans.<plan>.types); empty: the type a new mail's ticket gets")
	priority := fs.String("priority", "", "P1..P4; empty: the plan's default priority")
	activity := fs.String("activity", config.ActivityRemote, "what the work was: remote, on_site, travel or one of billing.activities")
	channel := fs.String("channel", config.ChannelMail, "how the ticket came in: "+strings.Join(config.Channels, ", "))
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return fmt.Errorf("%w: billing quote takes flags only", errUsage)
	case *planName == "":
		return fmt.Errorf("%w: billing quote needs --plan NAME", errUsage)
	case *at == "":
		return fmt.Errorf("%w: billing quote needs --at TIME (e.g. 2026-11-20T16:30:00+01:00)", errUsage)
	case *duration == "":
		return fmt.Errorf("%w: billing quote needs --duration (e.g. 45m)", errUsage)
	}
	d, err := workflow.ParseDuration(*duration)
	if err != nil || d <= 0 || d%time.Minute != 0 || d > workflow.MaxTimeRecord {
		return fmt.Errorf("%w: --duration %q must be whole minutes, more than 0 and at most 24h (45m, 1h30m)", errUsage, *duration)
	}
	// Only the calendars and plans: no secret of any server.
	cfg, err := configload.LoadSecrets(*path, 0)
	if err != nil {
		return err
	}
	rules, err := billing.FromConfig(cfg)
	if err != nil {
		return fmt.Errorf("building billing rules from %s: %w", *path, err)
	}
	p, err := rules.Plan(*planName)
	if err != nil {
		return err
	}
	pl := cfg.Plans[*planName]
	start, err := workflow.ParseAt(*at, p.Location(), time.Now())
	if err != nil {
		return fmt.Errorf("--at: %w", err)
	}
	ty := cmp.Or(config.TypeKey(*typ), pl.NewType())
	if !pl.HasType(ty) {
		return pl.UnknownTypeError(*planName, ty)
	}
	prio := strings.ToUpper(cmp.Or(*priority, pl.DefaultPriority, cfg.Desk.DefaultPriority))
	if !slices.Contains(config.Priorities, prio) {
		return fmt.Errorf("unknown priority %q (want one of %s)", *priority, strings.Join(config.Priorities, ", "))
	}
	if got := authz.NearestPriority(pl.TypePriorities(ty), prio); got != prio {
		fmt.Fprintf(stderr, "note: type %s has no priority %s (it has %s): a ticket asking for it gets %s\n",
			ty, prio, strings.Join(pl.TypePriorities(ty), ", "), got)
		prio = got
	}
	act := config.ActivityKey(*activity)
	if !pl.HasActivity(act) {
		return pl.UnknownActivityError(*planName, act)
	}
	ch := strings.ReplaceAll(strings.TrimSpace(*channel), "-", "_")
	if !slices.Contains(config.Channels, ch) {
		return fmt.Errorf("%w: unknown channel %q (want one of %s)", errUsage, *channel, strings.Join(config.Channels, ", "))
	}
	ts := p.Quote(ty, prio, ch, billing.Record{ID: "quote", Start: start.Truncate(time.Minute), Minutes: int(d / time.Minute),
		Activity: act, Billable: pl.ActivityBillable(act)})
	writeTicketLines(stdout, ts, p.Currency(), p.Location())
	fmt.Fprintf(stderr, "rule: plan %q, type %s, %s: %s %s an hour", *planName, ty, prio, p.BaseRate(ty, prio), p.Currency())
	if p.Free(ty) {
		fmt.Fprint(stderr, " (a free type)")
	}
	fmt.Fprintln(stderr)
	for _, n := range ts.Notes {
		fmt.Fprintf(stderr, "rule: %s\n", n)
	}
	return nil
}

// writeTicketLines prints a ticket's records split by class, then its
// priced lines and total.
func writeTicketLines(w io.Writer, ts billing.TicketStatement, currency string, loc *time.Location) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range ts.Records {
		for _, s := range r.Segments {
			fmt.Fprintf(tw, "%s %s-%s\t%s\t%s\n", s.Start.In(loc).Format("2006-01-02"), s.Start.In(loc).Format("15:04"),
				s.End.In(loc).Format("15:04"), shownLine(s.Class), workflow.FormatMinutes(s.Minutes()))
		}
	}
	fmt.Fprintln(tw)
	for _, l := range ts.Lines {
		label := l.Class
		switch l.Kind {
		case billing.LineMinimum:
			label = "minimum"
		case billing.LineChannel:
			label = "channel " + ts.Channel
		}
		extra := ""
		if why := cmp.Or(l.Free, l.Detail); why != "" {
			extra = " (" + shownLine(why) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s/h\t%s%s\n", shownLine(label), l.Activity, workflow.FormatMinutes(l.Billed), l.Rate, l.Amount, extra)
	}
	fmt.Fprintf(tw, "total\t\t%s\t\t%s %s\n", workflow.FormatMinutes(ts.Billed), currency, ts.Amount)
	_ = tw.Flush()
}

// cmdBillingStatement is "maildesk billing statement": a customer's
// monthly statement from the time recorded on its tickets.
func cmdBillingStatement(ctx context.Context, args []string, stdout io.Writer) error {
	fs, path := newFlags("billing statement")
	customer := fs.String("customer", "", "the customer's id")
	month := fs.String("month", "", "the month, like 2026-11")
	format := fs.String("format", billing.FormatCSV, "csv, json or pdf")
	output := fs.String("output", "", "write to this file instead of stdout")
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return fmt.Errorf("%w: billing statement takes flags only", errUsage)
	case *customer == "":
		return fmt.Errorf("%w: billing statement needs --customer ID", errUsage)
	case *month == "":
		return fmt.Errorf("%w: billing statement needs --month (like 2026-11)", errUsage)
	case !slices.Contains(billing.Formats, *format):
		return fmt.Errorf("%w: --format must be one of %s (got %q)", errUsage, strings.Join(billing.Formats, ", "), *format)
	}
	m, err := billing.ParseMonth(*month)
	if err != nil {
		return fmt.Errorf("%w: --month: %v", errUsage, err)
	}
	_, rdb, p, err := openWork(ctx, *path)
	if err != nil {
		return err
	}
	defer rdb.Close()
	st, lang, err := p.statements.Make(ctx, *customer, m)
	if err != nil {
		return err
	}
	w := stdout
	if *output != "" {
		f, err := os.OpenFile(*output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return fmt.Errorf("writing the statement: %w", err)
		}
		defer f.Close()
		w = f
	}
	if err := billing.Write(w, st, *format, lang); err != nil {
		return err
	}
	if f, ok := w.(*os.File); ok && f != os.Stdout {
		return f.Close()
	}
	return nil
}
