package ingest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/language"
	"github.com/maildesk/maildesk/mailparse"
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
// authenticate, thread, authorise, commit. It never touches IMAP; the
// watcher moves the mail according to the Result once Process returned
// without error.
type Pipeline struct {
	Store Committer
	// Threads finds the ticket a follow-up belongs to; nil: every mail is new.
	Threads Threads
	// TicketPrefix is the desk's ticket prefix, for the subject tag.
	TicketPrefix string
	Authz        Authorizer
	Limits       mailparse.Limits
	Own          Own
	// Plans by name; a customer without a plan is on "standard".
	Plans map[string]config.Plan
	Rules PriorityRules
	// RequireAuth: the From domain must be authenticated by one of
	// TrustedAuthserv (customers may override it).
	RequireAuth     bool
	TrustedAuthserv []string
	// Suppress stops automatic mail to addresses whose mail bounced, for
	// BounceSuppression (0: 72 h); nil: bounces are only recorded.
	Suppress          Suppressor
	BounceSuppression time.Duration
	// Clock starts the SLA clock of a new ticket; nil: no deadlines. When
	// it can also Resume a clock (escalation.Escalator), a customer's reply
	// that reopens a ticket or ends waiting_customer resumes it.
	Clock ClockStarter
	// Agents acts on agents' mail (workflow.Service); nil: nobody is an
	// agent and all mail is judged as the customers'. AgentAddresses
	// (desk.agents) and AgentDomains (desk.agent_domains) say who is one.
	Agents         Agents
	AgentAddresses []config.Person
	AgentDomains   []string
	// AgentMail (desk.agent_mail: authenticated) acts on agents' mail, and
	// only when the desk's trusted MTA found its From domain authentic;
	// false: agents' mail is refused (no notice) and changes nothing.
	AgentMail bool
	// Location is the desk's time zone: a customer's contract term
	// (active_from, active_until) is judged on dates there.
	Location *time.Location
	// ReopenDays (desk.reopen_days): a customer's reply reopens a ticket
	// resolved at most this many days ago; later, or when it is closed, it
	// starts a new ticket linked to the old one. 0: never reopen.
	ReopenDays int
	// Language and Priority are the desk's defaults.
	Language string
	Priority string
	// Log is where mail is logged; nil: slog.Default().
	Log *slog.Logger
	// Now is the business clock; nil: time.Now.
	Now func() time.Time

	// defaultsOnce sets the defaults of the fields left unset (settle).
	defaultsOnce sync.Once

	tagOnce sync.Once
	tag     *regexp.Regexp

	agentsOnce sync.Once
	agents     *agentIndex
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
	// Recorded: a quarantined mail's refusal was committed (too large, its
	// sender told): the journal stamps it like a rejected mail.
	Recorded bool
	// Agent: the mail came from one of the desk's agents (a reply, note or
	// commands on a ticket, or rejected as such).
	Agent bool
	// Class is the mail's loop class; AuthFailed: refused because its From
	// domain was not authenticated.
	Class      Class
	AuthFailed bool
}

// Process commits the outcome of the mail read from r. A mail that cannot
// be parsed is not an error: it is Quarantined. An error means the outcome
// could not be committed (Redis unreachable): the mail must stay where it
// is and be processed again later, which is safe because commits are
// idempotent.
func (p *Pipeline) Process(ctx context.Context, r io.Reader, src ticket.Source) (Result, error) {
	return p.Decide(ctx, p.Read(r, src), nil)
}

// ReadMail is a mail read off its source and parsed, its outcome not yet
// decided (Pipeline.Read, ReadHead). Reading is all the I/O on the mail
// itself and most of the CPU time; what follows (Decide) works on the
// parsed Message, so the watcher can read the next mail meanwhile.
type ReadMail struct {
	src ticket.Source
	msg *mailparse.Message
	err error // Parse failed: the mail is quarantined
	// size and limit are set for a mail over the size limit, of which only
	// the head was read (TooLarge).
	size, limit int64
	// restore: replayed from the journal (restore.go).
	restore *restore
	// web: written on a ticket's status page (SubmitWeb), not mailed.
	web bool
}

