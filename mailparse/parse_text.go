package mailparse

// The body text: which parts make it, and how they become plain text.
// HTML goes through k3a/html2text after sanitizeHTML has reduced it to the
// subset html2text handles well and fast.

import (
	"bytes"
	"fmt"
	"html"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/k3a/html2text"
)

// pickBody returns the leaves that make the Text of n, and the leaves of
// alternatives that lost to them (neither Text nor attachments).
func pickBody(n *node, w *work) (body, dropped []*node) {
	w.add(1 + len(n.children))
	if n.skipped {
		return nil, nil
	}
	if !n.multipart {
		if n.capture {
			return []*node{n}, nil
		}
		return nil, nil
	}
	if len(n.children) == 0 {
		if len(n.preamble) > 0 {
			return []*node{n}, nil
		}
		return nil, nil
	}
	switch n.mediaType {
	case "multipart/alternative":
		// Plain text wins over HTML unless it is blank. Several plain
		// alternatives are all kept, in order: peers disagree on which one
		// is "the" text, and losing the one the sender meant is worse.
		var bodies, drops [][]*node
		var plain []int
		best, bestScore := -1, -1
		for i, c := range n.children {
			b, d := pickBody(c, w)
			bodies = append(bodies, b)
			drops = append(drops, d)
			if b == nil {
				continue
			}
			score := 0
			if !isBlank(b) {
				score = 2
			}
			if !hasHTML(b) {
				score++
			}
			if score == 3 {
				plain = append(plain, i)
			}
			if score > bestScore {
				best, bestScore = i, score
			}
		}
		if best < 0 {
			return nil, nil
		}
		// A set, not a search of the list per child: an alternative of a
		// thousand plain parts would cost a million steps.
		chosen := make([]bool, len(n.children))
		chosen[best] = len(plain) == 0
		for _, i := range plain {
			chosen[i] = true
		}
		for i := range n.children {
			w.add(1)
			if chosen[i] {
				body = append(body, bodies[i]...)
				dropped = append(dropped, drops[i]...)
				continue
			}
			dropped = append(dropped, bodies[i]...)
		}
		return body, dropped
	case "multipart/related":
		// The first part is the root; the rest are the inline resources it
		// refers to (RFC 2387's start parameter is rare enough to ignore).
		return pickBody(n.children[0], w)
	}
	for _, c := range n.children {
		b, d := pickBody(c, w)
		if b == nil {
			continue
		}
		if body == nil || isBlank(body) && !isBlank(b) {
			// A blank text part (a mailer's empty text/plain before the
			// HTML it sent as a sibling, not as an alternative) is no body
			// when a later part has text: dropped, as in an alternative.
			dropped = append(append(dropped, body...), d...)
			body = b
			continue
		}
		// Later inline text parts (list footers, text around inline images)
		// are part of what the reader sees.
		if hasHTML(b) == hasHTML(body) && allUnnamed(b) {
			body = append(body, b...)
			dropped = append(dropped, d...)
		}
	}
	return body, dropped
}

func isBlank(ns []*node) bool {
	for _, n := range ns {
		if len(bytes.TrimSpace(n.text)) > 0 || len(bytes.TrimSpace(n.preamble)) > 0 {
			return false
		}
	}
	return true
}

func hasHTML(ns []*node) bool {
	for _, n := range ns {
		if n.mediaType == "text/html" {
			return true
		}
	}
	return false
}

func allUnnamed(ns []*node) bool {
	for _, n := range ns {
		if n.filename != "" {
			return false
		}
	}
	return true
}

