package workflow

import (
	"context"
	"fmt"
	"time"

	"github.com/maildesk/maildesk/address"
	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// A person's rights over their data (GDPR): erasure (article 17) and
// access (article 15), for the CLI and the API alike. The data is in the
// tickets and their histories, the rejection records, the outbox, the
// directory and the IMAP folders.

// PersonStore is the ticket store's part (ticket.Store).
type PersonStore interface {
	ErasePerson(ctx context.Context, addr string) (ticket.PersonErasure, error)
	PersonData(ctx context.Context, addr string) ([]ticket.PersonTicket, []ticket.Rejection, error)
	PersonTickets(ctx context.Context, addr string) ([]string, error)
	PurgeQueuedMails(ctx context.Context, mail ticket.MailPurger, limit int) (int, error)
	RecordErasure(ctx context.Context, at time.Time, by, reference string, counts map[string]int) error
}

// PersonOutbox is the outbox's part (notify.Outbox).
type PersonOutbox interface {
	ErasePerson(ctx context.Context, addr string) (int, error)
	// EraseDeliveryRecords deletes the records of mail delivered to addr.
	EraseDeliveryRecords(ctx context.Context, addr string) error
	PersonEntries(ctx context.Context, addr string) (waiting []notify.Entry, dead, skipped []notify.Record, err error)
	// PersonSuppression is why mail to addr is suppressed and for how
	// much longer ("" when it is not).
	PersonSuppression(ctx context.Context, addr string) (string, time.Duration, error)
}

// PersonLinks ends a person's status links, sessions and sign-in links
// (access.Store): each holds their address.
type PersonLinks interface {
	// RevokeContact ends every link showing a ticket to addr; tickets are
	// addr's tickets.
	RevokeContact(ctx context.Context, addr string, tickets []string) (int, error)
	// EndSessions ends addr's sessions of "My tickets" and unused sign-in
	// links.
	EndSessions(ctx context.Context, addr string) (int, error)
}

// PersonMail deletes mails from the IMAP folders (ingest.Mailbox).
type PersonMail interface {
	ticket.MailPurger
	PurgeFrom(ctx context.Context, addr string, dry bool) (int, error)
}

// Directory is the customers and contacts in use (authz.Store).
type Directory interface {
	Load(ctx context.Context) ([]config.Customer, int64, error)
}

// People erases and exports people's data.
type People struct {
	Store  PersonStore
	Outbox PersonOutbox
	// Mail may be nil: the person's mails are then left in the folders
	// (the report says so).
	Mail      PersonMail
	Directory Directory
	// Links may be nil: a desk without status links (no http.public_url
	// ever) has none to end.
	Links PersonLinks
	Now   func() time.Time
}

// Erasure is what Erase removed.
type Erasure struct {
	ticket.PersonErasure
	// Outbox entries deleted (mail waiting to go to them, dead letters
	// and skipped mail about them).
	Outbox int `json:"outbox"`
	// Links are the status links that showed a ticket to them, ended.
	Links int `json:"links"`
	// Sessions are their sessions of "My tickets" and unused sign-in
	// links, ended.
	Sessions int `json:"sessions"`
	// Mails deleted from the IMAP folders: those they sent, and the
	// originals and follow-ups of their tickets.
	Mails int `json:"mails"`
	// MailError: the mailbox could not be reached or refused; the data in
	// Redis is gone, the mails are not, nor the records of mail delivered
	// to the person (their copies are in the sent folder): erase again
	// later.
	MailError string `json:"mail_error,omitempty"`
	// ContactOf are customers whose contacts still list the person: the
	// directory is the operator's (contacts remove), and while listed the
	// person may mail the desk again.
	ContactOf []string `json:"contact_of,omitempty"`
}

func (p *People) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Erase removes addr's personal data from every ticket, event, rejection
// record and outbox record and their mails from the IMAP folders, and
// records that it happened (when, by whom, reference, the counts: not
// whose). Tickets of other people keep working. Running it again is
// harmless: it finds what is left.
func (p *People) Erase(ctx context.Context, addr string, by Agent, reference string) (Erasure, error) {
	who, err := address.Normalise(addr)
	if err != nil {
		return Erasure{}, fmt.Errorf("%w: %q is not an e-mail address", ErrInvalid, addr)
	}
	var r Erasure
	// The links first: their tickets are found by the contact index,
	// which the erasure of the tickets removes.
	if p.Links != nil {
		numbers, err := p.Store.PersonTickets(ctx, who)
		if err != nil {
			return r, err
		}
		if r.Links, err = p.Links.RevokeContact(ctx, who, numbers); err != nil {
			return r, err
		}
		if r.Sessions, err = p.Links.EndSessions(ctx, who); err != nil {
			return r, err
		}
	}
	if r.PersonErasure, err = p.Store.ErasePerson(ctx, who); err != nil {
		return r, err
	}
	if r.Outbox, err = p.Outbox.ErasePerson(ctx, who); err != nil {
		return r, err
	}
	// The records of mail delivered to them go once the desk's copies of
	// that mail in the sent folder are gone (PurgeFrom): the mailbox
	// journal takes a copy without its record for Redis having lost
	// writes, holds intake and writes the record back. Without a mailbox
	// there are no copies.
	copiesGone := p.Mail == nil
	if p.Mail == nil {
		r.MailError = "no mailbox configured here"
	} else {
		n, err := p.Mail.PurgeFrom(ctx, who, false)
		r.Mails += n
		if err == nil {
			copiesGone = true
			n, err = p.Store.PurgeQueuedMails(ctx, p.Mail, 100_000)
			r.Mails += n
		}
		if err != nil {
			r.MailError = err.Error()
		}
	}
	if copiesGone {
		if err := p.Outbox.EraseDeliveryRecords(ctx, who); err != nil {
			return r, err
		}
	}
	if r.ContactOf, err = p.contactOf(ctx, who); err != nil {
		return r, err
	}
	err = p.Store.RecordErasure(ctx, p.now(), by.String(), reference, map[string]int{
		"tickets": r.Tickets, "other_tickets": r.Others, "events": r.Events, "rejections": r.Rejections,
		"outbox": r.Outbox, "mails": r.Mails, "links": r.Links, "sessions": r.Sessions,
	})
	return r, err
}

func (p *People) contactOf(ctx context.Context, who string) ([]string, error) {
	if p.Directory == nil {
		return nil, nil
	}
	cs, _, err := p.Directory.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the directory: %w", err)
	}
	var out []string
	for _, c := range cs {
		for _, ct := range c.Contacts {
			if a, err := address.Normalise(ct.Email); err == nil && a == who {
				out = append(out, c.ID)
			}
		}
	}
	return out, nil
}

