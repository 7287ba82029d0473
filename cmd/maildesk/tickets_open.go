package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

var ticketsOpenCommand = &command{name: "open",
	flags:   "--config FILE --customer ID --contact ADDRESS --subject TEXT --message TEXT\n[--priority P] [--type incident|feature_request] [--channel phone|in_person]\n[--at TIME] [--as NAME] [--idempotency-key KEY] [--json]",
	summary: "a ticket for a request taken by phone or in person: the contact is\nacknowledged, the SLA clock starts at --at (default now)",
	run: func(ctx context.Context, args []string, stdout, _ io.Writer) error {
		return cmdTicketOpen(ctx, args, stdout)
	},
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
	as := asFlag(fs, "the agent acting (name as it appears in the history)")
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
	scoped, err := requestKey(*as, *key)
	if err != nil {
		return err
	}
	cfg, rdb, p, err := openWork(ctx, *path)
	if err != nil {
		return err
	}
	defer rdb.Close()
	o := workflow.Opening{Customer: *customer, Contact: *contact, Subject: *subject, Message: *message,
		Priority: *priority, Type: strings.ReplaceAll(strings.ToLower(strings.TrimSpace(*typ)), "-", "_"), Channel: strings.ReplaceAll(*channel, "-", "_")}
	if o.At, err = atFlag(*at, cfg.Desk.Location); err != nil {
		return err
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