func (p *parser) assemble(root *node) {
	body, dropped := pickBody(root, p.w)
	used := map[*node]bool{}
	var texts []string
	for _, n := range body {
		used[n] = true
		if t := p.renderText(n); strings.TrimSpace(t) != "" {
			texts = append(texts, t)
		}
	}
	for _, n := range dropped {
		used[n] = true
	}
	text := strings.Join(texts, "\n\n")
	if len(text) > p.lim.MaxText {
		cut := p.lim.MaxText
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
		p.warn("text truncated to %d bytes", p.lim.MaxText)
	}
	p.msg.Text = text

	names := map[string]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		p.w.add(1)
		if n.skipped {
			return
		}
		if n.multipart {
			for i, c := range n.children {
				if n.mediaType == "multipart/signed" && i > 0 && isSignaturePart(c.mediaType) {
					continue
				}
				walk(c)
			}
			return
		}
		if used[n] || (n.capture && n.size == 0 && n.filename == "") {
			return
		}
		a := Attachment{
			Filename:    n.filename,
			ContentType: n.mediaType,
			Size:        n.size,
			SHA256:      n.sum,
			Inline:      n.disp == "inline" || (n.disp == "" && n.contentID),
			Part:        n.leaf,
		}
		if a.Filename == "" {
			num := len(p.msg.Attachments) + 1
			switch {
			case n.subject != "":
				// An attached mail is named after its subject, as mail
				// clients show it.
				a.Filename = uniqueName(n.subject+".eml", names)
			case n.mediaType == "message/rfc822" || n.mediaType == "message/global":
				a.Filename = fmt.Sprintf("message-%d.eml", num)
			default:
				a.Filename = fmt.Sprintf("attachment-%d%s", num, extFor(n.mediaType))
			}
		}
		p.msg.Attachments = append(p.msg.Attachments, a)
	}
	walk(root)
	for _, f := range p.uuFiles {
		p.msg.Attachments = append(p.msg.Attachments, Attachment{Filename: f.name, ContentType: typeByExt(f.name), Size: f.size, SHA256: f.sum})
	}
}

