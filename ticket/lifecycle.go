package ticket

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// More event kinds: what agents do.
const (
	// EventAgentReply is an agent's answer, sent on to the customer.
	EventAgentReply = "agent_reply"
	// EventNote is an internal note, never sent.
	EventNote = "note"
	// EventChange is a change of status, priority, type or assignee.
	EventChange = "change"
	// EventFeatureReply marks a customer's reply on a closed feature
	// request: it needs an agent's eyes (the customer may dispute the
	// designation), not only the record.
	EventFeatureReply = "feature_request_reply"
)

// FieldChange is one field of a ticket changed by an event.
type FieldChange struct {
	Field  string `json:"field"` // status | priority | type | assignee
	Old    string `json:"old,omitempty"`
	New    string `json:"new,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// fieldNeedsAgent is the ticket hash field of Ticket.NeedsAgentSince.
const fieldNeedsAgent = "needs_agent_since"

// ErrConflict: the ticket changed (its status) since the caller read it.
var ErrConflict = errors.New("ticket changed meanwhile")

//go:embed change.lua
var changeSrc string

var changeScript = redis.NewScript(indexSrc + queueSrc + changeSrc)

//go:embed queue.lua
var queueSrc string

// Change is one step in a ticket's life, applied atomically with its
// history event and the notifications it causes.
type Change struct {
	At time.Time
	// ExpectStatus: apply only while the ticket is in this status (the one
	// the transition was validated against); "" for any.
	ExpectStatus string
	// Status, Priority: "" leaves them. PriorityReason goes with Priority.
	Status, Priority, PriorityReason string
	// Assignee: nil leaves it, "" clears it.
	Assignee *string
	// Type: "" leaves it; a type of the ticket's plan or TypeFeatureRequest
	// (the desk designates feature requests, Kwikqy 2.5).
	Type string
	// FirstResponse records At as the first agent reply, unless there was one.
	FirstResponse bool
	// NeedsAgent marks the ticket as needing an agent's judgement since At
	// (Ticket.NeedsAgentSince: a customer's reply on a closed feature
	// request), unless it is marked already: the first unhandled reply's
	// time stays. Handled removes the mark: an agent acted on the ticket.
	NeedsAgent, Handled bool
	// Event goes into the history; nil for none.
	Event *Event
	// Dedupe makes a change made by mail idempotent on its Message-ID,
	// which afterwards threads to the ticket; "" for none.
	Dedupe string
	// Request makes a change an API client asked for idempotent on its
	// Idempotency-Key (scoped to the client by the caller); "" for none.
	// It is kept in a hash of its own, not with the Message-IDs of mail:
	// a sender chooses the Message-ID of their mail, so a mail naming
	// a client's key would turn that client's request into a no-op, and
	// a request's key is no mail that replies could thread by.
	Request string
}

// Apply makes change c to ticket number and queues notes (notification
// field/value pairs, each with its "id"). It reports false when c.Dedupe
// or c.Request was applied before.
func (s *Store) Apply(ctx context.Context, number string, c Change, notes [][]string) (bool, error) {
	at := c.At.UTC().Format(time.RFC3339Nano)
	var set, setnx []string
	if c.Status != "" {
		set = append(set, "status", c.Status)
		if c.Status == StatusResolved {
			set = append(set, "resolved_at", at)
		}
	}
	if c.Priority != "" {
		set = append(set, "priority", c.Priority, "priority_reason", c.PriorityReason)
	}
	if c.Assignee != nil {
		set = append(set, "assignee", *c.Assignee)
	}
	if c.Type != "" {
		set = append(set, "type", c.Type)
	}
	if c.FirstResponse {
		setnx = append(setnx, "first_response_at", at)
	}
	if c.NeedsAgent && c.Handled {
		return false, fmt.Errorf("change %s: both marked as needing an agent and handled", number)
	}
	if c.NeedsAgent {
		setnx = append(setnx, fieldNeedsAgent, at)
	}
	var del []string
	if c.Handled {
		del = append(del, fieldNeedsAgent)
	}
	ev := ""
	if c.Event != nil {
		b, err := json.Marshal(c.Event)
		if err != nil {
			return false, fmt.Errorf("change %s: encode event: %w", number, err)
		}
		ev = string(b)
	}
	if c.Dedupe != "" && c.Request != "" {
		return false, fmt.Errorf("change %s: both a mail and a request to deduplicate on", number)
	}
	args := []any{number, c.Dedupe, c.ExpectStatus, ev, at, c.Request, s.kp, c.At.UnixMilli(), len(set) / 2}
	for _, v := range set {
		args = append(args, v)
	}
	args = append(args, len(setnx)/2)
	for _, v := range setnx {
		args = append(args, v)
	}
	args = append(args, len(del))
	for _, v := range del {
		args = append(args, v)
	}
	for _, n := range notes {
		args = append(args, len(n))
		for _, v := range n {
			args = append(args, v)
		}
	}
	keys := []string{s.key("seen"), s.key("t:" + number), s.key("t:" + number + ":events"), s.outbox, s.key("requests"),
		s.key(requestKeysKey(number))}
	done, err := changeScript.Run(ctx, s.rdb, keys, args...).Int()
	err = scriptErr(err)
	switch {
	case err == nil:
		return done == 1, nil
	case errors.Is(err, ErrNotFound):
		return false, fmt.Errorf("change %s: %w", number, ErrNotFound)
	case errors.Is(err, ErrConflict):
		return false, fmt.Errorf("change %s: %w: it is %s now, not %s", number, ErrConflict, scriptDetail(err), c.ExpectStatus)
	default:
		return false, fmt.Errorf("change %s: %w", number, err)
	}
}