// Read reads and parses the mail from r; Decide judges it.
func (p *Pipeline) Read(r io.Reader, src ticket.Source) *ReadMail {
	msg, err := mailparse.Parse(r, p.Limits)
	return &ReadMail{src: src, msg: msg, err: err}
}

// Order places one mail's Redis work among the mails judged around it
// (the watcher's committer, committer.go). nil: the mail is judged on its
// own, straight against the store.
type Order interface {
	// Exclusive returns once the mails before this one are committed, so
	// that what it reads of Redis includes them; the mails after it wait
	// until it is done. Called before the mail's first read, at most once
	// (exclusive.go).
	Exclusive() error
	// Commit commits the mail's outcome in its place: queued with those of
	// the mails around it and sent in one round trip.
	Commit(ctx context.Context, c ticket.Commit) (ticket.Result, error)
}

// Decide judges a read mail and commits its outcome, in its place in o
// when o is not nil. A mail that cannot be parsed is not an error: it is
// Quarantined. An error means the outcome could not be committed.
func (p *Pipeline) Decide(ctx context.Context, rm *ReadMail, o Order) (Result, error) {
	p.settle()
	if rm.limit > 0 {
		return p.decideTooLarge(ctx, rm, o)
	}
	msg, src, err := rm.msg, rm.src, rm.err
	if err != nil {
		reason := "unparseable: " + err.Error()
		switch {
		case errors.Is(err, mailparse.ErrTooLarge):
			reason = "too large: " + err.Error()
		case errors.Is(err, mailparse.ErrTooComplex):
			// Hostile rather than broken: over the work budget.
			reason = "too complex: " + err.Error()
		}
		return Result{Outcome: Quarantined, Reason: reason}, nil
	}
	truncated := boundHeader(msg)
	log := p.Log.With("message_id", msg.MessageID, "from", storedAddress(msg.From.Address), "uid", src.UID)
	if len(truncated) > 0 {
		log.Info("header fields over their limits are kept truncated", "fields", truncated)
	}
	if len(msg.Warnings) > 0 {
		// What was repaired or guessed (an address list read leniently, an
		// unknown charset) is worth knowing when a ticket looks wrong.
		log.Info("mail parsed with repairs", "warnings", msg.Warnings)
	}
	m := &inbound{msg: msg, src: src, now: p.Now(), log: log, dedupe: msg.MessageID, order: o, truncated: truncated, web: rm.web}
	if m.dedupe == "" {
		m.dedupe = "sha256:" + msg.ContentHash
	}
	if r := rm.restore; r != nil {
		// Re-created from the journal: as of when the mail arrived.
		m.restore = r
		if !r.arrival.IsZero() {
			m.now = r.arrival
		}
	}
	m.class, m.why = Classify(msg, p.Own)
	m.decision = p.Authz.Decide(msg.From.Address)
	_, fromDomain, _ := strings.Cut(msg.From.Address, "@")
	m.auth = authz.Authenticate(msg.Header["Authentication-Results"], fromDomain, p.TrustedAuthserv)
	if m.web {
		// The writer reached the page through a link mailed to this
		// address: as proven as a mail whose domain passed DMARC.
		m.auth = authz.Authentication{Pass: true, Checked: true, Reason: "written on the status page the address was mailed a link to"}
	}
	m.ordered = p.ordered(&exclusive{order: o})
	return p.runSteps(ctx, m)
}

