package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/maildesk/maildesk/httpapi"
	"github.com/maildesk/maildesk/notify"
)

var outboxCommand = &command{name: "outbox", subs: []*command{
	{name: "list", flags: "--config FILE [--json] [--dead | --skipped]",
		summary: "outgoing mail waiting (state, attempts, last error), dead or skipped", run: withSub("list", cmdOutbox)},
	{name: "retry", flags: "--config FILE [--unsuppress] (ID... | --all-dead)",
		summary: "send again now (ID: stream id or notification id, e.g. SD-4/ack),\nalso mail whose delivery is uncertain", run: withSub("retry", cmdOutbox)},
	{name: "drop", flags: "--config FILE --reason TEXT ID...",
		summary: "give up on mail (kept as a dead letter) or delete a dead/skipped one", run: withSub("drop", cmdOutbox)},
}}

// cmdOutbox inspects the outgoing mail and acts on single entries.
func cmdOutbox(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("outbox " + sub)
	var (
		asJSON, dead, skipped, allDead, unsuppress *bool
		reason                                     *string
	)
	switch sub {
	case "list":
		asJSON = fs.Bool("json", false, "print JSON")
		dead = fs.Bool("dead", false, "list the dead letters")
		skipped = fs.Bool("skipped", false, "list the skipped notifications")
	case "retry":
		allDead = fs.Bool("all-dead", false, "retry every dead letter")
		unsuppress = fs.Bool("unsuppress", false, "lift the recipient's suppression")
	case "drop":
		reason = fs.String("reason", "", "why (recorded with a dropped entry)")
	}
	err := parseFlags(fs, path, args)
	ids := fs.Args()
	if err != nil {
		return err
	}
	switch {
	case sub == "list" && len(ids) != 0:
		return fmt.Errorf("%w: outbox list takes no arguments", errUsage)
	case sub == "list" && *dead && *skipped:
		return fmt.Errorf("%w: outbox list takes --dead or --skipped, not both", errUsage)
	case sub == "retry" && len(ids) == 0 && !*allDead:
		return fmt.Errorf("%w: outbox retry needs an ID (stream id or notification id) or --all-dead", errUsage)
	case sub == "drop" && len(ids) == 0:
		return fmt.Errorf("%w: outbox drop needs an ID (stream id or notification id)", errUsage)
	case sub == "drop" && strings.TrimSpace(*reason) == "":
		return fmt.Errorf("%w: outbox drop needs --reason TEXT", errUsage)
	}
	cfg, rdb, err := openDesk(ctx, *path)
	if err != nil {
		return err
	}
	defer rdb.Close()
	ob := notify.NewOutbox(rdb, cfg.Desk.ID)
	loc := cfg.Desk.Location
	switch {
	case sub == "list" && (*dead || *skipped):
		list, what, q := ob.ListDead, "dead letters", notify.QueueDead
		if *skipped {
			list, what, q = ob.ListSkipped, "skipped notifications", notify.QueueSkipped
		}
		rs, err := list(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", what, err)
		}
		return printRecords(stdout, q, rs, *asJSON, loc)
	case sub == "list":
		es, err := ob.List(ctx)
		if err != nil {
			return err
		}
		return printEntries(stdout, es, *asJSON, loc)
	}

	if sub == "retry" && *allDead {
		ds, err := ob.ListDead(ctx)
		if err != nil {
			return fmt.Errorf("list dead letters: %w", err)
		}
		if len(ds) == 0 && len(ids) == 0 {
			fmt.Fprintln(stdout, "no dead letters")
		}
		for _, d := range ds {
			ids = append(ids, string(notify.QueueDead)+":"+d.StreamID)
		}
	}
	failed := 0
	for _, id := range ids {
		var a notify.Action
		var err error
		if sub == "retry" {
			a, err = ob.Retry(ctx, id, *unsuppress)
		} else {
			a, err = ob.Drop(ctx, id, *reason)
		}
		if err != nil {
			fmt.Fprintln(stderr, "maildesk:", err)
			failed++
			continue
		}
		fmt.Fprintln(stdout, describeAction(sub, a))
	}
	if failed > 0 {
		if len(ids) > 1 {
			fmt.Fprintf(stderr, "maildesk: outbox %s: %d of %d failed\n", sub, failed, len(ids))
		}
		return errReported
	}
	return nil
}

