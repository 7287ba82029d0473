// Package ticket owns the ticket model, its numbering and its Redis store.
// Every change a mail causes is one Lua script, so that a crash or a replay
// of the same mail never leaves half a ticket or makes a second one.
package ticket

import (
	"slices"
	"time"
)

// Statuses of a ticket; Transitions says which follow which.
const (
	StatusNew             = "new"
	StatusAcknowledged    = "acknowledged"
	StatusInProgress      = "in_progress"
	StatusWaitingCustomer = "waiting_customer"
	StatusResolved        = "resolved"
	StatusClosed          = "closed"
)

// Statuses lists every status in lifecycle order.
var Statuses = []string{StatusNew, StatusAcknowledged, StatusInProgress, StatusWaitingCustomer, StatusResolved, StatusClosed}

// Transitions are the allowed status changes. Closed is final: mail on a
// closed ticket starts a new one that links to it.
var Transitions = map[string][]string{
	StatusNew:             {StatusAcknowledged, StatusInProgress, StatusWaitingCustomer, StatusResolved, StatusClosed},
	StatusAcknowledged:    {StatusInProgress, StatusWaitingCustomer, StatusResolved, StatusClosed},
	StatusInProgress:      {StatusWaitingCustomer, StatusResolved, StatusClosed},
	StatusWaitingCustomer: {StatusInProgress, StatusResolved, StatusClosed},
	StatusResolved:        {StatusInProgress, StatusClosed},
	StatusClosed:          {},
}

// CanTransition reports whether a ticket may go from one status to another.
func CanTransition(from, to string) bool { return slices.Contains(Transitions[from], to) }

// Open reports whether a ticket in status s still needs work.
func Open(s string) bool { return s != StatusResolved && s != StatusClosed }

// Types of ticket. A feature request is stored and closed without an SLA
// (Kwikqy 2.5).
const (
	TypeIncident       = "incident"
	TypeFeatureRequest = "feature_request"
)

// Types lists every type of ticket.
var Types = []string{TypeIncident, TypeFeatureRequest}

// Ticket is one ticket as stored. Redis holds no raw mail: the original
// stays in IMAP (Source).
type Ticket struct {
	Number   string `json:"number"`
	Subject  string `json:"subject"`
	Status   string `json:"status"`
	Type     string `json:"type"`
	Priority string `json:"priority"`
	// RequestedPriority is what the mail asked for, PriorityReason why the
	// ticket has another (authz.ByPlan, authz.ByRights); both may be empty.
	RequestedPriority string `json:"requested_priority,omitempty"`
	PriorityReason    string `json:"priority_reason,omitempty"`
	// Participants are other contacts of the customer who were in Cc: they
	// may follow up and receive progress mails.
	Participants   []string   `json:"participants,omitempty"`
	Customer       string     `json:"customer"`
	Contact        string     `json:"contact"`
	ContactName    string     `json:"contact_name,omitempty"`
	Language       string     `json:"language"`
	CreatedAt      time.Time  `json:"created_at"`
	MessageID      string     `json:"message_id"`
	Source         Source     `json:"source"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	UpdatedAt      *time.Time `json:"updated_at,omitempty"`
	// Text is what the contact wrote; Quoted the history and signature
	// below it, kept apart so that the new text shows first.
	Text   string `json:"text,omitempty"`
	Quoted string `json:"quoted,omitempty"`
	// SLA is the first-response (and resolution) clock; nil for tickets
	// without one (feature requests, plans without a calendar).
	SLA *Clock `json:"sla,omitempty"`
	// Assignee is the agent working the ticket; "" for nobody.
	Assignee string `json:"assignee,omitempty"`
	// FirstResponseAt is the first agent reply; ResolvedAt the last time it
	// was resolved.
	FirstResponseAt *time.Time `json:"first_response_at,omitempty"`
	ResolvedAt      *time.Time `json:"resolved_at,omitempty"`
	// LinkedTo is the closed ticket a mail on it started this one from.
	LinkedTo string `json:"linked_to,omitempty"`
	// AnonymisedAt: retention removed the personal data then; what is left
	// is the anonymous record.
	AnonymisedAt *time.Time `json:"anonymised_at,omitempty"`
}

// Source says where the original mail was when the ticket was made. The
// watcher moves it afterwards, so Mailbox/UID are a starting point for
// finding it, and MessageID the key that survives the move.
type Source struct {
	Mailbox     string `json:"mailbox"`
	UIDValidity uint32 `json:"uidvalidity"`
	UID         uint32 `json:"uid"`
}

// New is what ingest knows when it asks for a ticket.
type New struct {
	Subject           string
	Type              string // TypeIncident when empty
	Status            string // StatusNew when empty
	Priority          string
	RequestedPriority string
	PriorityReason    string
	Participants      []string
	Customer          string
	Contact           string
	ContactName       string
	Language          string
	MessageID         string
	Text              string
	Quoted            string
	Source            Source
	CreatedAt         time.Time
	// Clock is the SLA clock computed on arrival; nil for none.
	Clock *Clock
	// LinkedTo is the closed ticket this mail was a follow-up to.
	LinkedTo string
}

// Rejection is the audit record of a refused mail. It holds no body: nothing
// else is stored about strangers.
type Rejection struct {
	Sender    string
	Reason    string
	MessageID string
	Subject   string
	At        time.Time
}

// Result says what a commit did. Created is false when the mail had been
// committed before (a replay): callers then do nothing further but move it.
type Result struct {
	Number   string // ticket number, or "rejected"
	Created  bool
	Notified bool
}
