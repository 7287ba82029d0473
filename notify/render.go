package notify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"text/template"
	"unicode"
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
}

// Rendered is a notification turned into a mail, ready for SMTP.
type Rendered struct {
	MessageID string // without brackets, derived from Notification.ID: stable across retries
	Subject   string
	Text      string
	Headers   map[string]string // extra header fields
}

//go:embed templates/*.tmpl
var templateFS embed.FS

// Parsing at init means a broken embedded template panics in every test
// instead of surfacing on the first notification in production.
var templates = template.Must(template.New("notify").ParseFS(templateFS, "templates/*.tmpl"))

// fallbackLanguage always has a template for every kind (checked by tests).
const fallbackLanguage = "en"

// subjectWords are the fixed subject parts; they live here rather than in
// the templates because the subject rules (tag once, no dangling colon)
// are code.
var subjectWords = map[string]struct{ ackEmpty, rejection, tooLarge string }{
	"nl": {ackEmpty: "Uw melding", rejection: "Niet in behandeling genomen", tooLarge: "Bericht te groot"},
	"en": {ackEmpty: "Your request", rejection: "Not processed", tooLarge: "Message too large"},
}

// maxSubjectRunes keeps a pathological original subject from producing a
// header line that relays reject (998 octets) when it has no spaces to fold at.
const maxSubjectRunes = 250

// maxReferences bounds the References header on very long threads; RFC 5322
// 3.6.4 suggests keeping the first id and the most recent ones.
const maxReferences = 20

type templateData struct {
	DeskName    string
	DeskAddress string
	Ticket      string
	Subject     string // the cleaned original subject; may be empty
	To          string // bare recipient address
	ToName      string
	Customer    string
	// Size and Limit of a mail too large, written for people ("31.5 MB").
	Size, Limit string
	// Ack: the ticket's priority and, when it differs from what was asked,
	// the asked one and why; Feature for a feature request.
	Priority, RequestedPriority, PriorityReason string
	Feature                                     bool
	// Rejection: the main contact of the sender's organisation, if known.
	MainContact, MainContactName string
}