func describeAction(sub string, a notify.Action) string {
	n := a.Notification
	what := n.ID
	if what == "" {
		what = "unreadable entry"
	}
	var s string
	switch {
	case sub == "retry" && a.NewID != "":
		s = fmt.Sprintf("requeued %s to %s (%s %s) as outbox entry %s", what, n.To, queueName(a.Queue), a.StreamID, a.NewID)
	case sub == "retry" && a.Uncertain:
		s = fmt.Sprintf("%s to %s (outbox entry %s, %d attempts), whose delivery was uncertain, is due now: the next send run sends it again; the recipient may get it twice",
			what, n.To, a.StreamID, a.Attempts)
	case sub == "retry" && a.Consumer == "":
		s = fmt.Sprintf("%s to %s (outbox entry %s) has not been tried yet: it goes out with the next send run", what, n.To, a.StreamID)
	case sub == "retry":
		s = fmt.Sprintf("%s to %s (outbox entry %s, %d attempts) is due now: the next send run retries it", what, n.To, a.StreamID, a.Attempts)
	case a.NewID != "":
		s = fmt.Sprintf("dropped %s to %s (outbox entry %s); recorded as dead letter %s", what, n.To, a.StreamID, a.NewID)
	default:
		s = fmt.Sprintf("deleted %s %s: %s to %s (%s)", queueName(a.Queue), a.StreamID, what, n.To, oneLine(a.Reason))
	}
	if a.Unsuppressed {
		s += "; mail to " + n.To + " is no longer suppressed"
	}
	return s
}

func queueName(q notify.Queue) string {
	switch q {
	case notify.QueueDead:
		return "dead letter"
	case notify.QueueSkipped:
		return "skipped entry"
	}
	return "outbox entry"
}

// oneLine keeps an SMTP reply or error (which may span lines) in one
// table cell.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printEntries(w io.Writer, es []notify.Entry, asJSON bool, loc *time.Location) error {
	if asJSON {
		// The API's rows (GET /api/v1/outbox): the same JSON either way.
		out := make([]httpapi.OutboxEntry, 0, len(es))
		for _, e := range es {
			out = append(out, httpapi.NewOutboxEntry(e))
		}
		return writeJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM-ID\tNOTIFICATION\tKIND\tTICKET\tTO\tQUEUED\tSTATE\tATTEMPTS\tIDLE\tLAST-ERROR")
	for _, e := range es {
		n := e.Notification
		idle := "-"
		switch {
		case e.RetryRequested:
			idle = "retry now"
		case e.Consumer != "":
			idle = e.Idle.Round(time.Second).String()
		}
		last := e.LastError
		if e.Invalid != "" {
			last = "unreadable: " + e.Invalid
		}
		state := e.State()
		if state == notify.StateUncertain {
			state = "uncertain since " + e.UncertainSince.In(loc).Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.StreamID, orDash(n.ID), orDash(string(n.Kind)), orDash(n.Ticket),
			orDash(n.To), e.QueuedAt.In(loc).Format("2006-01-02 15:04:05"), state, strconv.FormatInt(e.Attempts, 10), idle, orDash(oneLine(last)))
	}
	return tw.Flush()
}

func printRecords(w io.Writer, q notify.Queue, rs []notify.Record, asJSON bool, loc *time.Location) error {
	if asJSON {
		out := make([]httpapi.OutboxRecord, 0, len(rs))
		for _, r := range rs {
			out = append(out, httpapi.NewOutboxRecord(q, r))
		}
		return writeJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM-ID\tNOTIFICATION\tKIND\tTICKET\tTO\tTIME\tREASON")
	for _, r := range rs {
		n := r.Notification
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.StreamID, orDash(n.ID), orDash(string(n.Kind)), orDash(n.Ticket),
			orDash(n.To), r.At.In(loc).Format("2006-01-02 15:04:05"), orDash(oneLine(r.Reason)))
	}
	return tw.Flush()
}
