package workflow

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/language"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// ErrRefused marks a ticket an agent may not open for a contact: the
// authorisation rules of mail apply (an unknown address, another
// customer's contact, a customer whose support is not active). The
// message names the reason.
var ErrRefused = errors.New("not authorised")

// ErrKeyReused: an idempotency key came again with another request than
// the one it was first used for.
var ErrKeyReused = errors.New("idempotency key reused")

// ErrUnavailable: the desk cannot do this now and the caller should try
// again shortly (Redis is not known to be in step with the mailbox
// journal, so a new ticket number might be one already given).
var ErrUnavailable = errors.New("unavailable")

// Creator records a new ticket. The daemon's is the mailbox journal's
// (ingest.Journal.Opener); nil: Store, refusing while Redis is marked as
// behind the journal (ticket.Store.Behind) by a daemon repairing it.
type Creator interface {
	Create(ctx context.Context, dedupe string, t ticket.New, note []string) (ticket.Result, error)
}

// markedCreator is the Creator of processes without a journal of their own.
type markedCreator struct{ s *ticket.Store }

func (c markedCreator) Create(ctx context.Context, dedupe string, t ticket.New, note []string) (ticket.Result, error) {
	why, err := c.s.Behind(ctx)
	if err != nil {
		return ticket.Result{}, err
	}
	if why != "" {
		return ticket.Result{}, fmt.Errorf("%w: Redis is behind the mailbox journal and being repaired by the daemon (%s); try again when it is done", ErrUnavailable, why)
	}
	return c.s.Create(ctx, dedupe, t, note)
}

func (s *Service) creator() Creator {
	if s.Creator != nil {
		return s.Creator
	}
	return markedCreator{s.Store}
}

// Decider judges an address as the sender of a mail would be judged
// (authz.Live).
type Decider interface {
	Decide(address string) authz.Decision
}

// ClockStarter computes a new ticket's SLA clock (escalation.Escalator).
type ClockStarter interface {
	Start(plan, typ, priority, language string, arrival time.Time) (*ticket.Clock, error)
}

// Opening is a request taken by phone or in person that an agent makes a
// ticket of.
type Opening struct {
	Customer string
	// Contact is the address of the contact who called; they get the
	// acknowledgement, and their replies to it thread into the ticket.
	Contact string
	Subject string
	Message string
	// Priority "" is what a mail from the contact gets by default (the
	// plan's); a priority given is the agent's decision.
	Priority string
	// Type "" is the plan's default type (config.Plan.NewType).
	Type string
	// Channel "" is ticket.ChannelPhone; one of ticket.AgentChannels.
	Channel string
	// At is when the call was (the SLA clock starts there); zero: now.
	At time.Time
}

// Limits of an opening's times: a clock a few minutes ahead is no reason to
// refuse, a call a week ago is most likely a typo in the date (its SLA
// would be breached at once, and managers alerted).
const (
	MaxClockSkew = 5 * time.Minute
	MaxBackdate  = 7 * 24 * time.Hour
)

// maxSubject is in characters, as for a mail's subject.
const maxSubject = 500

