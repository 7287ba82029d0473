package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/maildesk/maildesk/workflow"
)

var ticketsTimeCommand = &command{name: "time",
	flags:   "--config FILE NUMBER [DURATION] [--at TIME] [--activity A] [--note TEXT]\n[--no-bill | --bill] [--as NAME] [--idempotency-key KEY] [--json]",
	summary: "record work on a ticket (DURATION: 45m, 1h30m; it ended now unless\n--at says when it started); without DURATION show its time and budget",
	more: []form{
		{"--config FILE NUMBER --void ID [--reason TEXT] [--as NAME]", "void a wrong time record (it stays, marked, and counts nowhere)"},
		{"--config FILE NUMBER --budget DURATION [--reason TEXT] [--as NAME]", "the ticket's own budget, agreed with the customer (0: the plan's)"},
	},
	run: func(ctx context.Context, args []string, stdout, _ io.Writer) error {
		return cmdTicketTime(ctx, args, stdout)
	},
}

// cmdTicketTime is "maildesk tickets time": record time on a ticket, or
// with no duration show its records and budget.
func cmdTicketTime(ctx context.Context, args []string, stdout io.Writer) error {
	fs, path := newFlags("tickets time")
	at := fs.String("at", "", "when the work started: RFC 3339, YYYY-MM-DD HH:MM or HH:MM in the desk's time zone; default: it ended now")
	activity := fs.String("activity", "", "what the work was: remote (default), on_site, travel or one of the plan's billing.activities")
	note := fs.String("note", "", "what was done (printed on the customer's statement)")
	noBill := fs.Bool("no-bill", false, "not billable (default: the activity's)")
	bill := fs.Bool("bill", false, "billable, also for an activity that is not by default")
	as := asFlag(fs, "the agent who did the work (name as it appears in the history)")
	key := fs.String("idempotency-key", "", "run again with the same key: the same record, nothing recorded twice")
	asJSON := fs.Bool("json", false, "print JSON")
	void := fs.String("void", "", "void the time record of this id (a correction; it stays, marked, and counts nowhere)")
	budget := fs.String("budget", "", "give the ticket its own budget, agreed with the customer (6h; 0: the plan's again)")
	reason := fs.String("reason", "", "why the record is voided or the budget set (with --void or --budget)")
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	if *void != "" || *budget != "" || *reason != "" {
		if (*void == "") == (*budget == "") || fs.NArg() != 1 || *at != "" || *activity != "" || *note != "" || *noBill || *bill || *key != "" {
			return fmt.Errorf("%w: tickets time NUMBER --void ID or --budget DURATION [--reason TEXT] takes no duration or other flags", errUsage)
		}
	}
	var ownBudget time.Duration
	if *budget != "" {
		d, err := workflow.ParseDuration(*budget)
		if err != nil {
			return fmt.Errorf("%w: --budget: %v", errUsage, err)
		}
		ownBudget = d
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return fmt.Errorf("%w: tickets time needs a ticket NUMBER and, to record time, a DURATION (45m, 1h30m)", errUsage)
	}
	if *noBill && *bill {
		return fmt.Errorf("%w: tickets time: --bill and --no-bill together", errUsage)
	}
	scoped, err := requestKey(*as, *key)
	if err != nil {
		return err
	}
	var entry workflow.TimeEntry
	record := fs.NArg() == 2
	if record {
		d, err := workflow.ParseDuration(fs.Arg(1))
		if err != nil {
			return fmt.Errorf("%w: tickets time: %v", errUsage, err)
		}
		entry = workflow.TimeEntry{Duration: d, Activity: *activity, Note: *note, Via: workflow.ViaCLI}
		if *noBill || *bill {
			b := *bill
			entry.Billable = &b
		}
	} else if *at != "" || *activity != "" || *note != "" || *noBill || *bill || *key != "" {
		return fmt.Errorf("%w: tickets time: --at, --activity, --note, --bill, --no-bill and --idempotency-key go with a DURATION", errUsage)
	}
	cfg, rdb, p, err := openWork(ctx, *path)
	if err != nil {
		return err
	}
	defer rdb.Close()
	number := strings.ToUpper(fs.Arg(0))
	loc := cfg.Desk.Location
	if *void != "" {
		r, voided, err := p.work.VoidTime(ctx, number, workflow.Agent{Name: *as}, *void, *reason)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, r)
		}
		verb := "voided"
		if !voided {
			verb = "was void already"
		}
		fmt.Fprintf(stdout, "%s: record %s (%s %s from %s) %s\n", r.Ticket, r.ID, workflow.FormatMinutes(r.Minutes), r.Activity,
			r.Start.In(loc).Format("2006-01-02 15:04"), verb)
	}
	if *budget != "" {
		if _, err := p.work.SetTimeBudget(ctx, number, workflow.Agent{Name: *as}, ownBudget, *reason); err != nil {
			return err
		}
	}
	if record {
		if entry.At, err = atFlag(*at, loc); err != nil {
			return err
		}
		rec, created, err := p.work.RecordTimeRequest(ctx, number, workflow.Agent{Name: *as}, entry, scoped)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, rec)
		}
		verb := "recorded"
		if !created {
			verb = "already recorded with this idempotency key"
		}
		bill := "billable"
		if !rec.Billable {
			bill = "not billable"
		}
		fmt.Fprintf(stdout, "%s: %s %s from %s %s (record %s), %s\n", rec.Ticket, workflow.FormatMinutes(rec.Minutes), rec.Activity,
			rec.Start.In(loc).Format("2006-01-02 15:04"), verb, rec.ID, bill)
	}
	sum, err := p.work.TimeOf(ctx, number)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, sum)
	}
	if !record && *void == "" && *budget == "" {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTART\tTIME\tACTIVITY\tBILLABLE\tAGENT\tNOTE")
		for _, r := range sum.Records {
			billable := fmt.Sprint(r.Billable)
			if r.VoidedAt != nil {
				billable = "void"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Start.In(loc).Format("2006-01-02 15:04"), workflow.FormatMinutes(r.Minutes),
				r.Activity, billable, shownLine(r.Agent), shownLine(r.Note))
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(stdout, "%s: %s recorded, %s billable%s\n", sum.Ticket, workflow.FormatMinutes(sum.Minutes), workflow.FormatMinutes(sum.Billable), budgetText(sum))
	return nil
}

// budgetText says where a ticket stands against its budget: " of a 2h
// budget: past 75%"; "" without a budget.
func budgetText(s workflow.TimeSummary) string {
	kind := ""
	if s.OwnBudget() > 0 {
		kind = "n agreed"
	}
	switch s.BudgetState {
	case "":
		return ""
	case workflow.BudgetReached:
		return fmt.Sprintf(" of a%s %s budget: REACHED, more only with the customer's permission", kind, workflow.FormatMinutes(s.Budget))
	case workflow.BudgetWarning:
		return fmt.Sprintf(" of a%s %s budget: past %d%%", kind, workflow.FormatMinutes(s.Budget), s.WarnAt)
	}
	return fmt.Sprintf(" of a%s %s budget", kind, workflow.FormatMinutes(s.Budget))
}
