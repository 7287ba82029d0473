package ingest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/maildesk/maildesk/address"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/mailparse"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// Agents is what the pipeline does with an agent's mail on a ticket
// (*workflow.Service): answer the customer, or change the ticket.
type Agents interface {
	Reply(ctx context.Context, number string, by workflow.Agent, text, status, dedupe string) error
	Set(ctx context.Context, number string, by workflow.Agent, c workflow.Change, dedupe string) (*ticket.Ticket, error)
	RecordTime(ctx context.Context, number string, by workflow.Agent, e workflow.TimeEntry, dedupe, threadID string) (ticket.TimeRecord, bool, error)
}

// agentIndex is who counts as an agent, in canonical form.
type agentIndex struct {
	byAddr  map[string]config.Person
	domains map[string]bool
}

func (p *Pipeline) agentIndex() *agentIndex {
	p.agentsOnce.Do(func() {
		ix := &agentIndex{byAddr: map[string]config.Person{}, domains: map[string]bool{}}
		for _, a := range p.AgentAddresses {
			if n, err := address.Normalise(a.Email); err == nil {
				ix.byAddr[n] = a
			}
		}
		for _, d := range p.AgentDomains {
			if n, err := address.NormaliseDomain(d); err == nil {
				ix.domains[n] = true
			}
		}
		p.agents = ix
	})
	return p.agents
}

// agent reports whether m comes from one of the desk's agents: an address
// listed in desk.agents, or any address at an agent domain that is not
// also a listed contact of a customer (an explicit contact stays one).
// Nobody is an agent while the pipeline has no Agents to act through.
func (p *Pipeline) agent(m *inbound) (workflow.Agent, bool) {
	if m.agents == nil {
		return workflow.Agent{}, false
	}
	addr, err := address.Normalise(m.msg.From.Address)
	if err != nil {
		return workflow.Agent{}, false
	}
	ix := p.agentIndex()
	if a, ok := ix.byAddr[addr]; ok {
		return workflow.Agent{Name: cmp.Or(a.Name, m.msg.From.Name), Email: addr}, true
	}
	_, domain, _ := strings.Cut(addr, "@")
	if !ix.domains[domain] || explicitContact(m) {
		return workflow.Agent{}, false
	}
	return workflow.Agent{Name: m.msg.From.Name, Email: addr}, true
}

// explicitContact: the sender is listed as a contact of a customer (not
// merely at a domain the customer authorises).
func explicitContact(m *inbound) bool {
	d := m.decision
	if !d.Authorised || d.Customer == nil || d.Contact == nil {
		return false
	}
	return slices.ContainsFunc(d.Customer.Contacts, func(c config.Contact) bool { return strings.EqualFold(c.Email, d.Contact.Email) })
}

// Warnings are what the daemon should log at start about how the pipeline
// is set up: agents whose mail is refused because agent mail is off.
func (p *Pipeline) Warnings() []string {
	if p.AgentMail || len(p.AgentAddresses)+len(p.AgentDomains) == 0 {
		return nil
	}
	return []string{"agents' mail is refused (desk.agent_mail is off): agents answer through the API, the CLI or " +
		"the dashboard; to let them answer by mail, set desk.agent_mail: authenticated with authz.trusted_authserv_ids"}
}

