// Package workflow is what agents do to tickets (reply, add a note, change
// status, priority and assignee) and what follows from it: validated
// transitions, the history, the SLA clock, and progress mails to the
// customer's side. The HTTP API, the CLI and agent replies by mail all come
// through here, so they behave the same.
package workflow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// ErrInvalid marks a request that cannot be applied as asked (an unknown
// status or priority, a transition the lifecycle does not allow, an empty
// reply); the message says what and why.
var ErrInvalid = errors.New("invalid request")

// Clock is the SLA clock of tickets (escalation.Escalator).
type Clock interface {
	Pause(ctx context.Context, number string, at time.Time) error
	Resume(ctx context.Context, number string, at time.Time) error
	Reprioritise(ctx context.Context, number, priority string, at time.Time) error
	Responded(ctx context.Context, number string, at time.Time) error
}

// Agent is who acts: an API token's name, a CLI user, an agent's mail.
type Agent struct {
	Name  string
	Email string
}

func (a Agent) String() string {
	switch {
	case a.Name != "" && a.Email != "":
		return a.Name + " <" + a.Email + ">"
	case a.Name != "":
		return a.Name
	}
	return cmp.Or(a.Email, "agent")
}

// Service applies agents' actions to one desk's tickets.
type Service struct {
	Store *ticket.Store
	// Clock is nil on a desk without SLA plans.
	Clock Clock
	// Customer looks up a customer in the current directory.
	Customer func(id string) *config.Customer
	// Language is the desk's, for recipients without one.
	Language string
	Log      *slog.Logger
	Now      func() time.Time
}

// MaxText bounds a reply or note: a ticket is not a file store.
const MaxText = 64 << 10

// Reply records an agent's answer, sends it to the ticket's contact and
// participants, and stops the first-response clock. A new or acknowledged
// ticket goes in progress unless status says where it goes instead (an
// agent's "#status resolved"). dedupe is the Message-ID of the agent's mail
// when the reply came by mail ("" otherwise).
func (s *Service) Reply(ctx context.Context, number string, by Agent, text, status, dedupe string) error {
	return s.reply(ctx, number, by, text, status, once{mail: dedupe})
}

// ReplyRequest is Reply asked for by an API client; key is its
// Idempotency-Key, scoped to the client by the caller ("" for none): a
// retried request replies once.
func (s *Service) ReplyRequest(ctx context.Context, number string, by Agent, text, status, key string) error {
	return s.reply(ctx, number, by, text, status, once{request: key})
}

// once is what makes an action idempotent: the Message-ID of the agent's
// mail, or an API client's key. They are different namespaces (see
// ticket.Change.Request): a sender chooses their mail's Message-ID, and
// must not be able to name a client's key with it.
type once struct {
	mail, request string
}

func (o once) apply(ch *ticket.Change) { ch.Dedupe, ch.Request = o.mail, o.request }

func (s *Service) reply(ctx context.Context, number string, by Agent, text, status string, o once) error {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return fmt.Errorf("reply to %s: %w: the message is empty", number, ErrInvalid)
	case len(text) > MaxText:
		return fmt.Errorf("reply to %s: %w: the message is %d bytes, at most %d", number, ErrInvalid, len(text), MaxText)
	}
	t, err := s.Store.Get(ctx, number)
	if err != nil {
		return err
	}
	now := s.now()
	if status == "" && (t.Status == ticket.StatusNew || t.Status == ticket.StatusAcknowledged) {
		status = ticket.StatusInProgress
	}
	ch, changes, err := s.change(t, by, now, Change{Status: status})
	if err != nil {
		return err
	}
	ch.FirstResponse = true
	o.apply(&ch)
	ch.Event = &ticket.Event{At: now, Kind: ticket.EventAgentReply, From: by.String(), Text: text, Changes: changes}
	var notes [][]string
	for _, r := range s.recipients(t) {
		n := s.base(t, r, notify.AgentReply, now)
		n.Agent, n.Text = cmp.Or(by.Name, by.Email), text
		notes = append(notes, n.Fields())
	}
	applied, err := s.Store.Apply(ctx, t.Number, ch, notes)
	if err != nil {
		return err
	}
	if !applied {
		// A replay: the clock calls are idempotent, and may not have been
		// made the first time (a crash between).
		return s.clock(ctx, t, ch, true, now)
	}
	s.log().Info("agent replied", "ticket", t.Number, "agent", by.String(), "recipients", len(notes), "status", t.Status+"->"+cmp.Or(ch.Status, t.Status))
	return s.clock(ctx, t, ch, true, now)
}

