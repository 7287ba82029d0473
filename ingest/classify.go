package ingest

import (
	"net/textproto"
	"strings"

	"github.com/maildesk/maildesk/mailparse"
	"github.com/maildesk/maildesk/notify"
)

// Own describes the desk so that its own outgoing mail coming back is
// recognised.
type Own struct {
	Address         string // desk address, e.g. servicedesk@desk.example
	MessageIDDomain string // domain used in the Message-IDs the desk generates, e.g. desk.example
	LoopHeader      string // header the desk puts on all its mail, e.g. "X-Maildesk-Loop"; value = DeskID
	DeskID          string
}

// Class is what kind of sender a mail came from, as far as loops go.
type Class int

const (
	// Human mail may be answered automatically.
	Human Class = iota
	// AutoReply: out-of-office and other automatic answers (Auto-Submitted:
	// auto-replied, X-Autoreply, ...). Never answered, never a new ticket.
	AutoReply
	// Bounce: delivery status notifications and mailer-daemon mail.
	Bounce
	// Generated: automatic but not a reply (Auto-Submitted: auto-generated,
	// Precedence: bulk/list/junk, List-Id): may become a ticket, never answered.
	Generated
	// Spam: flagged as spam by an upstream filter.
	Spam
	// Loop: the desk's own mail coming back (a mail loop in the making).
	Loop
	// Feedback: an abuse or feedback report (ARF): a mail was reported
	// as spam or abuse. Never answered, never a ticket.
	Feedback
)

func (c Class) String() string {
	switch c {
	case Human:
		return "human"
	case AutoReply:
		return "auto-reply"
	case Bounce:
		return "bounce"
	case Generated:
		return "generated"
	case Spam:
		return "spam"
	case Loop:
		return "loop"
	case Feedback:
		return "feedback"
	}
	return "unknown"
}

// Machine reports whether mail of this class must never get an automatic answer.
func (c Class) Machine() bool { return c != Human }

// Classify decides which Class a mail belongs to. The reason names the
// header that decided, e.g. "Auto-Submitted: auto-replied". Checks run in
// the order Loop (own mail), reports (delivery status, feedback, read
// receipts), Bounce, Spam, AutoReply, Generated: the first match wins, so a
// bounce of our own mail is still Own and never answered. The signals and
// why each is trusted are in classify_bounce.go and docs/troubleshooting.md.
func Classify(m *mailparse.Message, own Own) (Class, string) {
	if m == nil {
		return Human, ""
	}
	h := headerView(m.Header)
	if why := ownReason(m, h, own); why != "" {
		return Loop, why
	}
	if c, why := reportClass(m, h); why != "" {
		return c, why
	}
	if why := bounceReason(m, h, own); why != "" {
		return Bounce, why
	}
	if why := spamReason(h); why != "" {
		return Spam, why
	}
	if why := autoReplyReason(m, h); why != "" {
		return AutoReply, why
	}
	// RFC 3834 asks auto-responders to send from the null sender, so a
	// null Return-Path on an out-of-office is an AutoReply, not a Bounce.
	if m.NullReturnPath {
		return Bounce, "Return-Path: <>"
	}
	if why := generatedReason(m, h); why != "" {
		return Generated, why
	}
	return Human, ""
}

type headerView map[string][]string

func (h headerView) get(key string) (string, bool) {
	vs, ok := h[textproto.CanonicalMIMEHeaderKey(key)]
	if !ok || len(vs) == 0 {
		return "", ok
	}
	return strings.TrimSpace(vs[0]), true
}

func (h headerView) has(key string) bool {
	_, ok := h[textproto.CanonicalMIMEHeaderKey(key)]
	return ok
}

func ownReason(m *mailparse.Message, h headerView, own Own) string {
	if own.LoopHeader != "" && own.DeskID != "" {
		for _, v := range h[textproto.CanonicalMIMEHeaderKey(own.LoopHeader)] {
			if strings.EqualFold(strings.TrimSpace(v), own.DeskID) {
				return own.LoopHeader + ": " + own.DeskID
			}
		}
	}
	if own.Address != "" && strings.EqualFold(m.From.Address, own.Address) {
		return "From: " + m.From.Address
	}
	if notify.DeskShapedMessageID(m.MessageID, own.MessageIDDomain) {
		return "Message-ID: <" + quoted(m.MessageID) + ">"
	}
	return ""
}