// agentMail handles a mail from an agent: a reply on a ticket, with
// optional #commands at the top, or a note. Whatever is wrong with it
// (not authenticated, machine mail, no ticket, a bad command) rejects it
// without changing anything; the reason is in the rejection record and
// the log.
func (p *Pipeline) agentMail(ctx context.Context, m *inbound, by workflow.Agent) (Result, error) {
	log := m.log.With("agent", by.String())
	if !p.AgentMail {
		// Without proof of who sent it, a mail "from an agent" could close
		// tickets and mail customers from the desk address for anyone who
		// can forge a From line.
		log.Warn("agent mail refused: desk.agent_mail is off")
		res, err := p.reject(ctx, m, "agent mail is off (desk.agent_mail)", nil)
		res.Agent = true
		return res, err
	}
	// With no trusted authserv-id nothing can pass: never act on an
	// unauthenticated agent mail, whatever the configuration says.
	if !m.auth.Pass || len(p.TrustedAuthserv) == 0 {
		// No notice: the From address is probably forged.
		log.Warn("agent mail not authenticated", "reason", m.auth.Reason)
		res, err := p.reject(ctx, m, "agent mail not authenticated: "+m.auth.Reason, nil)
		res.AuthFailed, res.Agent = true, true
		return res, err
	}
	if m.class != Human {
		// An agent's out-of-office is not an answer to the customer.
		res, err := p.reject(ctx, m, "machine mail from an agent: "+m.class.String()+" ("+m.why+")", nil)
		res.Agent = true
		return res, err
	}
	if m.threads == nil {
		return p.agentReject(ctx, m, log, "agent mail without a ticket")
	}
	// A mail already applied (a replay after a crash) is done, whatever
	// the ticket's state now: its commands are not judged again.
	if number, err := m.threads.FindByMessageID(ctx, m.dedupe); err != nil {
		return Result{MessageID: m.msg.MessageID}, err
	} else if number != "" {
		return Result{Outcome: Processed, Ticket: number, MessageID: m.msg.MessageID, Replay: true, FollowUp: true, Class: m.class, Agent: true}, nil
	}
	fresh, quoted := mailparse.SplitQuoted(m.msg.Text)
	cmds, text, err := parseCommands(fresh)
	if err != nil {
		return p.agentReject(ctx, m, log, "agent command: "+err.Error())
	}
	for attempt := 0; ; attempt++ {
		p.initTag()
		t, err := p.findTicket(ctx, m)
		if err != nil {
			return Result{MessageID: m.msg.MessageID}, err
		}
		if t == nil {
			// Agents do not open tickets by mail for themselves.
			return p.agentReject(ctx, m, log, "agent mail without a ticket")
		}
		if err := cmds.validate(t, text); err != nil {
			return p.agentReject(ctx, m, log, fmt.Sprintf("agent command on %s: %v", t.Number, err))
		}
		err = p.applyAgent(ctx, m, t, by, cmds, text, quoted)
		switch {
		case err == nil:
			log.Info("agent mail applied", "ticket", t.Number, "note", cmds.note, "reply", text != "" && !cmds.note,
				"commands", cmds.String(), "authenticated", m.auth.Pass)
			return Result{Outcome: Processed, Ticket: t.Number, MessageID: m.msg.MessageID, FollowUp: true, Class: m.class, Agent: true}, nil
		case errors.Is(err, ticket.ErrConflict) && attempt < 2:
			// Someone changed the ticket meanwhile: judge again.
			continue
		case errors.Is(err, workflow.ErrInvalid):
			return p.agentReject(ctx, m, log, "agent mail on "+t.Number+": "+err.Error())
		case errors.Is(err, ticket.ErrNotFound):
			return p.agentReject(ctx, m, log, "agent mail without a ticket ("+t.Number+" is gone)")
		}
		return Result{MessageID: m.msg.MessageID}, err
	}
}

func (p *Pipeline) agentReject(ctx context.Context, m *inbound, log *slog.Logger, reason string) (Result, error) {
	log.Warn("agent mail rejected", "reason", reason)
	res, err := p.reject(ctx, m, reason, nil)
	res.Agent = true
	return res, err
}

