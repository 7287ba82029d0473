package mailparse

// Header fields: addresses go through net/mail first, dates through
// net/mail.ParseDate, parameters through mime.ParseMediaType. The lenient
// fallbacks below only run on what those reject.

import (
	"io"
	"iter"
	"mime"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/maildesk/maildesk/address"
)

// knownFields, found below a line that is no field, show that the header
// goes on there (see readHeader).
var knownFields = map[string]bool{
	"From": true, "To": true, "Cc": true, "Bcc": true, "Subject": true, "Date": true, "Message-Id": true,
	"Reply-To": true, "Sender": true, "In-Reply-To": true, "References": true, "Mime-Version": true,
	"Content-Type": true, "Content-Transfer-Encoding": true, "Content-Disposition": true,
	"Received": true, "Return-Path": true,
}

// splitField splits a "Key: value" line; ok is false when it is none (no
// colon, or a key that is empty or not printable ASCII).
func splitField(c string) (key, value string, ok bool) {
	k, v, found := strings.Cut(c, ":")
	k = strings.TrimRight(k, " \t")
	if !found || k == "" || strings.IndexFunc(k, func(r rune) bool { return r < 33 || r > 126 }) >= 0 {
		return "", "", false
	}
	return textproto.CanonicalMIMEHeaderKey(k), v, true
}

func isField(c string) bool {
	_, _, ok := splitField(c)
	return ok
}

// rawFields are kept exactly as received: their values are read by other
// parsers (authz) that must see what the MTA wrote.
var rawFields = map[string]bool{
	"Authentication-Results":     true,
	"Arc-Authentication-Results": true,
	"Received-Spf":               true,
}

func (p *parser) fillHeader(h textproto.MIMEHeader) {
	m := p.msg
	m.Header = make(map[string][]string, len(h))
	var subjectBad []string
	for k, vs := range h {
		for i, v := range vs {
			if rawFields[k] {
				// Structured fields have no encoded words (RFC 2047 5):
				// decoding one would let a sender's quoted address turn
				// into results inside the desk's own header.
				m.Header[k] = append(m.Header[k], v)
				continue
			}
			d, bad, capped := decodeWordsCapped(v, p.hint, p.w, maxWordBytes)
			if k == "Subject" && i == 0 {
				subjectBad = bad
			}
			if capped {
				p.warn("%s: encoded words beyond the first %d KiB kept undecoded", k, maxWordBytes>>10)
			}
			m.Header[k] = append(m.Header[k], d)
		}
	}
	if vs, ok := m.Header["Subject"]; ok {
		for _, cs := range subjectBad {
			p.warn("Subject: unknown charset %q kept undecoded", cs)
		}
		p.w.add(len(vs[0]))
		m.Subject = foldSpace(vs[0])
	}
	// Broken senders write an empty <> or a second From: the first mailbox
	// that has an address is the sender.
	if from := p.addresses(h, "From"); len(from) > 0 {
		m.From = from[0]
		for _, a := range from {
			if a.Address != "" {
				m.From = a
				break
			}
		}
	}
	m.ReplyTo = p.addresses(h, "Reply-To")
	m.To = p.addresses(h, "To")
	m.Cc = p.addresses(h, "Cc")
	if vs, ok := h["Date"]; ok {
		v := vs[0]
		p.w.add(32 * len(v))
		t, ok := parseDate(v)
		if !ok {
			p.warn("unparseable Date %q", truncate(v, 60))
		}
		m.Date = t
	}
	if vs, ok := h["Return-Path"]; ok {
		p.w.add(8 * len(vs[0]))
		inner := strings.TrimSpace(StripComments(vs[0]))
		inner = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(inner, "<"), ">"))
		if inner == "" {
			m.NullReturnPath = true
		} else {
			m.ReturnPath = canonicalAddr(extractAddr(inner))
		}
	}
	if ids := parseIDs(h.Get("Message-Id"), true, p.w); len(ids) > 0 {
		m.MessageID = ids[0]
	}
	m.InReplyTo = parseIDs(strings.Join(h["In-Reply-To"], " "), false, p.w)
	m.References = parseIDs(strings.Join(h["References"], " "), false, p.w)
}