func localPart(addr string) string {
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		return addr[:at]
	}
	return addr
}

func spamReason(h headerView) string {
	if v, _ := h.get("X-Spam-Flag"); strings.EqualFold(v, "yes") {
		return "X-Spam-Flag: " + quoted(v)
	}
	if v, _ := h.get("X-Spam-Status"); len(v) >= 3 && strings.EqualFold(v[:3], "yes") {
		return "X-Spam-Status: " + truncate(v, 40)
	}
	return ""
}

// autoReplySubjects are subject prefixes of out-of-office and other
// automatic answers, lower case.
var autoReplySubjects = []string{
	"out of office", "automatic reply", "auto reply", "auto-reply", "autoreply", "auto:",
	"automatisch antwoord", "afwezigheidsbericht", "abwesenheitsnotiz", "automatische antwort",
	"réponse automatique", "reponse automatique", "risposta automatica", "respuesta automática",
}

// autoReplyWords are looser hints, only trusted together with
// X-Auto-Response-Suppress, which Exchange also puts on other mail.
var autoReplyWords = []string{
	"out of office", "out of the office", "automatic reply", "autoreply", "auto-reply", "auto reply",
	"vacation", "abwesend", "afwezig", "absence", "away from",
}

func autoReplyReason(m *mailparse.Message, h headerView) string {
	if v, ok := h.get("Auto-Submitted"); ok && autoSubmittedKind(v) == "auto-replied" {
		return "Auto-Submitted: " + quoted(v)
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-MS-Exchange-Inbox-Rules-Loop"} {
		if h.has(k) {
			return k + " present"
		}
	}
	if v, _ := h.get("Precedence"); strings.EqualFold(v, "auto_reply") {
		return "Precedence: " + quoted(v)
	}
	subj := strings.ToLower(m.Subject)
	for _, p := range autoReplySubjects {
		if strings.HasPrefix(subj, p) {
			return "Subject: " + truncate(m.Subject, 40)
		}
	}
	if v, ok := h.get("X-Auto-Response-Suppress"); ok {
		lv := strings.ToLower(v)
		if strings.Contains(lv, "all") || strings.Contains(lv, "oof") || strings.Contains(lv, "autoreply") {
			for _, w := range autoReplyWords {
				if strings.Contains(subj, w) {
					return "X-Auto-Response-Suppress: " + quoted(v) + " with subject " + truncate(m.Subject, 40)
				}
			}
		}
	}
	return ""
}

// autoSubmittedKind returns the keyword of an Auto-Submitted value without
// its parameters and comments.
func autoSubmittedKind(v string) string {
	v, _ = mailparse.ParseParamHeader(v)
	return strings.ToLower(strings.TrimSpace(v))
}

func generatedReason(m *mailparse.Message, h headerView) string {
	if v, ok := h.get("Auto-Submitted"); ok {
		if k := autoSubmittedKind(v); k != "no" && k != "" {
			return "Auto-Submitted: " + quoted(v)
		}
	}
	if v, _ := h.get("Precedence"); v != "" {
		switch strings.ToLower(v) {
		case "bulk", "list", "junk":
			return "Precedence: " + quoted(v)
		}
	}
	for _, k := range []string{"List-Id", "List-Unsubscribe", "X-Autogenerated"} {
		if h.has(k) {
			return k + " present"
		}
	}
	lp := localPartPunct.Replace(strings.ToLower(localPart(m.From.Address)))
	if strings.HasPrefix(lp, "noreply") || strings.HasPrefix(lp, "donotreply") {
		return "From: " + quoted(m.From.Address)
	}
	return ""
}

// localPartPunct drops the punctuation that spells "no-reply" (and
// "mailer-daemon", "post_master", an escaped "Postmaster\\@host") many ways.
var localPartPunct = strings.NewReplacer("-", "", "_", "", ".", "", "\\", "", " ", "", "\"", "")

// quoted is a header value as a reason quotes it: the reason goes into the
// audit record and the log, and the value is the sender's to make as long
// as they like.
func quoted(v string) string { return truncate(v, 80) }

// truncate cuts s to at most n bytes on a character boundary, marking a
// cut with "...": reasons and report texts quote what senders wrote.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cutBytes(s, n) + "..."
}
