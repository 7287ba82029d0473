package notify

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrInvalidNotification marks a notification that can never be rendered or
// sent as it stands (unknown kind, missing id, unusable recipient): retrying
// cannot help, so IsPermanent reports it as permanent.
var ErrInvalidNotification = errors.New("invalid notification")

// Desk is what templates and headers need to know about the sending desk.
type Desk struct {
	ID              string // "acme-it"
	Name            string // "Acme IT Servicedesk"
	Address         string // "servicedesk@desk.example"
	DefaultLanguage string // "nl" | "en"
	// Secret keys the Message-IDs the desk sends (Outbox.Secret): a bounce
	// naming one of them must be about a mail the desk really sent, which
	// only works if outsiders cannot compute the ids.
	Secret []byte
	// Location is the desk's time zone: dates in mails are written in it.
	// nil is UTC.
	Location *time.Location
	// Templates are the mail templates (LoadTemplates); nil is the
	// embedded defaults.
	Templates *Templates
	// TicketURL is the address of a ticket's page for agents under
	// http.public_url (httpapi.TicketURL), which SLA warnings, breach
	// alerts and digests link to; nil or "": no links.
	TicketURL func(number string) string
}

// ticketURL is desk's link to ticket number's page, "" for none.
func (d Desk) ticketURL(number string) string {
	if d.TicketURL == nil || number == "" {
		return ""
	}
	return d.TicketURL(number)
}

func (d Desk) templates() *Templates {
	if d.Templates != nil {
		return d.Templates
	}
	return DefaultTemplates()
}

// LoopHeader is put on every mail the desk sends, with the desk's id as its
// value; ingest recognises its own mail coming back in by it.
const LoopHeader = "X-Maildesk-Loop"

// Rendered is a notification turned into a mail, ready for SMTP.
type Rendered struct {
	MessageID string // without brackets, derived from Notification.ID: stable across retries
	Subject   string
	Text      string            // the text/plain body: the mail's primary content
	HTML      string            // the text/html alternative of Text; "" means text only
	Headers   map[string]string // extra header fields
}

// Render fills the text and HTML templates for n.Kind in n.Language
// (falling back to desk.DefaultLanguage, then en) from desk.Templates.
func Render(desk Desk, n Notification) (Rendered, error) {
	p, err := prepare(desk, n)
	if err != nil {
		return Rendered{}, err
	}
	text, html, err := desk.templates().render(n.Kind, p.lang, desk.Location, p.data)
	if err != nil {
		return Rendered{}, fmt.Errorf("notification %q: %w", n.ID, err)
	}
	out := Rendered{
		MessageID: messageID(desk, p.domain, n.Kind, p.ticket, n.TicketKey, p.to, n.ID),
		Subject:   p.data.MailSubject,
		Text:      text,
		HTML:      html,
		Headers: map[string]string{
			// Ingest drops mail carrying its own desk's loop header.
			LoopHeader: desk.ID,
		},
	}
	if n.Kind.Automatic() {
		// RFC 3834: well-behaved responders (vacation replies) must
		// not answer either value.
		out.Headers["Auto-Submitted"] = n.Kind.AutoSubmitted()
		// Exchange/Outlook ignore Auto-Submitted but honour this one.
		out.Headers["X-Auto-Response-Suppress"] = "All"
		// RFC 3834 discourages Precedence, but many older auto-responders
		// only look at it; the loop risk outweighs the style point.
		out.Headers["Precedence"] = "bulk"
	}
	// An agent's reply is a person's mail: none of the above, so that it
	// is not filed as bulk and an out-of-office answer to it reaches the
	// desk (ingest records those on the ticket).
	inReplyTo, inReplyOK := normaliseMsgID(n.InReplyTo)
	if inReplyOK {
		out.Headers["In-Reply-To"] = "<" + inReplyTo + ">"
	}
	if refs := references(n.References, inReplyTo, inReplyOK); len(refs) > 0 {
		// go-mail joins multiple header values with ", ", which is not the
		// References syntax: it must be one space-separated value.
		out.Headers["References"] = "<" + strings.Join(refs, "> <") + ">"
	}
	return out, nil
}

// pickLanguage accepts tags like "nl-BE" by their primary subtag and
// returns the first of langs that has templates and subject words for k.
func pickLanguage(k Kind, langs ...string) string {
	for _, l := range langs {
		l = strings.ToLower(strings.TrimSpace(l))
		if i := strings.IndexAny(l, "-_"); i >= 0 {
			l = l[:i]
		}
		if l == "" {
			continue
		}
		if _, ok := kindSpecs[k].subject[l]; ok && slices.Contains(languages, l) {
			return l
		}
	}
	return fallbackLanguage
}