// PersonExport is everything the desk holds about one person.
type PersonExport struct {
	Person     string                `json:"person"`
	ExportedAt time.Time             `json:"exported_at"`
	Contacts   []ContactEntry        `json:"contacts"`
	Tickets    []ticket.PersonTicket `json:"tickets"`
	Rejections []RejectionEntry      `json:"rejections"`
	Outbox     []OutboxEntry         `json:"outbox"`
	// Suppression: mail to them is not sent for a while, and why (their
	// server bounced or refused it); absent when it is sent.
	Suppression *Suppression `json:"suppression,omitempty"`
	// Mails: the original mails are in the desk's IMAP folders; each
	// ticket and event names its Message-ID, by which `maildesk tickets
	// raw` reads one.
	Mails string `json:"mails"`
}

// Suppression is why mail to the person is suppressed, until when.
type Suppression struct {
	Reason string    `json:"reason"`
	Until  time.Time `json:"until"`
}

// ContactEntry is the person as a customer's contact.
type ContactEntry struct {
	Customer string           `json:"customer"`
	Contact  authz.ContactRow `json:"contact"`
}

// RejectionEntry is a refused mail of the person.
type RejectionEntry struct {
	At        time.Time `json:"at"`
	Reason    string    `json:"reason"`
	MessageID string    `json:"message_id"`
	Subject   string    `json:"subject"`
}

// OutboxEntry is a mail to (or naming) the person that waits, or was
// given up on or skipped.
type OutboxEntry struct {
	Queue    string    `json:"queue"` // pending | dead | skipped
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Ticket   string    `json:"ticket,omitempty"`
	To       string    `json:"to"`
	Subject  string    `json:"subject,omitempty"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason,omitempty"`
	Attempts int64     `json:"attempts,omitempty"`
}

// Export returns everything held about addr.
func (p *People) Export(ctx context.Context, addr string) (PersonExport, error) {
	who, err := address.Normalise(addr)
	if err != nil {
		return PersonExport{}, fmt.Errorf("%w: %q is not an e-mail address", ErrInvalid, addr)
	}
	x := PersonExport{Person: who, ExportedAt: p.now().UTC(), Contacts: []ContactEntry{}, Rejections: []RejectionEntry{}, Outbox: []OutboxEntry{},
		Mails: "the original mails are in the desk's IMAP folders, found by the Message-IDs above"}
	if p.Directory != nil {
		cs, _, err := p.Directory.Load(ctx)
		if err != nil {
			return x, fmt.Errorf("read the directory: %w", err)
		}
		for _, c := range cs {
			for _, ct := range c.Contacts {
				if a, err := address.Normalise(ct.Email); err == nil && a == who {
					x.Contacts = append(x.Contacts, ContactEntry{Customer: c.ID, Contact: authz.NewContactRow(ct)})
				}
			}
		}
	}
	var rs []ticket.Rejection
	if x.Tickets, rs, err = p.Store.PersonData(ctx, who); err != nil {
		return x, err
	}
	for _, r := range rs {
		x.Rejections = append(x.Rejections, RejectionEntry{At: r.At.UTC(), Reason: r.Reason, MessageID: r.MessageID, Subject: r.Subject})
	}
	waiting, dead, skipped, err := p.Outbox.PersonEntries(ctx, who)
	if err != nil {
		return x, err
	}
	for _, e := range waiting {
		n := e.Notification
		x.Outbox = append(x.Outbox, OutboxEntry{Queue: "pending", ID: n.ID, Kind: string(n.Kind), Ticket: n.Ticket, To: n.To,
			Subject: n.Subject, At: e.QueuedAt.UTC(), Attempts: e.Attempts})
	}
	why, left, err := p.Outbox.PersonSuppression(ctx, who)
	if err != nil {
		return x, err
	}
	if why != "" {
		x.Suppression = &Suppression{Reason: why, Until: p.now().UTC().Add(left).Truncate(time.Second)}
	}
	for _, q := range []struct {
		name string
		rs   []notify.Record
	}{{"dead", dead}, {"skipped", skipped}} {
		for _, r := range q.rs {
			n := r.Notification
			x.Outbox = append(x.Outbox, OutboxEntry{Queue: q.name, ID: n.ID, Kind: string(n.Kind), Ticket: n.Ticket, To: n.To,
				Subject: n.Subject, At: r.At.UTC(), Reason: r.Reason})
		}
	}
	return x, nil
}
