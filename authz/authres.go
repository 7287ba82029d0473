package authz

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/maildesk/maildesk/address"
	"golang.org/x/net/publicsuffix"
)

// Authentication is the verdict on whether a mail's From domain was
// authenticated by one of the desk's own MTAs.
type Authentication struct {
	Pass bool
	// Checked: a trusted Authentication-Results header was there; without
	// one nothing is known either way.
	Checked bool
	Reason  string // what passed, or why nothing did
}

// Authenticate reads the Authentication-Results headers of a mail (values
// as received, newest first) and decides whether fromDomain passed DMARC,
// or DKIM or SPF aligned with it (relaxed alignment: same organisational
// domain).
//
// Only the topmost header whose authserv-id is trusted counts: it is the
// one our own MTA added; anyone can add headers further down, even with our
// authserv-id, before the mail reaches us. So that header decides even when
// it cannot be read: a header we cannot read is a failure, never a reason
// to look further down, where the sender's own header would decide.
func Authenticate(headers []string, fromDomain string, trusted []string) Authentication {
	if len(trusted) == 0 {
		return Authentication{Reason: noTrusted}
	}
	for _, h := range headers {
		id, results, err := parseAuthResults(h, nil)
		if !trustedID(id, trusted) {
			continue
		}
		if err != nil {
			return Authentication{Checked: true, Reason: "unreadable Authentication-Results from " + clip(id) + ": " + err.Error()}
		}
		return judge(id, results, fromDomain)
	}
	return Authentication{Reason: noTrusted}
}

const noTrusted = "no Authentication-Results from a trusted authserv-id"

// judge decides on the results of the trusted header.
func judge(id string, results []authResult, fromDomain string) Authentication {
	from, err := address.NormaliseDomain(fromDomain)
	if err != nil {
		return Authentication{Checked: true, Reason: "no usable From domain"}
	}
	dmarcs := 0
	for _, r := range results {
		if r.method == "dmarc" {
			dmarcs++
		}
	}
	if dmarcs > 1 {
		// One MTA evaluates DMARC once per mail. A second verdict in its
		// header came from text the sender controls (an envelope address
		// or DKIM identity the MTA copied without quoting it): which one
		// is the MTA's own cannot be told.
		return Authentication{Checked: true, Reason: fmt.Sprintf("%d dmarc results in the Authentication-Results from %s", dmarcs, clip(id))}
	}
	var failures []string
	fail := func(s string) {
		// The list ends up in logs and rejection records: a header with
		// hundreds of results must not make it long.
		if len(failures) < maxReported {
			failures = append(failures, s)
		} else if len(failures) == maxReported {
			failures = append(failures, "…")
		}
	}
	for _, r := range results {
		switch r.method {
		case "dmarc":
			d := domainOf(r.props["header.from"])
			// DMARC judged the From header itself: the domain is the one
			// we read there, not merely one of its organisation.
			if r.value == "pass" && d != "" && d == from {
				return Authentication{Pass: true, Checked: true, Reason: "dmarc=pass (" + clip(id) + ")"}
			}
			fail("dmarc=" + clip(r.value) + " header.from=" + clip(r.props["header.from"]))
		case "dkim":
			raw := r.props["header.d"]
			if raw == "" {
				raw = r.props["header.i"]
			}
			d := domainOf(raw)
			if r.value == "pass" && aligned(d, from) {
				return Authentication{Pass: true, Checked: true, Reason: "dkim=pass header.d=" + d + " (" + clip(id) + ")"}
			}
			fail("dkim=" + clip(r.value) + " header.d=" + clip(raw))
		case "spf":
			raw := r.props["smtp.mailfrom"]
			d := domainOf(raw)
			if r.value == "pass" && aligned(d, from) {
				return Authentication{Pass: true, Checked: true, Reason: "spf=pass smtp.mailfrom=" + d + " (" + clip(id) + ")"}
			}
			fail("spf=" + clip(r.value) + " smtp.mailfrom=" + clip(raw))
		}
	}
	if len(failures) == 0 {
		failures = append(failures, "no dmarc, dkim or spf result")
	}
	return Authentication{Checked: true, Reason: "not authenticated for " + from + ": " + strings.Join(failures, ", ")}
}

func trustedID(id string, trusted []string) bool {
	if id = strings.TrimSpace(id); id == "" {
		return false
	}
	for _, t := range trusted {
		if strings.EqualFold(id, strings.TrimSpace(t)) {
			return true
		}
	}
	return false
}

// domainOf returns the domain of a property value in canonical form: the
// value itself (header.d, header.from) or the part after the last '@'
// (header.i, smtp.mailfrom; a quoted local part may hold an '@' of its
// own, the domain cannot). "" when that is no host name.
func domainOf(v string) string {
	if i := strings.LastIndexByte(v, '@'); i >= 0 {
		v = v[i+1:]
	}
	if strings.ContainsAny(v, "\"\\()<>[],;: \t") {
		return ""
	}
	d, err := address.NormaliseDomain(v)
	if err != nil {
		return ""
	}
	return d
}

