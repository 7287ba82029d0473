package main

import (
	"cmp"
	"context"
	"encoding/json"
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

func cmdTickets(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: tickets needs list, show, raw, reply, note, set, open or time", errUsage)
	}
	sub := args[0]
	if sub == "open" {
		return cmdTicketOpen(ctx, args[1:], stdout)
	}
	if sub == "time" {
		return cmdTicketTime(ctx, args[1:], stdout)
	}
	fs, path := newFlags("tickets " + sub)
	asJSON := fs.Bool("json", false, "print JSON")
	var list *listFlags
	var repair *bool
	switch sub {
	case "list":
		list = addListFlags(fs)
	case "check":
		repair = fs.Bool("repair", false, "mend what the check finds")
	}
	var message, as *string
	if sub == "reply" || sub == "note" || sub == "set" {
		as = fs.String("as", cmp.Or(os.Getenv("USER"), "cli"), "the agent acting (name as it appears in the history)")
		if sub != "set" {
			message = fs.String("message", "", "the text")
		}
	}
	if err := parseFlags(fs, path, args[1:]); err != nil {
		return err
	}
	if sub == "reply" || sub == "note" || sub == "set" {
		return cmdTicketAction(ctx, sub, *path, *as, message, fs.Args(), stdout)
	}
	need := config.SecretsRedis
	if sub == "raw" { // reads the mailbox
		need |= config.SecretsIMAP | config.SecretsOAuth2
	}
	cfg, rdb, err := openDeskWith(ctx, *path, need)
	if err != nil {
		return err
	}
	defer rdb.Close()
	store := ticket.NewStore(rdb, ticket.Options{DeskID: cfg.Desk.ID, TicketPrefix: cfg.Desk.TicketPrefix})
	loc := cfg.Desk.Location

	switch sub {
	case "list":
		if fs.NArg() != 0 {
			return fmt.Errorf("%w: tickets list takes no arguments", errUsage)
		}
		return ticketsList(ctx, cfg, store, list, *asJSON, stdout, stderr)
	case "check":
		if fs.NArg() != 0 {
			return fmt.Errorf("%w: tickets check takes no arguments", errUsage)
		}
		return ticketsCheck(ctx, store, *repair, *asJSON, stdout)
	case "show":
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: tickets show needs one ticket NUMBER", errUsage)
		}
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
	case "raw":
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: tickets raw needs one ticket NUMBER", errUsage)
		}
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
	return fmt.Errorf("%w: unknown tickets command %q", errUsage, sub)
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

// cmdTicketOpen is tickets open: a ticket for a request an agent took by
// phone or in person, through the same workflow as the API and the
// dashboard's form.
func cmdTicketOpen(ctx context.Context, args []string, stdout io.Writer) error {
	fs, path := newFlags("tickets open")
	customer := fs.String("customer", "", "the customer's id")
	contact := fs.String("contact", "", "the address of the contact who called")
	subject := fs.String("subject", "", "the ticket's subject")
	message := fs.String("message", "", "what the contact reported")
	priority := fs.String("priority", "", "P1..P4; default: what a mail from the contact gets")
	typ := fs.String("type", "", "incident (default) or feature_request")
	channel := fs.String("channel", ticket.ChannelPhone, "how the request came in: "+strings.Join(ticket.AgentChannels, " or "))
	at := fs.String("at", "", "when the call was (the SLA clock starts there): RFC 3339, YYYY-MM-DD HH:MM or HH:MM in the desk's time zone; default now")
	as := fs.String("as", cmp.Or(os.Getenv("USER"), "cli"), "the agent acting (name as it appears in the history)")
	key := fs.String("idempotency-key", "", "run again with the same key: the same ticket, nothing made twice")
	asJSON := fs.Bool("json", false, "print the ticket as JSON")
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: tickets open takes flags only (quote the --subject and --message texts)", errUsage)
	}
	for _, f := range []struct{ name, v string }{{"customer", *customer}, {"contact", *contact}, {"subject", *subject}, {"message", *message}} {
		if strings.TrimSpace(f.v) == "" {
			return fmt.Errorf("%w: tickets open needs --%s", errUsage, f.name)
		}
	}
	if strings.ContainsFunc(*key, func(r rune) bool { return r <= ' ' || r > '~' }) || len(*key) > 200 {
		return fmt.Errorf("%w: --idempotency-key must be 1 to 200 printable ASCII characters without spaces", errUsage)
	}
	cfg, rdb, p, err := openWork(ctx, *path)
	if err != nil {
		return err
	}
	defer rdb.Close()
	o := workflow.Opening{Customer: *customer, Contact: *contact, Subject: *subject, Message: *message,
		Priority: *priority, Type: strings.ReplaceAll(strings.ToLower(strings.TrimSpace(*typ)), "-", "_"), Channel: strings.ReplaceAll(*channel, "-", "_")}
	if *at != "" {
		if o.At, err = workflow.ParseAt(*at, cfg.Desk.Location, time.Now()); err != nil {
			return fmt.Errorf("--at: %w", err)
		}
	}
	// Keys are per agent, as an API client's are per token.
	scoped := ""
	if *key != "" {
		scoped = *as + " " + *key
	}
	t, created, err := p.work.Open(ctx, workflow.Agent{Name: *as}, o, scoped)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, t)
	}
	verb := "opened"
	if !created {
		verb = "already opened with this idempotency key"
	}
	fmt.Fprintf(stdout, "%s: %s for %s (%s) by %s, %s, %s, %s", t.Number, verb, shownLine(t.Contact), shownLine(t.Customer),
		strings.ReplaceAll(t.Channel, "_", " "), t.Status, t.Priority, t.Type)
	if c := t.SLA; c != nil && !c.FirstResponseDue.IsZero() {
		fmt.Fprintf(stdout, ", first response due %s", c.FirstResponseDue.In(cfg.Desk.Location).Format(time.RFC3339))
	}
	fmt.Fprintln(stdout)
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