// Render fills the template for n.Kind in n.Language (falling back to
// desk.DefaultLanguage, then en).
func Render(desk Desk, n Notification) (Rendered, error) {
	domain, deskAddr, err := deskDomain(desk)
	if err != nil {
		return Rendered{}, fmt.Errorf("rendering notification %q: %w", n.ID, err)
	}
	if strings.TrimSpace(n.ID) == "" {
		return Rendered{}, fmt.Errorf("rendering %s notification: %w: empty id", n.Kind, ErrInvalidNotification)
	}
	ticket := cleanHeaderText(n.Ticket)
	switch n.Kind {
	case Ack:
		if ticket == "" {
			return Rendered{}, fmt.Errorf("rendering notification %q: %w: ack without ticket", n.ID, ErrInvalidNotification)
		}
	case Rejection, TooLarge:
	default:
		return Rendered{}, fmt.Errorf("rendering notification %q: %w: unknown kind %q", n.ID, ErrInvalidNotification, n.Kind)
	}
	to, err := mail.ParseAddress(n.To)
	if err != nil {
		return Rendered{}, fmt.Errorf("rendering notification %q: %w: recipient %q: %v", n.ID, ErrInvalidNotification, n.To, err)
	}

	lang := pickLanguage(n.Kind, n.Language, desk.DefaultLanguage)
	subject := truncateRunes(cleanHeaderText(n.Subject), maxSubjectRunes)
	words := subjectWords[lang]

	var out Rendered
	switch n.Kind {
	case Ack:
		out.Subject = ackSubject(ticket, subject, words.ackEmpty)
	case Rejection, TooLarge:
		out.Subject = words.rejection
		if n.Kind == TooLarge {
			out.Subject = words.tooLarge
		}
		if subject != "" {
			out.Subject += ": " + subject
		}
	}

	var body bytes.Buffer
	data := templateData{
		DeskName:    cleanHeaderText(desk.Name),
		DeskAddress: deskAddr,
		Ticket:      ticket,
		Subject:     subject,
		To:          to.Address,
		ToName:      cleanHeaderText(n.ToName),
		Customer:    cleanHeaderText(n.Customer),
		Size:        humanBytes(n.Size),
		Limit:       humanBytes(n.Limit),

		Priority:          cleanHeaderText(n.Priority),
		RequestedPriority: cleanHeaderText(n.RequestedPriority),
		PriorityReason:    n.PriorityReason,
		Feature:           n.Type == "feature_request",
		MainContact:       cleanHeaderText(n.MainContact),
		MainContactName:   cleanHeaderText(n.MainContactName),
	}
	if err := templates.ExecuteTemplate(&body, templateName(n.Kind, lang), data); err != nil {
		return Rendered{}, fmt.Errorf("rendering %s template for notification %q: %w", templateName(n.Kind, lang), n.ID, err)
	}
	out.Text = body.String()
	out.MessageID = messageID(desk, domain, n.Kind, ticket, to.Address, n.ID)

	out.Headers = map[string]string{
		// RFC 3834: both kinds answer a mail, so well-behaved responders
		// (vacation replies) must not answer them.
		"Auto-Submitted": "auto-replied",
		// Exchange/Outlook ignore Auto-Submitted but honour this one.
		"X-Auto-Response-Suppress": "All",
		// RFC 3834 discourages Precedence, but many older auto-responders
		// only look at it; the loop risk outweighs the style point.
		"Precedence": "bulk",
		// Ingest drops mail carrying its own desk's loop header.
		"X-Maildesk-Loop": desk.ID,
	}
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

func templateName(k Kind, lang string) string {
	return string(k) + "." + lang + ".tmpl"
}

// pickLanguage accepts tags like "nl-BE" by their primary subtag.
func pickLanguage(k Kind, langs ...string) string {
	for _, l := range langs {
		l = strings.ToLower(strings.TrimSpace(l))
		if i := strings.IndexAny(l, "-_"); i >= 0 {
			l = l[:i]
		}
		if l == "" {
			continue
		}
		if _, ok := subjectWords[l]; ok && templates.Lookup(templateName(k, l)) != nil {
			return l
		}
	}
	return fallbackLanguage
}

func ackSubject(ticket, subject, empty string) string {
	tag := "[" + ticket + "]"
	switch {
	case subject == "":
		return tag + " " + empty
	case strings.Contains(strings.ToLower(subject), strings.ToLower(tag)):
		// A reply on an existing thread already carries the tag; a second
		// one would grow with every round trip.
		return subject
	default:
		return tag + " " + subject
	}
}

// deskDomain validates the desk fields that end up in header syntax. A bad
// desk is a configuration error, not a property of the notification, so it
// is deliberately not ErrInvalidNotification: dead-lettering every
// notification of a misconfigured desk would lose them all.
func deskDomain(desk Desk) (domain, addr string, err error) {
	if desk.ID == "" || strings.IndexFunc(desk.ID, func(r rune) bool { return !isIDRune(r) }) >= 0 {
		return "", "", fmt.Errorf("desk id %q must be non-empty and use only letters, digits, '.', '-' and '_'", desk.ID)
	}
	a, err := mail.ParseAddress(desk.Address)
	if err != nil {
		return "", "", fmt.Errorf("desk %s address %q: %w", desk.ID, desk.Address, err)
	}
	at := strings.LastIndexByte(a.Address, '@')
	domain = strings.ToLower(a.Address[at+1:])
	if !validDotAtom(domain) {
		return "", "", fmt.Errorf("desk %s address %q: domain %q is not usable in a Message-ID", desk.ID, desk.Address, domain)
	}
	return domain, a.Address, nil
}

func isIDRune(r rune) bool {
	return r < unicode.MaxASCII && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_')
}

// messageID is deterministic so that a retried send carries the same id and
// the receiving side can deduplicate; the ".maildesk." marker plus the desk
// domain lets ingest recognise replies to (and bounces of) its own mail.
func messageID(desk Desk, domain string, kind Kind, ticket, to, id string) string {
	ref := ticket
	if ref == "" {
		// Without a ticket the recipient is the most useful correlation; it
		// is hashed so the address does not leak into other people's headers.
		h := sha256.Sum256([]byte(strings.ToLower(to)))
		ref = hex.EncodeToString(h[:4])
	}
	mac := hmac.New(sha256.New, desk.Secret)
	mac.Write([]byte(id))
	sum := mac.Sum(nil)
	return strings.Join([]string{
		idAtom(string(kind)), idAtom(ref), idAtom(desk.ID), "maildesk", hex.EncodeToString(sum[:8]),
	}, ".") + "@" + domain
}

// idAtom reduces s to a conservative subset of atext so the Message-ID is
// always a valid dot-atom and go-mail never turns it into an encoded word.
func idAtom(s string) string {
	const maxLen = 64
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if b.Len() >= maxLen {
			break
		}
		if r < unicode.MaxASCII && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}

// normaliseMsgID accepts an id with or without its angle brackets and
// reports whether it is a plain "local@domain" of dot-atom characters. Any
// other shape is dropped by the callers: go-mail would encode it as an
// RFC 2047 word, which breaks threading in every client.
func normaliseMsgID(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		s = s[1 : len(s)-1]
	}
	if s == "" || len(s) > 250 {
		return "", false
	}
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') {
		return "", false
	}
	if !validDotAtom(s[:at]) || !validDotAtom(s[at+1:]) {
		return "", false
	}
	return s, true
}

