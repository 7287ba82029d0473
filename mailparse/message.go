package mailparse

import (
	"net/mail"
	"net/textproto"
	"time"
)

// Message is what is known of one incoming mail after parsing. It holds
// text and metadata only: the raw mail stays in the IMAP mailbox.
type Message struct {
	// MessageID is the Message-ID without angle brackets; "" when absent.
	MessageID  string
	InReplyTo  []string // ids without angle brackets
	References []string // ids without angle brackets, oldest first
	Subject    string   // decoded (RFC 2047), whitespace-folded
	// Addresses are canonical: comments, folding white space, a source
	// route and "mailto:" removed, a quoted local part unquoted (as net/mail
	// does), the domain lower case in its IDNA ASCII form (config's
	// normalisation), the local part's case as sent. Names are decoded,
	// without control or format characters, at most 200 characters. Limits
	// and lookups may key on Address, comparing local parts
	// case-insensitively where that is meant.
	From    mail.Address
	ReplyTo []mail.Address
	To      []mail.Address
	Cc      []mail.Address
	Date    time.Time // zero when absent or unparseable
	// ReturnPath is the Return-Path address, canonical; NullReturnPath
	// is true for "Return-Path: <>" (a bounce's null sender).
	ReturnPath     string
	NullReturnPath bool
	// Header holds every header field, keys in canonical MIME form, values
	// decoded where they are RFC 2047 words. ingest.Classify reads it.
	Header map[string][]string
	// Text is the body as plain text: text/plain preferred inside
	// multipart/alternative, HTML converted to text otherwise.
	Text        string
	Attachments []Attachment
	ContentType string // media type of the top-level entity, lower case
	// Size is the number of raw bytes read; ContentHash their SHA-256 (hex).
	Size        int64
	ContentHash string
	// Report is the delivery status report of a bounce (multipart/report;
	// report-type=delivery-status, or such a report forwarded inside a
	// message/rfc822 part), nil for other mail.
	Report *DeliveryReport
	// Feedback is the abuse or feedback report of an ARF mail (RFC 5965,
	// multipart/report; report-type=feedback-report), nil for other mail.
	Feedback *FeedbackReport
	// Warnings lists what was repaired or guessed while parsing (lenient
	// address fallback, unknown charset, ...): worth a log line, not a reject.
	Warnings []string
}

// DeliveryReport is what a bounce says (RFC 3464): which recipients of
// which original mail failed.
type DeliveryReport struct {
	// OriginalMessageID is the Message-ID of the mail that bounced, from
	// the returned message or its headers; "" when the report has none.
	OriginalMessageID string
	Recipients        []ReportRecipient
	// Forwarded: the report was not the mail itself but came inside a
	// message/rfc822 part of it (a gateway or a person passing it on).
	Forwarded bool
}

// ReportRecipient is one per-recipient block of a delivery status report.
type ReportRecipient struct {
	Address string // Final-Recipient (or Original-Recipient), without "rfc822;"
	// Original is the Original-Recipient: the address the sender gave,
	// before the receiving side's aliases and forwards; "" when absent.
	Original   string
	Action     string // failed, delayed, delivered, relayed, expanded
	Status     string // e.g. 5.1.1
	Diagnostic string // Diagnostic-Code, e.g. "smtp; 550 5.1.1 no such user"
}

// Failed reports whether the recipient permanently failed. Reporting MTAs
// write "Action: failure" and bare SMTP codes ("Status: 553 ...") too; an
// Action RFC 3464 names for anything else wins over the Status.
func (r ReportRecipient) Failed() bool {
	switch r.Action {
	case "failed", "failure", "fail":
		return true
	case "delayed", "delivered", "relayed", "expanded":
		return false
	}
	return permanentStatus(r.Status)
}

// permanentStatus: an enhanced status code 5.x.x (RFC 3463) or an SMTP
// reply code 5xx.
func permanentStatus(s string) bool {
	if len(s) < 3 || s[0] != '5' {
		return false
	}
	if s[1] == '.' {
		return true
	}
	return len(s) == 3 && '0' <= s[1] && s[1] <= '9' && '0' <= s[2] && s[2] <= '9'
}

// FeedbackReport is what an abuse or feedback report (ARF, RFC 5965)
// says: someone complained about a mail.
type FeedbackReport struct {
	// OriginalMessageID is the Message-ID of the mail complained about,
	// from the returned message or its headers; "" when there is none.
	OriginalMessageID string
	// Type is the Feedback-Type: abuse, fraud, virus, not-spam, other, ...
	Type string
	// Recipients are the Original-Rcpt-To (and Removal-Recipient)
	// addresses: who received the mail; often left out for privacy.
	Recipients []string
}

// Attachment is the metadata of one non-body part; its bytes are not kept.
type Attachment struct {
	Filename    string
	ContentType string
	Size        int64
	SHA256      string
	Inline      bool
	// Part is the attachment's place among the mail's leaf entities,
	// 1-based, in the order they stand in the mail: ExtractPart finds its
	// content by it when the mail is parsed again with the same Limits.
	Part int
}

// Get returns the first value of header field key, "" when absent.
func (m *Message) Get(key string) string {
	if v := m.Header[textproto.CanonicalMIMEHeaderKey(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}
