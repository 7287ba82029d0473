package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ingest"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// ticketsCommand is the work on tickets: the same workflow as the API,
// the dashboard and agent mail.
var ticketsCommand = &command{name: "tickets", subs: []*command{
	{name: "list", flags: "--config FILE [--json] [--all | --status S] [--customer ID] [--contact EMAIL]\n[--since DATE|7d] [--search TEXT] [--limit 100] [--cursor C]",
		summary: "the open tickets (--all: every one), newest first, a page at a time", run: cmdTicketsList},
	{name: "check", flags: "--config FILE [--repair] [--json]",
		summary: "compare the ticket indexes with the tickets; --repair mends them", run: cmdTicketsCheck},
	{name: "show", flags: "--config FILE [--json] NUMBER", summary: "a ticket, its SLA, time and history", run: cmdTicketsShow},
	{name: "raw", flags: "--config FILE NUMBER", summary: "print the original mail from IMAP", run: cmdTicketsRaw},
	{name: "reply", flags: "--config FILE NUMBER --message TEXT [--as NAME]",
		summary: "answer the customer (mailed to the contact and participants)", run: ticketAction("reply")},
	{name: "note", flags: "--config FILE NUMBER --message TEXT [--as NAME]", summary: "internal note, not mailed", run: ticketAction("note")},
	{name: "set", flags: "--config FILE NUMBER [status=S] [priority=P] [type=T] [reason=TEXT]\n[assignee=NAME] [--as NAME]",
		summary: "change a ticket; the customer's side is told", run: ticketAction("set")},
	ticketsOpenCommand, ticketsTimeCommand,
}}

// openTickets opens the desk at path and its ticket store, reading the
// secrets in need besides Redis's. The caller closes rdb.
func openTickets(ctx context.Context, path string, need config.Secrets) (*config.Config, redis.UniversalClient, *ticket.Store, error) {
	cfg, rdb, err := openDeskWith(ctx, path, need)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, rdb, ticket.NewStore(rdb, ticket.Options{DeskID: cfg.Desk.ID, TicketPrefix: cfg.Desk.TicketPrefix}), nil
}

