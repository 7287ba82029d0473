package notify

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
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
)

// kinds lists every Kind; each has a template per language (tested).
var kinds = []Kind{Ack, Rejection, TooLarge}

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
	// (authz.ByPlan, authz.ByRights).
	Type, Priority, RequestedPriority, PriorityReason string
	// For Rejection of a sender at a customer's domain: who can report or
	// have them registered.
	MainContact, MainContactName string
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
	for _, kv := range [][2]string{
		{"type", n.Type}, {"priority", n.Priority}, {"requested_priority", n.RequestedPriority},
		{"priority_reason", n.PriorityReason}, {"main_contact", n.MainContact}, {"main_contact_name", n.MainContactName},
	} {
		if kv[1] != "" {
			f = append(f, kv[0], kv[1])
		}
	}
	if n.ID != "" {
		f = append(f, "id", n.ID)
	}
	if n.Size != 0 || n.Limit != 0 {
		f = append(f, "size", strconv.FormatInt(n.Size, 10), "limit", strconv.FormatInt(n.Limit, 10))
	}
	if n.Ticket != "" {
		f = append(f, "ticket", n.Ticket)
	}
	return f
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
		Subject:   s("subject"),
		InReplyTo: s("in_reply_to"),
		Customer:  s("customer"),

		Type:              s("type"),
		Priority:          s("priority"),
		RequestedPriority: s("requested_priority"),
		PriorityReason:    s("priority_reason"),
		MainContact:       s("main_contact"),
		MainContactName:   s("main_contact_name"),
	}
	if r := s("references"); r != "" {
		n.References = strings.Fields(r)
	}
	n.Size, _ = strconv.ParseInt(s("size"), 10, 64)
	n.Limit, _ = strconv.ParseInt(s("limit"), 10, 64)
	if n.ID == "" || n.To == "" {
		return n, fmt.Errorf("outbox entry without id or recipient: %v", v)
	}
	if !slices.Contains(kinds, n.Kind) {
		return n, fmt.Errorf("outbox entry %s: unknown kind %q", n.ID, n.Kind)
	}
	return n, nil
}
