package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// Outcome is where a mail goes once its fate is committed.
type Outcome int

const (
	// Processed: the mail became (or already was) a ticket.
	Processed Outcome = iota
	// Rejected: no ticket; an unauthorised sender, or machine mail.
	Rejected
	// Quarantined: the mail could not be read; an operator looks at it.
	Quarantined
)

func (o Outcome) String() string {
	switch o {
	case Processed:
		return "processed"
	case Rejected:
		return "rejected"
	case Quarantined:
		return "quarantined"
	}
	return "unknown"
}

// Committer is the part of the ticket store the pipeline writes to.
type Committer interface {
	Create(ctx context.Context, dedupe string, t ticket.New, note []string) (ticket.Result, error)
	Reject(ctx context.Context, dedupe string, r ticket.Rejection, note []string) (ticket.Result, error)
}

// Authorizer judges a sender.
type Authorizer interface {
	Decide(sender string) authz.Decision
}

// Pipeline turns one raw mail into its committed outcome: parse, classify,
// authorise, commit. It never touches IMAP; the watcher moves the mail
// according to the Result once Process returned without error.
type Pipeline struct {
	Store Committer
	// Threads finds the ticket a follow-up belongs to; nil: every mail is new.
	Threads Threads
	// TicketPrefix is the desk's ticket prefix, for the subject tag.
	TicketPrefix string
	Authz        Authorizer
	Limits       Limits
	Own          Own
	// Language and Priority are the desk's defaults.
	Language string
	Priority string
	Log      *slog.Logger
	Now      func() time.Time

	tagOnce sync.Once
	tag     *regexp.Regexp
}

// Result is what happened to one mail.
type Result struct {
	Outcome   Outcome
	Ticket    string // ticket number when Processed
	MessageID string
	Reason    string // why Rejected or Quarantined
	Replay    bool   // the outcome had been committed before
	Notified  bool   // an acknowledgement or notice was queued
	FollowUp  bool   // appended to an existing ticket
}

