package ingest

import (
	"regexp"
	"strings"
)

// SplitQuoted separates what the sender wrote now from the history and
// signature below it, so that a ticket shows the new text first. Nothing is
// dropped: fresh + quoted hold every line. Mail clients mark history in a
// handful of ways; a line that matches none of them stays fresh.
func SplitQuoted(text string) (fresh, quoted string) {
	lines := strings.Split(text, "\n")
	cut := -1
	for i := range lines {
		if startsHistory(lines, i) {
			cut = i
			break
		}
	}
	if cut < 0 {
		return strings.TrimRight(text, "\n "), ""
	}
	// Blank lines at the cut belong to neither part.
	fresh = strings.TrimRight(strings.Join(lines[:cut], "\n"), "\n \t")
	quoted = strings.Trim(strings.Join(lines[cut:], "\n"), "\n")
	if fresh == "" {
		// All history (a bare forward, a top-quoted empty reply): showing
		// nothing new would hide the mail, so it all counts as new.
		return strings.TrimRight(text, "\n "), ""
	}
	return fresh, quoted
}

var (
	// Attribution lines: "On Tue, 3 Nov 2026 Jan <jan@x> wrote:" and the
	// Dutch ("Op ... schreef Jan <jan@x>:"), German and French forms. They may
	// wrap over two lines.
	attributionRE = regexp.MustCompile(`(?i)^\s*(on|op|am|le)\b.{0,200}\b(wrote|schreef|schrieb|a écrit)\b.{0,200}:\s*$`)
	// Outlook's separators.
	separatorRE = regexp.MustCompile(`(?i)^\s*-{2,}\s*(original message|oorspronkelijk bericht|ursprüngliche nachricht|message d'origine)\s*-{2,}\s*$`)
	// Outlook's header block: From/Van, then Sent/Verzonden within a few lines.
	headerFromRE = regexp.MustCompile(`(?i)^\s*\*?(from|van|von|de)\s*:\*?\s+\S`)
	headerSentRE = regexp.MustCompile(`(?i)^\s*\*?(sent|verzonden|gesendet|envoyé|date|datum)\s*:\*?\s+\S`)
	// Mobile signatures.
	mobileSigRE = regexp.MustCompile(`(?i)^\s*(sent from my|verzonden (vanaf|met) mijn|von meinem .* gesendet|envoyé de mon)\b`)
)

func startsHistory(lines []string, i int) bool {
	l := lines[i]
	t := strings.TrimSpace(l)
	// Every marker but a quote block either contains a colon, starts with
	// a dash, or is a mobile signature ("sent", "verzonden", "von",
	// "envoyé"); skipping the regexps for other lines keeps long mails
	// cheap.
	if t == "" || !strings.ContainsRune(t, ':') && t[0] != '-' && t[0] != '>' && !mobileStart(t) &&
		!(i+1 < len(lines) && strings.HasSuffix(strings.TrimSpace(lines[i+1]), ":")) {
		return false
	}
	switch {
	case l == "-- " || l == "--":
		// RFC 3676 signature separator.
		return true
	case separatorRE.MatchString(l), mobileSigRE.MatchString(l):
		return true
	case attributionRE.MatchString(l):
		return true
	case i+1 < len(lines) && attributionRE.MatchString(l+" "+lines[i+1]) && strings.HasPrefix(strings.TrimSpace(nextNonBlank(lines, i+2)), ">"):
		return true
	case strings.HasPrefix(l, ">"):
		// A quote block that runs to the end (top-posting's opposite,
		// interleaved replies, is all fresh: quotes followed by new text).
		for _, rest := range lines[i:] {
			if t := strings.TrimSpace(rest); t != "" && !strings.HasPrefix(t, ">") {
				return false
			}
		}
		return true
	case headerFromRE.MatchString(l):
		for j := i + 1; j < len(lines) && j <= i+4; j++ {
			if headerSentRE.MatchString(lines[j]) {
				return true
			}
		}
	}
	return false
}

func nextNonBlank(lines []string, i int) string {
	for ; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "" {
			return lines[i]
		}
	}
	return ""
}

func mobileStart(t string) bool {
	if len(t) < 3 {
		return false
	}
	switch strings.ToLower(t[:3]) {
	case "sen", "ver", "von", "env":
		return true
	}
	return false
}