// aligned: relaxed DMARC alignment, the same organisational domain. Both
// are canonical (domainOf, address.NormaliseDomain).
func aligned(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	oa, err1 := publicsuffix.EffectiveTLDPlusOne(a)
	ob, err2 := publicsuffix.EffectiveTLDPlusOne(b)
	return err1 == nil && err2 == nil && oa == ob
}

const (
	// maxAuthResults caps the header we read. The longest real ones
	// (several DKIM signatures, ARC, long comments) stay under 2 KB; a
	// longer one is read for its authserv-id only, and is a failure.
	maxAuthResults = 16 << 10
	// maxReported caps the failures named in a reason.
	maxReported = 8
	// maxClip caps a value copied from the header into a reason.
	maxClip = 64
)

// clip makes header text fit for a reason: short, and no control or
// format characters (they would reach terminals and logs raw).
func clip(s string) string {
	if len(s) > maxClip {
		cut := maxClip
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return '?'
		}
		return r
	}, s)
}

// authResult is one resinfo of RFC 8601: method=value and the
// ptype.property=value pairs (keys lower case).
type authResult struct {
	method string // lower case, without its version
	value  string // lower case
	props  map[string]string
}

// parseAuthResults reads one Authentication-Results value (RFC 8601 with
// the CFWS of RFC 5322: nested comments, quoted pairs, quoted strings). The
// authserv-id is returned whenever it could be read, even when what
// follows could not: the caller must know whose header it failed to read.
// It is strict where only a mistake or an attack could be (a result without
// a value, a property given twice, a stray quote) and lenient where real
// MTAs differ (Exchange's action=none without a ptype, empty results
// between ';;'). The work is linear in the length of h; steps, when not
// nil, counts it for the tests.
func parseAuthResults(h string, steps *int) (id string, results []authResult, err error) {
	tooLong := len(h) > maxAuthResults
	if tooLong {
		h = h[:maxAuthResults]
	}
	l := &lexer{s: h, steps: steps}
	id, results, err = l.payload()
	if tooLong {
		err = fmt.Errorf("longer than %d bytes", maxAuthResults)
	}
	return id, results, err
}

func (l *lexer) payload() (string, []authResult, error) {
	t := l.next(false)
	if t.kind != tokWord {
		return "", nil, l.fail(t, "no authserv-id")
	}
	id := t.text
	t = l.next(false)
	if t.kind == tokWord && !t.quoted {
		// authres-version: only 1 exists; a later one may mean anything.
		if t.text != "1" {
			return id, nil, fmt.Errorf("unsupported version %q", clip(t.text))
		}
		t = l.next(false)
	}
	if t.kind == tokEOF {
		return id, nil, errors.New("no results")
	}
	var results []authResult
	for t.kind == tokSemi {
		t = l.next(false)
		switch {
		case t.kind == tokSemi || t.kind == tokEOF:
			continue // an empty result, as in "a; b;"
		case t.kind == tokWord && !t.quoted && strings.EqualFold(t.text, "none"):
			// no-result: the MTA checked nothing.
			t = l.next(false)
			continue
		}
		var r authResult
		r, t = l.result(t)
		if l.err != nil {
			return id, results, l.err
		}
		results = append(results, r)
	}
	if t.kind != tokEOF {
		return id, results, l.fail(t, "expected ';'")
	}
	return id, results, nil
}

// result reads method=value [reason=value] [ptype.property=value ...]
// starting at t; it returns the token after it.
func (l *lexer) result(t token) (authResult, token) {
	var r authResult
	if t.kind != tokWord || t.quoted {
		l.fail(t, "expected a method")
		return r, t
	}
	method, _, _ := strings.Cut(t.text, "/") // method-version
	r.method = strings.ToLower(method)
	if !keyword(r.method) {
		l.fail(t, "bad method")
		return r, t
	}
	if t = l.next(false); t.kind != tokEq {
		l.fail(t, "method "+clip(r.method)+" without result")
		return r, t
	}
	if t = l.next(true); t.kind != tokWord || t.quoted || !keyword(t.text) {
		l.fail(t, "method "+clip(r.method)+" without result")
		return r, t
	}
	r.value = strings.ToLower(t.text)
	t = l.next(false)
	for t.kind == tokWord {
		if t.quoted {
			l.fail(t, "quoted property name")
			return r, t
		}
		key := strings.ToLower(t.text)
		if t = l.next(false); t.kind != tokEq {
			l.fail(t, "property "+clip(key)+" without value")
			return r, t
		}
		v := l.next(true)
		switch v.kind {
		case tokWord:
			t = l.next(false)
		case tokSemi, tokEOF:
			// An empty value (smtp.mailfrom= of a bounce) where it cannot
			// be mistaken for anything else.
			t, v.text = v, ""
		default:
			l.fail(v, "property "+clip(key)+" without value")
			return r, v
		}
		if !strings.Contains(key, ".") {
			// reason=, or not RFC 8601 (Exchange's action=none):
			// nothing we judge by.
			continue
		}
		if r.props == nil {
			r.props = make(map[string]string)
		}
		if _, dup := r.props[key]; dup {
			// Which of the two did the MTA mean?
			l.fail(v, "property "+clip(key)+" given twice")
			return r, t
		}
		r.props[key] = v.text
	}
	return r, t
}