// inactive refuses a contact's new mail while their customer's support is
// off (outside the contract's term, or suspended): no ticket, the mail kept
// in Rejected, and the contact told why, by the rules of every notice.
func (p *Pipeline) inactive(ctx context.Context, m *inbound, why string) (Result, error) {
	msg, c := m.msg, m.decision.Customer
	reason := "customer inactive: " + why
	var note []string
	if block := p.noNotice(msg, m.class, m.why, m.auth, c); block != "" {
		reason += " (" + block + ")"
	} else {
		lang := p.Language
		if ct := m.decision.Contact; ct != nil && ct.Language != "" {
			lang = ct.Language
		}
		name := msg.From.Name
		if ct := m.decision.Contact; ct != nil && ct.Name != "" {
			name = ct.Name
		}
		n := notify.Notification{
			Kind: notify.Inactive, To: msg.From.Address, ToName: name, Language: lang, Customer: c.Name,
			Subject: msg.Subject, InReplyTo: msg.MessageID, References: msg.References,
		}
		// The template says it in the contact's language: the suspension's
		// reason as the desk wrote it, or the term's boundary day.
		state, detail := c.Term(m.now, p.Location)
		n.Term = state
		if state == config.TermSuspended {
			n.Reason = detail
		} else if day, err := time.ParseInLocation(time.DateOnly, detail, cmp.Or(p.Location, time.UTC)); err == nil {
			n.AsOf = day
		}
		note = n.Fields()
	}
	return p.reject(ctx, m, reason, note)
}

// noNotice says why the sender of msg gets no automatic answer (a
// rejection notice, a notice that the mail is too large), "" when they may
// get one. Every notice goes by these rules; the store then limits how
// often one address and one domain get one.
func (p *Pipeline) noNotice(msg *mailparse.Message, class Class, why string, auth authz.Authentication, c *config.Customer) string {
	switch {
	case class != Human:
		return "no notice to machine mail: " + class.String() + ", " + why
	case msg.NullReturnPath:
		return "no notice: null Return-Path"
	case auth.Checked && !auth.Pass:
		// Our own MTA found the From domain forged: a notice would be
		// backscatter to an innocent party, whether or not authentication
		// is required for tickets.
		return "no notice: " + auth.Reason
	case !auth.Pass && p.requireAuth(c):
		// Unproven where proof is required: as likely forged as the above.
		return "no notice: authentication required, " + auth.Reason
	case len(msg.From.Address) > maxStoredAddress:
		// Longer than SMTP allows (RFC 5321 4.5.3.1): undeliverable, and
		// not worth a rate-limit key of its size.
		return fmt.Sprintf("no notice: sender address of %d bytes", len(msg.From.Address))
	}
	if err := notify.CheckRecipient(msg.From.Address); err != nil {
		// What the lenient parser made of a broken From line: a notice
		// could only end as a dead letter.
		return "no notice: sender address not deliverable: " + err.Error()
	}
	return ""
}

// inbound is one mail on its way through Process.
type inbound struct {
	msg      *mailparse.Message
	src      ticket.Source
	now      time.Time
	log      *slog.Logger
	dedupe   string
	class    Class
	why      string
	decision authz.Decision
	// auth is what our own MTA's Authentication-Results say of the From
	// domain; Checked is false when it said nothing.
	auth authz.Authentication
	// linkTo is the closed (or long resolved) ticket the mail followed up
	// on: a new ticket made from it links to that one.
	linkTo string
	// order places the mail's commit among a batch's; nil: direct.
	order Order
	// ordered is how the steps read (and write) Redis beyond the commit:
	// in the mail's turn (exclusive.go).
	ordered
	// truncated names the header fields boundHeader cut short.
	truncated []string
	// restore: the mail is replayed from the journal (restore.go); nil
	// for new mail.
	restore *restore
	// web: written on a ticket's status page (SubmitWeb).
	web bool
}

// commit commits one mail's outcome: in its order when the mail is one of
// a batch, else straight to the store.
func (p *Pipeline) commit(ctx context.Context, o Order, c ticket.Commit) (ticket.Result, error) {
	if o != nil {
		return o.Commit(ctx, c)
	}
	return commitTo(ctx, p.Store, c)
}

// commitTo makes one commit on store.
func commitTo(ctx context.Context, store Committer, c ticket.Commit) (ticket.Result, error) {
	if c.Ticket != nil {
		return store.Create(ctx, c.Dedupe, *c.Ticket, c.Note)
	}
	return store.Reject(ctx, c.Dedupe, *c.Rejection, c.Note)
}

