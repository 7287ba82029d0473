// Package workflow is what agents do to tickets (reply, add a note, change
// status, priority and assignee, open one for a call: open.go) and what
// follows from it: validated transitions, the history, the SLA clock, and
// mails to the customer's side. The HTTP API, the dashboard's form, the CLI
// and agent replies by mail all come through here, so they behave the same.
package workflow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// ErrInvalid marks a request that cannot be applied as asked (an unknown
// status or priority, a transition the lifecycle does not allow, an empty
// reply); the message says what and why.
var ErrInvalid = errors.New("invalid request")

// ErrNotFound marks a request naming something the desk does not have
// besides a ticket (that is ticket.ErrNotFound): a time record of a
// ticket, the customer of a statement. Callers tell it from ErrInvalid by
// errors.Is, never by the message, which says what was looked for.
var ErrNotFound = errors.New("not found")

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

// Service applies agents' actions to one desk's tickets. Every action
// (reply, note, change) also clears the ticket's mark that it needs an
// agent (ticket.Ticket.NeedsAgentSince): an agent has looked at it.
type Service struct {
	Store *ticket.Store
	// Creator makes the tickets agents open (Open); nil: see Creator.
	Creator Creator
	// Clock is nil on a desk without SLA plans.
	Clock Clock
	// Customer looks up a customer in the current directory.
	Customer func(id string) *config.Customer
	// Plans are the configuration's plans: the types a ticket may have and
	// their priorities, and the words mails name priorities in
	// (plans.<plan>.priority_labels); nil: every plan is one without types
	// or labels.
	Plans map[string]config.Plan
	// Language is the desk's, for recipients without one.
	Language string
	// Authz judges the contact an agent opens a ticket for, as the sender
	// of a mail is judged (authz.Live); nil: agents cannot open tickets.
	Authz Decider
	// Priority is the desk's default priority (desk.default_priority):
	// with the plans it gives an agent's ticket the priority a mail would
	// get; Location (the desk's time zone) judges a customer's contract
	// term.
	Priority string
	Location *time.Location
	// Agents are desk.agents: they are told, with a ticket's assignee, when
	// its recorded time reaches its budget (time.go).
	Agents []config.Person
	// TimeRecorded, when set, is told of each time record made (metrics).
	TimeRecorded func(ticket.TimeRecord)
	// Log is where agents' actions are logged; nil: slog.Default().
	Log *slog.Logger
	// Now is the business clock; nil: time.Now.
	Now func() time.Time

	// defaultsOnce sets the defaults of Log and Now (settle).
	defaultsOnce sync.Once
}

// settle sets Log and Now, when unset, to their defaults, once: a Service
// is written as a literal and shared by the API, the pages and the
// pipeline, so every action calls this before it reads its clock, and the
// rest reads the fields as they are.
func (s *Service) settle() {
	s.defaultsOnce.Do(func() {
		if s.Log == nil {
			s.Log = slog.Default()
		}
		if s.Now == nil {
			s.Now = time.Now
		}
	})
}

// conflictTries is how often an agent's action is worked out again when
// the ticket's status changed between reading the ticket and applying the
// action (ticket.ErrConflict): the desk itself moves a new ticket on when
// its acknowledgement is delivered, and the agent's request still stands
// against the ticket as it is now. The history then says from what status
// it really went. A request that no longer fits the ticket (another agent
// closed it) stays the conflict it is.
const conflictTries = 3

func againOnConflict[T any](f func() (T, error)) (T, error) {
	var conflict error
	for try := 1; ; try++ {
		v, err := f()
		switch {
		case errors.Is(err, ticket.ErrConflict) && try < conflictTries:
			conflict = err
			continue
		case conflict != nil && errors.Is(err, ErrInvalid):
			// Against the ticket as it is now the request makes no sense
			// (another agent closed it): what the caller needs to know is
			// that it changed under them.
			var zero T
			return zero, conflict
		}
		return v, err
	}
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

// ValidKey reports whether k may be the key that makes a request
// idempotent (an API client's Idempotency-Key, a form's key, the CLI's
// --idempotency-key): 1 to 200 printable ASCII characters without spaces.
// Callers scope a key by putting the client's name and a space before it;
// a key without spaces cannot make one client's scoped key another's.
func ValidKey(k string) bool {
	return k != "" && len(k) <= 200 && !strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r > '~' })
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
	_, err := againOnConflict(func() (struct{}, error) { return struct{}{}, s.replyOnce(ctx, number, by, text, status, o) })
	return err
}