// foldSpace folds the runs of white space in s to one space and trims
// both ends, as strings.Join(strings.Fields(s), " ") does, in one pass and
// one allocation: a Subject may be a megabyte of folded lines.
func foldSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			space = b.Len() > 0
		} else {
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// ---- addresses ----

// addresses parses an address header with net/mail and falls back to a
// lenient split when the list as a whole is rejected. Addresses come out
// canonical (canonicalAddr), names cleaned (cleanDisplayName).
func (p *parser) addresses(h textproto.MIMEHeader, key string) []mail.Address {
	var out []mail.Address
	for _, v := range h[key] {
		if v == "" {
			continue
		}
		// net/mail accepts UTF-8 (RFC 6532) but not raw Latin-1.
		v = p.decode8([]byte(v))
		p.w.add(addrCost * len(v))
		var list []mail.Address
		parsed, err := p.addrParser().ParseList(v)
		if err != nil {
			p.warn("%s: %v: parsed leniently", key, err)
			list = lenientAddresses(v, p.hint, p.w)
		}
		for _, a := range parsed {
			name := a.Name
			if strings.Contains(name, "=?") {
				name, _ = decodeWords(name, p.hint, p.w)
			}
			// net/mail has removed comments and quotes already; its local
			// part is unquoted and may hold spaces, which must stay.
			list = append(list, mail.Address{Name: name, Address: canonicalDomain(a.Address)})
		}
		for _, a := range list {
			p.w.add(addrCost * (len(a.Name) + len(a.Address) + 1))
			a.Name = cleanDisplayName(a.Name)
			out = append(out, a)
		}
	}
	return out
}

// addrCost weighs a byte of an address header: net/mail's parser, the
// word decoder and IDNA each pass over it at some tens of nanoseconds.
const addrCost = 8

// addrParser is net/mail's parser with this package's charsets for encoded
// words, which never fail: net/mail would reject the whole list for one
// word in an unknown charset.
func (p *parser) addrParser() *mail.AddressParser {
	return &mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(label string, in io.Reader) (io.Reader, error) {
			b, err := io.ReadAll(in)
			if err != nil {
				return nil, err
			}
			p.w.add(len(b) + len(label))
			s, known := toUTF8(b, label)
			if !known {
				p.warn("address: unknown charset %q kept undecoded", label)
			}
			return strings.NewReader(s), nil
		},
	}}
}

// canonicalAddr returns an address the way limits, suppression and
// lookups must compare it: comments, white space and quoting removed, a
// "mailto:" or a source route ("@relay:") dropped, the domain canonical
// (canonicalDomain). Keyed on the raw string, a notice limit let a changing
// comment in "<victim@x(cN)>" mail one mailbox 25 times a minute. The local
// part keeps its case: whether case matters there is the receiving
// server's business, so comparing is left to the code that compares.
func canonicalAddr(s string) string {
	s = strings.TrimSpace(StripComments(s))
	if len(s) >= 7 && strings.EqualFold(s[:7], "mailto:") {
		s = s[7:]
	}
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "@") {
		if i := strings.IndexByte(t, ':'); i >= 0 {
			s = t[i+1:]
		}
	}
	at := lastIndexOutsideQuotes(s, '@')
	if at < 0 {
		return unquoteLocal(s)
	}
	return unquoteLocal(s[:at]) + "@" + canonicalDomainPart(strings.Join(strings.Fields(s[at+1:]), ""))
}

// canonicalDomain puts the domain of an address in canonical form.
func canonicalDomain(addr string) string {
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		return addr[:at+1] + canonicalDomainPart(addr[at+1:])
	}
	return addr
}

// canonicalDomainPart is config's normalisation (lower case, IDNA ASCII
// form, no root dot), the one the desk's own lists are kept in. A domain
// it refuses (a literal such as [192.0.2.1], an underscore) is only
// lower-cased: the mail is still read, it just matches nothing configured.
func canonicalDomainPart(d string) string {
	if n, err := address.NormaliseDomain(d); err == nil {
		return n
	}
	return strings.TrimSuffix(strings.ToLower(d), ".")
}