func (p *Pipeline) reject(ctx context.Context, m *inbound, reason string, note []string) (Result, error) {
	if m.restore != nil && m.restore.kind != entryRejected {
		return Result{MessageID: m.msg.MessageID}, notReplayed("it would be refused now: " + reason)
	}
	r := rejection(m.msg, reason, m.truncated, m.now)
	reason = r.Reason
	cr, err := p.commit(ctx, m.order, ticket.Commit{Dedupe: rejectionKey(m.dedupe), Rejection: r, Note: note})
	if err != nil {
		return Result{MessageID: m.msg.MessageID}, err
	}
	return Result{Outcome: Rejected, MessageID: m.msg.MessageID, Reason: reason, Replay: !cr.Created, Notified: cr.Notified, Class: m.class}, nil
}

// create makes a ticket for an authorised sender, with the priority their
// rights allow, and acknowledges it unless the mail came from a machine.
func (p *Pipeline) create(ctx context.Context, m *inbound) (Result, error) {
	msg, d := m.msg, m.decision
	if m.restore != nil && m.restore.kind != entryTicket {
		return Result{MessageID: msg.MessageID}, notReplayed("it would make a new ticket now")
	}
	planName := d.Customer.PlanName()
	plan := p.Plans[planName]
	requested, source := p.Rules.Requested(msg)
	pr := authz.EffectivePriority(plan, d.Contact, requested, p.Priority)
	typ, status := plan.NewType(), ticket.StatusNew
	if p.Rules.IsFeatureRequest(msg) {
		// Stored for consideration and closed: no SLA clock (Kwikqy 2.5).
		typ, status, pr = ticket.TypeFeatureRequest, ticket.StatusClosed, authz.Priority{Priority: pr.Priority}
	} else {
		// A priority the plan's default type does not have becomes the
		// nearest it has (QiQQ: no Standaard on its own services).
		pr = authz.ForType(plan, typ, pr)
	}
	if requested != "" || pr.Reason != "" {
		m.log.Debug("priority requested", "requested", requested, "source", source, "type", typ, "priority", pr.Priority, "reason", pr.Reason)
	}
	fresh, quoted := mailparse.SplitQuoted(msg.Text)
	// Answers go in the contact's language, else the mail's; the SLA rules
	// go by the language the request was written in (Kwikqy: Dutch
	// requests are handled in Dutch opening hours).
	written := language.Detect(msg.Subject + "\n\n" + fresh)
	lang := cmp.Or(d.Contact.Language, written, p.Language)
	var clock *ticket.Clock
	if config.HasClock(typ) && p.Clock != nil {
		var err error
		// A ticket without deadlines is better than no ticket: the mail is
		// kept and the problem is in the log.
		if clock, err = p.Clock.Start(planName, typ, pr.Priority, cmp.Or(written, lang), m.now); err != nil {
			m.log.Error("ticket gets no SLA clock", "plan", planName, "type", typ, "priority", pr.Priority, "err", err)
		}
	}
	var note []string
	if m.class == Human {
		ack := notify.Notification{
			Kind: notify.Ack, To: d.Contact.Email, ToName: cmp.Or(d.Contact.Name, msg.From.Name), Language: lang,
			Subject: msg.Subject, InReplyTo: msg.MessageID, References: msg.References, Customer: d.Customer.Name,
			Type: typ, Priority: pr.Priority, RequestedPriority: pr.Requested, PriorityReason: pr.Reason,
			// The contract's words for the priorities, in the contact's
			// language (plans.<plan>.priority_labels).
			PriorityLabel:          config.PriorityLabel(p.Plans, d.Customer, lang, pr.Priority),
			RequestedPriorityLabel: config.PriorityLabel(p.Plans, d.Customer, lang, pr.Requested),
			Received:               m.now,
			// The key the commit gives the ticket: its mail's Message-IDs
			// are its own, whatever else ever has its number.
			TicketKey: ticket.KeyOf(m.dedupe),
		}
		if len(plan.Types) > 0 {
			// The support type decides the response time (and the rate):
			// the contact is told which one the desk took it for.
			ack.TypeLabel = plan.TypeName(lang, typ)
		}
		if clock != nil && plan.StatesDeadline() {
			// What the contact is promised; not for best-effort plans
			// (plans.<plan>.ack_states_deadline: false).
			ack.Deadline, ack.Target = clock.FirstResponseDue, clock.Target
		}
		note = ack.Fields()
	}
	if len(m.truncated) > 0 {
		// The ticket has no field to say so; the log has, and the subject
		// ends in "…".
		m.log.Warn("ticket made from a mail with header fields kept truncated", "fields", m.truncated)
	}
	cr, err := p.commit(ctx, m.order, ticket.Commit{Dedupe: m.dedupe, Ticket: &ticket.New{
		Subject: msg.Subject, Type: typ, Status: status, Customer: d.Customer.ID,
		Priority: pr.Priority, RequestedPriority: pr.Requested, PriorityReason: pr.Reason,
		Participants: p.participants(msg, d),
		Contact:      d.Contact.Email, ContactName: cmp.Or(d.Contact.Name, msg.From.Name), Language: lang,
		MessageID: msg.MessageID, Text: fresh, Quoted: quoted, Source: m.src, CreatedAt: m.now, Clock: clock,
		LinkedTo: m.linkTo, Number: m.restore.number(), Attachments: storedAttachments(msg), Channel: m.channel(),
	}, Note: note})
	if err != nil {
		return Result{MessageID: msg.MessageID}, err
	}
	if cr.Created && m.linkTo != "" {
		m.log.Info("follow-up on a finished ticket starts a new one", "ticket", cr.Number, "linked_to", m.linkTo)
	}
	return Result{Outcome: Processed, Ticket: cr.Number, MessageID: msg.MessageID, Replay: !cr.Created, Notified: cr.Notified, Class: m.class}, nil
}

