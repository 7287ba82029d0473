package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ingest"
	"github.com/maildesk/maildesk/notify"
)

// cmdRepair compares Redis with the mailbox journal and, unless --dry-run,
// repairs what Redis lacks: the same plan the daemon carries out by itself
// when it finds Redis behind (issue 16). It ends by comparing again.
var repairCommand = &command{name: "repair", flags: "--config FILE [--since TIME] [--dry-run]",
	summary: "compare Redis with the mailbox journal (filed mail's outcomes, copies of\nsent mail) and restore what Redis lost; then compare again", run: cmdRepair}

func cmdRepair(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("repair")
	sinceArg := fs.String("since", "", "compare every mail that arrived since TIME (RFC 3339, or a date YYYY-MM-DD); default: the newest mails of each folder")
	dryRun := fs.Bool("dry-run", false, "show the plan, change nothing")
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	if len(fs.Args()) > 0 {
		return fmt.Errorf("%w: repair takes no arguments (got %q)", errUsage, fs.Args())
	}
	since, err := parseSince(*sinceArg)
	if err != nil {
		return fmt.Errorf("%w: repair --since: %v", errUsage, err)
	}
	cfg, _, err := loadConfig(*path)
	var ps config.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(stderr, p.String())
		}
		return errReported
	}
	if err != nil {
		return err
	}
	// What a repair re-creates and restores is logged (stderr) as it goes.
	d, err := newDaemon(cfg, newLogger(cfg.Log, stderr))
	if err != nil {
		return err
	}
	defer d.rdb.Close()
	if err := d.refreshDirectory(ctx); err != nil {
		return fmt.Errorf("loading the directory from redis: %w", err)
	}
	// Mail the desk sends again is checked against the desk's Message-ID key.
	if secret, err := d.outbox.Secret(ctx); err == nil {
		d.mailer.SetSecret(secret)
	}
	plan, err := d.journal.Plan(ctx, since)
	if err != nil {
		return fmt.Errorf("comparing redis with the mailbox journal: %w", err)
	}
	printPlan(stdout, plan)
	if *dryRun || !plan.Behind() {
		return nil
	}
	res, err := d.journal.Repair(ctx, plan)
	if errors.Is(err, ingest.ErrRepairRunning) {
		return fmt.Errorf("%w (the daemon repairs by itself: see /readyz, or try again in a minute)", err)
	}
	if err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	fmt.Fprintln(stdout, "done:", res.String())
	for _, n := range res.NotReplayed {
		fmt.Fprintln(stdout, "  not replayed:", notify.SafeLine(n))
	}
	// The proof: compared again, nothing is missing.
	again, err := d.journal.Plan(ctx, since)
	if err != nil {
		return fmt.Errorf("comparing again after the repair: %w", err)
	}
	fmt.Fprintln(stdout, "verified:", again.Summary())
	if again.Behind() {
		return fmt.Errorf("redis still lacks %d entries of the journal after the repair", again.Missing())
	}
	return nil
}

func printPlan(w io.Writer, p *ingest.RepairPlan) {
	fmt.Fprintln(w, p.Summary())
	for _, s := range p.Steps() {
		fmt.Fprintln(w, "  "+notify.SafeLine(s))
	}
}

// parseSince reads --since: RFC 3339, or a date (midnight UTC).
func parseSince(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2026-11-21T09:00:00+01:00) nor a date (2026-11-21)", s)
	}
	return t, nil
}
