package mailparse

import (
	"regexp"
	"strings"
)

// SplitQuoted separates what the sender wrote now from the history and
// signature below it, so that a ticket shows the new text first. Nothing is
// dropped: fresh + quoted hold every line. Mail clients mark history in a
// handful of ways; a line that matches none of them stays fresh.
func SplitQuoted(text string) (fresh, quoted string) {
	return splitQuoted(text, nil)
}

// splitQuoted is SplitQuoted counting its work in w.
func splitQuoted(text string, w *work) (fresh, quoted string) {
	lines := strings.Split(text, "\n")
	w.add(len(text))
	h := newHistoryScan(lines, w)
	cut := -1
	for i := range lines {
		w.add(len(lines[i]) + 1)
		if h.starts(i) {
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
	w.add(len(text))
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

// historyScan answers, line by line from the top, whether history starts
// there. What a line's answer needs from the lines below it is known
// beforehand or found with a cursor that only moves down: asking each line
// to look at all the lines below it was quadratic (a quarter megabyte of
// ">" lines followed by one other line took 45 seconds).
type historyScan struct {
	lines []string
	w     *work
	// lastFresh is the last line that is neither blank nor quoted: a
	// quote block runs to the end from any quoted line below it.
	lastFresh int
	// nonBlank is the first non-blank line at or after the index the
	// previous nextNonBlank call asked from.
	nonBlank int
}

func newHistoryScan(lines []string, w *work) *historyScan {
	h := &historyScan{lines: lines, w: w, lastFresh: -1, nonBlank: -1}
	for j := len(lines) - 1; j >= 0; j-- {
		w.add(len(lines[j]) + 1)
		if t := strings.TrimSpace(lines[j]); t != "" && !strings.HasPrefix(t, ">") {
			h.lastFresh = j
			break
		}
	}
	return h
}

// starts reports whether history starts at line i; i must not decrease
// from call to call.
func (h *historyScan) starts(i int) bool {
	lines := h.lines
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
	// The regular expressions cost a few hundred steps per byte
	// (attributionRE's bounded repetitions); each line meets them a
	// bounded number of times.
	h.w.add(quoteRegexpCost * (len(l) + 1))
	switch {
	case l == "-- " || l == "--":
		// RFC 3676 signature separator.
		return true
	case separatorRE.MatchString(l), mobileSigRE.MatchString(l):
		return true
	case attributionRE.MatchString(l):
		return true
	case i+1 < len(lines) && h.attribution2(i):
		return true
	case strings.HasPrefix(l, ">"):
		// A quote block that runs to the end (top-posting's opposite,
		// interleaved replies, is all fresh: quotes followed by new text).
		return i > h.lastFresh
	case headerFromRE.MatchString(l):
		for j := i + 1; j < len(lines) && j <= i+4; j++ {
			h.w.add(quoteRegexpCost * (len(lines[j]) + 1))
			if headerSentRE.MatchString(lines[j]) {
				return true
			}
		}
	}
	return false
}

// quoteRegexpCost weighs a byte given to the quote markers' regexps.
const quoteRegexpCost = 8

// attribution2 reports an attribution wrapped over lines i and i+1 and
// followed by a quote.
func (h *historyScan) attribution2(i int) bool {
	h.w.add(quoteRegexpCost * (len(h.lines[i+1]) + 1))
	if !attributionRE.MatchString(h.lines[i] + " " + h.lines[i+1]) {
		return false
	}
	return strings.HasPrefix(strings.TrimSpace(h.nextNonBlank(i+2)), ">")
}

// nextNonBlank returns the first non-blank line at or after i, "" if none.
func (h *historyScan) nextNonBlank(i int) string {
	if h.nonBlank < i {
		h.nonBlank = i
		for h.nonBlank < len(h.lines) && strings.TrimSpace(h.lines[h.nonBlank]) == "" {
			h.w.add(len(h.lines[h.nonBlank]) + 1)
			h.nonBlank++
		}
	}
	if h.nonBlank < len(h.lines) {
		return h.lines[h.nonBlank]
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
