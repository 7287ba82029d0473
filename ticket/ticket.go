// Package ticket owns the ticket model, its numbering and its Redis store.
// Every change a mail causes is one Lua script, so that a crash or a replay
// of the same mail never leaves half a ticket or makes a second one.
package ticket

import (
	"time"
)

// Status of a ticket. Issue 7 adds the full lifecycle; ingest creates "new".
const (
	StatusNew    = "new"
	StatusClosed = "closed"
)

// Types of ticket. A feature request is stored and closed without an SLA
// (Kwikqy 2.5).
const (
	TypeIncident       = "incident"
	TypeFeatureRequest = "feature_request"
)

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
