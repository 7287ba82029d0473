package address

import (
	"strings"

	"golang.org/x/net/idna"
)

// Spellings are the ways a canonical address (Normalise) is written in
// mail: as it is, and with its domain in Unicode ("jan@bücher.example"),
// which mail clients and the desk's own mailer write as given. A search of
// mail headers for the person has to look for both; a domain that is
// ASCII already has one spelling.
func Spellings(canonical string) []string {
	i := strings.LastIndexByte(canonical, '@')
	if i < 0 {
		return []string{canonical}
	}
	u, err := idna.ToUnicode(canonical[i+1:])
	if err != nil || u == canonical[i+1:] {
		return []string{canonical}
	}
	return []string{canonical, canonical[:i+1] + u}
}
