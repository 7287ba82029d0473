package notify

import (
	"time"

	"github.com/goodsign/monday"
)

// dateFormats say how each language writes a moment in a mail. time.Format
// knows only English names, so monday translates the day and month names.
// day is the layout of a day alone, for subjects ("SLA digest 23 November
// 2026").
var dateFormats = map[string]struct {
	layout string
	day    string
	locale monday.Locale
}{
	"nl": {"Monday 2 January 2006 om 15:04", "2 January 2006", monday.LocaleNlNL}, // zaterdag 21 november 2026 om 20:25; 21 november 2026
	"en": {"Monday 2 January 2006 at 15:04", "2 January 2006", monday.LocaleEnUS}, // Saturday 21 November 2026 at 20:25; 21 November 2026
}

// formatDate writes t for lang, in the desk's time zone loc (nil is UTC).
// The zero time is "", so {{with date .Received}} works as a test too.
func formatDate(t time.Time, lang string, loc *time.Location) string {
	return formatTime(t, lang, loc, false)
}

// formatDay writes the day of t for lang, in the desk's time zone loc:
// "21 november 2026". The zero time is "".
func formatDay(t time.Time, lang string, loc *time.Location) string {
	return formatTime(t, lang, loc, true)
}

func formatTime(t time.Time, lang string, loc *time.Location, dayOnly bool) string {
	if t.IsZero() {
		return ""
	}
	if loc == nil {
		loc = time.UTC
	}
	f, ok := dateFormats[lang]
	if !ok {
		f = dateFormats[fallbackLanguage]
	}
	layout := f.layout
	if dayOnly {
		layout = f.day
	}
	return monday.Format(t.In(loc), layout, f.locale)
}

// FormatDate writes t as the mails do in lang ("zaterdag 21 november 2026
// om 20:25"), in loc: the customers' pages say dates in the same words.
func FormatDate(t time.Time, lang string, loc *time.Location) string { return formatDate(t, lang, loc) }
