package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ingest"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/scheduler"
	"github.com/maildesk/maildesk/ticket"
)

// retentionPolicy is the retention section (and the rejection records'
// own clock) as the store applies it, trimming ob's records.
func retentionPolicy(cfg *config.Config, ob *notify.Outbox) ticket.RetentionPolicy {
	r := cfg.Retention
	return ticket.RetentionPolicy{
		ClosedAfter: r.ClosedAfter.D(), Keep: r.Keep.D(), Seen: r.Seen.D(),
		Rejections: cfg.Authz.RejectionRetention.D(), Batch: r.Batch,
		Quarantine: r.Quarantine.D(), Sent: r.Sent.D(), Records: r.Outbox.D(), Outbox: ob,
	}
}

// addRetention schedules the retention job: each tick once across
// replicas; what is due is whatever the sorted sets hold, so a missed tick
// or a run cut short is caught up by the next.
func (d *daemon) addRetention() error {
	counted := d.metrics.RetentionMetrics()
	return d.sched.Add(scheduler.Job{Name: "retention", Spec: "@every " + d.cfg.Retention.Interval.D().String(), Once: true,
		Run: func(ctx context.Context) error {
			r, err := d.store.RunRetention(ctx, retentionPolicy(d.cfg, d.outbox), d.watcher.Mailbox(), d.now(), false)
			logRetention(d.log, r)
			counted(r)
			return err
		}})
}

func logRetention(log *slog.Logger, r ticket.RetentionReport) {
	anon, del := 0, 0
	for _, t := range r.Tickets {
		if t.Action == ticket.ActionDelete {
			del++
		} else {
			anon++
		}
	}
	if anon+del == 0 && r.Rejections == 0 && r.Mails == 0 && r.RejectedMails == 0 && !r.SeenRotated &&
		r.QuarantinedMails == 0 && r.SentMails == 0 && r.DeadLetters+r.SkippedEntries == 0 {
		return
	}
	log.Info("retention", "anonymised", anon, "deleted", del, "more_due", r.More, "rejection_records", r.Rejections,
		"mails_deleted", r.Mails, "refused_mails_deleted", r.RejectedMails, "quarantined_mails_deleted", r.QuarantinedMails,
		"sent_copies_deleted", r.SentMails,
		"mails_queued", r.MailsQueued, "message_ids_aged", r.SeenRotated, "message_ids_forgotten", r.SeenExpired,
		"dead_letters", r.DeadLetters, "skipped_entries", r.SkippedEntries)
}

var retentionCommand = &command{name: "retention", subs: []*command{
	{name: "run", flags: "--config FILE [--dry-run] [--json]",
		summary: "one retention run now (the daemon runs it every retention.interval);\n--dry-run lists what would go", run: cmdRetentionRun},
}}

// cmdRetentionRun is `maildesk retention run`: one retention run now, as
// the daemon's job does it; with --dry-run it lists what would go and
// changes nothing (the mailbox is only searched).
func cmdRetentionRun(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs, path := newFlags("retention run")
	dry := fs.Bool("dry-run", false, "list what would go; change nothing")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: retention run takes no arguments", errUsage)
	}
	cfg, rdb, err := openDeskWith(ctx, *path, config.SecretsIMAP|config.SecretsOAuth2)
	if err != nil {
		return err
	}
	defer rdb.Close()
	wc, err := mailboxConfig(cfg, rdb)
	if err != nil {
		return err
	}
	w := ingest.NewMailbox(wc, slog.New(slog.DiscardHandler))
	store := ticket.NewStore(rdb, ticket.Options{DeskID: cfg.Desk.ID, TicketPrefix: cfg.Desk.TicketPrefix})
	r, runErr := store.RunRetention(ctx, retentionPolicy(cfg, notify.NewOutbox(rdb, cfg.Desk.ID)), w, time.Now(), *dry)
	if *asJSON {
		if err := writeJSON(stdout, r); err != nil {
			return err
		}
		return runErr
	}
	verb := map[bool]string{true: "would be", false: "were"}[*dry]
	loc := cfg.Desk.Location
	if len(r.Tickets) > 0 {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NUMBER\tACTION\tCUSTOMER\tSTATUS\tDONE")
		for _, t := range r.Tickets {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", shownLine(t.Number), t.Action, shownLine(t.Customer), shownLine(t.Status), t.Done.In(loc).Format("2006-01-02"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%d tickets %s anonymised or deleted", len(r.Tickets), verb)
	if r.More {
		fmt.Fprintf(stdout, " (more are due: the next run goes on, %d at a time)", cfg.Retention.Batch)
	}
	fmt.Fprintf(stdout, "\n%d rejection records %s removed; %d refused mails %s deleted from %s\n",
		r.Rejections, verb, r.RejectedMails, verb, cfg.IMAP.RejectedMailbox)
	if cfg.Retention.Quarantine > 0 {
		fmt.Fprintf(stdout, "%d quarantined mails older than retention.quarantine (%s) %s deleted from %s\n",
			r.QuarantinedMails, cfg.Retention.Quarantine, verb, cfg.IMAP.QuarantineMailbox)
	}
	if cfg.Retention.Sent > 0 {
		fmt.Fprintf(stdout, "%d copies of sent mail older than retention.sent (%s) %s deleted from %s\n",
			r.SentMails, cfg.Retention.Sent, verb, cfg.IMAP.SentMailbox)
	}
	if cfg.Retention.Outbox > 0 {
		fmt.Fprintf(stdout, "%d dead letters and %d skipped outbox entries older than retention.outbox (%s) %s removed\n",
			r.DeadLetters, r.SkippedEntries, cfg.Retention.Outbox, verb)
	}
	if !*dry {
		fmt.Fprintf(stdout, "%d mails were deleted from the IMAP folders; %d wait for the next run\n", r.Mails, r.MailsQueued)
	} else if r.MailsQueued > 0 {
		fmt.Fprintf(stdout, "%d mails of tickets retired earlier wait to be deleted from the IMAP folders\n", r.MailsQueued)
	}
	if r.SeenRotated {
		fmt.Fprintf(stdout, "%d Message-IDs older than retention.seen (%s) %s forgotten\n", r.SeenExpired, cfg.Retention.Seen, verb)
	}
	if cfg.Retention.ClosedAfter == 0 && cfg.Retention.Keep == 0 {
		fmt.Fprintln(stdout, "(retention.closed_after and retention.keep are 0: tickets are kept for ever)")
	}
	return runErr
}
