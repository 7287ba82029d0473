package notify

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind names a type of outgoing mail; each has a template per language.
type Kind string

const (
	// Ack acknowledges a new ticket to the contact who opened it.
	Ack Kind = "ack"
	// Rejection tells an unauthorised sender that no ticket was made.
	Rejection Kind = "rejection"
	// TooLarge tells a contact that their mail exceeded the size limit.
	TooLarge Kind = "too_large"
	// SLAWarning tells the desk's agents and managers that a ticket has
	// used most of its first-response time without a first response.
	SLAWarning Kind = "sla_warning"
	// SLABreach tells desk managers and the customer's account managers
	// that a ticket's first-response deadline passed without a response.
	SLABreach Kind = "sla_breach"
	// SLAAlerts is one mail with the warnings and breach alerts of several
	// tickets (Items) for one recipient: what one escalation sweep found for
	// them, so that an outage with many breaches makes one mail per person,
	// not one per ticket. Late: any of them is sent late.
	SLAAlerts Kind = "sla_alerts"
	// Digest is the managers' morning overview of tickets at risk and
	// breached, grouped per customer.
	Digest Kind = "digest"
	// AgentReply is an agent's answer on a ticket, relayed by the desk to
	// the ticket's contact and participants (one notification each). It is
	// a person's mail, not automatic mail: no Auto-Submitted, Precedence or
	// X-Auto-Response-Suppress, and no rate limits (Kind.Automatic).
	AgentReply Kind = "reply"
	// Progress tells the ticket's contact and participants what changed on
	// their ticket (status, priority, assignee; Notification.Changes).
	Progress Kind = "progress"
	// AlarmDown tells the operators (alerts.to) that the desk has not been
	// able to connect or sign in to its mailbox or relay (Server) since
	// AsOf, and why (Reason).
	AlarmDown Kind = "alarm_down"
	// AlarmUp tells them that Server works again since AsOf.
	AlarmUp Kind = "alarm_up"
	// CredentialExpiry warns them that the OAuth2 credential the desk signs
	// in with (Reason: CredentialCertificate or CredentialSecret) expires
	// at Deadline.
	CredentialExpiry Kind = "credential_expiry"
	// Inactive tells a contact that no ticket was made because their
	// organisation's support is not active: Term says why (config.Term*),
	// with the suspension's Reason or the term's first or last day in
	// AsOf; Customer names the organisation.
	Inactive Kind = "inactive"
	// FeatureReply tells the desk's agents (desk.agents) that a customer
	// replied on a closed feature request: the customer may be saying it
	// is none, which the desk decides (Kwikqy 2.5). Text is the reply's
	// own text (its quoted part left out), RepliedBy who wrote it,
	// ReportedBy the ticket's contact, Received when it arrived. It goes
	// to the desk's own people only (Kind.ToDesk).
	FeatureReply Kind = "feature_reply"
	// SignIn brings a contact who asked for it on the status pages a
	// one-time link to "My tickets" (StatusURL, minted at the send like a
	// status link). It answers a request from the web, not a mail; Customer
	// names the contact's organisation.
	SignIn Kind = "signin"
	// TimeBudget tells the ticket's assignee and the desk's agents that
	// the billable time recorded on a ticket reached a share of its budget
	// (Reason "warning") or all of it ("reached"): Target is the budget
	// ("2h"), Used the time recorded ("1h30m"), Agent who recorded the
	// time that got it there (Oxineo: "Voor elk aangemaakt ticket kan 2
	// uur zonder toestemming worden besteed"). To the desk only.
	TimeBudget Kind = "time_budget"
)

// The Reasons of a TimeBudget.
const (
	BudgetWarning = "warning"
	BudgetReached = "reached"
)

// The credentials a CredentialExpiry is about.
const (
	CredentialCertificate = "certificate"
	CredentialSecret      = "client secret"
)

// kinds lists every Kind; each has a template per language (tested).
var kinds = []Kind{Ack, Rejection, TooLarge, SLAWarning, SLABreach, SLAAlerts, Digest, AgentReply, Progress, AlarmDown, AlarmUp, CredentialExpiry, Inactive, FeatureReply, TimeBudget, SignIn}

