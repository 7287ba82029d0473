package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/httpapi"
	"github.com/maildesk/maildesk/ticket"
)

// listFlags are the filters of tickets list; like the API's, each filter
// may repeat (any of its values matches).
type listFlags struct {
	all                       *bool
	status, customer, contact multiFlag
	since, cursor, search     *string
	limit                     *int
}

type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error {
	*m = append(*m, v)
	return nil
}

// defaultListLimit is tickets list's page: a desk's whole history in one
// go is rarely what anyone wants to read.
const defaultListLimit = 100

func addListFlags(fs *flag.FlagSet) *listFlags {
	l := &listFlags{
		all:    fs.Bool("all", false, "every ticket, not only the open ones"),
		since:  fs.String("since", "", "created since a date (2026-11-30, in the desk's time zone), a time (RFC 3339) or an age (7d, 36h)"),
		cursor: fs.String("cursor", "", "the cursor printed after the page before"),
		search: fs.String("search", "", "subject contains TEXT (among the newest 20,000 tickets)"),
		limit:  fs.Int("limit", defaultListLimit, "tickets per page; 0 for all"),
	}
	fs.Var(&l.status, "status", "status (repeat for several); implies --all")
	fs.Var(&l.customer, "customer", "customer id (repeat for several)")
	fs.Var(&l.contact, "contact", "a person's address: tickets they are the contact of, in Cc on, or wrote on")
	return l
}

// cmdTicketsList is tickets list's flags and run.
func cmdTicketsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("tickets list")
	asJSON := fs.Bool("json", false, "print JSON")
	list := addListFlags(fs)
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: tickets list takes no arguments", errUsage)
	}
	cfg, rdb, store, err := openTickets(ctx, *path, config.SecretsRedis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	return ticketsList(ctx, cfg, store, list, *asJSON, stdout, stderr)
}

// ticketsList is tickets list: by default the open tickets, newest first,
// a page at a time, read from the indexes.
func ticketsList(ctx context.Context, cfg *config.Config, store *ticket.Store, l *listFlags, asJSON bool, stdout, stderr io.Writer) error {
	q := ticket.Query{Status: l.status, Customer: l.customer, Contact: l.contact, Search: strings.TrimSpace(*l.search),
		Cursor: *l.cursor, Limit: *l.limit}
	for _, s := range l.status {
		if !slices.Contains(ticket.Statuses, s) {
			return fmt.Errorf("%w: tickets list: unknown status %q (want one of %s)", errUsage, s, strings.Join(ticket.Statuses, ", "))
		}
	}
	if *l.limit < 0 {
		return fmt.Errorf("%w: tickets list: --limit must be 0 (all) or more", errUsage)
	}
	if !*l.all && len(l.status) == 0 {
		open := true
		q.Open = &open
	}
	if *l.since != "" {
		t, err := httpapi.ParseSince(*l.since, cfg.Desk.Location, time.Now())
		if err != nil {
			return fmt.Errorf("%w: tickets list --since: %v", errUsage, err)
		}
		q.Since = t
	}
	page, err := store.Find(ctx, q)
	if err != nil {
		return err
	}
	if page.Next != "" {
		// On stderr, so that --json stays one JSON document.
		defer fmt.Fprintf(stderr, "more tickets: add --cursor %s\n", page.Next)
	}
	if asJSON {
		return writeJSON(stdout, page.Tickets)
	}
	loc := cfg.Desk.Location
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NUMBER\tSTATUS\tPRIORITY\tCUSTOMER\tCONTACT\tCREATED\tSUBJECT")
	for _, t := range page.Tickets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", shownLine(t.Number), shownLine(t.Status), shownLine(t.Priority), shownLine(t.Customer),
			shownLine(t.Contact), t.CreatedAt.In(loc).Format("2006-01-02 15:04"), shownLine(t.Subject))
	}
	return tw.Flush()
}

// cmdTicketsCheck is tickets check's flags and run.
func cmdTicketsCheck(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs, path := newFlags("tickets check")
	asJSON := fs.Bool("json", false, "print JSON")
	repair := fs.Bool("repair", false, "mend what the check finds")
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: tickets check takes no arguments", errUsage)
	}
	_, rdb, store, err := openTickets(ctx, *path, config.SecretsRedis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	return ticketsCheck(ctx, store, *repair, *asJSON, stdout)
}

// ticketsCheck is tickets check: compares the indexes with the tickets and,
// with --repair, mends them. The daemon builds the indexes of tickets made
// before they existed by itself on start; this is for drift (a ticket
// changed by hand in Redis, a restore of part of the keys).
func ticketsCheck(ctx context.Context, store *ticket.Store, repair, asJSON bool, stdout io.Writer) error {
	r, err := store.CheckIndexes(ctx, repair)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, r)
	}
	fmt.Fprintf(stdout, "%d tickets: %d index entries missing, %d stale\n", r.Tickets, r.Missing, r.Stale)
	for _, e := range r.Examples {
		fmt.Fprintln(stdout, "  "+shownLine(e))
	}
	switch {
	case r.Missing+r.Stale == 0:
	case repair:
		fmt.Fprintln(stdout, "repaired")
	default:
		fmt.Fprintln(stdout, "run again with --repair to mend them")
		return errReported
	}
	return nil
}