func (p *parser) renderText(n *node) string {
	raw := n.text
	if n.multipart {
		// A multipart's own transfer encoding is meaningless, except when
		// its delimiters never came and the preamble is all there is.
		raw = decodeCTE(n.preamble, n.cte, p.w)
	}
	if n.trunc {
		p.warn("text part larger than the capture limit: truncated")
	}
	label := n.params["charset"]
	if n.mediaType == "text/html" && label == "" {
		label = sniffHTMLCharset(raw)
	}
	var s string
	known := true
	p.w.add(4 * len(raw))
	if label == "" {
		s = p.decode8(raw)
		if !utf8.Valid(raw) {
			p.warn("undeclared 8-bit text: charset guessed")
		}
	} else {
		s, known = toUTF8(raw, label)
	}
	if !known {
		p.warn("unknown charset %q: text kept undecoded", label)
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.ReplaceAll(s, "\x00", "")
	p.w.add(3 * len(s))
	if n.mediaType == "text/html" {
		return htmlToText(s, p.w)
	}
	if strings.EqualFold(n.params["format"], "flowed") {
		p.w.add(2 * len(s))
		s = unflow(s, strings.EqualFold(n.params["delsp"], "yes"))
	}
	p.w.add(2 * len(s))
	s, files, cut := extractUU(s, n.trunc)
	p.uuFiles = append(p.uuFiles, files...)
	if cut {
		p.warn("uuencoded file larger than the text capture: left out of the text")
	}
	p.w.add(2 * len(s))
	return trimLines(s)
}

var metaCharsetRE = regexp.MustCompile(`(?i)<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_.:-]+)`)

func sniffHTMLCharset(b []byte) string {
	if utf8.Valid(b) {
		return ""
	}
	if m := metaCharsetRE.FindSubmatch(b[:min(len(b), 4096)]); m != nil {
		return string(m[1])
	}
	return ""
}

// unflow joins format=flowed lines (RFC 3676) so that paragraphs are not
// cut at the sender's wrap width.
func unflow(s string, delsp bool) string {
	lines := strings.Split(s, "\n")
	depth := func(l string) int { return len(l) - len(strings.TrimLeft(l, ">")) }
	var b strings.Builder
	joined := false // the previous line flowed into this one
	for i, l := range lines {
		q := depth(l)
		body := strings.TrimPrefix(l[q:], " ")
		if !joined {
			b.WriteString(l[:q])
			if q > 0 {
				b.WriteByte(' ')
			}
		}
		// A space at the end joins lines of one quote depth, except in
		// the signature separator.
		joined = strings.HasSuffix(body, " ") && body != "-- " && i < len(lines)-1 && depth(lines[i+1]) == q
		if joined && delsp {
			body = body[:len(body)-1]
		}
		b.WriteString(body)
		if !joined && i < len(lines)-1 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// trimLines removes trailing white space of every line and the blank lines
// at both ends.
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRightFunc(l, unicode.IsSpace)
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

var blankRunRE = regexp.MustCompile(`\n{3,}`)

func htmlToText(s string, w *work) string {
	clean := sanitizeHTML(s, w)
	w.add(html2textCost(clean))
	t := html2text.HTML2TextWithOptions(clean,
		html2text.WithUnixLineBreaks(), html2text.WithListSupport(), html2text.WithLinksInnerText())
	w.add(4 * len(t))
	t = placeholders.Replace(strings.ReplaceAll(t, "\u00a0", " "))
	lines := strings.Split(t, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimFunc(l, unicode.IsSpace)
	}
	t = strings.Join(lines, "\n")
	return strings.Trim(blankRunRE.ReplaceAllString(t, "\n\n"), "\n")
}

var hrefRE = regexp.MustCompile(`(?is)\bhref\s*=\s*("([^"]*)"|'([^']*)'|([^\s"'>]+))`)

var blockTags = map[string]bool{
	"div": true, "tr": true, "table": true, "blockquote": true, "hr": true, "pre": true,
	"dd": true, "dt": true, "dl": true, "center": true, "address": true, "section": true,
	"article": true, "header": true, "footer": true, "form": true, "caption": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
}

// sanitizeHTML rewrites HTML into the small, well-formed subset html2text
// handles: it scans tag text once per '>' (quadratic on stray '>'), drops all
// output after an <a> without href, and only knows attribute-less <p>, <br>
// and <li>. Script, style and comments are removed here.
func sanitizeHTML(s string, w *work) string {
	w.add(2 * len(s))
	var b strings.Builder
	b.Grow(len(s))
	lower := asciiLower(s)
	find := ahead{s: lower, at: map[string]int{}, w: w}
	lastGT := strings.LastIndexByte(s, '>')
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '>' {
			b.WriteRune(phGT)
			i++
			continue
		}
		if c != '<' {
			j := strings.IndexAny(s[i:], "<>")
			if j < 0 {
				j = len(s) - i
			}
			w.add(4 * j)
			b.WriteString(htmlTextRun(s[i : i+j]))
			i += j
			continue
		}
		if strings.HasPrefix(s[i:], "<!--") {
			end := strings.Index(s[i+4:], "-->")
			if end < 0 {
				break
			}
			w.add(end)
			i += 4 + end + 3
			continue
		}
		if i+1 >= len(s) || i > lastGT || !(isASCIILetter(s[i+1]) || s[i+1] == '/' || s[i+1] == '!' || s[i+1] == '?') {
			b.WriteRune(phLT)
			i++
			continue
		}
		end := i + strings.IndexByte(s[i:], '>')
		w.add(end - i)
		tag := s[i+1 : end]
		name, closing := tagName(lower[i+1 : end])
		next := end + 1
		switch name {
		case "script", "style", "title", "head", "xml":
			if !closing {
				if k := find.index(closeTags[name], next); k < len(s) {
					next = k
				} else if name == "head" {
					if k := find.index("<body", next); k < len(s) {
						next = k
					}
				} else {
					next = len(s)
				}
			}
		case "br":
			b.WriteString("<br>")
		case "p":
			if closing {
				b.WriteString("</p>")
			} else {
				b.WriteString("<p>")
			}
		case "li":
			if !closing {
				b.WriteString("<li>")
			}
		case "ul", "ol":
			if closing {
				b.WriteString("</ul>")
			} else {
				b.WriteString("<br>")
			}
		case "td", "th":
			if closing {
				b.WriteString(" ")
			}
		case "a":
			// html2text only recognises a one-line "a href" tag; any other
			// <a> starts a block it never leaves.
			w.add(8*len(tag) + 256)
			if closing {
				b.WriteString("</a>")
			} else if m := hrefRE.FindStringSubmatch(tag); m != nil {
				href := m[2] + m[3] + m[4]
				if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(href)), "javascript:") {
					b.WriteString(`<a href="` + strings.NewReplacer(`"`, "%22", "<", "%3C", ">", "%3E", "\n", "", "\r", "").Replace(href) + `">`)
				}
			}
		default:
			if blockTags[name] {
				b.WriteString("<br>")
			}
		}
		i = next
	}
	return b.String()
}

// closeTags are the closing tags of the elements whose content is dropped.
var closeTags = map[string]string{"script": "</script", "style": "</style", "title": "</title", "head": "</head", "xml": "</xml"}