func (s *Service) replyOnce(ctx context.Context, number string, by Agent, text, status string, o once) error {
	t, err := s.Store.Get(ctx, number)
	if err != nil {
		return err
	}
	s.settle()
	now := s.Now()
	if status == "" && (t.Status == ticket.StatusNew || t.Status == ticket.StatusAcknowledged) {
		status = ticket.StatusInProgress
	}
	ch, changes, err := s.change(t, by, now, Change{Status: status})
	if err != nil {
		return err
	}
	ch.FirstResponse, ch.Handled = true, true
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
	s.Log.Info("agent replied", "ticket", t.Number, "agent", by.String(), "recipients", len(notes), "status", t.Status+"->"+cmp.Or(ch.Status, t.Status))
	return s.clock(ctx, t, ch, true, now)
}

// Note adds an internal note: history only, no mail.
func (s *Service) Note(ctx context.Context, number string, by Agent, text string) error {
	return s.NoteRequest(ctx, number, by, text, "")
}

// NoteRequest is Note asked for by a client with an idempotency key (a
// form on the ticket's page), scoped to the client by the caller ("" for
// none): a form sent twice adds one note.
func (s *Service) NoteRequest(ctx context.Context, number string, by Agent, text, key string) error {
	text = strings.TrimSpace(text)
	if text == "" || len(text) > MaxText {
		return fmt.Errorf("note on %s: %w: the note must have 1 to %d bytes", number, ErrInvalid, MaxText)
	}
	s.settle()
	now := s.Now()
	_, err := s.Store.Apply(ctx, strings.ToUpper(number), ticket.Change{
		At: now, Event: &ticket.Event{At: now, Kind: ticket.EventNote, From: by.String(), Text: text}, Handled: true,
		Request: key,
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
	// Type: "" leaves it; one of the types of the ticket's plan
	// (config.Plan.TypeNames). The desk designates feature requests
	// (Kwikqy 2.5): a feature request is closed and its clock stopped; a
	// closed feature request given another type is reopened (in progress
	// unless Status says otherwise) with its SLA clock counted from its
	// arrival. Another type re-times the ticket with the new type's
	// targets, and a priority the new type does not have becomes the
	// nearest one it has (authz.NearestPriority) unless Priority is given.
	Type string
}

// ClockRestorer re-times the SLA clock of a ticket whose type changed
// (escalation.Escalator): Restore for one that was a feature request,
// counted from its arrival; Retype for one that had a clock.
type ClockRestorer interface {
	Restore(ctx context.Context, number string, at time.Time) error
	Retype(ctx context.Context, number string, at time.Time) error
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
	return againOnConflict(func() (*ticket.Ticket, error) { return s.setOnce(ctx, number, by, c, o) })
}

func (s *Service) setOnce(ctx context.Context, number string, by Agent, c Change, o once) (*ticket.Ticket, error) {
	t, err := s.Store.Get(ctx, number)
	if err != nil {
		return nil, err
	}
	s.settle()
	now := s.Now()
	ch, changes, err := s.change(t, by, now, c)
	if err != nil {
		return nil, err
	}
	if len(changes) == 0 {
		return t, nil
	}
	o.apply(&ch)
	ch.Handled = true
	ch.Event = &ticket.Event{At: now, Kind: ticket.EventChange, From: by.String(), Changes: changes}
	var notes [][]string
	_, plan := s.plan(t)
	for _, r := range s.recipients(t) {
		n := s.base(t, r, notify.Progress, now)
		n.Agent = cmp.Or(by.Name, by.Email)
		if ch.Priority != "" {
			// The ticket's priority after the change, like its status.
			n.Priority, n.PriorityLabel = ch.Priority, s.priorityLabel(t, r.Language, ch.Priority)
		}
		for _, fc := range changes {
			nc := notify.Change{Field: fc.Field, Old: fc.Old, New: fc.New, Reason: fc.Reason}
			switch fc.Field {
			case notify.ChangeType:
				// The plan's names for the types, in the recipient's language.
				nc.OldLabel, nc.NewLabel = plan.TypeName(r.Language, fc.Old), plan.TypeName(r.Language, fc.New)
			case notify.ChangePriority:
				nc.OldLabel, nc.NewLabel = s.priorityLabel(t, r.Language, fc.Old), s.priorityLabel(t, r.Language, fc.New)
				if ch.PriorityReason == authz.ByType && c.Priority == "" {
					// The mail says why in the recipient's words, not the
					// history's.
					nc.Reason, nc.Why = "", authz.ByType
				}
			}
			n.Changes = append(n.Changes, nc)
		}
		notes = append(notes, n.Fields())
	}
	applied, err := s.Store.Apply(ctx, t.Number, ch, notes)
	if err != nil {
		return nil, err
	}
	if applied {
		s.Log.Info("ticket changed", "ticket", t.Number, "agent", by.String(), "changes", changes)
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
	planName, plan := s.plan(t)
	typ := t.Type // the type after the change
	if c.Type != "" && c.Type != t.Type {
		if err := checkType(planName, plan, c.Type); err != nil {
			return ch, nil, fmt.Errorf("%s: %w", t.Number, err)
		}
		switch {
		case c.Type == ticket.TypeFeatureRequest:
			if status != "" && status != ticket.StatusClosed {
				return ch, nil, fmt.Errorf("%s: %w: a feature request is closed when designated, it cannot become %s", t.Number, ErrInvalid, status)
			}
			status, why = ticket.StatusClosed, "designated a feature request"
		case t.Type == ticket.TypeFeatureRequest && t.Status == ticket.StatusClosed:
			// Closed is final, except for a feature request the desk
			// turns back into an incident: its work starts (again).
			status = cmp.Or(status, ticket.StatusInProgress)
			if !ticket.Open(status) {
				return ch, nil, fmt.Errorf("%s: %w: a closed feature request given type %s is reopened, it cannot become %s", t.Number, ErrInvalid, c.Type, status)
			}
			reopen, why = true, fmt.Sprintf("%s, not a feature request", c.Type)
		}
		ch.Type, typ = c.Type, c.Type
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
	if c.Priority != "" {
		if err := checkPriority(plan, typ, c.Priority); err != nil {
			return ch, nil, fmt.Errorf("%s: %w", t.Number, err)
		}
	}
	allowed := plan.TypePriorities(typ)
	switch {
	case c.Priority != "" && c.Priority != t.Priority:
		ch.Priority, ch.PriorityReason = c.Priority, strings.TrimSpace(c.Reason)
		out = append(out, ticket.FieldChange{Field: "priority", Old: t.Priority, New: c.Priority, Reason: ch.PriorityReason})
	case c.Priority == "" && ch.Type != "" && config.HasClock(typ):
		// A feature request has every priority: designating one leaves it.
		if p, why := typePriority(t, typ, allowed); p != t.Priority {
			ch.Priority, ch.PriorityReason = p, ""
			if why != "" {
				ch.PriorityReason = authz.ByType
			}
			out = append(out, ticket.FieldChange{Field: "priority", Old: t.Priority, New: p, Reason: why})
		}
	}
	if c.Assignee != nil && strings.TrimSpace(*c.Assignee) != t.Assignee {
		a := strings.TrimSpace(*c.Assignee)
		ch.Assignee = &a
		out = append(out, ticket.FieldChange{Field: "assignee", Old: t.Assignee, New: a})
	}
	return ch, out, nil
}

// checkType is the one rule for which types an agent may give a ticket on
// plan (tickets set type=, the API, #type, tickets open --type): the
// plan's, wherever the type comes from.
func checkType(planName string, plan config.Plan, typ string) error {
	if !plan.HasType(typ) {
		return fmt.Errorf("%w: %w", ErrInvalid, plan.UnknownTypeError(planName, typ))
	}
	return nil
}

// checkPriority is the one rule for which priorities an agent may give a
// ticket of type typ on plan, likewise.
func checkPriority(plan config.Plan, typ, priority string) error {
	if !slices.Contains(config.Priorities, priority) {
		return fmt.Errorf("%w: unknown priority %q (want %s)", ErrInvalid, priority, strings.Join(config.Priorities, ", "))
	}
	if allowed := plan.TypePriorities(typ); !slices.Contains(allowed, priority) {
		return fmt.Errorf("%w: type %s has no priority %s (it has %s)", ErrInvalid, typ, priority, strings.Join(allowed, ", "))
	}
	return nil
}

// typePriority is the priority of t once it has type typ, whose priorities
// are allowed, and why it changes ("" for no reason to tell). A priority
// the type does not have becomes the nearest it has; one that only a type
// made (authz.ByType) returns to what the mail asked for where the new
// type has it, so that correcting a type corrects its priority too.
func typePriority(t *ticket.Ticket, typ string, allowed []string) (string, string) {
	if t.PriorityReason == authz.ByType && t.RequestedPriority != "" && slices.Contains(allowed, t.RequestedPriority) {
		return t.RequestedPriority, ""
	}
	p := authz.NearestPriority(allowed, t.Priority)
	if p == "" || p == t.Priority {
		return t.Priority, ""
	}
	return p, fmt.Sprintf("type %s has no priority %s (it has %s): the nearest", typ, t.Priority, strings.Join(allowed, ", "))
}

// plan is the name and configuration of t's customer's plan.
func (s *Service) plan(t *ticket.Ticket) (string, config.Plan) { return s.planOf(t.Customer) }

// planOf is the name and configuration of customer's plan.
func (s *Service) planOf(customer string) (string, config.Plan) {
	var c *config.Customer
	if s.Customer != nil {
		c = s.Customer(customer)
	}
	return c.PlanName(), s.Plans[c.PlanName()]
}

// clock keeps the SLA clock in step with a change that was applied.
// The clock stands still while the desk waits for the customer and while
// the ticket is resolved or closed; it runs again when the ticket does.
func (s *Service) clock(ctx context.Context, t *ticket.Ticket, ch ticket.Change, replied bool, now time.Time) error {
	if s.Clock == nil {
		return nil
	}
	retyped := ch.Type != "" && ch.Type != t.Type && config.HasClock(ch.Type)
	if retyped && !config.HasClock(t.Type) {
		// A feature request gets a type with a clock: its clock runs from
		// its arrival, with the priority it has now.
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
	if r, ok := s.Clock.(ClockRestorer); ok && retyped {
		// The new type's targets, with the priority it has now.
		errs = append(errs, r.Retype(ctx, t.Number, now))
	} else if ch.Priority != "" {
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
	c := s.customer(t)
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
			if !ct.GetsProgress() {
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
	if c := s.customer(t); c != nil {
		customer = c.Name
	}
	return notify.Notification{
		ID:   notify.TicketEventID(t.Number, k, now, r.Email),
		Kind: k, To: r.Email, ToName: r.Name, Language: r.Language, Ticket: t.Number, TicketKey: t.Key,
		Subject: t.Subject, InReplyTo: t.MessageID, Customer: customer, Priority: t.Priority,
		PriorityLabel: s.priorityLabel(t, r.Language, t.Priority),
	}
}

func (s *Service) customer(t *ticket.Ticket) *config.Customer {
	if s.Customer == nil {
		return nil
	}
	return s.Customer(t.Customer)
}

// priorityLabel is the word of t's customer's plan for priority in lang
// (config.PriorityLabel), "" for the code.
func (s *Service) priorityLabel(t *ticket.Ticket, lang, priority string) string {
	return config.PriorityLabel(s.Plans, s.customer(t), lang, priority)
}