// validDotAtom is lenient about dot placement (real-world ids contain "..")
// but strict about characters.
func validDotAtom(s string) bool {
	if s == "" || strings.Trim(s, ".") == "" {
		return false
	}
	for _, r := range s {
		if !isAtext(r) && r != '.' {
			return false
		}
	}
	return true
}

func isAtext(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}

// references returns the valid ids of refs, deduplicated, with inReplyTo
// last as RFC 5322 3.6.4 prescribes.
func references(refs []string, inReplyTo string, haveInReplyTo bool) []string {
	seen := make(map[string]bool, len(refs)+1)
	var out []string
	for _, r := range refs {
		id, ok := normaliseMsgID(r)
		if !ok || seen[id] || (haveInReplyTo && id == inReplyTo) {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	if haveInReplyTo {
		out = append(out, inReplyTo)
	}
	if len(out) > maxReferences {
		out = append(out[:1], out[len(out)-maxReferences+1:]...)
	}
	return out
}

// cleanHeaderText flattens text destined for a header (or a one-line
// mention in a body) onto one line: CR/LF and other controls become spaces
// so nothing a sender wrote can start a new header line.
func cleanHeaderText(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

func truncateRunes(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return strings.TrimSpace(s[:pos]) + "…"
		}
		i++
	}
	return s
}

// MessageID is the Message-ID (without brackets) that n is sent with, so
// that the desk can thread replies to it.
func MessageID(desk Desk, n Notification) (string, error) {
	domain, _, err := deskDomain(desk)
	if err != nil {
		return "", err
	}
	to, err := mail.ParseAddress(n.To)
	if err != nil {
		return "", fmt.Errorf("message id of %q: %w: recipient %q: %v", n.ID, ErrInvalidNotification, n.To, err)
	}
	return messageID(desk, domain, n.Kind, cleanHeaderText(n.Ticket), to.Address, n.ID), nil
}

// humanBytes writes a size in decimal megabytes or kilobytes, as mail
// clients show attachment sizes.
func humanBytes(n int64) string {
	switch {
	case n >= 1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1000:
		return fmt.Sprintf("%d kB", n/1000)
	}
	return fmt.Sprintf("%d bytes", n)
}