// unquoteLocal removes white space and quoting from a local part the way
// net/mail reads it: "john doe" is john doe, "a\"b" is a"b.
func unquoteLocal(s string) string {
	var b strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted
		case c == '\\' && quoted && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case !quoted && (c == ' ' || c == '\t' || c == '\r' || c == '\n'):
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// outsideQuotes yields the indexes of c in s outside quoted strings, in
// order; a backslash in a quoted string escapes the byte after it.
func outsideQuotes(s string, c byte) iter.Seq[int] {
	return func(yield func(int) bool) {
		quoted := false
		for i := 0; i < len(s); i++ {
			switch {
			case s[i] == '\\' && quoted:
				i++
			case s[i] == '"':
				quoted = !quoted
			case s[i] == c && !quoted:
				if !yield(i) {
					return
				}
			}
		}
	}
}

// lastIndexOutsideQuotes is the index of the last c outside a quoted
// string, -1 if none.
func lastIndexOutsideQuotes(s string, c byte) int {
	last := -1
	for i := range outsideQuotes(s, c) {
		last = i
	}
	return last
}

// maxNameRunes caps a display name: names are copied into notices, ticket
// lists and To lines, and a line of a mail must stay under 998 octets.
const maxNameRunes = 200

// cleanDisplayName removes from a display name what must not reach a
// terminal, a page or another mail: control characters and format
// characters, among them the bidi overrides (U+202E) that reorder what is
// shown and zero-width spaces; it keeps the zero-width (non-)joiners that
// Persian and Indic names and emoji need, which reorder nothing. White
// space is folded, and the name is cut at maxNameRunes, at a rune boundary.
func cleanDisplayName(s string) string {
	var b strings.Builder
	n, space := 0, false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = n > 0
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r) && r != '\u200c' && r != '\u200d':
			continue
		}
		if space {
			if n+1 >= maxNameRunes {
				break
			}
			b.WriteByte(' ')
			n, space = n+1, false
		}
		if n >= maxNameRunes {
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// splitOutside splits s at sep where sep is not inside quotes, <> or ().
// Encoded words are atomic: "=?iso-8859-1?Q?B=FCrling,=20A?=" is one name.
func splitOutside(s string, sep byte, w *work) []string {
	var parts []string
	sc := newWordScanner(s, w)
	word, more := sc.next()
	w.add(len(s))
	quoted, angle, paren := false, 0, 0
	last := 0
	for i := 0; i < len(s); i++ {
		for more && word.start < i {
			word, more = sc.next()
		}
		if more && word.start == i && !quoted {
			i = word.end - 1
			continue
		}
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			angle++
		case c == '>' && angle > 0:
			angle--
		case c == '(':
			paren++
		case c == ')' && paren > 0:
			paren--
		case c == sep && angle == 0 && paren == 0:
			parts = append(parts, s[last:i])
			last = i + 1
		}
	}
	return append(parts, s[last:])
}

var bareAddrRE = regexp.MustCompile(`[^\s<>()",;:\[\]]+@[^\s<>()",;:\[\]]+`)

// lenientAddresses reads what net/mail rejects: unquoted commas and
// specials in names, unbalanced quotes, bare addresses next to names,
// "mailto:", group labels, and names without any address.
func lenientAddresses(v, hint string, w *work) []mail.Address {
	var out []mail.Address
	for _, piece := range splitOutside(v, ',', w) {
		w.add(4*len(piece) + 32)
		piece = strings.TrimSpace(piece)
		// Group syntax "name: a, b;" leaves a label and a semicolon.
		if i := strings.IndexByte(piece, ':'); i >= 0 && !strings.ContainsAny(piece[:i], "<\"@") {
			piece = strings.TrimSpace(piece[i+1:])
		}
		piece = strings.TrimSpace(strings.TrimSuffix(piece, ";"))
		if piece == "" {
			continue
		}
		var a mail.Address
		if lt := angleAddr(piece); lt >= 0 {
			inner, rest := piece[lt+1:], ""
			if gt := strings.IndexByte(inner, '>'); gt >= 0 {
				inner, rest = inner[:gt], inner[gt+1:]
			}
			a.Address = canonicalAddr(inner)
			a.Name = cleanName(piece[:lt], hint, w)
			if a.Name == "" {
				a.Name = cleanName(rest, hint, w)
			}
		} else if bare, m := bareAddr(piece); m != nil {
			// A comment may sit inside the address ("jan(x)@acme.example"):
			// the address is read without comments, and a comment is the
			// name only when nothing else is.
			a.Address = canonicalAddr(bare[m[0]:m[1]])
			a.Name = cleanName(bare[:m[0]]+" "+bare[m[1]:], hint, w)
			if a.Name == "" {
				a.Name = cleanName(FirstComment(piece), hint, w)
			}
		} else {
			// "From: Whomever" has no address; like mail-parser, keep the
			// word as the name, or the comment of "MAILER-DAEMON (Mail
			// Delivery System)" (ingest.Classify reads the raw header for those).
			a.Name = cleanName(piece, hint, w)
			if lp := strings.IndexByte(piece, '('); lp > 0 {
				if c := cleanName(piece[lp:], hint, w); c != "" {
					a.Name = c
				}
			}
		}
		if a.Address == "" && a.Name == "" {
			continue
		}
		out = append(out, a)
	}
	return out
}