// ahead finds strings in s from positions that only move forward, so that
// no part of s is searched twice for one string. Searching the rest of the
// mail again at every <head> without a </head> or <body> was quadratic (a
// megabyte of "<head>" took 49 seconds).
type ahead struct {
	s  string
	at map[string]int // first index of the key at or after the last search start; len(s) when there is none
	w  *work
}

// index returns the first index of sub in s at or after from (which must
// not be less than in the previous call for sub), len(s) when none.
func (a *ahead) index(sub string, from int) int {
	if at, ok := a.at[sub]; ok && at >= from {
		return at
	}
	at := len(a.s)
	if k := strings.Index(a.s[from:], sub); k >= 0 {
		at = from + k
	}
	a.w.add(at - from + 1)
	a.at[sub] = at
	return at
}

// html2textCost is the work html2text does on s: a pass over it, plus the
// tag text it lower-cases at every '>' (from the last '<', or from the
// start), plus up to ten runes it reads after every '&' in text. It counts
// what sanitizeHTML is there to keep linear.
func html2textCost(s string) int {
	cost, tagStart, inTag := len(s), 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			tagStart, inTag = i+1, true
		case '>':
			cost += i - tagStart
			inTag = false
		case '&':
			if !inTag {
				cost += 10
			}
		}
	}
	return cost
}

// Placeholders (private use code points) for text characters html2text
// would otherwise parse: it scans up to ten runes, allocating, after every
// '&', which made a megabyte of '&' take most of a second.
const (
	phAmp = '\ue000'
	phLT  = '\ue001'
	phGT  = '\ue002'
)

var placeholders = strings.NewReplacer(string(phAmp), "&", string(phLT), "<", string(phGT), ">")

// htmlTextRun decodes the entities of text between tags and hides the
// characters html2text treats specially.
func htmlTextRun(t string) string {
	if strings.IndexByte(t, '&') >= 0 {
		t = html.UnescapeString(t)
	}
	if strings.ContainsAny(t, "&<>") {
		t = strings.NewReplacer("&", string(phAmp), "<", string(phLT), ">", string(phGT)).Replace(t)
	}
	return t
}

func tagName(tag string) (string, bool) {
	closing := strings.HasPrefix(tag, "/")
	tag = strings.TrimPrefix(tag, "/")
	end := strings.IndexFunc(tag, func(r rune) bool {
		return !(r < 0x80 && (isASCIILetter(byte(r)) || ('0' <= r && r <= '9')))
	})
	if end >= 0 {
		tag = tag[:end]
	}
	return tag, closing
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// asciiLower lower-cases ASCII only, so byte offsets stay valid.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

var extByType = map[string]string{
	"text/plain": ".txt", "text/html": ".html", "text/calendar": ".ics", "text/csv": ".csv",
	"text/xml": ".xml", "text/rfc822-headers": ".txt", "text/enriched": ".txt", "text/x-vcard": ".vcf", "text/vcard": ".vcf",
	"application/xml": ".xml", "application/json": ".json", "application/pdf": ".pdf",
	"application/zip": ".zip", "application/gzip": ".gz", "application/msword": ".doc",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   ".docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         ".xlsx",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
	"application/vnd.ms-excel": ".xls", "application/vnd.ms-powerpoint": ".ppt",
	"application/ms-tnef": ".dat", "application/vnd.ms-tnef": ".dat",
	"application/pkcs7-signature": ".p7s", "application/x-pkcs7-signature": ".p7s",
	"application/pkcs7-mime": ".p7m", "application/x-pkcs7-mime": ".p7m",
	"application/pgp-signature": ".asc", "application/pgp-encrypted": ".asc", "application/pgp-keys": ".asc",
	"application/ics": ".ics", "application/octet-stream": ".bin",
	"message/delivery-status": ".txt", "message/global-delivery-status": ".txt",
	"message/disposition-notification": ".txt", "message/feedback-report": ".txt",
	"image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/pjpeg": ".jpg", "image/gif": ".gif",
	"image/bmp": ".bmp", "image/webp": ".webp", "image/tiff": ".tif", "image/svg+xml": ".svg",
	"audio/mpeg": ".mp3", "audio/wav": ".wav", "video/mp4": ".mp4",
}

func extFor(mediaType string) string {
	if e, ok := extByType[mediaType]; ok {
		return e
	}
	if strings.HasPrefix(mediaType, "text/") {
		return ".txt"
	}
	return ".bin"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