// applyAgent carries out an agent's mail on t. Each step is idempotent on
// the mail's dedupe key (with a suffix for the commands before a reply or
// note), and the reply or note, which holds the key itself, comes last:
// once it is there, a replay stops at the check in agentMail.
func (p *Pipeline) applyAgent(ctx context.Context, m *inbound, t *ticket.Ticket, by workflow.Agent, c commands, text, quoted string) error {
	if c.time != nil {
		// Time first: it is idempotent on the mail itself. Only when
		// nothing follows does it thread the mail (which makes a replay
		// of it a replay): the reply or change after it does otherwise.
		thread := ""
		if text == "" && c.change(true) == (workflow.Change{}) {
			thread = m.dedupe
		}
		if _, _, err := m.agents.RecordTime(ctx, t.Number, by, c.time.entry(m, p.Location), m.dedupe, thread); err != nil {
			return err
		}
		if thread != "" {
			return nil
		}
	}
	if text == "" {
		// Commands only: one change, no mail but the progress mail.
		_, err := m.agents.Set(ctx, t.Number, by, c.change(true), m.dedupe)
		return err
	}
	if ch := c.change(c.note); ch != (workflow.Change{}) {
		if _, err := m.agents.Set(ctx, t.Number, by, ch, m.dedupe+" #set"); err != nil {
			return err
		}
	}
	if c.note {
		if t.NeedsAgentSince != nil {
			// An agent looked at it, like any workflow action does.
			if _, err := m.threads.Apply(ctx, t.Number, ticket.Change{At: m.now, Handled: true, Dedupe: m.dedupe + " #handled"}, nil); err != nil {
				return err
			}
		}
		// An internal note: history only. Appended like a follow-up, so
		// that it is idempotent on the mail and keeps its quoted part.
		src := m.src
		_, err := m.threads.Append(ctx, m.dedupe, t.Number, ticket.Event{
			At: m.now, Kind: ticket.EventNote, From: by.String(), MessageID: m.msg.MessageID,
			Subject: m.msg.Subject, Text: text, Quoted: quoted, Source: &src,
		})
		return err
	}
	return m.agents.Reply(ctx, t.Number, by, text, c.status, m.dedupe)
}

// commands are the #lines at the top of an agent's mail.
type commands struct {
	status           string
	priority, reason string
	// typ is #type: a type of the ticket's plan (config.TypeKey form),
	// which the workflow checks.
	typ string
	// assignee: nil leaves it, "" clears it.
	assignee *string
	note     bool
	// time is #time: work to record on the ticket; nil for none.
	time  *timeCommand
	given []string // in order, for the log
}

// commandNames are the commands an agent may give.
var commandNames = []string{"status", "priority", "type", "assign", "unassign", "note", "time"}

// timeCommand is "#time DURATION [ACTIVITY] [at TIME] [bill|nobill]
// [NOTE]": "#time 45m remote", "#time 1h30m on_site at 14:00 printer
// replaced", "#time 20m travel nobill". Which activities there are is the
// ticket's plan's: the workflow refuses others, naming the plan's.
type timeCommand struct {
	duration time.Duration
	activity string
	at       string // as written; "" for: the work ended when the mail was sent
	billable *bool
	note     string
}

// parseTime reads the argument of #time.
func parseTime(arg string) (*timeCommand, error) {
	f := strings.Fields(arg)
	if len(f) == 0 {
		return nil, errors.New("#time needs a duration, e.g. #time 45m remote")
	}
	d, err := workflow.ParseDuration(f[0])
	if err != nil {
		return nil, fmt.Errorf("#time %q: the duration comes first, like 45m, 1h30m or 1:30", arg)
	}
	tc := &timeCommand{duration: d}
	i := 1
	word := func(w string) bool { return i < len(f) && strings.EqualFold(f[i], w) }
	if i < len(f) && !word("at") && !word("bill") && !word("nobill") {
		tc.activity = f[i]
		i++
	}
	if word("at") {
		i++
		if i >= len(f) {
			return nil, fmt.Errorf("#time %q: at needs a time, like at 14:00 or at 2026-11-20 14:00", arg)
		}
		tc.at = f[i]
		i++
		// A date and a time of day are two words.
		if len(tc.at) == len("2006-01-02") && i < len(f) && strings.Contains(f[i], ":") {
			tc.at += " " + f[i]
			i++
		}
		// The form only: which day a time of day is on is the mail's.
		if _, err := workflow.ParseAt(tc.at, time.UTC, time.Time{}); err != nil {
			return nil, fmt.Errorf("#time %q: at %s: write a time like 14:00, 2026-11-20 14:00 or RFC 3339", arg, tc.at)
		}
	}
	switch {
	case word("bill"):
		tc.billable = new(true)
		i++
	case word("nobill"):
		tc.billable = new(false)
		i++
	}
	tc.note = strings.Join(f[i:], " ")
	return tc, nil
}