// bareAddr finds an address without angle brackets in piece, read without
// its comments; m indexes bare, nil if there is none.
func bareAddr(piece string) (bare string, m []int) {
	bare = piece
	if strings.IndexByte(piece, '(') >= 0 {
		bare = StripComments(piece)
	}
	return bare, bareAddrRE.FindStringIndex(bare)
}

// FirstComment returns the text of the first comment in s, "" if none.
func FirstComment(s string) string {
	lp := strings.IndexByte(s, '(')
	if lp < 0 {
		return ""
	}
	depth := 0
	for i := lp; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return s[lp+1 : i]
			}
		}
	}
	return s[lp+1:]
}

// angleAddr returns the index of the '<' that opens the address of piece:
// outside quotes, preferring one with an @ inside; -1 if none. The next '>'
// and '@' are tracked with forward-only cursors to stay linear on hostile
// headers such as a megabyte of '<'.
func angleAddr(piece string) int {
	first := -1
	quoted := false
	ignoreQuotes := unbalancedQuotes(piece)
	nextGT, nextAt := -1, -1
	for i := 0; i < len(piece); i++ {
		switch c := piece[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"' && !ignoreQuotes:
			quoted = !quoted
		case c == '<' && !quoted:
			if first < 0 {
				first = i
			}
			if nextGT < i {
				nextGT = indexFrom(piece, i, '>')
			}
			if nextAt < i {
				nextAt = indexFrom(piece, i, '@')
			}
			if nextAt < nextGT {
				return i
			}
		}
	}
	return first
}

// indexFrom is the index of c at or after i, or len(s).
func indexFrom(s string, i int, c byte) int {
	if k := strings.IndexByte(s[i:], c); k >= 0 {
		return i + k
	}
	return len(s)
}

func unbalancedQuotes(s string) bool {
	return strings.Count(s, `"`)%2 == 1
}

func cleanName(s, hint string, w *work) string {
	s = strings.TrimSpace(s)
	if unbalancedQuotes(s) {
		s = strings.Trim(s, `"`)
	}
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		s = s[1 : len(s)-1]
	}
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = strings.ReplaceAll(s[1:len(s)-1], `\"`, `"`)
	}
	s, _ = decodeWords(s, hint, w)
	return strings.Join(strings.Fields(s), " ")
}

// extractAddr takes the address out of a value that may still carry a name.
func extractAddr(s string) string {
	if lt := strings.LastIndexByte(s, '<'); lt >= 0 {
		s = s[lt+1:]
		if gt := strings.IndexByte(s, '>'); gt >= 0 {
			s = s[:gt]
		}
	}
	if m := bareAddrRE.FindString(s); m != "" {
		return m
	}
	return strings.TrimSpace(s)
}

