// Package ticket owns the ticket model, its numbering and its Redis store.
// Every change a mail causes is one Lua script, so that a crash or a replay
// of the same mail never leaves half a ticket or makes a second one.
package ticket

import (
	"slices"
	"time"

	"github.com/maildesk/maildesk/config"
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

// The built-in types of ticket (config.TypeIncident): a feature request is
// stored and closed without an SLA (Kwikqy 2.5). Plans may declare support
// types instead of incident; which types a ticket may have is its plan's
// (config.Plan.TypeNames).
const (
	TypeIncident       = config.TypeIncident
	TypeFeatureRequest = config.TypeFeatureRequest
)

// Channels a ticket comes in by. Mail is how the desk hears of most
// problems; agents open tickets for calls and visits (QiQQ, the web
// agency: "Wij nemen uw melding dan aan en maken hier direct een ticket
// van").
const (
	ChannelMail     = config.ChannelMail
	ChannelPhone    = config.ChannelPhone
	ChannelInPerson = config.ChannelInPerson
	// ChannelWeb: the customer wrote it on the ticket's status page
	// (a reply there enters as their mail would).
	ChannelWeb = "web"
)

// AgentChannels are the channels an agent may open a ticket for.
var AgentChannels = []string{ChannelPhone, ChannelInPerson}

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
	// Channel is how the request came in (ChannelMail, ChannelPhone,
	// ChannelInPerson); OpenedBy the agent who opened a ticket that did not
	// come by mail ("" for mail).
	Channel  string `json:"channel"`
	OpenedBy string `json:"opened_by,omitempty"`
	// RequestSum identifies the request an agent's ticket was opened by,
	// so that a replay under its idempotency key can be told from another
	// request under the same key; "" for mail.
	RequestSum string `json:"-"`
	// NeedsAgentSince is when a customer's reply needing an agent's
	// judgement arrived that no agent has acted on since (a reply on a
	// closed feature request: is it one?); nil for none. Any agent's
	// action on the ticket (reply, note, change) clears it.
	NeedsAgentSince *time.Time `json:"needs_agent_since,omitempty"`
	// Key tells this ticket from any other that ever had its number (a
	// ticket re-created after Redis lost it): the Message-IDs of the mail
	// about it carry it. "" for tickets made before keys existed.
	Key string `json:"key,omitempty"`
	// Attachments are those of the mail that made the ticket (metadata
	// only: the bytes stay in the original in IMAP).
	Attachments []Attachment `json:"attachments,omitempty"`
	// AnonymisedAt: retention removed the personal data then; what is left
	// is the anonymous record.
	AnonymisedAt *time.Time `json:"anonymised_at,omitempty"`
}

// Attachment is what the desk keeps of one attachment of a mail: what a
// page lists. Its bytes stay in the original mail in IMAP, where Part
// finds them (mailparse.ExtractPart); Redis never holds them.
type Attachment struct {
	// Name is the file name as the sender gave it (or one made up for a
	// nameless part); Type its declared media type, lower case.
	Name string `json:"name"`
	Type string `json:"type"`
	// Size is the decoded size in bytes; SHA256 of the decoded bytes (hex).
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	// Part is the attachment's place among the mail's MIME leaves,
	// 1-based (mailparse.Attachment.Part).
	Part int `json:"part"`
	// Inline: the sender meant it to show within the text (an image in
	// an HTML mail).
	Inline bool `json:"inline,omitempty"`
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
	Type              string // TypeIncident when empty; a type of the customer's plan
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
	// Channel, OpenedBy and RequestSum as in Ticket; Channel "" is mail.
	Channel, OpenedBy, RequestSum string
	// Key is the ticket's key (Ticket.Key); KeyOf the dedupe key when "".
	Key string
	// Number, when above 0, re-creates the ticket under this number (the
	// one its filed mail carries) instead of the next one.
	Number int64
	// Attachments of the mail, as in Ticket.
	Attachments []Attachment
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
