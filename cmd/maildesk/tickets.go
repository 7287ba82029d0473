package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/maildesk/maildesk/ingest"
	"github.com/maildesk/maildesk/ticket"
)

func cmdTickets(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: tickets needs list, show or raw", errUsage)
	}
	sub := args[0]
	fs, path := newFlags("tickets " + sub)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, path, args[1:]); err != nil {
		return err
	}
	cfg, rdb, err := openDesk(ctx, *path)
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
		ts, err := store.List(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			for i := range ts {
				ts[i].Text = "" // the list is an overview; show has the text
			}
			return writeJSON(stdout, ts)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NUMBER\tSTATUS\tPRIORITY\tCUSTOMER\tCONTACT\tCREATED\tSUBJECT")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Number, t.Status, t.Priority, t.Customer, t.Contact,
				t.CreatedAt.In(loc).Format("2006-01-02 15:04"), t.Subject)
		}
		return tw.Flush()
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
		if *asJSON {
			return writeJSON(stdout, struct {
				*ticket.Ticket
				Events []ticket.Event `json:"events"`
			}{t, events})
		}
		ack := "not yet"
		if t.AcknowledgedAt != nil {
			ack = t.AcknowledgedAt.In(loc).Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "Ticket:       %s\nSubject:      %s\nStatus:       %s\nPriority:     %s\nCustomer:     %s\nContact:      %s <%s>\nCreated:      %s\nAcknowledged: %s\nMessage-ID:   <%s>\nOriginal:     %s (UIDVALIDITY %d, UID %d when received)\n\n%s\n",
			t.Number, t.Subject, t.Status, t.Priority, t.Customer, t.ContactName, t.Contact,
			t.CreatedAt.In(loc).Format(time.RFC3339), ack, t.MessageID,
			t.Source.Mailbox, t.Source.UIDValidity, t.Source.UID, strings.TrimSpace(t.Text))
		if t.Quoted != "" {
			fmt.Fprintf(stdout, "\n[history and signature: %d lines]\n", strings.Count(t.Quoted, "\n")+1)
		}
		for _, e := range events {
			fmt.Fprintf(stdout, "\n--- %s %s from %s (Message-ID <%s>)\n%s\n", e.At.In(loc).Format("2006-01-02 15:04"),
				strings.ReplaceAll(e.Kind, "_", "-"), e.From, e.MessageID, strings.TrimSpace(e.Text))
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
		w := ingest.NewWatcher(watcherConfig(cfg.IMAP), nil, slog.New(slog.DiscardHandler))
		if err := w.Raw(ctx, t.Source, t.MessageID, stdout); err != nil {
			return fmt.Errorf("original of %s (Message-ID <%s>): %w", t.Number, t.MessageID, err)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown tickets command %q", errUsage, sub)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
