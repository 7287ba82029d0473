package ingest

// Which mail is a report or a bounce. The rules weigh what the bounce
// parsers and helpdesks in use decide by (sisimai reads the report formats
// and the first words of the Subject, flufl.bounce tries the RFC 3464
// report first and the ad hoc formats after it, Zammad trusts the report
// and the MAILER-DAEMON sender), in three tiers:
//
//   - a report (multipart/report, a delivery-status, feedback-report or
//     disposition-notification part) decides alone: no person writes one;
//   - a sender only mail systems use (MAILER-DAEMON, postmaster, "Mail
//     Delivery System", Exchange's MicrosoftExchange<hex>), in From or
//     Return-Path, or X-Failed-Recipients, or Auto-Submitted:
//     auto-generated (failure), decides alone;
//   - a bounce Subject ("Undeliverable:", "Returned mail:", their Dutch,
//     German and French forms) decides only together with a machine-like
//     sender, or at the start of a subject of a mail that answers no
//     person's mail; a phrase inside a subject ("could not be delivered")
//     needs the machine-like sender. A customer writing "Package could not
//     be delivered" stays a customer.

import (
	"strings"

	"github.com/maildesk/maildesk/mailparse"
	"github.com/maildesk/maildesk/notify"
)

// reportClass classifies a mail that is a report (RFC 6522): delivery
// status (Bounce), feedback (Feedback), a read receipt (AutoReply, an
// automatic answer like an out-of-office). A multipart/report without a
// report-type is read by its parts, and is a Bounce when they say nothing
// else: mail systems write it, people do not.
func reportClass(m *mailparse.Message, h headerView) (Class, string) {
	byParts, part := Human, ""
	for _, a := range m.Attachments {
		if c := reportPartClass(a.ContentType); c != Human {
			byParts, part = c, a.ContentType
			break
		}
	}
	if m.ContentType == "multipart/report" {
		ct, _ := h.get("Content-Type")
		_, params := mailparse.ParseParamHeader(ct)
		rt := strings.ToLower(strings.TrimSpace(params["report-type"]))
		why := "Content-Type: multipart/report; report-type=" + quoted(rt)
		switch rt {
		case "delivery-status", "global-delivery-status":
			return Bounce, why
		case "feedback-report":
			return Feedback, why
		case "disposition-notification", "global-disposition-notification":
			return AutoReply, why
		}
		if byParts != Human {
			return byParts, "Content-Type: multipart/report with a " + part + " part"
		}
		if rt == "" {
			return Bounce, "Content-Type: multipart/report without report-type"
		}
		// A report of a kind not known here (TLS, DMARC): a machine's,
		// which may still be meant for the desk.
		return Generated, why
	}
	if byParts != Human {
		return byParts, "Content-Type: " + part + " part"
	}
	return Human, ""
}

func reportPartClass(mediaType string) Class {
	switch mediaType {
	case "message/delivery-status", "message/global-delivery-status":
		return Bounce
	case "message/feedback-report":
		return Feedback
	case "message/disposition-notification", "message/global-disposition-notification":
		return AutoReply
	}
	return Human
}

// bounceReason finds the bounces that are no report, or whose report came
// forwarded; "" when the mail is none.
func bounceReason(m *mailparse.Message, h headerView, own Own) string {
	from := fromSender(m, h)
	if daemonLocal(from) {
		return "From: " + quoted(from)
	}
	if daemonLocal(m.ReturnPath) {
		return "Return-Path: <" + quoted(m.ReturnPath) + ">"
	}
	if daemonName(m.From.Name) {
		return "From: " + quoted(m.From.Name)
	}
	if h.has("X-Failed-Recipients") {
		return "X-Failed-Recipients present"
	}
	if v, ok := h.get("Auto-Submitted"); ok && autoSubmittedKind(v) == "auto-generated" {
		// sendmail's DSNs: "auto-generated (failure)", "(warning-timeout)".
		if c := strings.ToLower(mailparse.FirstComment(v)); strings.Contains(c, "failure") || strings.Contains(c, "warning") {
			return "Auto-Submitted: " + quoted(v)
		}
	}
	machine := machineSender(m, from)
	if m.Report != nil && m.Report.Forwarded && (machine || !humanThread(m, own)) {
		return "delivery status report in a message/rfc822 part"
	}
	// The subject is read at most this far: a bounce says what it is at
	// the start, and a megabyte of subject must not be searched per phrase.
	subj := strings.ToLower(strings.TrimSpace(truncate(m.Subject, 200)))
	switch {
	case subj == "":
	case machine && bounceSubject(subj, true):
		return "Subject: " + truncate(m.Subject, 40) + ", from a mail system"
	case !humanThread(m, own) && bounceSubject(subj, false):
		return "Subject: " + truncate(m.Subject, 40)
	}
	return ""
}