// Note adds an internal note: history only, no mail.
func (s *Service) Note(ctx context.Context, number string, by Agent, text string) error {
	text = strings.TrimSpace(text)
	if text == "" || len(text) > MaxText {
		return fmt.Errorf("note on %s: %w: the note must have 1 to %d bytes", number, ErrInvalid, MaxText)
	}
	now := s.now()
	_, err := s.Store.Apply(ctx, strings.ToUpper(number), ticket.Change{
		At: now, Event: &ticket.Event{At: now, Kind: ticket.EventNote, From: by.String(), Text: text},
	}, nil)
	return err
}

// Change is what Set changes; empty fields stay as they are.
type Change struct {
	Status   string
	Priority string
	// Reason tells the customer why the priority changed.
	Reason string
	// Assignee: nil leaves it, "" clears it.
	Assignee *string
	// Type: "" leaves it. The desk designates feature requests (Kwikqy
	// 2.5): a feature request is closed and its clock stopped; an incident
	// made of a closed feature request is reopened (in progress unless
	// Status says otherwise) with its SLA clock counted from its arrival.
	Type string
}

// ClockRestorer restores the SLA clock of a ticket that becomes an
// incident, counted from its arrival (escalation.Escalator).
type ClockRestorer interface {
	Restore(ctx context.Context, number string, at time.Time) error
}

// Set changes status, priority and/or assignee of ticket number in one
// step, tells the customer's side, and adjusts the SLA clock. dedupe as
// for Reply.
func (s *Service) Set(ctx context.Context, number string, by Agent, c Change, dedupe string) (*ticket.Ticket, error) {
	return s.set(ctx, number, by, c, once{mail: dedupe})
}

// SetRequest is Set asked for by an API client; key as for ReplyRequest.
func (s *Service) SetRequest(ctx context.Context, number string, by Agent, c Change, key string) (*ticket.Ticket, error) {
	return s.set(ctx, number, by, c, once{request: key})
}

func (s *Service) set(ctx context.Context, number string, by Agent, c Change, o once) (*ticket.Ticket, error) {
	t, err := s.Store.Get(ctx, number)
	if err != nil {
		return nil, err
	}
	now := s.now()
	ch, changes, err := s.change(t, by, now, c)
	if err != nil {
		return nil, err
	}
	if len(changes) == 0 {
		return t, nil
	}
	o.apply(&ch)
	ch.Event = &ticket.Event{At: now, Kind: ticket.EventChange, From: by.String(), Changes: changes}
	var notes [][]string
	for _, r := range s.recipients(t) {
		n := s.base(t, r, notify.Progress, now)
		n.Agent = cmp.Or(by.Name, by.Email)
		for _, fc := range changes {
			n.Changes = append(n.Changes, notify.Change{Field: fc.Field, Old: fc.Old, New: fc.New, Reason: fc.Reason})
		}
		notes = append(notes, n.Fields())
	}
	applied, err := s.Store.Apply(ctx, t.Number, ch, notes)
	if err != nil {
		return nil, err
	}
	if applied {
		s.log().Info("ticket changed", "ticket", t.Number, "agent", by.String(), "changes", changes)
	}
	// Also on a replay: the clock calls are idempotent, and may not have
	// been made the first time (a crash between).
	if err := s.clock(ctx, t, ch, false, now); err != nil {
		return nil, err
	}
	return s.Store.Get(ctx, t.Number)
}