// StripComments removes RFC 5322 comments, nested or not, from s; quoted
// strings and quoted-pairs ("\\(") are kept.
func StripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var b strings.Builder
	depth := 0
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (quoted || depth > 0) && i+1 < len(s):
			if depth == 0 {
				b.WriteString(s[i : i+2])
			}
			i++
			continue
		case c == '"' && depth == 0:
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
			continue
		case c == ')' && depth > 0:
			depth--
			continue
		}
		if depth == 0 {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// parseIDs extracts message ids: the <...> tokens, or else bare tokens (only
// those with an @ unless single, which is how Message-ID is read). It stays
// hand-written: go-message's msg-id parser rejects bare and spaced ids.
func parseIDs(v string, single bool, w *work) []string {
	w.add(2 * len(v))
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		id = strings.Join(strings.Fields(id), "")
		if id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for rest := v; ; {
		lt := strings.IndexByte(rest, '<')
		if lt < 0 {
			break
		}
		gt := strings.IndexByte(rest[lt:], '>')
		if gt < 0 {
			break
		}
		add(rest[lt+1 : lt+gt])
		rest = rest[lt+gt+1:]
	}
	if len(ids) > 0 {
		return ids
	}
	toks := strings.FieldsFunc(StripComments(v), func(r rune) bool {
		return unicode.IsSpace(r) || r == ',' || r == '<' || r == '>' || r == '"'
	})
	for _, t := range toks {
		if strings.Contains(t, "@") {
			add(t)
		}
	}
	if len(ids) == 0 && single && len(toks) > 0 {
		add(toks[0])
	}
	return ids
}

// ---- dates ----

// dateLayouts are what net/mail.ParseDate does not know: no zone, asctime,
// full month or day names, ISO 8601.
var dateLayouts = []string{
	"2 Jan 2006 15:04:05",
	"Mon, 2 Jan 2006 15:04:05",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"Mon Jan 2 15:04:05 -0700 2006",
	"Monday, 2 January 2006 15:04:05 -0700",
	"Mon, 2 January 2006 15:04:05 -0700",
	"Mon, Jan 2 2006 15:04:05 -0700",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05",
	time.RFC3339,
}

var (
	dateSpaceRE   = regexp.MustCompile(`\s+`)
	dateCommentRE = regexp.MustCompile(`\([^)]*\)`)
	dateColonRE   = regexp.MustCompile(`\s*:\s*`)
	dateZone3RE   = regexp.MustCompile(`([+-])(\d{3})$`)
)

func parseDate(v string) (time.Time, bool) {
	if t, err := mail.ParseDate(v); err == nil {
		return t, true
	}
	// Comments, spaced or dotted times, "GMT+0200" and three-digit zones
	// are common; a wrong day name must not cost the date.
	s := strings.TrimSpace(dateSpaceRE.ReplaceAllString(dateCommentRE.ReplaceAllString(v, " "), " "))
	s = strings.ReplaceAll(s, " ,", ",")
	s = strings.Replace(s, "GMT+", "+", 1)
	s = strings.Replace(s, "UT ", "UTC ", 1)
	s = dateColonRE.ReplaceAllString(s, ":")
	s = dateZone3RE.ReplaceAllString(s, "${1}0$2")
	cands := []string{s}
	if f := strings.Fields(s); len(f) > 1 && strings.HasSuffix(f[0], ",") {
		cands = append(cands, strings.Join(f[1:], " "))
	}
	for _, c := range cands {
		if t, err := mail.ParseDate(c); err == nil {
			return t, true
		}
		for _, l := range dateLayouts {
			if t, err := time.Parse(l, c); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// ---- parameters (RFC 2045 / RFC 2231) ----

// ParseParamHeader splits a header value with parameters, "value; k=v;
// ...", into the value and the parameters (RFC 2045, RFC 2231), as Parse
// reads Content-Type: ingest.Classify reads such headers too.
func ParseParamHeader(s string) (string, map[string]string) {
	return parseParams(s, "", nil)
}

func (p *parser) parseParams(s string) (string, map[string]string) {
	return parseParams(s, p.hint, p.w)
}

// rfc2231RE finds the charset of an RFC 2231 value ("name*=cs'lang'..." or
// "name*0*="), which mime.ParseMediaType drops unless it is UTF-8 (or
// missing): it is replaced by utf-8 there, so that the raw bytes come out,
// and applied here.
var rfc2231RE = regexp.MustCompile(`(?i)((?:^|[;\s])([a-z0-9_.-]+)\*(?:0\*)?\s*=\s*"?)(?:([^'";\s]*)'[^'";\s]*')?`)

// winPathRE is a quoted parameter value that is a Windows path:
// "C:\dir\f.pdf" or "\\server\share\f.pdf".
var winPathRE = regexp.MustCompile(`="(?:[A-Za-z]:\\|\\\\)[^"]*"`)

// parseParams reads parameters with mime.ParseMediaType, which handles
// RFC 2231 continuations; what it rejects is split leniently, requoted and
// parsed again. Values are then decoded: RFC 2231 charsets, RFC 2047 words
// (many mailers write file names so) and raw 8-bit bytes.
func parseParams(s, hint string, w *work) (string, map[string]string) {
	w.add(32 * len(s))
	s = strings.TrimSpace(s)
	if strings.Contains(s, `\`) {
		// A Windows path quoted without escaping its backslashes (MSIE,
		// old Outlook): only its base name, before the backslashes are
		// read as quoted pairs below.
		s = winPathRE.ReplaceAllStringFunc(s, func(m string) string {
			v := m[2 : len(m)-1]
			if base := v[strings.LastIndexByte(v, '\\')+1:]; base != "" {
				return `="` + base + `"`
			}
			return m
		})
	}
	charsets := map[string]string{}
	for _, m := range rfc2231RE.FindAllStringSubmatch(s, 64) {
		charsets[strings.ToLower(m[2])] = m[3]
	}
	if len(charsets) > 0 {
		s = rfc2231RE.ReplaceAllString(s, "${1}utf-8''")
	}
	value, params, err := mime.ParseMediaType(s)
	for k := range charsets {
		if _, ok := params[k]; !ok {
			err = mime.ErrInvalidMediaParameter // dropped for a bad %-escape
		}
	}
	if err != nil || strings.Contains(s, `\`) { // read "\p" as the quoted-pair "p", where stdlib keeps MSIE paths
		var rest string
		value, rest = requoteParams(s)
		_, params, _ = mime.ParseMediaType("x" + rest)
	}
	if params == nil {
		params = map[string]string{}
	}
	for k, v := range params {
		if cs, ok := charsets[k]; ok {
			if cs == "" {
				cs = hint
			}
			w.add(len(v))
			v, _ = toUTF8([]byte(v), cs)
		}
		params[k], _ = decodeWords(v, hint, w)
	}
	return value, params
}

// requoteParams splits what mime.ParseMediaType rejects the way mail clients
// read it (missing semicolons, unquoted spaces and specials, junk between
// parameters, duplicates: the first wins) and returns the parameters as
// "; k=\"v\"" pairs it accepts, at most 64 of them.
func requoteParams(s string) (value, params string) {
	value, rest := s, ""
	if semi := indexOutsideQuotes(s, ';'); semi >= 0 {
		value, rest = s[:semi], s[semi+1:]
	}
	value = strings.TrimSpace(value)
	if i := strings.IndexAny(value, " \t"); i >= 0 && strings.Contains(value[i:], "=") {
		rest = value[i:] + ";" + rest
		value = value[:i]
	}
	value = strings.TrimSpace(StripComments(value))
	var b strings.Builder
	seen := map[string]bool{}
	for _, m := range paramRE.FindAllStringSubmatchIndex(rest, -1) {
		key := strings.ToLower(strings.TrimSpace(rest[m[2]:m[3]]))
		if key == "" || seen[key] || len(seen) >= 64 || strings.IndexFunc(key, notTokenChar) >= 0 {
			continue
		}
		seen[key] = true
		var val string
		if m[4] >= 0 {
			val = quotedPairRE.ReplaceAllString(rest[m[4]:m[5]], "$1")
		} else {
			val = strings.TrimSpace(rest[m[6]:m[7]])
		}
		if strings.HasSuffix(key, "*") {
			val = pctRepairRE.ReplaceAllStringFunc(val, func(m string) string {
				if len(m) < 3 {
					return "%25" + m[1:] // a '%' that starts no escape is literal
				}
				return m
			})
		}
		b.WriteString("; " + key + `="` + paramQuoter.Replace(val) + `"`)
	}
	return value, b.String()
}

// paramRE reads one "key=value" leniently: an unquoted value runs to the
// next ';', a quoted one to its closing quote (or the end), junk after it
// is dropped. Pieces without '=' are skipped.
var (
	paramRE      = regexp.MustCompile(`(?s)([^;=]*)=[ \t\r\n]*(?:"((?:\\.|[^"\\])*\\?)"?[^;]*|([^;]*))`)
	quotedPairRE = regexp.MustCompile(`(?s)\\(.)`)
)

var pctRepairRE = regexp.MustCompile(`%[0-9A-Fa-f]{0,2}`)

var paramQuoter = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "", "\n", "")

func notTokenChar(r rune) bool {
	return r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?=`, r)
}

// indexOutsideQuotes is the index of the first c outside a quoted string,
// -1 if none.
func indexOutsideQuotes(s string, c byte) int {
	for i := range outsideQuotes(s, c) {
		return i
	}
	return -1
}
