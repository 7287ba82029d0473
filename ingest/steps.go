package ingest

import (
	"cmp"
	"context"

	"github.com/maildesk/maildesk/language"
	"github.com/maildesk/maildesk/mailparse"
	"github.com/maildesk/maildesk/notify"
)

// A step judges a mail or passes it on: done is false when the mail goes
// to the next step. A step that is done has committed the mail's outcome
// (or failed to: err). Steps read Redis only through m.ordered.
type step func(p *Pipeline, ctx context.Context, m *inbound) (res Result, done bool, err error)

// steps is the decision ladder, in the order a mail meets it (as
// Alertmanager composes its notify stages and maddy runs its checks). The
// order is the policy: machine mail is never answered nor threaded, an
// agent's mail never becomes a ticket, an unauthenticated sender is refused
// before anything it says is believed, a follow-up goes before a new
// ticket, and whatever is left is refused with a notice.
var steps = [...]struct {
	name string
	run  step
}{
	{"machine mail", (*Pipeline).machineMail},
	{"agent", (*Pipeline).agentStep},
	{"authentication", (*Pipeline).authentication},
	{"thread", (*Pipeline).thread},
	{"auto-reply", (*Pipeline).autoReply},
	{"create", (*Pipeline).createStep},
	{"notice", (*Pipeline).notice},
}

// runSteps takes m down the ladder until a step is done with it. The last
// step always is.
func (p *Pipeline) runSteps(ctx context.Context, m *inbound) (Result, error) {
	for _, s := range steps {
		res, done, err := s.run(p, ctx, m)
		if done || err != nil {
			m.log.Debug("mail judged", "step", s.name)
			return res, err
		}
	}
	panic("ingest: no step of the decision ladder took the mail")
}

// decided wraps a step's final call: done whatever it returned.
func decided(res Result, err error) (Result, bool, error) { return res, true, err }

// machineMail: loops, spam, bounces and feedback reports are never
// answered nor threaded; a bounce of or a complaint about the desk's own
// mail is recorded on its ticket.
func (p *Pipeline) machineMail(ctx context.Context, m *inbound) (Result, bool, error) {
	if m.class == Bounce || m.class == Feedback {
		handle := p.bounced
		if m.class == Feedback {
			handle = p.complained
		}
		number, err := handle(ctx, m)
		if err != nil {
			return Result{MessageID: m.msg.MessageID}, true, err
		}
		if number != "" {
			// Recorded in the ticket's history: filed with it.
			return Result{Outcome: Processed, Ticket: number, MessageID: m.msg.MessageID, FollowUp: true, Class: m.class}, true, nil
		}
	}
	if m.class == Loop || m.class == Spam || m.class == Bounce || m.class == Feedback {
		return decided(p.reject(ctx, m, "machine mail: "+m.class.String()+" ("+m.why+")", nil))
	}
	return Result{}, false, nil
}

// agentStep: the desk's own people answer customers and change tickets by
// mail; their mail never becomes a ticket.
func (p *Pipeline) agentStep(ctx context.Context, m *inbound) (Result, bool, error) {
	by, ok := p.agent(m)
	if !ok || m.web {
		return Result{}, false, nil
	}
	if m.restore != nil {
		// An agent's commands and replies are not replayed: they may have
		// been undone or answered since. A refused one only gets its
		// record back.
		if m.restore.kind == entryRejected {
			return decided(p.reject(ctx, m, "an agent's mail, refused (restored from the mailbox journal)", nil))
		}
		return Result{MessageID: m.msg.MessageID}, true, notReplayed("an agent's mail is not replayed")
	}
	return decided(p.agentMail(ctx, m, by))
}

// authentication: where the customer (or the desk) requires it, a From
// domain the desk's MTA did not find authentic is refused, without a
// notice: the From address is probably forged, and a notice would be
// backscatter to an innocent party.
func (p *Pipeline) authentication(ctx context.Context, m *inbound) (Result, bool, error) {
	if !p.requireAuth(m.decision.Customer) || m.auth.Pass {
		return Result{}, false, nil
	}
	m.log.Warn("sender not authenticated", "reason", m.auth.Reason)
	res, err := p.reject(ctx, m, "authentication failed: "+m.auth.Reason, nil)
	res.AuthFailed = true
	return res, true, err
}

// thread: a mail that follows up on a ticket its sender may add to is
// recorded there (followUp).
func (p *Pipeline) thread(ctx context.Context, m *inbound) (Result, bool, error) {
	if m.threads == nil || !m.restore.mayThread() {
		return Result{}, false, nil
	}
	return p.followUp(ctx, m)
}

// autoReply: mail from machines is never answered; whether it may still
// become a ticket depends on the kind: a monitoring alert from an
// authorised address may, an out-of-office reply to our acknowledgement
// may not.
func (p *Pipeline) autoReply(ctx context.Context, m *inbound) (Result, bool, error) {
	if m.class != AutoReply {
		return Result{}, false, nil
	}
	return decided(p.reject(ctx, m, "machine mail: "+m.class.String()+" ("+m.why+")", nil))
}

// createStep: an authorised sender gets a ticket, unless their customer's
// support is off.
func (p *Pipeline) createStep(ctx context.Context, m *inbound) (Result, bool, error) {
	if !m.decision.Authorised {
		return Result{}, false, nil
	}
	if off, why := m.decision.Customer.Inactive(m.now, p.Location); off {
		return decided(p.inactive(ctx, m, why))
	}
	return decided(p.create(ctx, m))
}

// notice: everyone else is refused, and told so when the rules of every
// notice allow (noNotice).
func (p *Pipeline) notice(ctx context.Context, m *inbound) (Result, bool, error) {
	msg := m.msg
	reason := string(m.decision.Reason)
	var note []string
	if block := p.noNotice(msg, m.class, m.why, m.auth, m.decision.Customer); block != "" {
		reason += " (" + block + ")"
	} else {
		// A stranger is answered in the language they wrote in; failing
		// that, their organisation's main contact's.
		fresh, _ := mailparse.SplitQuoted(msg.Text)
		written := language.Detect(msg.Subject + "\n\n" + fresh)
		n := notify.Notification{
			Kind: notify.Rejection, To: msg.From.Address, ToName: msg.From.Name, Language: cmp.Or(written, p.Language),
			Subject: msg.Subject, InReplyTo: msg.MessageID, References: msg.References,
		}
		if c := m.decision.Customer; c != nil {
			// A sender at a customer's domain: tell them who can report.
			n.Customer = c.Name
			if mc := c.MainContact(); mc != nil {
				n.MainContact, n.MainContactName = mc.Email, mc.Name
				n.Language = cmp.Or(written, mc.Language, p.Language)
			}
		}
		note = n.Fields()
	}
	return decided(p.reject(ctx, m, reason, note))
}