// fromSender is the From address, or the first word of a From without
// one ("MAILER-DAEMON (Mail Delivery System)").
func fromSender(m *mailparse.Message, h headerView) string {
	if m.From.Address != "" {
		return m.From.Address
	}
	v, _ := h.get("From")
	if f := strings.Fields(mailparse.StripComments(v)); len(f) > 0 {
		return strings.Trim(f[0], "<>\"")
	}
	return ""
}

// normLocal is the local part of addr lower case, without the punctuation
// that spells one name many ways.
func normLocal(addr string) string {
	return localPartPunct.Replace(strings.ToLower(localPart(addr)))
}

// daemonLocal reports an address only mail systems send from: the
// MAILER-DAEMON and postmaster of every MTA, however spelt
// ("mail.delivery.system", "post_master", "Postmaster\@host"), and the
// sender of Exchange's and Microsoft 365's non-delivery reports
// (MicrosoftExchange followed by 32 hex digits).
func daemonLocal(addr string) bool {
	if addr == "" {
		return false
	}
	lp := normLocal(addr)
	switch lp {
	case "mailerdaemon", "postmaster", "maildeliverysystem", "maildeliverysubsystem":
		return true
	}
	if rest, ok := strings.CutPrefix(lp, "microsoftexchange"); ok && len(rest) == 32 && strings.Trim(rest, "0123456789abcdef") == "" {
		return true
	}
	return false
}

// daemonName reports a display name only mail systems use.
func daemonName(name string) bool {
	switch localPartPunct.Replace(strings.ToLower(name)) {
	case "maildeliverysystem", "maildeliverysubsystem", "mailerdaemon":
		return true
	}
	return false
}

// machineLocals are local parts (normalised by normLocal) of senders that
// are programs: mail systems, virus scanners and gateways, bounce
// handlers. Alone they decide nothing (a shared mailbox may be called
// "gateway"); with a bounce Subject they make a bounce.
var machineLocals = map[string]bool{
	"mailsystem": true, "mailadmin": true, "mailadministrator": true, "mailgateway": true, "smtpgateway": true,
	"gateway": true, "mta": true, "smtp": true, "mailer": true, "daemon": true, "mdaemon": true,
	"mailscanner": true, "amavis": true, "amavisd": true, "antivirus": true, "virusalert": true, "virusalerts": true,
	"viruswall": true, "avscanner": true, "mailsweeper": true, "interscan": true, "scanmail": true, "mailmarshal": true,
	"mailguard": true,
}

// machineNames are display names (normalised like local parts) of such
// senders.
var machineNames = map[string]bool{
	"mailadministrator": true, "mailsystem": true, "systemadministrator": true, "postmaster": true,
	"microsoftoutlook": true, "maildeliveryservice": true, "mailgateway": true, "antivirus": true,
	"mailscanner": true, "thepostoffice": true, "mailtransportsystem": true,
}

// machineSender reports a sender that looks like a mail system rather
// than a person: a null Return-Path (RFC 5321's sender of bounces), a mail
// system's, scanner's or gateway's local part or name. No-reply senders
// and Auto-Submitted are not enough: a monitoring alert from one may be
// about mail delivery and still be meant as a ticket.
func machineSender(m *mailparse.Message, from string) bool {
	return m.NullReturnPath || machineLocals[normLocal(from)] ||
		machineNames[localPartPunct.Replace(strings.ToLower(m.From.Name))]
}

