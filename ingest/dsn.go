package ingest

import (
	"bufio"
	"bytes"
	"net/textproto"
	"strings"
)

// maxReportPart bounds what is kept of a delivery-status or returned-headers
// part: they are small, and a hostile one must not grow memory.
const maxReportPart = 64 << 10

// isReportPart: parts of a bounce that say what failed and for which mail.
func isReportPart(mediaType string) bool {
	switch mediaType {
	case "message/delivery-status", "message/global-delivery-status",
		"message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers":
		return true
	}
	return false
}

// noteReport records what a report part says: its recipients, or the
// Message-ID of the returned mail. A returned mail alone (a forward) makes
// no report; only a delivery-status part does.
func (p *parser) noteReport(mediaType string, b []byte) {
	p.w.add(4 * len(b))
	switch mediaType {
	case "message/delivery-status", "message/global-delivery-status":
		if p.msg.Report == nil {
			p.msg.Report = &DeliveryReport{}
		}
		p.msg.Report.Recipients = append(p.msg.Report.Recipients, parseDeliveryStatus(b)...)
	default:
		if p.returnedID == "" {
			p.returnedID = headerMessageID(b)
		}
	}
}

// parseDeliveryStatus reads the body of a message/delivery-status part
// (RFC 3464): a per-message block, then one block per recipient, each like
// a header. It is lenient: a block it cannot read is skipped.
func parseDeliveryStatus(b []byte) []ReportRecipient {
	var out []ReportRecipient
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		h, err := r.ReadMIMEHeader()
		if len(h) > 0 {
			addr := reportAddress(h.Get("Final-Recipient"))
			if addr == "" {
				addr = reportAddress(h.Get("Original-Recipient"))
			}
			if addr != "" {
				out = append(out, ReportRecipient{
					Address:    addr,
					Action:     strings.ToLower(strings.TrimSpace(h.Get("Action"))),
					Status:     firstField(h.Get("Status")),
					Diagnostic: strings.Join(strings.Fields(h.Get("Diagnostic-Code")), " "),
				})
			}
		}
		if err != nil {
			return out
		}
	}
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