// cmdTicketsShow is tickets show: a ticket with its SLA clock, time and
// history.
func cmdTicketsShow(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs, path := newFlags("tickets show")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: tickets show needs one ticket NUMBER", errUsage)
	}
	cfg, rdb, store, err := openTickets(ctx, *path, config.SecretsRedis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	loc := cfg.Desk.Location
	t, err := store.Get(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	events, err := store.Events(ctx, t.Number)
	if err != nil {
		return err
	}
	tm, err := ticketTime(ctx, cfg, rdb, t.Number)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, struct {
			*ticket.Ticket
			Events []ticket.Event        `json:"events"`
			Time   *workflow.TimeSummary `json:"time,omitempty"`
		}{t, events, tm})
	}
	ack := "not yet"
	if t.AcknowledgedAt != nil {
		ack = t.AcknowledgedAt.In(loc).Format(time.RFC3339)
	}
	fmt.Fprintf(stdout, "Ticket:       %s\nSubject:      %s\nStatus:       %s\nPriority:     %s\nType:         %s\nCustomer:     %s\nContact:      %s <%s>\nCreated:      %s\nAcknowledged: %s\n",
		shownLine(t.Number), shownLine(t.Subject), shownLine(t.Status), shownLine(t.Priority), shownLine(t.Type), shownLine(t.Customer), shownLine(t.ContactName), shownLine(t.Contact),
		t.CreatedAt.In(loc).Format(time.RFC3339), ack)
	if t.Channel == ticket.ChannelMail {
		fmt.Fprintf(stdout, "Channel:      mail\nMessage-ID:   <%s>\nOriginal:     %s (UIDVALIDITY %d, UID %d when received)\n",
			shownLine(t.MessageID), shownLine(t.Source.Mailbox), t.Source.UIDValidity, t.Source.UID)
	} else {
		// No mail: the agent who took the call wrote the text.
		fmt.Fprintf(stdout, "Channel:      %s, opened by %s\n", shownLine(strings.ReplaceAll(t.Channel, "_", " ")), shownLine(t.OpenedBy))
	}
	fmt.Fprintf(stdout, "\n%s\n", shownText(t.Text))
	if c := t.SLA; c != nil && !c.FirstResponseDue.IsZero() {
		state := "running"
		switch {
		case !c.RespondedAt.IsZero():
			state = "answered " + c.RespondedAt.In(loc).Format(time.RFC3339)
		case !c.PausedAt.IsZero():
			state = "paused since " + c.PausedAt.In(loc).Format(time.RFC3339)
		case !c.BreachedAt.IsZero():
			state = "breached"
		}
		fmt.Fprintf(stdout, "SLA:          first response due %s (%s, plan %s, %s)\n",
			c.FirstResponseDue.In(loc).Format(time.RFC3339), shownLine(c.Target), shownLine(c.Plan), state)
	}
	if tm != nil {
		fmt.Fprintf(stdout, "Time:         %s recorded, %s billable%s (maildesk tickets time %s)\n",
			workflow.FormatMinutes(tm.Minutes), workflow.FormatMinutes(tm.Billable), budgetText(*tm), t.Number)
	}
	if t.Quoted != "" {
		fmt.Fprintf(stdout, "\n[history and signature: %d lines]\n", strings.Count(t.Quoted, "\n")+1)
	}
	for _, e := range events {
		fmt.Fprintf(stdout, "\n--- %s %s by %s", e.At.In(loc).Format("2006-01-02 15:04"), shownLine(strings.ReplaceAll(e.Kind, "_", "-")), shownLine(e.From))
		if e.Channel != "" {
			fmt.Fprintf(stdout, " (%s)", shownLine(strings.ReplaceAll(e.Channel, "_", " ")))
		}
		if e.MessageID != "" {
			fmt.Fprintf(stdout, " (Message-ID <%s>)", shownLine(e.MessageID))
		}
		fmt.Fprintln(stdout)
		for _, c := range e.Changes {
			fmt.Fprintf(stdout, "%s: %s -> %s", shownLine(c.Field), shownLine(cmp.Or(c.Old, "(none)")), shownLine(cmp.Or(c.New, "(none)")))
			if c.Reason != "" {
				fmt.Fprintf(stdout, " (%s)", shownLine(c.Reason))
			}
			fmt.Fprintln(stdout)
		}
		if body := shownText(e.Text); body != "" {
			fmt.Fprintln(stdout, body)
		}
	}
	return nil
}

// cmdTicketsRaw is tickets raw: the original mail, read from the mailbox.
func cmdTicketsRaw(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs, path := newFlags("tickets raw")
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: tickets raw needs one ticket NUMBER", errUsage)
	}
	// It reads the mailbox.
	cfg, rdb, store, err := openTickets(ctx, *path, config.SecretsRedis|config.SecretsIMAP|config.SecretsOAuth2)
	if err != nil {
		return err
	}
	defer rdb.Close()
	t, err := store.Get(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if t.Channel != ticket.ChannelMail {
		return fmt.Errorf("%s was opened by %s (%s): there is no original mail", shownLine(t.Number), shownLine(t.OpenedBy), shownLine(strings.ReplaceAll(t.Channel, "_", " ")))
	}
	wc, err := mailboxConfig(cfg, rdb)
	if err != nil {
		return err
	}
	w := ingest.NewMailbox(wc, slog.New(slog.DiscardHandler))
	if err := w.Raw(ctx, t.Source, t.MessageID, stdout); err != nil {
		return fmt.Errorf("original of %s (Message-ID <%s>): %w", shownLine(t.Number), shownLine(t.MessageID), err)
	}
	return nil
}

// ticketAction is tickets reply, note or set: flags and run.
func ticketAction(sub string) runFunc {
	return func(ctx context.Context, args []string, stdout, _ io.Writer) error {
		fs, path := newFlags("tickets " + sub)
		as := asFlag(fs, "the agent acting (name as it appears in the history)")
		var message *string
		if sub != "set" {
			message = fs.String("message", "", "the text")
		}
		if err := parseFlags(fs, path, args); err != nil {
			return err
		}
		return cmdTicketAction(ctx, sub, *path, *as, message, fs.Args(), stdout)
	}
}

