// Package address is the one canonical form e-mail addresses and domains
// are compared in, so that the same mailbox written two ways
// (Jan@Bücher.example, jan@xn--bcher-kva.example) is the same contact: lower
// case, with the domain in its ASCII (IDNA, punycode) form. The
// configuration, the contact directory, the pipeline and the outbox all
// compare addresses through it.
package address

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// lookup is UTS #46 non-transitional processing as browsers and mail
// servers do it (ß stays ß), plus the DNS length rules, which idna.Lookup
// leaves out: "acme..example" is no host name.
var lookup = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false), idna.VerifyDNSLength(true))

// errNotUTF8: lower-casing and IDNA mapping would turn each invalid byte
// into U+FFFD, so two different addresses would become one contact.
var errNotUTF8 = errors.New("not valid UTF-8")

// Normalise returns addr in canonical form: trimmed, lower case, the domain
// converted to ASCII. It does not check the local part beyond its being
// non-empty and UTF-8; CheckBare does that for the files. The canonical
// form is its own canonical form. Errors do not repeat addr.
func Normalise(addr string) (string, error) {
	if !utf8.ValidString(addr) {
		return "", errNotUTF8
	}
	addr = strings.TrimSpace(addr)
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 {
		return "", errors.New("not an e-mail address")
	}
	domain, err := NormaliseDomain(addr[i+1:])
	if err != nil {
		return "", fmt.Errorf("domain: %w", err)
	}
	return strings.ToLower(addr[:i]) + "@" + domain, nil
}

// NormaliseDomain returns the lower-case ASCII form of a host name, or an
// error saying what is wrong with it (not repeating the name). One final
// dot is the DNS root ("acme.example.") and is dropped; two are an empty
// label, refused as in "acme..example".
func NormaliseDomain(domain string) (string, error) {
	if !utf8.ValidString(domain) {
		return "", errNotUTF8
	}
	d := strings.TrimSpace(domain)
	if d == "" || d == "." {
		return "", errors.New("empty domain")
	}
	// The errors of idna name the offending rune or label well enough.
	a, err := lookup.ToASCII(d)
	if err != nil {
		return "", err
	}
	// The root dot is looked for after the mapping, which makes one of
	// "。" and "．" too; idna lets empty labels at the end through.
	a = strings.TrimSuffix(a, ".")
	if a == "" || strings.HasSuffix(a, ".") {
		return "", errors.New("empty label at the end (one final dot is the root, two are one too many)")
	}
	return a, nil
}

// Bare is the address part of a recipient as written in a header ("Jan
// <jan@x>" or "jan@x"), trimmed and lower case; what does not parse stays as
// written, trimmed and lower case. Unlike Normalise it leaves the domain as
// it is and never fails: it is the key a recipient is recorded under.
func Bare(to string) string {
	if a, err := mail.ParseAddress(to); err == nil {
		to = a.Address
	}
	return strings.ToLower(strings.TrimSpace(to))
}

// CheckBare accepts "desk@example.com" but not "Desk <desk@example.com>",
// "<desk@example.com>" or anything net/mail would have to rewrite: such a
// value is compared with addresses in mail headers and used as an SMTP
// envelope. The error reads after a field name ("desk.address: is not ...").
func CheckBare(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return fmt.Errorf("is not a valid e-mail address (got %q)", s)
	}
	if a.Address != s {
		return fmt.Errorf("must be a bare e-mail address like desk@example.com, without a name or <> (got %q)", s)
	}
	return nil
}