// humanThread reports a mail that takes part in a conversation between
// people: it answers or forwards (Re:, AW:, Fwd: ...), or names in
// In-Reply-To or References a mail that is not one of the desk's own.
// Bounces name the desk's mail they return, if any.
func humanThread(m *mailparse.Message, own Own) bool {
	if replyPrefixRE.MatchString(m.Subject) {
		return true
	}
	for _, ids := range [][]string{m.InReplyTo, m.References} {
		for _, id := range ids {
			if !notify.DeskShapedMessageID(id, own.MessageIDDomain) {
				return true
			}
		}
	}
	return false
}

// bounceSubjectStarts begin the Subject of the non-delivery reports of
// the common mail systems (Postfix, sendmail, Exim, qmail, Exchange and
// Microsoft 365, Gmail, Domino, MailMarshal, and the Dutch, German and
// French forms Exchange and others write), lower case. They are the
// systems' exact wording, with its colon or parenthesis: a customer of an
// IT desk may well write "Mail delivery failed to our supplier".
var bounceSubjectStarts = []string{
	// English
	"undeliverable:", "undeliverable mail", "undeliverable message", "undelivered mail returned to sender",
	"undelivered message", "returned mail:", "returned mail -", "delivery status notification (",
	"mail delivery failed: returning message", "failure notice", "delivery failure:",
	"delivery notification: delivery has failed", "mail delivery warning", "warning: could not send message",
	"warning: message delayed", "mail system error - returned mail", "non-delivery report", "nondeliverable mail",
	"delayed mail (still being retried)", "message delivery failure:",
	// Dutch
	"onbestelbaar:", "niet bezorgd:", "bezorging mislukt:",
	// German
	"unzustellbar:", "nicht zustellbar:", "benachrichtigung zum übermittlungsstatus (",
	"benachrichtung zum übermittlungsstatus (", "übermittlungsstatusbenachrichtigung",
	// French
	"non remis:", "non remis :", "non distribuable:", "non distribuable :", "échec de la remise",
	"notification d'état de remise", "rapport de non-remise",
}

// bounceSubjects are whole subjects of non-delivery reports.
var bounceSubjects = map[string]bool{
	"undeliverable": true, "undelivered mail": true, "returned mail": true, "mail delivery failed": true,
	"mail delivery failure": true, "delivery failure": true, "delivery failed": true, "message not delivered": true,
	"onbestelbaar": true, "unzustellbar": true, "non remis": true, "non distribuable": true,
}

// bounceSubjectPhrases say "not delivered" anywhere in a Subject; only
// trusted from a machine-like sender. Virus scanners and gateways that
// stop a mail say so in these words too.
var bounceSubjectPhrases = []string{
	"undeliverable", "undelivered", "returned mail", "delivery status notification", "mail delivery failed",
	"mail delivery failure", "delivery failure", "delivery failed", "delivery has failed", "failure notice",
	"could not be delivered", "couldn't be delivered", "was not delivered", "not delivered", "delivery warning",
	"delivery delayed", "message delayed", "could not send message", "non-delivery", "nondeliverable",
	"mail system error",
	"onbestelbaar", "niet bezorgd", "niet afgeleverd", "bezorging mislukt", "kon niet worden bezorgd",
	"kan niet worden bezorgd",
	"unzustellbar", "nicht zustellbar", "nicht zugestellt", "zustellung fehlgeschlagen", "übermittlungsstatus",
	"konnte nicht zugestellt werden",
	"non remis", "non distribuable", "échec de la remise", "echec de la remise", "n'a pas pu être remis",
	"n'a pas pu être distribué",
	"virus", "quarantine", "quarantaine", "banned", "blocked", "geblokkeerd", "blockiert", "bloqué",
}

// bounceSubject reports whether subj (lower case, trimmed) is a bounce's:
// anywhere when the sender is a mail system, else only in the systems'
// exact wording at its start.
func bounceSubject(subj string, machine bool) bool {
	if bounceSubjects[subj] {
		return true
	}
	for _, p := range bounceSubjectStarts {
		if strings.HasPrefix(subj, p) {
			return true
		}
	}
	if machine {
		for _, p := range bounceSubjectPhrases {
			if strings.Contains(subj, p) {
				return true
			}
		}
	}
	return false
}
