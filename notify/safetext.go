package notify

import (
	"strings"
	"unicode"
)

// maxHeaderTextRunes bounds every piece of outside text that goes into a
// header or a one-line mention. With it a display name, quoted and with
// every character escaped, still leaves room on the To: line for the
// longest address SMTP allows (2*300+2 + 254 + "To: " and brackets < 998
// octets): go-mail folds only at spaces, and relays refuse longer lines.
const maxHeaderTextRunes = 300

// maxAddressLen is RFC 5321's limit on a path (4.5.3.1.3): no relay
// accepts a longer recipient.
const maxAddressLen = 254

// cleanHeaderText flattens text destined for a header (or a one-line
// mention in a body) onto one line: CR/LF and other controls become spaces
// so nothing a sender wrote can start a new header line, format characters
// go (SafeLine), and it is cut to maxHeaderTextRunes.
func cleanHeaderText(s string) string {
	return truncateRunes(SafeLine(s), maxHeaderTextRunes)
}

// SafeLine makes text from a mail (a subject, a name, a Message-ID) safe
// to show on one line, in a terminal, a page or a header: control
// characters (unicode.Cc: line breaks, tabs, terminal escapes, C1) become
// spaces, runs of spaces one, and format characters (unicode.Cf: bidi
// overrides and isolates, zero-width and invisible characters) are dropped,
// as they can make the text look like something else. Invalid UTF-8
// becomes U+FFFD.
func SafeLine(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return ' '
		case unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return strings.Join(strings.Fields(s), " ")
}

// SafeText is SafeLine for text of several lines (a mail's body shown to
// an agent): line breaks (CR LF, CR and the Unicode separators become LF)
// and tabs stay, other control and format characters are dropped.
func SafeText(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\r', r == '\u2028', r == '\u2029':
			// A bare CR would send the cursor back over what was shown.
			return '\n'
		case r == '\n', r == '\t':
			return r
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, s)
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