// ClockStarter computes a new ticket's SLA clock (escalation.Escalator);
// nil when its plan or type has none.
type ClockStarter interface {
	Start(plan, typ, priority, language string, arrival time.Time) (*ticket.Clock, error)
}

// participants are the other contacts of the sender's customer in To or
// Cc: they may follow up and will receive progress mails.
func (p *Pipeline) participants(msg *mailparse.Message, d authz.Decision) []string {
	var out []string
	for _, a := range append(slices.Clone(msg.To), msg.Cc...) {
		addr := strings.ToLower(a.Address)
		if addr == "" || strings.EqualFold(addr, d.Contact.Email) || slices.Contains(out, addr) {
			continue
		}
		if o := p.Authz.Decide(addr); o.Authorised && o.Customer.ID == d.Customer.ID {
			out = append(out, o.Contact.Email)
		}
	}
	return out
}

// requireAuth: the customer's setting, else the desk's.
func (p *Pipeline) requireAuth(c *config.Customer) bool {
	if c != nil && c.RequireAuthentication != nil {
		return *c.RequireAuthentication
	}
	return p.RequireAuth
}

// settle sets the fields left unset to the defaults their comments give,
// once: a Pipeline is written as a literal and shared by the watcher's
// goroutines, so its entry points (Decide, SubmitWeb) call this before
// anything reads them, and the rest reads the fields as they are.
func (p *Pipeline) settle() {
	p.defaultsOnce.Do(func() {
		if p.Now == nil {
			p.Now = time.Now
		}
		if p.Log == nil {
			p.Log = slog.Default()
		}
		if p.BounceSuppression <= 0 {
			p.BounceSuppression = 72 * time.Hour
		}
	})
}

// headLimit is how much of an oversized mail is read to learn its sender
// and subject: the header and the start of the body.
const headLimit = 64 << 10

// TooLarge handles a mail over the size limit, reading only its head: it is
// quarantined unread, and its sender, when a human authorised contact, is
// told (at most once per notice interval, like every notice).
func (p *Pipeline) TooLarge(ctx context.Context, r io.Reader, size, limit int64, src ticket.Source) (Result, error) {
	return p.Decide(ctx, p.ReadHead(r, size, limit, src), nil)
}

// ReadHead reads only the head of a mail of size bytes, over the limit:
// Decide quarantines it unread and tells its sender (TooLarge).
func (p *Pipeline) ReadHead(r io.Reader, size, limit int64, src ticket.Source) *ReadMail {
	msg, err := mailparse.Parse(io.LimitReader(r, headLimit), mailparse.Limits{MaxSize: headLimit + 1})
	return &ReadMail{src: src, msg: msg, err: err, size: size, limit: limit}
}