// Process commits the outcome of the mail read from r. A mail that cannot
// be parsed is not an error: it is Quarantined. An error means the outcome
// could not be committed (Redis unreachable): the mail must stay where it
// is and be processed again later, which is safe because commits are
// idempotent.
func (p *Pipeline) Process(ctx context.Context, r io.Reader, src ticket.Source) (Result, error) {
	msg, err := Parse(r, p.Limits)
	if err != nil {
		reason := "unparseable: " + err.Error()
		if errors.Is(err, ErrTooLarge) {
			reason = "too large: " + err.Error()
		}
		return Result{Outcome: Quarantined, Reason: reason}, nil
	}
	log := p.log().With("message_id", msg.MessageID, "from", msg.From.Address, "uid", src.UID)
	for _, w := range msg.Warnings {
		log.Debug("parse warning", "warning", w)
	}
	class, why := Classify(msg, p.Own)
	dedupe := msg.MessageID
	if dedupe == "" {
		dedupe = "sha256:" + msg.ContentHash
	}
	now := p.now()
	res := Result{MessageID: msg.MessageID}

	// A follow-up from the ticket's own side joins its ticket, an
	// auto-reply too (recorded, changing nothing). Loops, spam and bounces
	// never thread.
	if p.Threads != nil && (class == Human || class == Generated || class == AutoReply) {
		p.tagOnce.Do(func() {
			if p.TicketPrefix != "" {
				p.tag = tagPattern(p.TicketPrefix)
			}
		})
		t, err := p.findTicket(ctx, msg)
		if err != nil {
			return res, err
		}
		if t != nil && p.mayFollowUp(t, msg.From.Address) {
			kind := ticket.EventReply
			if class == AutoReply {
				kind = ticket.EventAutoReply
			}
			fresh, quoted := SplitQuoted(msg.Text)
			cr, err := p.Threads.Append(ctx, dedupe, t.Number, ticket.Event{
				At: now, Kind: kind, From: msg.From.Address, MessageID: msg.MessageID,
				Subject: msg.Subject, Text: fresh, Quoted: quoted, Source: &src,
			})
			if err != nil {
				return res, err
			}
			res.Outcome, res.Ticket, res.Replay, res.FollowUp = Processed, t.Number, !cr.Created, true
			return res, nil
		}
	}

	// Mail from machines is never answered; whether it may still become a
	// ticket depends on the kind: a monitoring alert from an authorised
	// address may, an out-of-office reply to our acknowledgement may not.
	if class != Human && class != Generated {
		reason := "machine mail: " + class.String() + " (" + why + ")"
		cr, err := p.Store.Reject(ctx, dedupe, ticket.Rejection{
			Sender: msg.From.Address, Reason: reason,
			MessageID: msg.MessageID, Subject: msg.Subject, At: now,
		}, nil)
		if err != nil {
			return res, err
		}
		res.Outcome, res.Reason, res.Replay = Rejected, reason, !cr.Created
		return res, nil
	}

	d := p.Authz.Decide(msg.From.Address)
	if d.Authorised {
		lang := cmp.Or(d.Contact.Language, p.Language)
		var note []string
		if class == Human {
			note = notify.Notification{
				Kind: notify.Ack, To: d.Contact.Email, ToName: cmp.Or(d.Contact.Name, msg.From.Name), Language: lang,
				Subject: msg.Subject, InReplyTo: msg.MessageID, References: msg.References, Customer: d.Customer.Name,
			}.Fields()
		}
		fresh, quoted := SplitQuoted(msg.Text)
		cr, err := p.Store.Create(ctx, dedupe, ticket.New{
			Subject: msg.Subject, Priority: p.Priority, Customer: d.Customer.ID,
			Contact: d.Contact.Email, ContactName: cmp.Or(d.Contact.Name, msg.From.Name), Language: lang,
			MessageID: msg.MessageID, Text: fresh, Quoted: quoted, Source: src, CreatedAt: now,
		}, note)
		if err != nil {
			return res, err
		}
		res.Outcome, res.Ticket, res.Replay, res.Notified = Processed, cr.Number, !cr.Created, cr.Notified
		return res, nil
	}

	var note []string
	if class == Human && !msg.NullReturnPath {
		note = notify.Notification{
			Kind: notify.Rejection, To: msg.From.Address, ToName: msg.From.Name, Language: p.Language,
			Subject: msg.Subject, InReplyTo: msg.MessageID, References: msg.References,
		}.Fields()
	}
	cr, err := p.Store.Reject(ctx, dedupe, ticket.Rejection{
		Sender: msg.From.Address, Reason: string(d.Reason), MessageID: msg.MessageID, Subject: msg.Subject, At: now,
	}, note)
	if err != nil {
		return res, err
	}
	res.Outcome, res.Reason, res.Replay, res.Notified = Rejected, string(d.Reason), !cr.Created, cr.Notified
	return res, nil
}

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Pipeline) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}

// headLimit is how much of an oversized mail is read to learn its sender
// and subject: the header and the start of the body.
const headLimit = 64 << 10

// TooLarge handles a mail over the size limit, reading only its head: it is
// quarantined unread, and its sender, when a human authorised contact, is
// told (at most once per notice interval, like every notice).
func (p *Pipeline) TooLarge(ctx context.Context, r io.Reader, size, limit int64, src ticket.Source) (Result, error) {
	reason := fmt.Sprintf("too large: %d bytes, limit %d", size, limit)
	res := Result{Outcome: Quarantined, Reason: reason}
	msg, err := Parse(io.LimitReader(r, headLimit), Limits{MaxSize: headLimit + 1})
	if err != nil {
		return res, nil
	}
	res.MessageID = msg.MessageID
	class, _ := Classify(msg, p.Own)
	d := p.Authz.Decide(msg.From.Address)
	if class != Human || !d.Authorised || msg.NullReturnPath {
		return res, nil
	}
	dedupe := msg.MessageID
	if dedupe == "" {
		// The head alone is not the whole mail; size makes the key specific.
		dedupe = fmt.Sprintf("sha256:%s:%d", msg.ContentHash, size)
	}
	note := notify.Notification{
		Kind: notify.TooLarge, To: d.Contact.Email, ToName: cmp.Or(d.Contact.Name, msg.From.Name),
		Language: cmp.Or(d.Contact.Language, p.Language), Subject: msg.Subject,
		InReplyTo: msg.MessageID, References: msg.References, Customer: d.Customer.Name, Size: size, Limit: limit,
	}.Fields()
	cr, err := p.Store.Reject(ctx, dedupe, ticket.Rejection{
		Sender: msg.From.Address, Reason: reason, MessageID: msg.MessageID, Subject: msg.Subject, At: p.now(),
	}, note)
	if err != nil {
		return res, err
	}
	res.Replay, res.Notified = !cr.Created, cr.Notified
	return res, nil
}