// Notification is one outgoing mail as it waits in the outbox: everything
// needed to render and send it, so that delivery needs no other lookup.
type Notification struct {
	// ID is stable for the life of the notification ("SD-1/ack"); the
	// outgoing Message-ID derives from it so that a resend is recognisable.
	ID       string
	Kind     Kind
	To       string // address
	ToName   string
	Language string // nl | en
	Ticket   string // "SD-1"; empty for a rejection
	// TicketKey is the ticket's key (ticket.Ticket.Key): the Message-ID of
	// mail about the ticket carries it, so that a ticket re-created under
	// the same number after Redis lost the first never shares one with it.
	// "" for tickets made before keys existed (their ids stay as they were).
	TicketKey string
	// Subject is the subject of the mail being answered.
	Subject string
	// InReplyTo is the Message-ID (without brackets) of the mail answered;
	// References are the ids it referenced, to which InReplyTo is appended.
	InReplyTo  string
	References []string
	// Customer is the customer's display name, for templates; may be empty.
	Customer string
	// Size and Limit in bytes, for TooLarge.
	Size, Limit int64
	// For Ack: the ticket's type and priority, and when the desk set
	// another priority than the mail asked for, the asked one and why
	// (authz.ByPlan, authz.ByRights, authz.ByType).
	Type, Priority, RequestedPriority, PriorityReason string
	// TypeLabel is the plan's name for Type in Language (config.Plan
	// TypeName), for plans that declare support types; mails name the
	// type only when it is set.
	TypeLabel string
	// PriorityLabel and RequestedPriorityLabel are the plan's words for
	// Priority and RequestedPriority in Language (config.Plan
	// PriorityLabels: "Direct"); mails say them instead of the codes.
	// Empty: the code. Also for SLAWarning and SLABreach.
	PriorityLabel, RequestedPriorityLabel string
	// For Rejection of a sender at a customer's domain: who can report or
	// have them registered.
	MainContact, MainContactName string
	// Received is when the mail answered arrived; zero when unknown.
	Received time.Time
	// Channel, for Ack: how the request came in when not by mail
	// ("phone", "in_person", ticket.AgentChannels): an agent took it and
	// opened the ticket, and Received is when. "" for mail.
	Channel string

	// For Ack: the ticket's first-response deadline and its target, when
	// the plan states it (config.Plan AckStatesDeadline); zero: none.
	// For SLAWarning and SLABreach: the ticket's first-response deadline
	// (the real one, also when the alert is sent late); the target it was
	// computed from, as configured ("4h", "3 workdays"); whether the alert
	// is sent later than planned because maildesk was not running; and who
	// reported the ticket ("Name <addr>" or the address).
	Deadline   time.Time
	Target     string
	Late       bool
	ReportedBy string
	// For FeatureReply: who wrote the customer's reply ("Name <addr>" or
	// the address).
	RepliedBy string

	// For Digest: the moment the overview describes (its day is in the
	// subject) and the tickets at risk or breached. The caller does not
	// queue an empty digest. For SLAAlerts: the tickets alerted about
	// (Breached: a breach alert; else a warning).
	AsOf  time.Time
	Items []DigestItem

	// For AgentReply: the agent's display name and the reply as written
	// (plain text, line breaks kept; callers cap its size).
	Agent string
	Text  string
	// For Progress: what changed on the ticket, in the order to tell it.
	Changes []Change

	// For AlarmDown and AlarmUp: what cannot be reached ("IMAP
	// imap.example.com:993 as desk@example.com") and why; Reason is also
	// the credential of a CredentialExpiry.
	Server string
	Reason string
	// Part is "imap" or "smtp": which of the two Server is.
	Part string
	// Term is why an Inactive customer's support is off (config.Term*).
	Term string
	// Used is the time recorded on the ticket, for TimeBudget ("1h30m").
	Used string

	// StatusURL is the recipient's link to the ticket's status page, for
	// the kinds that carry one (Kind.StatusLink), or a SignIn's link. It is a capability: the
	// sender mints it at delivery (Delivery.StatusLink) and it is never
	// written to the outbox, so Redis holds only its hash.
	StatusURL string
}