func (p *Pipeline) decideTooLarge(ctx context.Context, rm *ReadMail, o Order) (Result, error) {
	size, limit := rm.size, rm.limit
	reason := fmt.Sprintf("too large: %d bytes, limit %d", size, limit)
	res := Result{Outcome: Quarantined, Reason: reason}
	msg, err := rm.msg, rm.err
	if err != nil {
		return res, nil
	}
	truncated := boundHeader(msg)
	res.MessageID = msg.MessageID
	class, why := Classify(msg, p.Own)
	res.Class = class
	d := p.Authz.Decide(msg.From.Address)
	if !d.Authorised {
		return res, nil
	}
	_, fromDomain, _ := strings.Cut(msg.From.Address, "@")
	auth := authz.Authenticate(msg.Header["Authentication-Results"], fromDomain, p.TrustedAuthserv)
	// The same rules as for every notice: a mail too large is no reason to
	// answer a forged or unproven sender, or a machine.
	if block := p.noNotice(msg, class, why, auth, d.Customer); block != "" {
		res.Reason += " (" + block + ")"
		res.AuthFailed = p.requireAuth(d.Customer) && !auth.Pass
		return res, nil
	}
	dedupe := msg.MessageID
	if dedupe == "" {
		// The head alone is not the whole mail; size makes the key specific.
		dedupe = fmt.Sprintf("sha256:%s:%d", msg.ContentHash, size)
	}
	note := notify.Notification{
		Kind: notify.TooLarge, To: d.Contact.Email, ToName: cmp.Or(d.Contact.Name, msg.From.Name),
		Language: cmp.Or(d.Contact.Language, language.Detect(msg.Subject), p.Language), Subject: msg.Subject,
		InReplyTo: msg.MessageID, References: msg.References, Customer: d.Customer.Name, Size: size, Limit: limit,
	}.Fields()
	cr, err := p.commit(ctx, o, ticket.Commit{Dedupe: rejectionKey(dedupe), Rejection: rejection(msg, reason, truncated, p.Now()), Note: note})
	if err != nil {
		return res, err
	}
	res.Replay, res.Notified, res.Recorded = !cr.Created, cr.Notified, true
	return res, nil
}

// What of a mail's header is kept, in tickets, events, audit records and
// queued notifications, is bounded: a stranger must not be able to grow
// Redis by the size of what they send, and for ever.
const (
	// maxStoredSubject is in characters; longer subjects end in "…".
	maxStoredSubject = 500
	// maxStoredID is RFC 5322's line limit: no real Message-ID is longer.
	maxStoredID = 998
	// maxStoredName is in characters, for display names.
	maxStoredName = 200
	// maxStoredAddress is RFC 5321's limit on a path (4.5.3.1.3).
	maxStoredAddress = 254
	// maxStoredReferences keeps the first reference and the most recent
	// ones, as RFC 5322 3.6.4 suggests for long threads; maxStoredInReplyTo
	// is more than any client writes.
	maxStoredReferences = 20
	maxStoredInReplyTo  = 4
	// maxStoredReason bounds an audit record's reason, which quotes
	// header values (Classify, authentication results).
	maxStoredReason = 1000
	// maxStoredAttachments is how many attachments of one mail a ticket
	// lists (MaxParts allows a thousand); maxStoredFilename in characters.
	maxStoredAttachments = 100
	maxStoredFilename    = 255
	// maxRejectionKey: a rejected mail's dedupe key stays in Redis (the
	// seen hash) after its audit record is trimmed; a longer one is kept
	// as its hash.
	maxRejectionKey = 128
)

