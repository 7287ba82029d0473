// Package language tells whether a customer wrote in Dutch or English, so
// that a desk answers (and counts SLA hours) in the language of the mail
// when the contact has no language of its own.
package language

import (
	"strings"
	"unicode"
)

// The languages maildesk has templates and calendars for.
const (
	Dutch   = "nl"
	English = "en"
)

// minLetters: below this a trigram guess is noise ("Hi", "Printer kapot").
const minLetters = 20

// minConfidence is whatlanggo's relative margin between the best and the
// second language; below it the text is as much one as the other.
const minConfidence = 0.02

// maxInput bounds the work per mail: the opening lines decide, and a
// pasted log of megabytes must not cost seconds.
const maxInput = 4096

// Detect returns Dutch, English, or "" when the text is too short or too
// mixed to tell. Pass the new text of a mail, not the quoted history: a
// Dutch reply under an English thread is Dutch.
func Detect(text string) string {
	if len(text) > maxInput {
		text = text[:maxInput]
		// Do not split a rune: trigrams of a broken tail are junk anyway,
		// but an invalid byte would be read as a letter of its own.
		text = strings.ToValidUTF8(text, "")
	}
	letters := 0
	for _, r := range text {
		if unicode.IsLetter(r) {
			letters++
		}
	}
	if letters < minLetters {
		return ""
	}
	// whatlanggo's detection limited to Dutch and English (trigram.go).
	lang, confidence := detect(text)
	if confidence < minConfidence {
		return ""
	}
	return lang
}