// entry is the work tc records, from mail m: without "at" it ended when
// the mail was sent (its Date, when that is a plausible time, else when
// it arrived); a time of day alone is on that day, in the desk's zone.
func (tc *timeCommand) entry(m *inbound, loc *time.Location) workflow.TimeEntry {
	sent := m.now
	if d := m.msg.Date; !d.IsZero() && !d.After(m.now.Add(workflow.MaxClockSkew)) && d.After(m.now.Add(-workflow.MaxTimeBackdate)) {
		sent = d
	}
	e := workflow.TimeEntry{Duration: tc.duration, Activity: tc.activity, Billable: tc.billable, Note: tc.note, Via: workflow.ViaMail}
	if tc.at == "" {
		e.At = sent.Add(-tc.duration)
	} else if at, err := workflow.ParseAt(tc.at, loc, sent); err == nil {
		e.At = at
	}
	return e
}

// parseCommands reads the command lines at the top of text: lines that
// start with "#" and a letter, before any other text (blank lines between
// them are fine). It returns them and the text after them.
func parseCommands(text string) (commands, string, error) {
	var c commands
	lines := strings.Split(text, "\n")
	i := 0
	for ; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" {
			continue
		}
		if len(line) < 2 || line[0] != '#' || !isLetter(line[1]) {
			break
		}
		name, arg, _ := strings.Cut(line[1:], " ")
		name, arg = strings.ToLower(name), strings.TrimSpace(arg)
		if slices.Contains(c.given, name) {
			return c, "", fmt.Errorf("#%s given twice", name)
		}
		switch name {
		case "status":
			// "in progress", "in-progress" and "In_Progress" all mean in_progress.
			s := strings.Join(strings.FieldsFunc(strings.ToLower(arg), func(r rune) bool { return r == ' ' || r == '-' || r == '_' || r == '\t' }), "_")
			if !slices.Contains(ticket.Statuses, s) {
				return c, "", fmt.Errorf("#status %q: unknown status (want one of %s)", arg, strings.Join(ticket.Statuses, ", "))
			}
			c.status = s
		case "priority":
			pr, reason, _ := strings.Cut(arg, " ")
			pr = strings.ToUpper(pr)
			if !slices.Contains(config.Priorities, pr) {
				return c, "", fmt.Errorf("#priority %q: unknown priority (want %s, then the reason)", arg, config.PriorityChoice())
			}
			c.priority, c.reason = pr, strings.TrimSpace(reason)
		case "type":
			// "feature request", "feature-request" and "Incident" all work;
			// which types there are is the ticket's plan's (the workflow
			// refuses others, naming the plan's).
			if c.typ = config.TypeKey(arg); c.typ == "" {
				return c, "", errors.New("#type needs a type, e.g. #type feature_request")
			}
		case "assign":
			if arg == "" {
				return c, "", errors.New("#assign needs a name")
			}
			if c.assignee != nil {
				return c, "", errors.New("#assign and #unassign together")
			}
			c.assignee = &arg
		case "time":
			tc, err := parseTime(arg)
			if err != nil {
				return c, "", err
			}
			c.time = tc
		case "unassign", "note":
			if arg != "" {
				return c, "", fmt.Errorf("#%s takes nothing after it (got %q)", name, arg)
			}
			if name == "note" {
				c.note = true
				break
			}
			if c.assignee != nil {
				return c, "", errors.New("#assign and #unassign together")
			}
			none := ""
			c.assignee = &none
		default:
			return c, "", fmt.Errorf("unknown command #%s (known: #%s)", name, strings.Join(commandNames, ", #"))
		}
		c.given = append(c.given, name)
	}
	return c, strings.TrimSpace(strings.Join(lines[i:], "\n")), nil
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// validate checks c and text against t before anything is applied, so that
// a mail is applied whole or not at all.
func (c commands) validate(t *ticket.Ticket, text string) error {
	reopen := c.typ != "" && c.typ != t.Type && t.Type == ticket.TypeFeatureRequest && t.Status == ticket.StatusClosed
	if c.status != "" && c.status != t.Status && !reopen && !ticket.CanTransition(t.Status, c.status) {
		return fmt.Errorf("a %s ticket cannot become %s (it can become: %s)", t.Status, c.status,
			cmp.Or(strings.Join(ticket.Transitions[t.Status], ", "), "nothing, it is final"))
	}
	if len(text) > workflow.MaxText {
		return fmt.Errorf("the text is %d bytes, at most %d", len(text), workflow.MaxText)
	}
	switch {
	case text == "" && len(c.given) == 0:
		return errors.New("no text and no command")
	case text == "" && c.note && len(c.given) == 1:
		return errors.New("#note without text")
	}
	return nil
}