// boundHeader cuts the header fields of msg that are stored to their
// limits, in place, so that everything after it (dedupe, threading, the
// commit, notifications) sees the same values; it returns the names of
// the fields it cut. It is idempotent. A Message-ID over the limit keeps
// a hash of its whole self, so that two such ids stay two mails, and the
// ids a reply names are cut the same way, so that it still threads.
func boundHeader(msg *mailparse.Message) (truncated []string) {
	cut := func(name string, changed bool) {
		if changed {
			truncated = append(truncated, name)
		}
	}
	var c bool
	msg.Subject, c = capRunes(msg.Subject, maxStoredSubject)
	cut("subject", c)
	msg.From.Name, c = capRunes(msg.From.Name, maxStoredName)
	cut("from name", c)
	if msg.MessageID, c = capID(msg.MessageID); c {
		cut("message-id", true)
	}
	msg.InReplyTo, c = capIDs(msg.InReplyTo, maxStoredInReplyTo)
	cut("in-reply-to", c)
	msg.References, c = capIDs(msg.References, maxStoredReferences)
	cut("references", c)
	if len(msg.From.Address) > maxStoredAddress {
		// Kept whole in msg: it decides who the sender is, and a cut one
		// might look like someone else. Only its stored copy is cut.
		cut("sender", true)
	}
	return truncated
}

// storedAttachments is what a ticket keeps of msg's attachments: their
// metadata, bounded; the bytes stay in the original in IMAP.
func storedAttachments(msg *mailparse.Message) []ticket.Attachment {
	var out []ticket.Attachment
	for _, a := range msg.Attachments[:min(len(msg.Attachments), maxStoredAttachments)] {
		name, _ := capRunes(a.Filename, maxStoredFilename)
		typ, _ := capRunes(a.ContentType, maxStoredFilename)
		out = append(out, ticket.Attachment{Name: name, Type: typ, Size: a.Size, SHA256: a.SHA256, Part: a.Part, Inline: a.Inline})
	}
	return out
}

// capRunes cuts s to at most n characters, the last being "…" when cut.
func capRunes(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	i := 0
	for pos := range s {
		if i == n-1 {
			if utf8.RuneCountInString(s[pos:]) == 1 {
				return s, false
			}
			return s[:pos] + "…", true
		}
		i++
	}
	return s, false
}

// capID cuts an id to maxStoredID bytes: its start, "~" and the hex of
// part of its SHA-256.
func capID(id string) (string, bool) {
	if len(id) <= maxStoredID {
		return id, false
	}
	sum := sha256.Sum256([]byte(id))
	suffix := "~" + hex.EncodeToString(sum[:16])
	return cutBytes(id, maxStoredID-len(suffix)) + suffix, true
}

// capIDs caps each id and keeps the first one and the last n-1.
func capIDs(ids []string, n int) ([]string, bool) {
	changed := false
	if len(ids) > n {
		ids = append(ids[:1:1], ids[len(ids)-n+1:]...)
		changed = true
	}
	for i, id := range ids {
		var c bool
		if ids[i], c = capID(id); c {
			changed = true
		}
	}
	return ids, changed
}

// cutBytes is the longest prefix of s of at most n bytes that does not
// split a character.
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// storedAddress is an address as it may be stored: an over-long one cut
// and marked, so that it can never equal a real address.
func storedAddress(a string) string {
	if len(a) <= maxStoredAddress {
		return a
	}
	return cutBytes(a, maxStoredAddress-len("…")) + "…"
}

// rejection is the audit record of a refused mail, its fields bounded and
// its reason saying which of them were cut.
func rejection(msg *mailparse.Message, reason string, truncated []string, at time.Time) *ticket.Rejection {
	if len(reason) > maxStoredReason {
		reason = cutBytes(reason, maxStoredReason) + "…"
	}
	if len(truncated) > 0 {
		reason += " [stored truncated: " + strings.Join(truncated, ", ") + "]"
	}
	return &ticket.Rejection{
		Sender: storedAddress(msg.From.Address), Reason: reason, MessageID: msg.MessageID, Subject: msg.Subject, At: at,
	}
}

// rejectionKey is the dedupe key a refused mail is committed under. The
// store remembers it for ever (a replay must not notify twice), so a long
// one is replaced by its hash: every refused mail then costs a bounded
// amount. Short ones stay as they are, so that a mail that made a ticket
// is still known as such when replayed and refused.
func rejectionKey(dedupe string) string {
	if len(dedupe) <= maxRejectionKey {
		return dedupe
	}
	sum := sha256.Sum256([]byte(dedupe))
	return "rejected:sha256:" + hex.EncodeToString(sum[:])
}
