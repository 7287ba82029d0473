package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
)

// maxReferences bounds the References header on very long threads; RFC 5322
// 3.6.4 suggests keeping the first id and the most recent ones.
const maxReferences = 20

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
//
// A ticket's key (ticketKey) is under the MAC: a ticket re-created under
// the number of one Redis lost, from another mail, has another key and so
// another MAC atom, and its mail never shares a Message-ID with the first's.
// The key is not written out: the delivery record keeps it for checking a
// bounce, and the id keeps its length (a longer one would be folded).
// Without a key (tickets from before keys, mail about no ticket) the id is
// what it always was.
func messageID(desk Desk, domain string, kind Kind, ticket, ticketKey, to, id string) string {
	ref := ticket
	if ref == "" {
		// Without a ticket the recipient is the most useful correlation; it
		// is hashed so the address does not leak into other people's headers.
		h := sha256.Sum256([]byte(strings.ToLower(to)))
		ref = hex.EncodeToString(h[:4])
	}
	return strings.Join([]string{
		idAtom(string(kind)), idAtom(ref), idAtom(desk.ID), "maildesk", messageIDTag(desk.Secret, id, ticketKey),
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
	return messageID(desk, domain, n.Kind, cleanHeaderText(n.Ticket), n.TicketKey, to.Address, n.ID), nil
}