func keyword(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokSemi
	tokEq
	tokWord
	tokErr
)

type token struct {
	kind tokKind
	// text of a word: the content of a word that is one quoted string
	// (quoted set), else the word as written, quotes included, so that
	// "a@b"@c keeps its last '@' outside the quotes.
	text   string
	quoted bool
	at     int // offset in the header, for errors
}

// lexer splits a header value into words, ';' and '=', skipping white
// space and comments. Each byte is looked at a bounded number of times.
type lexer struct {
	s     string
	pos   int
	err   error
	steps *int
}

func (l *lexer) step(n int) {
	if l.steps != nil {
		*l.steps += n
	}
}

// fail records the first error; a token that is an error already has one.
func (l *lexer) fail(t token, what string) error {
	if l.err == nil {
		switch t.kind {
		case tokEOF:
			l.err = errors.New(what + " at the end")
		default:
			l.err = fmt.Errorf("%s at offset %d", what, t.at)
		}
	}
	return l.err
}

func (l *lexer) errAt(at int, what string) token {
	if l.err == nil {
		l.err = fmt.Errorf("%s at offset %d", what, at)
	}
	return token{kind: tokErr, at: at}
}

// next returns the next token. In a value (after '='), '=' belongs to
// the word: base64 in header.b, for one.
func (l *lexer) next(value bool) token {
	if l.err != nil {
		return token{kind: tokErr, at: l.pos}
	}
	if at, ok := l.cfws(); !ok {
		return token{kind: tokErr, at: at}
	}
	if l.pos >= len(l.s) {
		return token{kind: tokEOF, at: l.pos}
	}
	start := l.pos
	switch l.s[l.pos] {
	case ';':
		l.pos++
		l.step(1)
		return token{kind: tokSemi, at: start}
	case '=':
		if !value {
			l.pos++
			l.step(1)
			return token{kind: tokEq, at: start}
		}
	case ')':
		return l.errAt(start, "')' without '('")
	}
	firstQuoteEnd := -1 // where the word's first quoted string ends
	for l.pos < len(l.s) {
		c := l.s[l.pos]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(' || c == ')' || c == ';' || c == '=' && !value {
			break
		}
		if c == '"' {
			at := l.pos
			if !l.quoted() {
				return l.errAt(at, "unterminated quoted string")
			}
			if firstQuoteEnd < 0 {
				firstQuoteEnd = l.pos
			}
			continue
		}
		l.pos++
		l.step(1)
	}
	raw := l.s[start:l.pos]
	if raw[0] == '"' && firstQuoteEnd == l.pos {
		return token{kind: tokWord, text: l.unquote(raw[1 : len(raw)-1]), quoted: true, at: start}
	}
	return token{kind: tokWord, text: raw, at: start}
}

// quoted skips the quoted string at l.pos; false when it never ends.
func (l *lexer) quoted() bool {
	l.pos++ // the opening quote
	l.step(1)
	for l.pos < len(l.s) {
		c := l.s[l.pos]
		l.pos++
		l.step(1)
		switch c {
		case '\\':
			if l.pos >= len(l.s) {
				return false
			}
			l.pos++
			l.step(1)
		case '"':
			return true
		}
	}
	return false
}

func (l *lexer) unquote(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		l.step(1)
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cfws skips white space and comments. Comments nest and know quoted
// pairs. RFC 5322 makes a '"' in a comment an ordinary character, but
// MTAs copy quoted addresses into comments (Gmail's "domain of ... designates",
// Rspamd's); a parenthesis inside such quotes ends the comment for RFC
// 5322 and not for a reader that respects the quotes. The two readings
// then disagree on where the results are, and a sender who controls the
// address chooses which text looks like a result: such a comment is an
// error. Where they agree (every real comment), it does not matter.
func (l *lexer) cfws() (at int, ok bool) {
	for l.pos < len(l.s) {
		switch l.s[l.pos] {
		case ' ', '\t', '\r', '\n':
			l.pos++
			l.step(1)
			continue
		case '(':
		default:
			return l.pos, true
		}
		start := l.pos
		depth, inQuote := 0, false
	comment:
		for {
			if l.pos >= len(l.s) {
				l.errAt(start, "unterminated comment")
				return start, false
			}
			c := l.s[l.pos]
			l.pos++
			l.step(1)
			switch c {
			case '\\':
				if l.pos >= len(l.s) {
					l.errAt(start, "unterminated comment")
					return start, false
				}
				l.pos++
				l.step(1)
			case '"':
				inQuote = !inQuote
			case '(', ')':
				if inQuote {
					l.errAt(l.pos-1, "parenthesis inside quotes inside a comment")
					return l.pos - 1, false
				}
				if c == '(' {
					depth++
				} else if depth--; depth == 0 {
					break comment
				}
			}
		}
	}
	return l.pos, true
}
