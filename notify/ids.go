package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/maildesk/maildesk/address"
	"github.com/maildesk/maildesk/ticket"
)

// Notification ids. An id is what makes queueing idempotent: the outbox
// sends an id once (Outbox.Enqueue), so a job that runs twice (two
// replicas, a retried tick) queues the same id and one mail goes out. Each
// form is made here and nowhere else; the parts that make it unique say
// how often the mail may go: once per ticket, per recipient, per day, per
// event. Recipients are lower-cased except where the id has always kept
// them as given (TimeBudgetID): changing that would send a mail again.

// recipientOf is the canonical address an id ends in, its recipient's
// (SLAAlertID, TicketEventID, TimeBudgetID and the others that name one);
// "" for an id that names none (AckID, RejectionID).
func recipientOf(id string) string {
	i := strings.LastIndexByte(id, '/')
	if i < 0 {
		return ""
	}
	a, err := address.Normalise(address.Bare(id[i+1:]))
	if err != nil {
		return ""
	}
	return a
}

// AckID is the id of the acknowledgement of ticket number: "SD-4/ack".
// The commit script that creates the ticket queues it (ticket.AckID).
func AckID(number string) string { return ticket.AckID(number) }

// RejectionID is the id of the notice to the sender of a mail refused
// under dedupe key dedupe (ticket.RejectionID): "rejection/<key>".
func RejectionID(dedupe string) string { return ticket.RejectionID(dedupe) }

// SLAAlertID is the id of the SLA warning or breach alert (kind) about
// ticket number to one recipient: "SD-4/sla_breach/agent@desk.example".
// Once per ticket, kind and recipient.
func SLAAlertID(number string, kind Kind, to string) string {
	return number + "/" + string(kind) + "/" + strings.ToLower(to)
}

// SLAAlertsID is the id of the alert listing several tickets' warnings
// and breaches (SLAAlerts) of one batch to one recipient.
func SLAAlertsID(batch, to string) string {
	return "sla_alerts/" + batch + "/" + strings.ToLower(to)
}

// DigestID is the id of the daily SLA digest of day ("2026-11-23") to one
// manager.
func DigestID(day, to string) string {
	return "digest/" + day + "/" + strings.ToLower(to)
}

// TimeBudgetID is the id of the time budget mail (reason BudgetWarning or
// BudgetReached) about ticket number to one recipient, who is kept as
// given. Once per ticket, reason and recipient.
func TimeBudgetID(number, reason, to string) string {
	return number + "/" + string(TimeBudget) + "/" + reason + "/" + to
}

// FeatureReplyID is the id of the mail telling an agent of a customer's
// reply (ref: the reply's dedupe reference) on closed feature request
// number.
func FeatureReplyID(number, ref, to string) string {
	return number + "/" + string(FeatureReply) + "/" + ref + "/" + strings.ToLower(to)
}

// TicketEventID is the id of a mail of kind about something an agent did
// on ticket number at at (a reply, a change): each event its own mail.
func TicketEventID(number string, kind Kind, at time.Time, to string) string {
	return fmt.Sprintf("%s/%s/%d/%s", number, kind, at.UnixNano(), strings.ToLower(to))
}

// AlarmID is the id of the alarm (kind AlarmDown or AlarmUp) about part
// of the service for event (an outage's id) to one recipient.
func AlarmID(part, event, to string) string {
	return "alarm/" + part + "/" + event + "/" + strings.ToLower(to)
}

// CredentialExpiryID is the id of the warning, on day, that the sign-in
// credential expires in days days: once per threshold and recipient.
func CredentialExpiryID(day string, days int, to string) string {
	return fmt.Sprintf("alarm/expiry/%s/%dd/%s", day, days, strings.ToLower(to))
}

// SignInID is the id of a sign-in mail asked for at at by addr: every
// request its own mail.
func SignInID(at time.Time, addr string) string {
	return fmt.Sprintf("signin/%d/%s", at.UnixNano(), strings.ToLower(addr))
}
