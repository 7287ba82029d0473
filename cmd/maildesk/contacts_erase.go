package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/access"
	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ingest"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// newPeople wires erasure and export over a desk's stores and mailbox
// (mail nil: no mailbox).
func newPeople(cfg *config.Config, rdb redis.UniversalClient, mail workflow.PersonMail) *workflow.People {
	ob := notify.NewOutbox(rdb, cfg.Desk.ID)
	return &workflow.People{
		Store:     ticket.NewStore(rdb, ticket.Options{DeskID: cfg.Desk.ID, TicketPrefix: cfg.Desk.TicketPrefix, OutboxKey: ob.Key()}),
		Outbox:    ob,
		Mail:      mail,
		Directory: authz.NewStore(rdb, cfg.Desk.ID),
		Links:     access.NewStore(rdb, cfg.Desk.ID, nil),
	}
}

// people is the daemon's erasure and export, for the API.
func (d *daemon) people() *workflow.People {
	return &workflow.People{Store: d.store, Outbox: d.outbox, Mail: d.watcher.Mailbox(), Directory: authz.NewStore(d.rdb, d.cfg.Desk.ID), Links: d.links, Now: d.now}
}

// cmdContactsPerson is contacts erase and contacts export: a person's
// rights over their data (GDPR articles 17 and 15).
func cmdContactsPerson(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("contacts " + sub)
	asJSON := fs.Bool("json", false, "print JSON")
	var as, reference, output *string
	if sub == "erase" {
		as = asFlag(fs, "who erases (recorded, with the reference)")
		reference = fs.String("reference", "", "the request's reference, recorded with the erasure (not the address)")
	} else {
		output = fs.String("output", "", "write the JSON to this file instead of stdout")
	}
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: contacts %s needs one EMAIL", errUsage, sub)
	}
	addr := fs.Arg(0)
	need := config.SecretsRedis
	if sub == "erase" {
		need |= config.SecretsIMAP | config.SecretsOAuth2
	}
	cfg, rdb, err := openDeskWith(ctx, *path, need)
	if err != nil {
		return err
	}
	defer rdb.Close()
	if sub == "export" {
		x, err := newPeople(cfg, rdb, nil).Export(ctx, addr)
		if err != nil {
			return err
		}
		out := stdout
		if *output != "" {
			f, err := os.OpenFile(*output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return fmt.Errorf("contacts export: %w", err)
			}
			defer f.Close()
			out = f
		}
		if err := writeJSON(out, x); err != nil {
			return err
		}
		if *output != "" {
			fmt.Fprintf(stdout, "%s: %d tickets, %d rejection records, %d outbox entries, %d directory entries\n",
				*output, len(x.Tickets), len(x.Rejections), len(x.Outbox), len(x.Contacts))
		}
		return nil
	}
	wc, err := mailboxConfig(cfg, rdb)
	if err != nil {
		return err
	}
	w := ingest.NewMailbox(wc, slog.New(slog.DiscardHandler))
	r, err := newPeople(cfg, rdb, w).Erase(ctx, addr, workflow.Agent{Name: *as}, *reference)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSON(stdout, r); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "erased from %d tickets as their contact and %d as a participant or writer (%d history entries), "+
			"%d rejection records, %d outbox entries, %d status links, %d sessions and sign-in links; %d mails deleted from the IMAP folders\n",
			r.Tickets, r.Others, r.Events, r.Rejections, r.Outbox, r.Links, r.Sessions, r.Mails)
		if len(r.ContactOf) > 0 {
			fmt.Fprintf(stdout, "still a contact of %s: remove them with `maildesk contacts remove`, or they may open tickets again\n",
				strings.Join(r.ContactOf, ", "))
		}
	}
	if r.MailError != "" {
		fmt.Fprintf(stderr, "maildesk: the mails were not all deleted (%s): run contacts erase again once the mailbox answers\n", r.MailError)
		return errReported
	}
	return nil
}
