package ingest

import (
	"regexp"
	"strings"
)

// PriorityRules say how a mail asks for a priority and marks a feature
// request (config.Priority).
type PriorityRules struct {
	Words        map[string][]string // priority -> words, e.g. P1: spoed, urgent
	FeatureWords []string
}

var (
	priorityTagRE = regexp.MustCompile(`(?i)\[\s*(P[1-4])\s*\]`)
	xPriorityRE   = regexp.MustCompile(`^\s*([1-5])`)
)

// Requested returns the priority a mail asks for and what said so, or ""
// when it asks for none. A tag in the subject wins over words, words over
// the mail client's importance flag. Outlook's "high importance" is a
// click away, so it asks for P2, never P1.
func (r PriorityRules) Requested(m *Message) (prio, source string) {
	if t := priorityTagRE.FindStringSubmatch(m.Subject); t != nil {
		return strings.ToUpper(t[1]), "subject tag " + t[0]
	}
	for _, p := range []string{"P1", "P2", "P3", "P4"} {
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

// IsFeatureRequest reports whether the subject marks a feature request.
func (r PriorityRules) IsFeatureRequest(m *Message) bool {
	for _, w := range r.FeatureWords {
		if containsWord(m.Subject, w) {
			return true
		}
	}
	return false
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