// Fields a Change can be about.
const (
	ChangeStatus   = "status"   // Old, New: ticket statuses ("in_progress")
	ChangePriority = "priority" // Old, New: "P3", "P1"
	ChangeAssignee = "assignee" // Old, New: display names; New "" = no longer assigned
	ChangeType     = "type"     // Old, New: ticket types ("beheerd")
)

// Change is one change on a ticket told in a Progress mail. Reason is why,
// as the agent wrote it (may be empty). It has the fields and encoding of
// ticket.FieldChange, so that one converts to the other.
type Change struct {
	Field  string `json:"field"` // ChangeStatus, ChangePriority, ChangeType or ChangeAssignee
	Old    string `json:"old,omitempty"`
	New    string `json:"new,omitempty"`
	Reason string `json:"reason,omitempty"`
	// OldLabel and NewLabel are the plan's words for the priorities of a
	// ChangePriority, or its names of the types of a ChangeType, in the
	// mail's language; empty: the codes.
	OldLabel string `json:"old_label,omitempty"`
	NewLabel string `json:"new_label,omitempty"`
	// Why is a reason the desk gave itself, which the templates put in
	// words: authz.ByType ("type") on a ChangePriority when the new type
	// has no such priority.
	Why string `json:"why,omitempty"`
}

// DigestItem is one ticket in a Digest or SLAAlerts: at risk (warned,
// deadline not yet passed) or breached.
type DigestItem struct {
	Ticket   string `json:"ticket"`
	Customer string `json:"customer,omitempty"`
	Subject  string `json:"subject,omitempty"`
	Priority string `json:"priority,omitempty"`
	// PriorityLabel is the plan's word for Priority; empty: the code.
	PriorityLabel string    `json:"priority_label,omitempty"`
	Deadline      time.Time `json:"deadline,omitzero"`
	Breached      bool      `json:"breached,omitempty"`
	// For SLAAlerts: the first-response target as configured ("4h") and
	// who reported the ticket, as in a single alert.
	Target     string `json:"target,omitempty"`
	ReportedBy string `json:"reported_by,omitempty"`
	// URL is the ticket's page for agents (Desk.TicketURL), set when the
	// digest is rendered; never stored.
	URL string `json:"-"`
}

// Fields encodes n as stream field/value pairs. ID is left out when empty:
// the ticket script assigns it together with the ticket number.
func (n Notification) Fields() []string {
	f := []string{
		"kind", string(n.Kind),
		"to", n.To,
		"to_name", n.ToName,
		"language", n.Language,
		"subject", n.Subject,
		"in_reply_to", n.InReplyTo,
		"references", strings.Join(n.References, " "),
		"customer", n.Customer,
	}
	// Fields that are empty (zero) are left out; decoding gives them back
	// as empty.
	optional := func(kvs [][2]string) {
		for _, kv := range kvs {
			if kv[1] != "" {
				f = append(f, kv[0], kv[1])
			}
		}
	}
	optional([][2]string{
		{"type", n.Type}, {"priority", n.Priority}, {"requested_priority", n.RequestedPriority},
		{"priority_reason", n.PriorityReason}, {"main_contact", n.MainContact}, {"main_contact_name", n.MainContactName},
		{"priority_label", n.PriorityLabel}, {"requested_priority_label", n.RequestedPriorityLabel},
		{"channel", n.Channel},
		{"type_label", n.TypeLabel},
		{"id", n.ID},
	})
	if n.Size != 0 || n.Limit != 0 {
		f = append(f, "size", strconv.FormatInt(n.Size, 10), "limit", strconv.FormatInt(n.Limit, 10))
	}
	optional([][2]string{
		{"ticket", n.Ticket}, {"ticket_key", n.TicketKey},
		{"received", rfc3339(n.Received)}, {"deadline", rfc3339(n.Deadline)}, {"target", n.Target},
	})
	if n.Late {
		f = append(f, "late", "1")
	}
	optional([][2]string{{"reported_by", n.ReportedBy}, {"replied_by", n.RepliedBy}, {"as_of", rfc3339(n.AsOf)}})
	if len(n.Items) > 0 {
		f = append(f, "items", encodeItems(n.Items))
	}
	optional([][2]string{
		{"agent", n.Agent}, {"text", n.Text}, {"server", n.Server}, {"term", n.Term},
		{"reason", n.Reason}, {"part", n.Part}, {"used", n.Used},
	})
	if len(n.Changes) > 0 {
		b, err := json.Marshal(n.Changes)
		if err != nil {
			panic("notify: encoding changes: " + err.Error()) // cannot happen: strings only
		}
		f = append(f, "changes", string(b))
	}
	return f
}