// change validates c against t and turns it into a store change and the
// list of what actually changes.
func (s *Service) change(t *ticket.Ticket, by Agent, now time.Time, c Change) (ticket.Change, []ticket.FieldChange, error) {
	ch := ticket.Change{At: now, ExpectStatus: t.Status}
	var out []ticket.FieldChange
	status, reopen, why := c.Status, false, ""
	if c.Type != "" && c.Type != t.Type {
		switch c.Type {
		case ticket.TypeFeatureRequest:
			if status != "" && status != ticket.StatusClosed {
				return ch, nil, fmt.Errorf("%s: %w: a feature request is closed when designated, it cannot become %s", t.Number, ErrInvalid, status)
			}
			status, why = ticket.StatusClosed, "designated a feature request"
		case ticket.TypeIncident:
			if t.Status == ticket.StatusClosed {
				// Closed is final, except for a feature request the desk
				// turns back into an incident: its work starts (again).
				status = cmp.Or(status, ticket.StatusInProgress)
				if !ticket.Open(status) {
					return ch, nil, fmt.Errorf("%s: %w: an incident made of a closed feature request is reopened, it cannot become %s", t.Number, ErrInvalid, status)
				}
				reopen, why = true, "an incident, not a feature request"
			}
		default:
			return ch, nil, fmt.Errorf("%s: %w: unknown type %q (want one of %s)", t.Number, ErrInvalid, c.Type, strings.Join(ticket.Types, ", "))
		}
		ch.Type = c.Type
		out = append(out, ticket.FieldChange{Field: "type", Old: t.Type, New: c.Type})
	}
	if status != "" && status != t.Status {
		if !slices.Contains(ticket.Statuses, status) {
			return ch, nil, fmt.Errorf("%s: %w: unknown status %q (want one of %s)", t.Number, ErrInvalid, status, strings.Join(ticket.Statuses, ", "))
		}
		if !reopen && !ticket.CanTransition(t.Status, status) {
			return ch, nil, fmt.Errorf("%s: %w: a %s ticket cannot become %s (it can become: %s)", t.Number, ErrInvalid,
				t.Status, status, cmp.Or(strings.Join(ticket.Transitions[t.Status], ", "), "nothing, it is final"))
		}
		ch.Status = status
		out = append(out, ticket.FieldChange{Field: "status", Old: t.Status, New: status, Reason: why})
	}
	if c.Priority != "" && c.Priority != t.Priority {
		if !slices.Contains([]string{"P1", "P2", "P3", "P4"}, c.Priority) {
			return ch, nil, fmt.Errorf("%s: %w: unknown priority %q (want P1, P2, P3 or P4)", t.Number, ErrInvalid, c.Priority)
		}
		ch.Priority, ch.PriorityReason = c.Priority, strings.TrimSpace(c.Reason)
		out = append(out, ticket.FieldChange{Field: "priority", Old: t.Priority, New: c.Priority, Reason: ch.PriorityReason})
	}
	if c.Assignee != nil && strings.TrimSpace(*c.Assignee) != t.Assignee {
		a := strings.TrimSpace(*c.Assignee)
		ch.Assignee = &a
		out = append(out, ticket.FieldChange{Field: "assignee", Old: t.Assignee, New: a})
	}
	return ch, out, nil
}

