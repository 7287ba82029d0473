package notify

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxSubjectRunes keeps a pathological original subject from producing a
// header line that relays reject (998 octets) when it has no spaces to fold at.
const maxSubjectRunes = 250

// replyPrefix matches one reply prefix at the start of a subject: "Re:",
// "RE[2]:", "AW:" (German), "Antw:" and "Antwoord:" (Dutch), "SV:" and
// "VS:" (Nordic). Forward prefixes stay: they say something.
var replyPrefix = regexp.MustCompile(`(?i)^(?:re|aw|antw|antwoord|sv|vs)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*`)

// dropReplyPrefixes removes the ticket's tag and the leading reply
// prefixes from a cleaned subject: "RE: [SD-4] Antw: Printer" is "Printer".
func dropReplyPrefixes(subject, ticket string) string {
	if ticket != "" {
		subject = cleanHeaderText(removeFold(subject, "["+ticket+"]"))
	}
	for {
		loc := replyPrefix.FindStringIndex(subject)
		if loc == nil {
			return subject
		}
		subject = subject[loc[1]:]
	}
}

// mailSubject builds the subject from the answered mail's (cleaned)
// subject and the kind's words, with the ticket tag once; with tagFirst the
// tag opens the subject and a copy in the original is dropped.
func mailSubject(ticket, subject string, w subjectWords, tagFirst bool) string {
	if tagFirst && ticket != "" {
		subject = cleanHeaderText(removeFold(subject, "["+ticket+"]"))
	}
	s := subject
	switch {
	case subject == "":
		s = w.Alone
	case w.Prefix != "":
		s = w.Prefix + ": " + subject
	}
	if ticket == "" {
		return s
	}
	tag := "[" + ticket + "]"
	if !tagFirst && strings.Contains(strings.ToLower(s), strings.ToLower(tag)) {
		// A reply on an existing thread already carries the tag; a second
		// one would grow with every round trip.
		return s
	}
	return tag + " " + s
}

// countedSubject is "SLA alert: 3 breached, 2 at risk", leaving out a count
// of 0; Alone alone when both are.
func countedSubject(w subjectWords, breached, atRisk int) string {
	var parts []string
	if breached > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", breached, w.Breached))
	}
	if atRisk > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", atRisk, w.AtRisk))
	}
	if len(parts) == 0 {
		return w.Alone
	}
	return w.Alone + ": " + strings.Join(parts, ", ")
}

// removeFold removes every occurrence of sub from s, ignoring case.
func removeFold(s, sub string) string {
	if sub == "" {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if i+len(sub) <= len(s) && strings.EqualFold(s[i:i+len(sub)], sub) {
			i += len(sub)
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		b.WriteString(s[i : i+size])
		i += size
	}
	return b.String()
}
