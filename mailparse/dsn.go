package mailparse

import (
	"bufio"
	"bytes"
	"cmp"
	"net/textproto"
	"slices"
	"strings"
)

// maxReportPart bounds what is kept of a delivery-status or returned-headers
// part: they are small, and a hostile one must not grow memory.
const maxReportPart = 64 << 10

// maxReportRecipients bounds the recipients kept of one report: a report
// names the recipients of one mail, and a hostile one must not grow memory
// or the lookups made for it.
const maxReportRecipients = 100

// isReportPart: parts of a bounce or a feedback report that say what
// failed or was complained about, and for which mail.
func isReportPart(mediaType string) bool {
	switch mediaType {
	case "message/delivery-status", "message/global-delivery-status", "message/feedback-report",
		"message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers":
		return true
	}
	return false
}

// noteReport records what a report part says: its recipients, the
// complaint, or the Message-ID of the returned mail. A returned mail alone
// (a forward) makes no report; only a delivery-status or feedback-report
// part does. The first returned mail that is itself a delivery status
// report is kept: a DSN a gateway or a person forwarded (see
// forwardedReport).
func (p *parser) noteReport(mediaType string, b []byte) {
	p.w.add(4 * len(b))
	switch mediaType {
	case "message/delivery-status", "message/global-delivery-status":
		if p.msg.Report == nil {
			p.msg.Report = &DeliveryReport{}
		}
		rs := parseDeliveryStatus(b)
		p.msg.Report.Recipients = append(p.msg.Report.Recipients, rs[:min(len(rs), maxReportRecipients-len(p.msg.Report.Recipients))]...)
	case "message/feedback-report":
		if p.msg.Feedback == nil {
			p.msg.Feedback = parseFeedbackReport(b)
		}
	default:
		if p.returnedID == "" {
			p.returnedID = headerMessageID(b)
		}
		if p.forwarded == nil && !p.nested && (mediaType == "message/rfc822" || mediaType == "message/global") && isDSNHeader(b) {
			p.forwarded = b
		}
	}
}

// isDSNHeader reports whether the message in b is a delivery status
// report by its Content-Type.
func isDSNHeader(b []byte) bool {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
	h, _ := r.ReadMIMEHeader()
	mt, params := ParseParamHeader(h.Get("Content-Type"))
	return strings.EqualFold(strings.TrimSpace(mt), "multipart/report") &&
		!strings.Contains(strings.ToLower(params["report-type"]), "feedback") &&
		!strings.Contains(strings.ToLower(params["report-type"]), "disposition")
}

// forwardedReport reads the delivery status report forwarded inside a
// message/rfc822 part when the mail has none of its own. The forwarded
// report is parsed like a mail, once: a report inside that is not looked
// for (nested stops it), and the work counts against this mail's budget.
func (p *parser) forwardedReport() {
	if p.msg.Report != nil || p.forwarded == nil {
		return
	}
	lim := p.lim
	lim.MaxText = 4 << 10 // its text is not used
	sub := &parser{
		lim:      lim,
		lr:       &lineReader{br: bufio.NewReader(bytes.NewReader(p.forwarded)), w: p.w},
		msg:      &Message{},
		textRoom: 4 * lim.MaxText,
		w:        p.w,
		nested:   true,
	}
	sub.run()
	if rep := sub.msg.Report; rep != nil {
		if rep.OriginalMessageID == "" {
			rep.OriginalMessageID = sub.returnedID
		}
		rep.Forwarded = true
		p.msg.Report = rep
	}
}

// parseDeliveryStatus reads the body of a message/delivery-status part
// (RFC 3464): a per-message block, then one block per recipient, each like
// a header. It is lenient: a block it cannot read is skipped, and
// recipient blocks base64-encoded under a Content-Transfer-Encoding in the
// per-message block (a broken generator's) are decoded.
func parseDeliveryStatus(b []byte) []ReportRecipient {
	out := statusBlocks(b)
	if len(out) > 0 {
		return out
	}
	end := bytes.Index(b, []byte("\n\n"))
	if crlf := bytes.Index(b, []byte("\r\n\r\n")); crlf >= 0 && (end < 0 || crlf < end) {
		end = crlf
	}
	if end < 0 {
		return nil
	}
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(b[:end+2])))
	if h, _ := r.ReadMIMEHeader(); normalizeCTE(h.Get("Content-Transfer-Encoding")) == "base64" {
		return statusBlocks(decodeCTE(b[end:], "base64", nil))
	}
	return nil
}

func statusBlocks(b []byte) []ReportRecipient {
	var out []ReportRecipient
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
	for len(out) < maxReportRecipients {
		h, err := r.ReadMIMEHeader()
		if len(h) > 0 {
			final := reportAddress(h.Get("Final-Recipient"))
			orig := reportAddress(h.Get("Original-Recipient"))
			if addr := cmp.Or(final, orig); addr != "" {
				out = append(out, ReportRecipient{
					Address:    addr,
					Original:   orig,
					Action:     strings.ToLower(strings.TrimSpace(h.Get("Action"))),
					Status:     firstField(h.Get("Status")),
					Diagnostic: strings.Join(strings.Fields(h.Get("Diagnostic-Code")), " "),
				})
			}
		}
		if err != nil {
			break
		}
	}
	return out
}

// parseFeedbackReport reads the body of a message/feedback-report part
// (RFC 5965 3): fields like a header. Original-Rcpt-To and
// Removal-Recipient name who received the mail complained about.
func parseFeedbackReport(b []byte) *FeedbackReport {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
	h, _ := r.ReadMIMEHeader()
	f := &FeedbackReport{Type: strings.ToLower(firstField(h.Get("Feedback-Type")))}
	for _, k := range []string{"Original-Rcpt-To", "Removal-Recipient"} {
		for _, v := range h[k] {
			if a := reportAddress(v); a != "" && len(f.Recipients) < maxReportRecipients && !slices.Contains(f.Recipients, a) {
				f.Recipients = append(f.Recipients, a)
			}
		}
	}
	return f
}

// reportAddress reads "rfc822; jan@acme.example" (the type is optional in
// practice), in the canonical form of the parsed addresses (suppression
// keys on it), lower case as it always was here.
func reportAddress(v string) string {
	if _, a, ok := strings.Cut(v, ";"); ok {
		v = a
	}
	v = canonicalAddr(strings.Trim(strings.TrimSpace(v), "<>"))
	if !strings.Contains(v, "@") {
		return ""
	}
	return strings.ToLower(v)
}

// headerMessageID returns the Message-ID of a returned message or of
// returned headers (message/rfc822, text/rfc822-headers).
func headerMessageID(b []byte) string {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
	h, _ := r.ReadMIMEHeader()
	ids := parseIDs(h.Get("Message-Id"), true, nil)
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}
