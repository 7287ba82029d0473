package ingest

import (
	"regexp"
	"strings"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/mailparse"
)

// PriorityRules say how a mail asks for a priority and marks a feature
// request (config.Priority).
type PriorityRules struct {
	Words        map[string][]string // priority -> words, e.g. P1: spoed, urgent
	FeatureWords []string
}

var (
	// A tag in the subject: [P1] .. [P4], any case.
	priorityTagRE = regexp.MustCompile(`(?i)\[\s*(` + strings.Join(config.Priorities, "|") + `)\s*\]`)
	xPriorityRE   = regexp.MustCompile(`^\s*([1-5])`)
)

// Requested returns the priority a mail asks for and what said so, or ""
// when it asks for none. A tag in the subject wins over words, words over
// the mail client's importance flag. Outlook's "high importance" is a
// click away, so it asks for P2, never P1.
func (r PriorityRules) Requested(m *mailparse.Message) (prio, source string) {
	if t := priorityTagRE.FindStringSubmatch(m.Subject); t != nil {
		return strings.ToUpper(t[1]), "subject tag " + t[0]
	}
	for _, p := range config.Priorities {
		for _, w := range r.Words[p] {
			if containsWord(m.Subject, w) {
				return p, "subject word \"" + w + "\""
			}
		}
	}
	if v := m.Get("X-Priority"); v != "" {
		if x := xPriorityRE.FindStringSubmatch(v); x != nil {
			switch x[1] {
			case "1", "2":
				return "P2", "X-Priority: " + strings.TrimSpace(v)
			case "4", "5":
				return "P4", "X-Priority: " + strings.TrimSpace(v)
			}
		}
	}
	for _, h := range []string{"Importance", "Priority"} {
		switch v := strings.ToLower(strings.TrimSpace(m.Get(h))); v {
		case "high", "urgent":
			return "P2", h + ": " + v
		case "low", "non-urgent":
			return "P4", h + ": " + v
		}
	}
	return "", ""
}

// IsFeatureRequest reports whether the mail is marked as a feature request
// explicitly: the subject starts (after "Re:"/"Fwd:" prefixes and tags
// with a number, such as a ticket tag or "[P3]") with a feature word that
// is bracketed ("[feature]") or followed by a colon or a dash and a space
// ("Feature request: dark mode", "Functieverzoek - export"). A feature
// word elsewhere is no marker ("[P1] the feature request form crashes",
// "Functieverzoek-knop geeft foutmelding"), and a mail that asks for P1 or
// names a P1 word (a service blocker) is never one: the desk designates
// feature requests (Kwikqy 2.2, 2.5), and a wrong guess would close a P1
// without an SLA clock.
func (r PriorityRules) IsFeatureRequest(m *mailparse.Message) bool {
	if len(r.FeatureWords) == 0 {
		return false
	}
	if p, _ := r.Requested(m); p == "P1" {
		return false
	}
	for _, w := range r.Words["P1"] {
		if containsWord(m.Subject, w) {
			return false
		}
	}
	s := strings.ToLower(subjectStart(m.Subject))
	for _, w := range r.FeatureWords {
		w = strings.ToLower(strings.TrimSpace(w))
		if w == "" {
			continue
		}
		bare := strings.TrimSuffix(strings.TrimPrefix(w, "["), "]")
		if strings.HasPrefix(s, "["+bare+"]") {
			return true
		}
		if bare != w || !strings.HasPrefix(s, bare) {
			continue
		}
		rest := strings.TrimLeft(s[len(bare):], " \t")
		switch {
		case strings.HasPrefix(rest, ":"):
			return true
		case rest != s[len(bare):] || rest == "":
			// A dash after a space: "Functieverzoek - export".
			for _, d := range []string{"- ", "– ", "— "} {
				if strings.HasPrefix(rest, d) {
					return true
				}
			}
		}
	}
	return false
}

var (
	replyPrefixRE = regexp.MustCompile(`(?i)^\s*(re|fw|fwd|aw|wg|antw|sv|vs|tr)\s*(\[\d+\]|\(\d+\))?\s*:`)
	numberTagRE   = regexp.MustCompile(`^\s*\[[^\]]*[0-9][^\]]*\]`)
)

// subjectStart is subject without its reply and forward prefixes and the
// tags with a number before the text.
func subjectStart(subject string) string {
	for {
		if loc := replyPrefixRE.FindStringIndex(subject); loc != nil {
			subject = subject[loc[1]:]
			continue
		}
		if loc := numberTagRE.FindStringIndex(subject); loc != nil {
			subject = subject[loc[1]:]
			continue
		}
		return strings.TrimSpace(subject)
	}
}

// containsWord matches w in s case-insensitively, as a whole word where w
// starts or ends with a letter or digit ("storing" is not in "verstoring";
// "[feature]" matches anywhere).
func containsWord(s, w string) bool {
	w = strings.TrimSpace(w)
	if w == "" {
		return false
	}
	ls, lw := strings.ToLower(s), strings.ToLower(w)
	for i := 0; ; {
		j := strings.Index(ls[i:], lw)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(lw)
		if (start == 0 || !isWordByte(ls[start-1]) || !isWordByte(lw[0])) &&
			(end == len(ls) || !isWordByte(ls[end]) || !isWordByte(lw[len(lw)-1])) {
			return true
		}
		i = start + 1
	}
}

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b >= 0x80
}