// cmdTicketAction is tickets reply, note and set: the agent's actions,
// through the same workflow as the API and agent mail.
func cmdTicketAction(ctx context.Context, sub, path, as string, message *string, args []string, stdout io.Writer) error {
	if len(args) == 0 || (sub != "set" && len(args) != 1) {
		return fmt.Errorf("%w: tickets %s needs one ticket NUMBER", errUsage, sub)
	}
	if message != nil && strings.TrimSpace(*message) == "" {
		return fmt.Errorf("%w: tickets %s needs --message TEXT", errUsage, sub)
	}
	var change workflow.Change
	for _, kv := range args[1:] {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			return fmt.Errorf("%w: tickets set: %q is not field=value (fields: status, priority, reason, type, assignee)", errUsage, kv)
		case k == "status":
			change.Status = v
		case k == "priority":
			change.Priority = strings.ToUpper(v)
		case k == "reason":
			change.Reason = v
		case k == "type":
			change.Type = config.TypeKey(v)
		case k == "assignee":
			change.Assignee = &v
		default:
			return fmt.Errorf("%w: tickets set: unknown field %q (fields: status, priority, reason, type, assignee)", errUsage, k)
		}
	}
	if sub == "set" && len(args) == 1 {
		return fmt.Errorf("%w: tickets set needs field=value pairs, e.g. status=resolved priority=P2 assignee=NAME", errUsage)
	}
	_, rdb, p, err := openWork(ctx, path)
	if err != nil {
		return err
	}
	defer rdb.Close()
	agent, number := workflow.Agent{Name: as}, strings.ToUpper(args[0])
	switch sub {
	case "reply":
		err = p.work.Reply(ctx, number, agent, *message, "", "")
	case "note":
		err = p.work.Note(ctx, number, agent, *message)
	case "set":
		_, err = p.work.Set(ctx, number, agent, change, "")
	}
	if err != nil {
		return err
	}
	t, err := p.store.Get(ctx, number)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s, %s, %s, assigned to %s\n", t.Number, t.Status, t.Priority, t.Type, shownLine(cmp.Or(t.Assignee, "nobody")))
	return nil
}

// shownLine and shownText are what a mail wrote (subject, names, ids,
// body) as a terminal may show it: escape sequences could clear the
// screen, retitle the window or hide text, and bidi controls turn
// "fdp.exe" into what reads as "exe.pdf". JSON output stays as stored: it
// escapes control characters itself, and is for programs.
func shownLine(s string) string { return notify.SafeLine(s) }

func shownText(s string) string { return strings.TrimSpace(notify.SafeText(s)) }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ticketTime is the time recorded on ticket number against its budget
// (the customer's plan from the directory in Redis), nil for a ticket
// without time records.
func ticketTime(ctx context.Context, cfg *config.Config, rdb redis.UniversalClient, number string) (*workflow.TimeSummary, error) {
	p, err := newParts(cfg, rdb, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		return nil, err
	}
	if recs, err := p.store.TimeRecords(ctx, number); err != nil || len(recs) == 0 {
		return nil, err
	}
	if _, err := p.dir.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("loading the contacts from Redis: %w", err)
	}
	s, err := p.work.TimeOf(ctx, number)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// requestKey is an agent's --idempotency-key scoped to the agent (--as), as
// an API client's Idempotency-Key is scoped to its token; "" for none.
func requestKey(as, key string) (string, error) {
	if key == "" {
		return "", nil
	}
	if !workflow.ValidKey(key) {
		return "", fmt.Errorf("%w: --idempotency-key must be 1 to 200 printable ASCII characters without spaces", errUsage)
	}
	return as + " " + key, nil
}

// atFlag is the time --at says, in the desk's zone loc (workflow.ParseAt);
// zero when it is empty.
func atFlag(at string, loc *time.Location) (time.Time, error) {
	if at == "" {
		return time.Time{}, nil
	}
	t, err := workflow.ParseAt(at, loc, time.Now())
	if err != nil {
		return time.Time{}, fmt.Errorf("--at: %w", err)
	}
	return t, nil
}

// asFlag is --as, who acts as the history names them: by default the
// login name, else "cli".
func asFlag(fs *flag.FlagSet, usage string) *string {
	return fs.String("as", cmp.Or(os.Getenv("USER"), "cli"), usage)
}
