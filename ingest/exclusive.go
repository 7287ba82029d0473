package ingest

import (
	"context"
	"time"

	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// The watcher judges several mails at once, but what one mail reads of
// Redis must include the commits of the mails before it (committer.go): a
// reply threads onto the ticket a mail just before it made. So a mail
// waits for its turn before its first Redis read. The steps never call the
// store themselves to read: they read through the mail's views below,
// which take the turn on first use, so that no step can forget it.

// exclusive is one mail's turn at Redis: the first take waits until the
// mails before it are committed (and holds the mails after it back until
// it is done); later takes return at once. Without an Order (a mail
// judged on its own) there is nothing to wait for.
type exclusive struct {
	order Order
	taken bool
	err   error
}

func (e *exclusive) take() error {
	if e.order == nil || e.taken {
		return e.err
	}
	e.taken = true
	e.err = e.order.Exclusive()
	return e.err
}

// ordered are the pipeline's Redis dependencies as one mail sees them:
// each call takes the mail's turn first. A nil field is a dependency the
// pipeline does not have.
type ordered struct {
	threads  Threads
	suppress Suppressor
	agents   Agents
	resumer  clockResumer
}

func (p *Pipeline) ordered(e *exclusive) ordered {
	var o ordered
	if p.Threads != nil {
		o.threads = orderedThreads{e, p.Threads}
	}
	if p.Suppress != nil {
		o.suppress = orderedSuppressor{e, p.Suppress}
	}
	if p.Agents != nil {
		o.agents = orderedAgents{e, p.Agents}
	}
	if r, ok := p.Clock.(clockResumer); ok {
		o.resumer = orderedResumer{e, r}
	}
	return o
}

type orderedThreads struct {
	e    *exclusive
	next Threads
}

func (o orderedThreads) FindByMessageID(ctx context.Context, ids ...string) (string, error) {
	if err := o.e.take(); err != nil {
		return "", err
	}
	return o.next.FindByMessageID(ctx, ids...)
}

func (o orderedThreads) Get(ctx context.Context, number string) (*ticket.Ticket, error) {
	if err := o.e.take(); err != nil {
		return nil, err
	}
	return o.next.Get(ctx, number)
}

func (o orderedThreads) Append(ctx context.Context, dedupe, number string, ev ticket.Event) (ticket.Result, error) {
	if err := o.e.take(); err != nil {
		return ticket.Result{}, err
	}
	return o.next.Append(ctx, dedupe, number, ev)
}

func (o orderedThreads) Apply(ctx context.Context, number string, c ticket.Change, notes [][]string) (bool, error) {
	if err := o.e.take(); err != nil {
		return false, err
	}
	return o.next.Apply(ctx, number, c, notes)
}

type orderedSuppressor struct {
	e    *exclusive
	next Suppressor
}

func (o orderedSuppressor) SentMail(ctx context.Context, id string) (notify.SentMail, bool, error) {
	if err := o.e.take(); err != nil {
		return notify.SentMail{}, false, err
	}
	return o.next.SentMail(ctx, id)
}

func (o orderedSuppressor) Suppress(ctx context.Context, addr string, d time.Duration, reason string) error {
	if err := o.e.take(); err != nil {
		return err
	}
	return o.next.Suppress(ctx, addr, d, reason)
}

type orderedAgents struct {
	e    *exclusive
	next Agents
}

func (o orderedAgents) Reply(ctx context.Context, number string, by workflow.Agent, text, status, dedupe string) error {
	if err := o.e.take(); err != nil {
		return err
	}
	return o.next.Reply(ctx, number, by, text, status, dedupe)
}

func (o orderedAgents) Set(ctx context.Context, number string, by workflow.Agent, c workflow.Change, dedupe string) (*ticket.Ticket, error) {
	if err := o.e.take(); err != nil {
		return nil, err
	}
	return o.next.Set(ctx, number, by, c, dedupe)
}

func (o orderedAgents) RecordTime(ctx context.Context, number string, by workflow.Agent, te workflow.TimeEntry, dedupe, threadID string) (ticket.TimeRecord, bool, error) {
	if err := o.e.take(); err != nil {
		return ticket.TimeRecord{}, false, err
	}
	return o.next.RecordTime(ctx, number, by, te, dedupe, threadID)
}

type orderedResumer struct {
	e    *exclusive
	next clockResumer
}

func (o orderedResumer) Resume(ctx context.Context, number string, at time.Time) error {
	if err := o.e.take(); err != nil {
		return err
	}
	return o.next.Resume(ctx, number, at)
}