// clock keeps the SLA clock in step with a change that was applied.
// The clock stands still while the desk waits for the customer and while
// the ticket is resolved or closed; it runs again when the ticket does.
func (s *Service) clock(ctx context.Context, t *ticket.Ticket, ch ticket.Change, replied bool, now time.Time) error {
	if s.Clock == nil {
		return nil
	}
	if ch.Type == ticket.TypeIncident && t.Type != ticket.TypeIncident {
		// A feature request becomes an incident: its clock runs from its
		// arrival, with the priority it has now.
		r, ok := s.Clock.(ClockRestorer)
		if !ok {
			return nil
		}
		errs := []error{r.Restore(ctx, t.Number, now)}
		if replied {
			errs = append(errs, s.Clock.Responded(ctx, t.Number, now))
		}
		if ch.Status == ticket.StatusWaitingCustomer || (ch.Status == "" && !ticket.Open(t.Status)) || (ch.Status == "" && t.Status == ticket.StatusWaitingCustomer) {
			errs = append(errs, s.Clock.Pause(ctx, t.Number, now))
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("%s changed, but its SLA clock was not restored: %w", t.Number, err)
		}
		return nil
	}
	if t.SLA == nil {
		return nil
	}
	var errs []error
	if replied {
		errs = append(errs, s.Clock.Responded(ctx, t.Number, now))
	}
	if ch.Priority != "" {
		errs = append(errs, s.Clock.Reprioritise(ctx, t.Number, ch.Priority, now))
	}
	if ch.Status != "" {
		if ticket.Open(ch.Status) && ch.Status != ticket.StatusWaitingCustomer {
			errs = append(errs, s.Clock.Resume(ctx, t.Number, now))
		} else {
			errs = append(errs, s.Clock.Pause(ctx, t.Number, now))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s changed, but its SLA clock was not updated: %w", t.Number, err)
	}
	return nil
}

// recipient is one address on the customer's side of a ticket.
type recipient struct {
	Email, Name, Language string
}

// recipients are who follow a ticket: its contact and participants, or
// with the customer's progress_to_all every contact of the customer;
// contacts with receives_progress: false never.
func (s *Service) recipients(t *ticket.Ticket) []recipient {
	var c *config.Customer
	if s.Customer != nil {
		c = s.Customer(t.Customer)
	}
	contact := func(addr string) *config.Contact {
		if c == nil {
			return nil
		}
		for i := range c.Contacts {
			if strings.EqualFold(c.Contacts[i].Email, addr) {
				return &c.Contacts[i]
			}
		}
		return nil
	}
	addrs := append([]string{t.Contact}, t.Participants...)
	if c != nil && c.ProgressToAll {
		for _, ct := range c.Contacts {
			addrs = append(addrs, ct.Email)
		}
	}
	seen := map[string]bool{}
	var out []recipient
	for _, a := range addrs {
		key := strings.ToLower(a)
		if a == "" || seen[key] {
			continue
		}
		seen[key] = true
		r := recipient{Email: a, Language: cmp.Or(t.Language, s.Language)}
		if strings.EqualFold(a, t.Contact) {
			r.Name = t.ContactName
		}
		ct := contact(a)
		if c != nil && ct == nil && !authorisedAt(c, a, contact) {
			// Removed from the directory since: a former contact gets no
			// more of the ticket's mail.
			continue
		}
		if ct != nil {
			if ct.ReceivesProgress != nil && !*ct.ReceivesProgress {
				continue
			}
			r.Name, r.Language = cmp.Or(ct.Name, r.Name), cmp.Or(ct.Language, r.Language)
		}
		out = append(out, r)
	}
	return out
}

// authorisedAt reports whether addr, not a listed contact of c, is still
// one of c's: by plus addressing (jan+x@ for jan@), or at a domain c
// authorises as a whole.
func authorisedAt(c *config.Customer, addr string, contact func(string) *config.Contact) bool {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return false
	}
	local, domain := addr[:i], addr[i+1:]
	if base, _, tagged := strings.Cut(local, "+"); tagged && contact(base+"@"+domain) != nil {
		return true
	}
	return c.AuthoriseDomains && slices.ContainsFunc(c.Domains, func(d string) bool { return strings.EqualFold(d, domain) })
}

// base is a notification about t to r, threaded under the ticket.
func (s *Service) base(t *ticket.Ticket, r recipient, k notify.Kind, now time.Time) notify.Notification {
	var customer string
	if s.Customer != nil {
		if c := s.Customer(t.Customer); c != nil {
			customer = c.Name
		}
	}
	return notify.Notification{
		ID:   fmt.Sprintf("%s/%s/%d/%s", t.Number, k, now.UnixNano(), strings.ToLower(r.Email)),
		Kind: k, To: r.Email, ToName: r.Name, Language: r.Language, Ticket: t.Number, TicketKey: t.Key,
		Subject: t.Subject, InReplyTo: t.MessageID, Customer: customer, Priority: t.Priority,
	}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