// change is what Set applies: priority and assignee, and the status too
// when no reply carries it (withStatus).
func (c commands) change(withStatus bool) workflow.Change {
	ch := workflow.Change{Priority: c.priority, Reason: c.reason, Assignee: c.assignee, Type: c.typ}
	if withStatus {
		ch.Status = c.status
	}
	return ch
}

func (c commands) String() string {
	return strings.Join(c.given, ",")
}

// featureReplyChange is what a customer's reply on a closed feature
// request adds after the reply itself: an event of its own kind
// (ticket.EventFeatureReply) and the mark that puts the ticket in front of
// the agents on the dashboard (ticket.Ticket.NeedsAgentSince), since the
// customer may dispute the designation ("this is NOT a feature request").
// It changes no other field: the desk decides (Kwikqy 2.2, 2.5). It is
// idempotent on the mail (dedupe with a suffix of its own), and so are
// the agents' notifications queued with it (featureReplyNotes).
//
// followUp (ingest/thread.go) applies it through Threads.Apply when a
// reply lands on a closed feature request.
func featureReplyChange(t *ticket.Ticket, from, messageID, dedupe string, at time.Time) ticket.Change {
	return ticket.Change{
		At: at, Dedupe: dedupe + " #feature-reply", NeedsAgent: true,
		Event: &ticket.Event{At: at, Kind: ticket.EventFeatureReply, From: from, MessageID: messageID,
			Text: "The customer replied on " + t.Number + ", a closed feature request: an agent should judge whether it is one."},
	}
}

// maxFeatureReplyText bounds the customer's text in the agents'
// notification; the whole reply is in the ticket's history.
const maxFeatureReplyText = 16 << 10

// featureReplyNotes are the notifications that tell the desk's agents
// (desk.agents, nobody else) of a customer's reply on closed feature
// request t, in the desk's language: who wrote what (text, its quoted
// part left out) and how to make the ticket an incident. Their ids derive
// from the mail's dedupe key, so that a replayed mail queues and sends
// nothing twice.
func (p *Pipeline) featureReplyNotes(t *ticket.Ticket, m *inbound, text string) [][]string {
	if len(text) > maxFeatureReplyText {
		text = cutBytes(text, maxFeatureReplyText) + "\n[…]"
	}
	sum := sha256.Sum256([]byte(m.dedupe))
	ref := hex.EncodeToString(sum[:8])
	cust := m.decision.Customer // the ticket's customer: mayFollowUp
	contact := t.Contact
	if t.ContactName != "" {
		contact = t.ContactName + " <" + t.Contact + ">"
	}
	from := storedAddress(m.msg.From.Address)
	if name := cmp.Or(contactName(m.decision.Contact), m.msg.From.Name); name != "" {
		from = name + " <" + from + ">"
	}
	seen := map[string]bool{}
	var notes [][]string
	for _, a := range p.AgentAddresses {
		addr := strings.ToLower(strings.TrimSpace(a.Email))
		if addr == "" || seen[addr] {
			continue
		}
		seen[addr] = true
		n := notify.Notification{
			ID: notify.FeatureReplyID(t.Number, ref, addr), Kind: notify.FeatureReply,
			To: a.Email, ToName: a.Name, Language: p.Language, Ticket: t.Number, Subject: t.Subject,
			InReplyTo: m.msg.MessageID, References: []string{t.MessageID}, Customer: customerName(cust, t.Customer),
			Priority: t.Priority, PriorityLabel: config.PriorityLabel(p.Plans, cust, p.Language, t.Priority),
			ReportedBy: contact, RepliedBy: from, Received: m.now, Text: text,
		}
		notes = append(notes, n.Fields())
	}
	return notes
}

func contactName(c *config.Contact) string {
	if c == nil {
		return ""
	}
	return c.Name
}

func customerName(c *config.Customer, id string) string {
	if c != nil && c.Name != "" {
		return c.Name
	}
	return id
}