// Open makes a ticket for a request an agent took by phone or in person,
// by the rules of one that came by mail: the contact must be authorised for
// the customer, the priority defaults to the plan's, the SLA clock starts
// at o.At, and the contact gets the acknowledgement (replies to it thread
// into the ticket). The ticket records its channel and the agent, in its
// fields and in its history.
//
// key is the request's idempotency key, scoped to the agent by the caller
// ("" for none): the same request again returns the same ticket and makes
// nothing twice (created is false); another request under the same key is
// ErrKeyReused.
func (s *Service) Open(ctx context.Context, by Agent, o Opening, key string) (t *ticket.Ticket, created bool, err error) {
	s.settle()
	now := s.Now()
	sum := o.sum()
	o, err = s.checkOpening(o, now)
	if err != nil {
		return nil, false, err
	}
	d, err := s.authorise(o)
	if err != nil {
		return nil, false, err
	}
	c, contact := d.Customer, d.Contact
	planName := c.PlanName()
	plan := s.Plans[planName]
	pr := authz.Priority{Priority: o.Priority}
	if pr.Priority == "" {
		pr = authz.ForType(plan, o.Type, authz.EffectivePriority(plan, contact, "", s.Priority))
	}
	status := ticket.StatusNew
	if o.Type == ticket.TypeFeatureRequest {
		// Stored for consideration and closed, as by mail (Kwikqy 2.5).
		status = ticket.StatusClosed
	}
	// As for mail: answers go in the contact's language, the SLA rules by
	// the language of the request (Kwikqy's Dutch requests).
	written := language.Detect(o.Subject + "\n\n" + o.Message)
	lang := cmp.Or(contact.Language, written, s.Language)
	log := s.Log.With("customer", c.ID, "contact", contact.Email, "agent", by.String(), "channel", o.Channel)
	var clock *ticket.Clock
	if starter, ok := s.Clock.(ClockStarter); ok && config.HasClock(o.Type) {
		// A ticket without deadlines is better than no ticket; the log says
		// why it has none.
		if clock, err = starter.Start(planName, o.Type, pr.Priority, cmp.Or(written, lang), o.At); err != nil {
			log.Error("ticket gets no SLA clock", "plan", planName, "priority", pr.Priority, "err", err)
		}
	}
	ack := notify.Notification{
		Kind: notify.Ack, To: contact.Email, ToName: contact.Name, Language: lang, Subject: o.Subject,
		Customer: c.Name, Type: o.Type, Priority: pr.Priority, PriorityLabel: plan.PriorityLabel(lang, pr.Priority),
		Received: o.At, Channel: o.Channel, TypeLabel: plan.TypeName(lang, o.Type),
	}
	if clock != nil && plan.StatesDeadline() {
		ack.Deadline, ack.Target = clock.FirstResponseDue, clock.Target
	}
	dedupe := openKey(key)
	// The key the store gives the ticket: its mails' Message-IDs are its
	// own, whatever else ever has its number (the mailbox journal).
	ack.TicketKey = ticket.KeyOf(dedupe)
	res, err := s.creator().Create(ctx, dedupe, ticket.New{
		Subject: o.Subject, Type: o.Type, Status: status, Priority: pr.Priority, Customer: c.ID,
		Contact: contact.Email, ContactName: contact.Name, Language: lang, Text: o.Message, CreatedAt: o.At,
		Clock: clock, Channel: o.Channel, OpenedBy: by.String(), RequestSum: sum,
	}, ack.Fields())
	if err != nil {
		return nil, false, fmt.Errorf("opening a ticket for %s: %w", contact.Email, err)
	}
	if !res.Created {
		prev, err := s.Store.Get(ctx, res.Number)
		if err != nil {
			return nil, false, err
		}
		if prev.RequestSum != sum {
			return nil, false, fmt.Errorf("%w: it opened %s with another request; use a new key for a new ticket", ErrKeyReused, prev.Number)
		}
	}
	// The history says who opened it and how. A step of its own, made once
	// (on the ticket's dedupe key), and made again by a replay when a
	// crash came between.
	_, err = s.Store.Apply(ctx, res.Number, ticket.Change{
		At: now, Dedupe: "opened " + dedupe,
		Event: &ticket.Event{At: now, Kind: ticket.EventOpened, From: by.String(), Subject: o.Subject, Channel: o.Channel},
	}, nil)
	if err != nil {
		return nil, false, fmt.Errorf("%s opened, but its history was not written: %w", res.Number, err)
	}
	if res.Created {
		log.Info("ticket opened for a contact", "ticket", res.Number, "priority", pr.Priority, "type", o.Type, "at", o.At)
	}
	t, err = s.Store.Get(ctx, res.Number)
	if err != nil {
		return nil, false, err
	}
	return t, res.Created, nil
}