// rfc3339 is t as a field holds it; "" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// encodeItems writes items as a JSON array, deadlines in RFC 3339 UTC to
// the second. A deadline JSON cannot write (a year outside 0-9999, never a
// real one) is left out rather than failing the whole entry.
func encodeItems(items []DigestItem) string {
	out := make([]DigestItem, len(items))
	for i, it := range items {
		if !it.Deadline.IsZero() {
			it.Deadline = it.Deadline.UTC().Truncate(time.Second)
			if y := it.Deadline.Year(); y < 0 || y > 9999 {
				it.Deadline = time.Time{}
			}
		}
		out[i] = it
	}
	b, err := json.Marshal(out)
	if err != nil {
		panic("notify: encoding digest items: " + err.Error()) // cannot happen: strings, a bool and valid times
	}
	return string(b)
}

// FromFields decodes a stream entry written from Fields.
func FromFields(v map[string]any) (Notification, error) {
	s := func(k string) string { x, _ := v[k].(string); return x }
	n := Notification{
		ID:        s("id"),
		Kind:      Kind(s("kind")),
		To:        s("to"),
		ToName:    s("to_name"),
		Language:  s("language"),
		Ticket:    s("ticket"),
		TicketKey: s("ticket_key"),
		Subject:   s("subject"),
		InReplyTo: s("in_reply_to"),
		Customer:  s("customer"),

		Type:                   s("type"),
		Priority:               s("priority"),
		RequestedPriority:      s("requested_priority"),
		PriorityReason:         s("priority_reason"),
		PriorityLabel:          s("priority_label"),
		RequestedPriorityLabel: s("requested_priority_label"),
		TypeLabel:              s("type_label"),
		MainContact:            s("main_contact"),
		MainContactName:        s("main_contact_name"),
		Channel:                s("channel"),
	}
	if r := s("references"); r != "" {
		n.References = strings.Fields(r)
	}
	n.Size, _ = strconv.ParseInt(s("size"), 10, 64)
	n.Limit, _ = strconv.ParseInt(s("limit"), 10, 64)
	// A bad date only loses the "Received:" line, not the mail.
	n.Received, _ = time.Parse(time.RFC3339, s("received"))
	// Likewise a bad deadline only loses the date in the alert.
	n.Deadline, _ = time.Parse(time.RFC3339, s("deadline"))
	n.AsOf, _ = time.Parse(time.RFC3339, s("as_of"))
	n.Target = s("target")
	n.Late = s("late") == "1"
	n.ReportedBy = s("reported_by")
	n.RepliedBy = s("replied_by")
	n.Agent = s("agent")
	n.Text = s("text")
	n.Server = s("server")
	n.Reason = s("reason")
	n.Term = s("term")
	n.Part = s("part")
	n.Used = s("used")
	if n.ID == "" || n.To == "" {
		return n, fmt.Errorf("outbox entry without id or recipient: %v", v)
	}
	if !slices.Contains(kinds, n.Kind) {
		return n, fmt.Errorf("outbox entry %s: unknown kind %q", n.ID, n.Kind)
	}
	if items := s("items"); items != "" {
		// Unlike a bad date, unreadable items cannot be sent around: an
		// empty digest would say that nothing is at risk.
		if err := json.Unmarshal([]byte(items), &n.Items); err != nil {
			return n, fmt.Errorf("outbox entry %s: items are not a JSON array of digest items: %v", n.ID, err)
		}
	}
	if changes := s("changes"); changes != "" {
		// Likewise: an update that lost its changes would say nothing.
		if err := json.Unmarshal([]byte(changes), &n.Changes); err != nil {
			return n, fmt.Errorf("outbox entry %s: changes are not a JSON array of changes: %v", n.ID, err)
		}
	}
	return n, nil
}