// checkOpening validates o and fills in its defaults.
func (s *Service) checkOpening(o Opening, now time.Time) (Opening, error) {
	o.Customer, o.Contact, o.Subject = strings.TrimSpace(o.Customer), strings.TrimSpace(o.Contact), strings.TrimSpace(o.Subject)
	o.Message = strings.TrimSpace(o.Message)
	o.Priority = strings.ToUpper(strings.TrimSpace(o.Priority))
	planName, plan := s.planOf(o.Customer)
	o.Type = cmp.Or(config.TypeKey(o.Type), plan.NewType())
	o.Channel = cmp.Or(strings.TrimSpace(o.Channel), ticket.ChannelPhone)
	if o.At.IsZero() {
		o.At = now
	}
	bad := func(format string, args ...any) (Opening, error) {
		return o, fmt.Errorf("open a ticket: %w: "+format, append([]any{ErrInvalid}, args...)...)
	}
	switch {
	case o.Customer == "":
		return bad("the customer is missing")
	case o.Contact == "":
		return bad("the contact's address is missing")
	case o.Subject == "":
		return bad("the subject is empty")
	case utf8.RuneCountInString(o.Subject) > maxSubject:
		return bad("the subject has %d characters, at most %d", utf8.RuneCountInString(o.Subject), maxSubject)
	case strings.ContainsAny(o.Subject, "\r\n"):
		return bad("the subject is one line")
	case o.Message == "":
		return bad("the message is empty: write down what the contact reported")
	case len(o.Message) > MaxText:
		return bad("the message is %d bytes, at most %d", len(o.Message), MaxText)
	case !slices.Contains(ticket.AgentChannels, o.Channel):
		return bad("unknown channel %q (want one of %s)", o.Channel, strings.Join(ticket.AgentChannels, ", "))
	case o.At.After(now.Add(MaxClockSkew)):
		return bad("the call is at %s, in the future (it is %s now)", o.At.Format(time.RFC3339), now.Format(time.RFC3339))
	case o.At.Before(now.Add(-MaxBackdate)):
		return bad("the call is at %s, more than %s ago: check the date", o.At.Format(time.RFC3339), "7 days")
	}
	if err := checkType(planName, plan, o.Type); err != nil {
		return o, fmt.Errorf("open a ticket: %w", err)
	}
	if o.Priority != "" {
		if err := checkPriority(plan, o.Type, o.Priority); err != nil {
			return o, fmt.Errorf("open a ticket: %w", err)
		}
	}
	return o, nil
}

// authorise applies the rules of mail to the contact of o: authorised, for
// that customer, whose support is active at the time of the call.
func (s *Service) authorise(o Opening) (authz.Decision, error) {
	if s.Authz == nil {
		return authz.Decision{}, errors.New("open a ticket: this desk has no directory of contacts")
	}
	if s.Customer != nil && s.Customer(o.Customer) == nil {
		return authz.Decision{}, fmt.Errorf("open a ticket: %w: unknown customer %q", ErrInvalid, o.Customer)
	}
	refused := func(format string, args ...any) (authz.Decision, error) {
		return authz.Decision{}, fmt.Errorf("not opened: %w: "+format, append([]any{ErrRefused}, args...)...)
	}
	d := s.Authz.Decide(o.Contact)
	switch {
	case !d.Authorised && d.Customer != nil && d.Customer.ID == o.Customer:
		return refused("%s is not a registered contact of %s (%s)", o.Contact, o.Customer, d.Reason)
	case !d.Authorised:
		return refused("%s may not open tickets for %s (%s)", o.Contact, o.Customer, d.Reason)
	case d.Customer.ID != o.Customer:
		return refused("%s is a contact of customer %s, not of %s", o.Contact, d.Customer.ID, o.Customer)
	}
	if off, why := d.Customer.Inactive(o.At, s.Location); off {
		return refused("customer %s is not active: %s", o.Customer, why)
	}
	return d, nil
}

// sum identifies o as asked for (before defaults: a replay without a time
// is the same request, though "now" has moved on).
func (o Opening) sum() string {
	b, _ := json.Marshal([]string{strings.TrimSpace(o.Customer), strings.ToLower(strings.TrimSpace(o.Contact)), strings.TrimSpace(o.Subject),
		strings.TrimSpace(o.Message), strings.ToUpper(strings.TrimSpace(o.Priority)), strings.TrimSpace(o.Type),
		strings.TrimSpace(o.Channel), atText(o.At)})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

func atText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// openKey is the dedupe key a ticket an agent opens is committed under:
// from the request's idempotency key, or unique. It has a space, which no
// Message-ID of a mail has (the parser drops white space from them): a
// sender cannot name it, so no mail can take an agent's ticket's place or
// become a replay of it, and no reply threads by it.
func openKey(key string) string {
	return "request " + cmp.Or(key, rand.Text())
}

// ParseAt reads the time of a call as agents write it: RFC 3339
// ("2026-11-23T09:20:00+01:00"), a date and time in the desk's time zone
// loc ("2026-11-23 09:20", "2026-11-23T09:20", which a browser's
// datetime-local field sends, with or without seconds), or a time of day
// today there ("09:20").
func ParseAt(s string, loc *time.Location, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if loc == nil {
		loc = time.UTC
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if t, err := time.Parse("15:04", s); err == nil {
		y, m, d := now.In(loc).Date()
		return time.Date(y, m, d, t.Hour(), t.Minute(), 0, 0, loc), nil
	}
	return time.Time{}, fmt.Errorf("%w: %q is no time: write RFC 3339 (2026-11-23T09:20:00+01:00), a date and time in %s (2026-11-23 09:20) or a time today (09:20)",
		ErrInvalid, s, loc)
}
