package ingest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"html"
	"io"
	"mime"
	"net/mail"
	"net/textproto"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"github.com/k3a/html2text"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// Limits bound what one mail may cost.
type Limits struct {
	MaxSize  int64 // raw bytes read at most; a larger mail yields ErrTooLarge (0 = 25 MB)
	MaxParts int   // MIME parts walked at most (0 = 1000); beyond it the remaining parts are skipped with a Warning
	MaxDepth int   // multipart nesting (0 = 20)
	MaxText  int   // bytes of Text kept (0 = 256 KiB), then truncated with a Warning
}

const (
	defaultMaxSize  = 25 << 20
	defaultMaxParts = 1000
	defaultMaxDepth = 20
	defaultMaxText  = 256 << 10

	// maxHeaderBytes bounds one header block (top level or part), like
	// go-message's default, so that a mail without a blank line cannot make
	// us buffer its whole body as "header".
	maxHeaderBytes = 1 << 20
	// maxWarnings keeps a hostile mail from turning Warnings into a log flood.
	maxWarnings = 50
)

// ErrTooLarge is returned by Parse for a mail bigger than Limits.MaxSize.
var ErrTooLarge = errors.New("ingest: mail exceeds the size limit")

// ErrNotMail is returned by Parse when the input has no header field at all.
var ErrNotMail = errors.New("ingest: input is not a mail: no header fields")

// errInternal marks a recovered panic; the fuzz tests look for it.
var errInternal = errors.New("ingest: internal parser error")

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = defaultMaxSize
	}
	if l.MaxParts <= 0 {
		l.MaxParts = defaultMaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultMaxDepth
	}
	if l.MaxText <= 0 {
		l.MaxText = defaultMaxText
	}
	return l
}

// Parse reads one raw RFC 5322 message from r, streaming: the body is never
// held whole in memory beyond the text kept (attachments are hashed and
// counted while streaming through them). It fills every Message field.
// An error means the mail is unusable (no header at all, exceeds MaxSize,
// read error); everything repairable becomes a Warning instead and parsing
// continues. Parse never panics and always terminates.
func Parse(r io.Reader, lim Limits) (m *Message, err error) {
	lim = lim.withDefaults()
	raw := &rawReader{r: r, limit: lim.MaxSize, h: sha256.New()}
	p := &parser{
		lim:    lim,
		lr:     &lineReader{br: bufio.NewReaderSize(raw, 32<<10)},
		msg:    &Message{},
		budget: 16 * lim.MaxText,
	}
	defer func() {
		// A parser bug must cost one mail, not the daemon.
		if v := recover(); v != nil {
			m, err = nil, fmt.Errorf("%w: %v", errInternal, v)
		}
	}()
	p.run()
	if raw.tooLarge {
		return nil, fmt.Errorf("parsing mail larger than %d bytes: %w", lim.MaxSize, ErrTooLarge)
	}
	if p.lr.err != nil && p.lr.err != io.EOF {
		return nil, fmt.Errorf("reading mail: %w", p.lr.err)
	}
	if !p.gotHeader {
		return nil, ErrNotMail
	}
	p.msg.Size = raw.n
	p.msg.ContentHash = hex.EncodeToString(raw.h.Sum(nil))
	return p.msg, nil
}

// rawReader counts and hashes the raw bytes and enforces MaxSize: it reads at
// most limit+1 bytes so a mail of exactly limit bytes still passes.
type rawReader struct {
	r        io.Reader
	n        int64
	limit    int64
	h        hash.Hash
	tooLarge bool
}

func (c *rawReader) Read(p []byte) (int, error) {
	if c.tooLarge {
		return 0, ErrTooLarge
	}
	if room := c.limit + 1 - c.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if c.n > c.limit {
		c.tooLarge = true
		return n, ErrTooLarge
	}
	return n, err
}

// lineReader hands out lines with their terminators. Lines longer than the
// buffer come in several chunks; only the first has start set, because only
// a line start can be a boundary. Lines pushed back come first.
type lineReader struct {
	br    *bufio.Reader
	queue [][]byte
	mid   bool
	err   error
}

// next returns the next line or chunk. The slice is valid until the next call.
func (l *lineReader) next() (line []byte, start, ok bool) {
	if len(l.queue) > 0 {
		line = l.queue[0]
		l.queue = l.queue[1:]
		return line, true, true
	}
	if l.err != nil {
		return nil, false, false
	}
	start = !l.mid
	b, err := l.br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		l.mid = true
	case err != nil:
		l.mid = false
		l.err = err
	default:
		l.mid = false
	}
	if len(b) == 0 {
		return nil, false, false
	}
	return b, start, true
}

// fullLine returns a copy of the next whole line, keeping at most max bytes
// of an overlong one.
func (l *lineReader) fullLine(max int) (line []byte, ok bool) {
	if len(l.queue) > 0 {
		line = l.queue[0]
		l.queue = l.queue[1:]
		return line, true
	}
	b, _, ok := l.next()
	if !ok {
		return nil, false
	}
	line = append([]byte(nil), b...)
	for l.mid {
		b, _, ok := l.next()
		if !ok {
			break
		}
		if len(line) < max {
			line = append(line, b[:min(len(b), max-len(line))]...)
		}
	}
	return line, true
}

func (l *lineReader) unread(lines [][]byte) {
	l.queue = append(lines, l.queue...)
}

// splitEOL separates a line from its terminator.
func splitEOL(line []byte) (content, eol []byte) {
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		if n > 1 && line[n-2] == '\r' {
			return line[:n-2], line[n-2:]
		}
		return line[:n-1], line[n-1:]
	}
	return line, nil
}

// hit reports which multipart delimiter ended an entity: level indexes the
// boundary stack, -1 is the end of input.
type hit struct {
	level int
	final bool
}

var eofHit = hit{level: -1}

// matchBoundary checks a line against the enclosing boundaries, innermost
// first, the way Python's email package does: "--b" or "--b--" followed only
// by white space.
func matchBoundary(line []byte, stack []string) (hit, bool) {
	if len(stack) == 0 || len(line) < 3 || line[0] != '-' || line[1] != '-' {
		return hit{}, false
	}
	c, _ := splitEOL(line)
	c = bytes.TrimRight(c[2:], " \t\r")
	for i := len(stack) - 1; i >= 0; i-- {
		b := stack[i]
		if !bytes.HasPrefix(c, []byte(b)) {
			continue
		}
		switch rest := c[len(b):]; string(rest) {
		case "":
			return hit{level: i}, true
		case "--":
			return hit{level: i, final: true}, true
		}
	}
	return hit{}, false
}

// field is one header field, value unfolded but not decoded.
type field struct {
	key   string
	value string
}

// node is one MIME entity of the tree built while streaming.
type node struct {
	mediaType string
	params    map[string]string
	disp      string
	filename  string
	cte       string
	contentID bool
	multipart bool
	children  []*node

	// leaf results
	size    int64
	sum     string
	capture bool   // the decoded bytes are kept because they may become Text
	text    []byte // kept decoded bytes (transfer encoding only)
	trunc   bool
	skipped bool
	// preamble text of a multipart whose delimiters never showed up
	preamble []byte
}

type parser struct {
	lim       Limits
	lr        *lineReader
	msg       *Message
	parts     int
	budget    int
	gotHeader bool
	warned    map[string]bool
	partsWarn bool
	// hint is a charset declared somewhere in the mail, used for raw 8-bit
	// header bytes and undeclared text: a mail whose parts say gb2312 has
	// its raw 8-bit Subject in GBK too, not in Latin-1.
	hint string
}

// noteCharset records a declared charset as hint; multi-byte (CJK)
// charsets win over single-byte ones because their raw bytes would
// otherwise be misread as Latin-1 mojibake.
func (p *parser) noteCharset(label string) {
	label = strings.ToLower(strings.Trim(strings.TrimSpace(label), "\"'"))
	switch label {
	case "", "us-ascii", "ascii", "utf-8", "utf8", "x-unknown", "unknown-8bit", "default":
		return
	}
	if p.hint == "" || (!isMultibyteCharset(p.hint) && isMultibyteCharset(label)) {
		p.hint = label
	}
}

func isMultibyteCharset(label string) bool {
	for _, k := range []string{"gb", "big5", "jis", "euc", "2022", "ks_c", "korean", "cp93", "cp94", "cp95", "windows-93", "windows-94", "windows-95", "chinese"} {
		if strings.Contains(label, k) {
			return true
		}
	}
	return false
}

func (p *parser) decode8(b []byte) string {
	return guess8bit(b, p.hint)
}

// guess8bit turns raw 8-bit bytes into UTF-8: UTF-8 as is; else a CJK sniff
// when there is no hint or a Latin one (which would accept any bytes);
// else the hint charset when the bytes are valid in it; else windows-1252.
func guess8bit(b []byte, hint string) string {
	if utf8.Valid(b) {
		return string(b)
	}
	if hint == "" || isLatinCharset(hint) {
		if s, ok := sniffCJK(b); ok {
			return s
		}
	}
	if hint != "" {
		if s, ok := decodeStrict(b, hint); ok {
			return s
		}
	}
	return fix8bit(b)
}

func isLatinCharset(label string) bool {
	switch label {
	case "iso-8859-1", "iso-8859-15", "latin1", "l1", "windows-1252", "cp1252", "iso8859-1", "iso_8859-1":
		return true
	}
	return false
}

func (p *parser) warn(format string, args ...any) {
	w := fmt.Sprintf(format, args...)
	if p.warned[w] || len(p.msg.Warnings) >= maxWarnings {
		return
	}
	if p.warned == nil {
		p.warned = map[string]bool{}
	}
	p.warned[w] = true
	p.msg.Warnings = append(p.msg.Warnings, w)
}

func (p *parser) run() {
	fields, _, _ := p.readHeader(nil, true)
	if len(fields) == 0 {
		// Drain the input anyway: MaxSize must hold even for garbage.
		for _, _, ok := p.lr.next(); ok; _, _, ok = p.lr.next() {
		}
		return
	}
	p.gotHeader = true
	root := p.newNode(fields, "")
	p.parts = 1
	p.msg.ContentType = root.mediaType
	p.entity(root, 0, nil)
	// The header is decoded last, when the parts have told which charset
	// raw 8-bit header bytes are likely in.
	p.fillHeader(fields)
	p.assemble(root)
}

// readHeader reads one header block. It stops at the blank line, at a
// delimiter of an enclosing multipart (returned as h) or at a line that
// cannot belong to a header and is not followed by well-known fields: that
// line and the rest are pushed back to become the body. Unindented garbage
// before well-known fields is treated as a continuation, as some broken
// gateways write folded values without indentation.
func (p *parser) readHeader(stack []string, top bool) (fields []field, h hit, gotHit bool) {
	type rawLine struct {
		raw     []byte
		content string
	}
	var lines []rawLine
	var term []byte
	used := 0
	first := true
	for {
		raw, ok := p.lr.fullLine(maxHeaderBytes)
		if !ok {
			break
		}
		if bh, ok := matchBoundary(raw, stack); ok {
			h, gotHit, term = bh, true, raw
			break
		}
		c, _ := splitEOL(raw)
		content := string(c)
		if first && top {
			content = strings.TrimPrefix(content, "\uFEFF")
			if strings.HasPrefix(content, "From ") || strings.HasPrefix(content, ">From ") {
				first = false
				continue
			}
		}
		first = false
		if content == "" || content == "\r" {
			term = raw
			break
		}
		used += len(raw)
		if used > maxHeaderBytes {
			p.warn("header block larger than %d bytes: rest read as body", maxHeaderBytes)
			term = raw
			break
		}
		lines = append(lines, rawLine{raw, content})
	}

	// A line that is neither a field nor indented ends the header (Python's
	// MissingHeaderBodySeparatorDefect), unless well-known fields follow it:
	// then it is an unindented continuation from a broken gateway.
	lastKnown := -1
	for i, l := range lines {
		if isFieldLine(l.content) && knownFields[newField(l.content).key] {
			lastKnown = i
		}
	}
	// Values are collected as pieces and joined once: appending to a
	// string per continuation line is quadratic on a hostile header.
	var pieces [][]string
	defer func() {
		for i := range fields {
			fields[i].value = strings.Join(pieces[i], "")
		}
	}()
	add := func(c string) {
		f := newField(c)
		fields = append(fields, f)
		pieces = append(pieces, []string{f.value})
	}
	cont := func(c string) bool {
		if len(pieces) == 0 {
			return false
		}
		pieces[len(pieces)-1] = append(pieces[len(pieces)-1], c)
		return true
	}
	for i, l := range lines {
		c := l.content
		switch {
		case isFieldLine(c):
			add(c)
		case c[0] == ' ' || c[0] == '\t':
			if cont(c) {
				continue
			}
			if t := strings.TrimLeft(c, " \t"); isFieldLine(t) {
				p.warn("header starts with an indented line")
				add(t)
			} else {
				p.warn("header: dropped an indented line without field")
			}
		case i > lastKnown:
			p.warn("header not ended by a blank line")
			back := make([][]byte, 0, len(lines)-i+1)
			for _, l := range lines[i:] {
				back = append(back, l.raw)
			}
			if term != nil {
				back = append(back, term)
			}
			p.lr.unread(back)
			return fields, hit{}, false
		case cont(" " + c):
			p.warn("header: unindented continuation line")
		default:
			p.warn("header: dropped a line that is not a field")
		}
	}
	return fields, h, gotHit
}

var knownFields = map[string]bool{
	"From": true, "To": true, "Cc": true, "Bcc": true, "Subject": true, "Date": true, "Message-Id": true,
	"Reply-To": true, "Sender": true, "In-Reply-To": true, "References": true, "Mime-Version": true,
	"Content-Type": true, "Content-Transfer-Encoding": true, "Content-Disposition": true,
	"Received": true, "Return-Path": true,
}

func isFieldLine(c string) bool {
	colon := strings.IndexByte(c, ':')
	if colon <= 0 {
		return false
	}
	key := strings.TrimRight(c[:colon], " \t")
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 33 || key[i] > 126 {
			return false
		}
	}
	return true
}

func newField(c string) field {
	colon := strings.IndexByte(c, ':')
	return field{
		key:   textproto.CanonicalMIMEHeaderKey(strings.TrimRight(c[:colon], " \t")),
		value: c[colon+1:],
	}
}

func firstValue(fields []field, key string) (string, bool) {
	for _, f := range fields {
		if f.key == key {
			return strings.TrimSpace(f.value), true
		}
	}
	return "", false
}

func lastValue(fields []field, key string) (string, bool) {
	for i := len(fields) - 1; i >= 0; i-- {
		if fields[i].key == key {
			return strings.TrimSpace(fields[i].value), true
		}
	}
	return "", false
}

func allValues(fields []field, key string) []string {
	var vs []string
	for _, f := range fields {
		if f.key == key {
			vs = append(vs, strings.TrimSpace(f.value))
		}
	}
	return vs
}

// newNode reads what the walk needs from a part header. parentSub is the
// subtype of the enclosing multipart ("digest" changes the default type).
func (p *parser) newNode(fields []field, parentSub string) *node {
	n := &node{}
	// A repeated Content-Type is read like mail-parser does: the last one
	// wins (broken generators append the real one).
	ct, ok := lastValue(fields, "Content-Type")
	if ok && ct != "" {
		n.mediaType, n.params = p.parseParams(ct)
		n.mediaType = strings.ToLower(strings.Trim(n.mediaType, " \t\"'"))
		if !validMediaType(n.mediaType) {
			p.warn("invalid Content-Type %q: read as text/plain", truncate(ct, 60))
			n.mediaType = "text/plain"
		}
	} else if parentSub == "digest" {
		n.mediaType = "message/rfc822"
	} else {
		n.mediaType = "text/plain"
	}
	if n.params == nil {
		n.params = map[string]string{}
	}
	p.noteCharset(n.params["charset"])
	n.multipart = strings.HasPrefix(n.mediaType, "multipart/")
	cte, _ := firstValue(fields, "Content-Transfer-Encoding")
	n.cte = normalizeCTE(cte)
	disp, dparams := p.parseParams(firstValueOr(fields, "Content-Disposition"))
	n.disp = strings.ToLower(strings.TrimSpace(disp))
	n.filename = cleanFilename(dparams["filename"])
	// "file" and a filename on Content-Type are not standard but seen
	// from old mailers.
	for _, v := range []string{n.params["name"], n.params["filename"], n.params["file"], dparams["name"]} {
		if n.filename == "" {
			n.filename = cleanFilename(v)
		}
	}
	_, n.contentID = firstValue(fields, "Content-Id")
	return n
}

func firstValueOr(fields []field, key string) string {
	v, _ := firstValue(fields, key)
	return v
}

func validMediaType(mt string) bool {
	slash := strings.IndexByte(mt, '/')
	if slash <= 0 || slash == len(mt)-1 {
		return false
	}
	for _, r := range mt {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"[]?=`, r) {
			return false
		}
	}
	return true
}

func cleanFilename(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

func normalizeCTE(v string) string {
	v = strings.ToLower(strings.Trim(strings.TrimSpace(v), "\"'"))
	if i := strings.IndexAny(v, " \t;("); i >= 0 {
		v = v[:i]
	}
	switch {
	case v == "", v == "7bit", v == "8bit", v == "binary", v == "7-bit", v == "8-bit":
		return ""
	case strings.Contains(v, "quoted"):
		return "quoted-printable"
	case strings.Contains(v, "base64") || v == "base-64":
		return "base64"
	}
	return v
}

// entity consumes the body of n, whose header is read, up to a delimiter of
// an enclosing multipart or the end of input.
func (p *parser) entity(n *node, depth int, stack []string) hit {
	if n.multipart {
		b := n.params["boundary"]
		switch {
		case b == "":
			p.warn("%s without boundary: read as text", n.mediaType)
			n.mediaType, n.multipart = "text/plain", false
		case depth >= p.lim.MaxDepth:
			p.warn("multipart nesting deeper than %d: inner parts skipped", p.lim.MaxDepth)
			n.skipped = true
			return p.skip(stack)
		default:
			return p.multipart(n, b, depth, stack)
		}
	}
	return p.leaf(n, stack)
}

// skip consumes lines up to a delimiter in stack or the end of input.
func (p *parser) skip(stack []string) hit {
	for {
		line, start, ok := p.lr.next()
		if !ok {
			return eofHit
		}
		if start {
			if h, ok := matchBoundary(line, stack); ok {
				return h
			}
		}
	}
}

func (p *parser) multipart(n *node, boundary string, depth int, stack []string) hit {
	own := len(stack)
	inner := append(slices.Clip(stack), boundary)
	sub := n.mediaType[len("multipart/"):]

	// Preamble: kept (bounded) in case the delimiters never come, so that a
	// mail with a wrong boundary still has a body.
	var h hit
	found := false
	for !found {
		line, start, ok := p.lr.next()
		if !ok {
			p.warn("multipart without any part: body read as text")
			return eofHit
		}
		if start {
			if bh, ok := matchBoundary(line, inner); ok {
				if bh.level != own {
					p.warn("multipart without any part: body read as text")
					return bh
				}
				if bh.final {
					return p.skip(stack)
				}
				found = true
				continue
			}
		}
		if room := p.lim.MaxText - len(n.preamble); room > 0 {
			n.preamble = append(n.preamble, line[:min(len(line), room)]...)
		}
	}
	n.preamble = nil

	for {
		if p.parts >= p.lim.MaxParts {
			if !p.partsWarn {
				p.partsWarn = true
				p.warn("more than %d MIME parts: the rest skipped", p.lim.MaxParts)
			}
			h = p.skip(inner)
		} else {
			p.parts++
			fields, bh, gotHit := p.readHeader(inner, false)
			child := p.newNode(fields, sub)
			n.children = append(n.children, child)
			if gotHit {
				// A delimiter right in the part header: the part is empty.
				if len(fields) > 0 {
					p.warn("part header not ended by a blank line")
				}
				child.multipart = false
				child.capture = isTextCandidate(child)
				p.finishLeaf(child, newLeafSink(0))
				h = bh
			} else {
				h = p.entity(child, depth+1, inner)
			}
		}
		switch {
		case h.level == own && !h.final:
			continue
		case h.level == own:
			return p.skip(stack)
		case h.level < 0:
			p.warn("multipart not closed before end of mail")
			return h
		default:
			p.warn("multipart not closed before its parent's delimiter")
			return h
		}
	}
}

// leafSink hashes and counts the decoded content and keeps a bounded copy
// when the part may become Text.
type leafSink struct {
	h     hash.Hash
	n     int64
	keep  []byte
	limit int
	trunc bool
}

func newLeafSink(limit int) *leafSink {
	return &leafSink{h: sha256.New(), limit: limit}
}

func (s *leafSink) Write(b []byte) {
	s.h.Write(b)
	s.n += int64(len(b))
	if room := s.limit - len(s.keep); room > 0 {
		if len(b) > room {
			s.trunc = true
			b = b[:room]
		}
		s.keep = append(s.keep, b...)
	} else if len(b) > 0 && s.limit > 0 {
		s.trunc = true
	}
}

func (p *parser) finishLeaf(n *node, s *leafSink) {
	n.size = s.n
	n.sum = hex.EncodeToString(s.h.Sum(nil))
	n.text, n.trunc = s.keep, s.trunc
	p.budget -= len(s.keep)
}

// isTextCandidate reports whether a leaf may become (part of) Text.
func isTextCandidate(n *node) bool {
	return (n.mediaType == "text/plain" || n.mediaType == "text/html") && n.disp != "attachment"
}

func (p *parser) leaf(n *node, stack []string) hit {
	limit := 0
	if isTextCandidate(n) {
		n.capture = true
		// HTML shrinks a lot when rendered and charsets may shrink too:
		// keep more than MaxText of the raw decoded bytes.
		limit = min(4*p.lim.MaxText, max(p.budget, 0))
	}
	sink := newLeafSink(limit)
	var dec decoder
	switch n.cte {
	case "":
		dec = identityDecoder{sink}
	case "base64":
		dec = &base64Decoder{out: sink}
	case "quoted-printable":
		dec = &qpDecoder{out: sink}
	default:
		p.warn("unknown transfer encoding %q: content kept as is", n.cte)
		dec = identityDecoder{sink}
	}
	h := eofHit
	var pend []byte
	for {
		line, start, ok := p.lr.next()
		if !ok {
			break
		}
		if start {
			if bh, ok := matchBoundary(line, stack); ok {
				h, pend = bh, nil
				break
			}
		}
		if pend != nil {
			dec.Write(pend)
		}
		c, eol := splitEOL(line)
		dec.Write(c)
		// The line break before a delimiter belongs to the delimiter.
		switch len(eol) {
		case 0:
			pend = nil
		case 1:
			pend = lf
		default:
			pend = crlf
		}
	}
	if pend != nil {
		dec.Write(pend)
	}
	dec.Close()
	p.finishLeaf(n, sink)
	return h
}

var (
	lf   = []byte("\n")
	crlf = []byte("\r\n")
)

type decoder interface {
	Write([]byte)
	Close()
}

type identityDecoder struct{ out *leafSink }

func (d identityDecoder) Write(b []byte) { d.out.Write(b) }
func (d identityDecoder) Close()         {}

var b64Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// base64Decoder skips everything outside the alphabet and restarts after
// padding, because mail in the wild has indented, truncated and
// concatenated base64.
type base64Decoder struct {
	out *leafSink
	q   [4]byte
	n   int
	buf []byte
	// padded is set after '=': the rest of that line is trailing junk
	// ("...Cg== ignored"), a next block may start on the next line.
	padded bool
}

func (d *base64Decoder) Write(b []byte) {
	for _, c := range b {
		if d.padded {
			d.padded = c != '\n'
			continue
		}
		v := b64Value[c]
		if v == 0xff {
			if c == '=' {
				d.flushQuantum()
				d.padded = true
			}
			continue
		}
		d.q[d.n] = v
		d.n++
		if d.n == 4 {
			d.buf = append(d.buf, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2, d.q[2]<<6|d.q[3])
			d.n = 0
		}
	}
	if len(d.buf) >= 4096 {
		d.out.Write(d.buf)
		d.buf = d.buf[:0]
	}
}

func (d *base64Decoder) flushQuantum() {
	switch d.n {
	case 2:
		d.buf = append(d.buf, d.q[0]<<2|d.q[1]>>4)
	case 3:
		d.buf = append(d.buf, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2)
	}
	d.n = 0
}

func (d *base64Decoder) Close() {
	d.flushQuantum()
	d.out.Write(d.buf)
	d.buf = nil
}

// qpDecoder decodes quoted-printable line by line; malformed escapes are
// kept literally instead of failing the part as mime/quotedprintable does.
type qpDecoder struct {
	out *leafSink
	buf []byte
	tmp []byte
}

func (d *qpDecoder) Write(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			d.buf = append(d.buf, b...)
			if len(d.buf) > 16<<10 {
				d.flushPartial()
			}
			return
		}
		d.buf = append(d.buf, b[:i+1]...)
		d.line(d.buf, true)
		d.buf = d.buf[:0]
		b = b[i+1:]
	}
}

// flushPartial decodes most of an overlong line, keeping back a possibly
// incomplete escape.
func (d *qpDecoder) flushPartial() {
	cut := len(d.buf)
	if k := bytes.LastIndexByte(d.buf[max(0, cut-2):], '='); k >= 0 {
		cut = max(0, cut-2) + k
	}
	d.tmp = qpDecode(d.tmp[:0], d.buf[:cut])
	d.out.Write(d.tmp)
	d.buf = append(d.buf[:0], d.buf[cut:]...)
}

func (d *qpDecoder) line(l []byte, hasEOL bool) {
	c, eol := splitEOL(l)
	c = bytes.TrimRight(c, " \t\r")
	soft := len(c) > 0 && c[len(c)-1] == '='
	if soft {
		c = c[:len(c)-1]
	}
	d.tmp = qpDecode(d.tmp[:0], c)
	if !soft && hasEOL {
		d.tmp = append(d.tmp, eol...)
	}
	d.out.Write(d.tmp)
}

func (d *qpDecoder) Close() {
	if len(d.buf) > 0 {
		d.line(d.buf, false)
		d.buf = nil
	}
}

// decodeCTE decodes a small buffer with the streaming decoders.
func decodeCTE(b []byte, cte string) []byte {
	sink := newLeafSink(len(b) + 1)
	var dec decoder = identityDecoder{sink}
	switch cte {
	case "base64":
		dec = &base64Decoder{out: sink}
	case "quoted-printable":
		dec = &qpDecoder{out: sink}
	}
	dec.Write(b)
	dec.Close()
	return sink.keep
}

func qpDecode(dst, src []byte) []byte {
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '=' && i+2 < len(src) && isHex(src[i+1]) && isHex(src[i+2]) {
			dst = append(dst, unhex(src[i+1])<<4|unhex(src[i+2]))
			i += 2
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// ---- header fields ----

func (p *parser) fillHeader(fields []field) {
	m := p.msg
	m.Header = make(map[string][]string, len(fields))
	for _, f := range fields {
		v, _ := decodeWordsHint(strings.TrimSpace(f.value), p.hint)
		m.Header[f.key] = append(m.Header[f.key], v)
	}
	if v, ok := firstValue(fields, "Subject"); ok {
		s, bad := decodeWordsHint(v, p.hint)
		for _, cs := range bad {
			p.warn("Subject: unknown charset %q kept undecoded", cs)
		}
		m.Subject = strings.Join(strings.Fields(s), " ")
	}
	// Broken senders write an empty <> or a second From: the first mailbox
	// that has an address is the sender.
	from := p.addresses(fields, "From")
	for i, a := range from {
		if a.Address != "" || i == len(from)-1 {
			m.From = from[min(i, len(from)-1)]
			if a.Address == "" {
				m.From = from[0]
			}
			break
		}
	}
	m.ReplyTo = p.addresses(fields, "Reply-To")
	m.To = p.addresses(fields, "To")
	m.Cc = p.addresses(fields, "Cc")
	if v, ok := firstValue(fields, "Date"); ok {
		t, ok := parseDate(v)
		if !ok {
			p.warn("unparseable Date %q", truncate(v, 60))
		}
		m.Date = t
	}
	if v, ok := firstValue(fields, "Return-Path"); ok {
		inner := strings.TrimSpace(stripComments(v))
		inner = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(inner, "<"), ">"))
		if inner == "" {
			m.NullReturnPath = true
		} else {
			m.ReturnPath = lowerDomain(extractAddr(inner))
		}
	}
	if ids := parseIDs(firstValueOr(fields, "Message-Id"), true); len(ids) > 0 {
		m.MessageID = ids[0]
	}
	m.InReplyTo = parseIDs(strings.Join(allValues(fields, "In-Reply-To"), " "), false)
	m.References = parseIDs(strings.Join(allValues(fields, "References"), " "), false)
}

// addresses parses an address header with go-message (net/mail rules) and
// falls back to a lenient split when the list as a whole is rejected.
func (p *parser) addresses(fields []field, key string) []mail.Address {
	vs := allValues(fields, key)
	var out []mail.Address
	for _, v := range vs {
		if v == "" {
			continue
		}
		// net/mail accepts UTF-8 (RFC 6532) but not raw Latin-1.
		v = p.decode8([]byte(v))
		list, err := p.addrParser().ParseList(v)
		if err != nil {
			p.warn("%s: %v: parsed leniently", key, err)
			out = append(out, lenientAddresses(v, p.hint)...)
			continue
		}
		for _, a := range list {
			name := a.Name
			if strings.Contains(name, "=?") {
				name, _ = decodeWordsHint(name, p.hint)
			}
			out = append(out, mail.Address{Name: strings.TrimSpace(name), Address: lowerDomain(a.Address)})
		}
	}
	return out
}

func lowerDomain(addr string) string {
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		return addr[:at] + strings.ToLower(addr[at:])
	}
	return addr
}

// addrParser is net/mail's parser, as go-message's AddressList uses, but
// with this package's charset handling for encoded words: ISO-2022-JP
// words with Shift_JIS bytes, gb2312 read as GB18030, and no failure on an
// unknown charset (the whole list would be rejected for one word).
func (p *parser) addrParser() *mail.AddressParser {
	return &mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(label string, in io.Reader) (io.Reader, error) {
			b, err := io.ReadAll(in)
			if err != nil {
				return nil, fmt.Errorf("reading encoded word: %w", err)
			}
			s, known := toUTF8(b, label)
			if !known {
				p.warn("address: unknown charset %q kept undecoded", label)
			}
			return strings.NewReader(s), nil
		},
	}}
}

// splitOutside splits s at sep where sep is not inside quotes, <> or ().
// Encoded words are atomic: "=?iso-8859-1?Q?B=FCrling,=20A?=" is one name.
func splitOutside(s string, sep byte) []string {
	var parts []string
	quoted, angle, paren := false, 0, 0
	last := 0
	nextEnd := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '=' && !quoted && strings.HasPrefix(s[i:], "=?") {
			if _, _, n, ok := parseWord(s, i, &nextEnd); ok {
				i += n - 1
				continue
			}
		}
		switch {
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

func lenientAddresses(v, hint string) []mail.Address {
	var out []mail.Address
	for _, piece := range splitOutside(v, ',') {
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
			gt := strings.IndexByte(piece[lt:], '>')
			inner := piece[lt+1:]
			rest := ""
			if gt >= 0 {
				inner = piece[lt+1 : lt+gt]
				rest = piece[lt+gt+1:]
			}
			a.Address = strings.Join(strings.Fields(strings.TrimPrefix(strings.TrimSpace(inner), "mailto:")), "")
			a.Name = cleanName(piece[:lt], hint)
			if a.Name == "" {
				a.Name = cleanName(rest, hint)
			}
		} else if m := bareAddrRE.FindStringIndex(piece); m != nil {
			a.Address = piece[m[0]:m[1]]
			a.Name = cleanName(piece[:m[0]]+" "+piece[m[1]:], hint)
		} else {
			// "From: Whomever" has no address; like mail-parser, keep the
			// word as the name, or the comment of "MAILER-DAEMON (Mail
			// Delivery System)" (Classify reads the raw header for those).
			a.Name = cleanName(piece, hint)
			if lp := strings.IndexByte(piece, '('); lp > 0 {
				if c := cleanName(piece[lp:], hint); c != "" {
					a.Name = c
				}
			}
		}
		if a.Address == "" && a.Name == "" {
			continue
		}
		a.Address = lowerDomain(a.Address)
		out = append(out, a)
	}
	return out
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

func cleanName(s, hint string) string {
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
	s, _ = decodeWordsHint(s, hint)
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

func stripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var b strings.Builder
	depth := 0
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
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
// those with an @ unless single, which is how Message-ID is read).
func parseIDs(v string, single bool) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		id = strings.Join(strings.Fields(id), "")
		if id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	rest := v
	for {
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
	toks := strings.FieldsFunc(stripComments(v), func(r rune) bool {
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

var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"Mon, 2 Jan 06 15:04:05 MST",
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04:05 MST",
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
	s := strings.TrimSpace(dateSpaceRE.ReplaceAllString(dateCommentRE.ReplaceAllString(v, " "), " "))
	s = strings.ReplaceAll(s, " ,", ",")
	// "+0200 (CEST)" leftovers, "GMT+0200" and dotted times are common.
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

// parseParamHeader splits "value; k=v; ..." leniently: missing semicolons,
// unquoted spaces, RFC 2231 continuations and charsets (any charset, where
// mime.ParseMediaType drops all but UTF-8) and RFC 2047 words in quoted
// values, which many mailers use for file names.
func parseParamHeader(s string) (string, map[string]string) {
	return parseParamHeaderHint(s, "")
}

func (p *parser) parseParams(s string) (string, map[string]string) {
	return parseParamHeaderHint(s, p.hint)
}

func parseParamHeaderHint(s, hint string) (string, map[string]string) {
	s = strings.TrimSpace(s)
	semi := indexOutsideQuotes(s, ';')
	value, rest := s, ""
	if semi >= 0 {
		value, rest = s[:semi], s[semi+1:]
	}
	value = strings.TrimSpace(value)
	if i := strings.IndexAny(value, " \t"); i >= 0 && strings.Contains(value[i:], "=") {
		rest = value[i:] + ";" + rest
		value = value[:i]
	}
	value = strings.TrimSpace(stripComments(value))
	params := map[string]string{}
	type seg struct {
		idx int
		ext bool
		val string
	}
	segs := map[string][]seg{}
	for len(rest) > 0 && len(params)+len(segs) < 64 {
		rest = strings.TrimLeft(rest, " \t\r\n;")
		if rest == "" {
			break
		}
		eq := strings.IndexByte(rest, '=')
		semi := strings.IndexByte(rest, ';')
		if eq < 0 || (semi >= 0 && semi < eq) {
			if semi < 0 {
				break
			}
			rest = rest[semi+1:]
			continue
		}
		key := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = strings.TrimLeft(rest[eq+1:], " \t\r\n")
		var val string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for i < len(rest) {
				c := rest[i]
				if c == '\\' && i+1 < len(rest) {
					b.WriteByte(rest[i+1])
					i += 2
					continue
				}
				i++
				if c == '"' {
					break
				}
				b.WriteByte(c)
			}
			val = b.String()
			rest = rest[i:]
			if j := strings.IndexByte(rest, ';'); j >= 0 {
				rest = rest[j:]
			} else {
				rest = ""
			}
		} else {
			j := strings.IndexByte(rest, ';')
			if j < 0 {
				j = len(rest)
			}
			val = strings.TrimSpace(rest[:j])
			rest = rest[j:]
		}
		if key == "" {
			continue
		}
		ext := strings.HasSuffix(key, "*")
		name := strings.TrimSuffix(key, "*")
		if star := strings.LastIndexByte(name, '*'); star >= 0 {
			if idx, err := strconv.Atoi(name[star+1:]); err == nil && idx >= 0 && idx < 1000 {
				segs[name[:star]] = append(segs[name[:star]], seg{idx, ext, val})
				continue
			}
		}
		if ext {
			segs[name] = append(segs[name], seg{0, true, val})
			continue
		}
		if _, dup := params[key]; !dup {
			params[key], _ = decodeWordsHint(val, hint)
		}
	}
	for name, ss := range segs {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].idx < ss[j].idx })
		var buf []byte
		cs := ""
		for i, sg := range ss {
			if !sg.ext {
				buf = append(buf, sg.val...)
				continue
			}
			v := sg.val
			if i == 0 {
				if parts := strings.SplitN(v, "'", 3); len(parts) == 3 {
					cs, v = parts[0], parts[2]
				}
			}
			buf = append(buf, pctDecode(v)...)
		}
		if cs == "" {
			cs = hint
		}
		s, _ := toUTF8(buf, cs)
		if strings.Contains(s, "=?") {
			s, _ = decodeWordsHint(s, hint)
		}
		params[name] = s
	}
	return value, params
}

func indexOutsideQuotes(s string, c byte) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quoted:
			i++
		case s[i] == '"':
			quoted = !quoted
		case s[i] == c && !quoted:
			return i
		}
	}
	return -1
}

func pctDecode(s string) []byte {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return b
}

// ---- charsets and encoded words ----

// fix8bit returns b as a string, reading every byte that is not part of a
// valid UTF-8 sequence as windows-1252: undeclared 8-bit mail is mostly
// UTF-8 or Latin-1, and a UTF-8 text with one stray Latin-1 byte keeps its
// UTF-8 characters.
func fix8bit(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var out strings.Builder
	out.Grow(len(b) + len(b)/4)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			r = charmap.Windows1252.DecodeByte(b[0])
		}
		out.WriteRune(r)
		b = b[n:]
	}
	return out.String()
}

// sniffCJK reads raw 8-bit text without any declared charset as GB18030
// when it is mostly 8-bit and decodes to CJK characters only; Latin-1 text
// has a few high bytes between ASCII letters and fails the ratio.
func sniffCJK(b []byte) (string, bool) {
	high, total := 0, 0
	for _, c := range b {
		if c == ' ' || c == '\t' {
			continue
		}
		total++
		if c >= 0x80 {
			high++
		}
	}
	if total == 0 || high*2 < total {
		return "", false
	}
	s, ok := decodeStrict(b, "gb18030")
	if !ok {
		return "", false
	}
	for _, r := range s {
		if r >= 0x80 && !unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) &&
			!(r >= 0x3000 && r <= 0x303f) && !(r >= 0xff00 && r <= 0xffef) {
			return "", false
		}
	}
	return s, true
}

// toUTF8 decodes b from the charset label. known is false for a label no
// decoder knows; the text is then kept as is (UTF-8 or windows-1252).
func toUTF8(b []byte, label string) (s string, known bool) {
	label = strings.ToLower(strings.Trim(strings.TrimSpace(label), "\"'"))
	if i := strings.IndexByte(label, '*'); i >= 0 {
		label = label[:i] // RFC 2231 language suffix
	}
	var enc encoding.Encoding
	switch label {
	case "", "us-ascii", "ascii", "utf-8", "utf8", "x-unknown", "unknown-8bit", "default", "7bit", "8bit":
		return fix8bit(b), true
	case "utf-7", "unicode-1-1-utf-7", "csunicode11utf7", "x-utf-7":
		return decodeUTF7(b), true
	case "iso-2022-jp", "csiso2022jp", "iso-2022-jp-2", "iso-2022-jp-3":
		// ISO-2022-JP is 7-bit; 8-bit bytes under that label are Shift_JIS
		// from Japanese mailers that label everything ISO-2022-JP.
		if !isASCII(b) {
			enc = japanese.ShiftJIS
		} else {
			enc = japanese.ISO2022JP
		}
	case "gb2312", "gbk", "gb18030", "x-gbk", "cp936", "ms936", "windows-936", "euc-cn", "csgb2312", "chinese", "csiso58gb231280", "iso-ir-58", "gb_2312-80":
		// gb2312 mail often carries GBK/GB18030 characters.
		enc = simplifiedchinese.GB18030
	default:
		if e, err := htmlindex.Get(label); err == nil && e != nil {
			enc = e
		}
	}
	if enc == nil {
		r, err := charset.Reader(label, bytes.NewReader(b))
		if err != nil || r == nil {
			return fix8bit(b), false
		}
		out, err := io.ReadAll(r)
		if err != nil {
			return fix8bit(b), false
		}
		return strings.ToValidUTF8(string(out), "\uFFFD"), true
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return fix8bit(b), false
	}
	return strings.ToValidUTF8(string(out), "\uFFFD"), true
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// decodeStrict decodes b with a guessed charset and reports whether that
// looked right: no replacement characters and no C1 controls.
func decodeStrict(b []byte, label string) (string, bool) {
	switch l := strings.ToLower(label); {
	case strings.Contains(l, "2022-jp"):
		label = "shift_jis"
	case strings.Contains(l, "2022-kr"):
		label = "euc-kr"
	}
	s, known := toUTF8(b, label)
	if !known || strings.ContainsRune(s, utf8.RuneError) {
		return "", false
	}
	for _, r := range s {
		if r >= 0x80 && r < 0xa0 {
			return "", false
		}
	}
	return s, true
}

// decodeUTF7 implements RFC 2152, which has no decoder in x/text.
func decodeUTF7(b []byte) string {
	var out strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '+' {
			out.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(b) && b64Value[b[j]] != 0xff {
			j++
		}
		if j == i+1 {
			if j < len(b) && b[j] == '-' {
				out.WriteByte('+')
				i = j
				continue
			}
			out.WriteByte('+')
			continue
		}
		var bits, nbits uint32
		var units []uint16
		for _, c := range b[i+1 : j] {
			bits = bits<<6 | uint32(b64Value[c])
			nbits += 6
			if nbits >= 16 {
				nbits -= 16
				units = append(units, uint16(bits>>nbits))
				bits &= 1<<nbits - 1
			}
		}
		out.WriteString(string(utf16.Decode(units)))
		i = j - 1
		if j < len(b) && b[j] == '-' {
			i = j
		}
	}
	return strings.ToValidUTF8(out.String(), "\uFFFD")
}

// decodeWordsHint decodes RFC 2047 encoded words, leniently: words inside
// other text or quotes, spaces inside Q words, missing padding, and adjacent
// words whose bytes only make a character together. hint is the charset for
// raw 8-bit text between the words. It returns the charsets it could not
// decode; those words are kept as decoded bytes.
func decodeWordsHint(s, hint string) (string, []string) {
	raw := func(t string) string {
		return guess8bit([]byte(t), hint)
	}
	if !strings.Contains(s, "=?") {
		return raw(s), nil
	}
	var out strings.Builder
	var pend []byte
	pendCS := ""
	var bad []string
	flush := func() {
		if len(pend) > 0 {
			t, known := toUTF8(pend, pendCS)
			if !known && !slices.Contains(bad, pendCS) {
				bad = append(bad, pendCS)
			}
			out.WriteString(t)
		}
		pend = pend[:0]
	}
	afterWord := false
	nextEnd := -1 // cached position of the next "?=", keeps the scan linear
	i := 0
	for i < len(s) {
		j := strings.Index(s[i:], "=?")
		if j < 0 {
			break
		}
		start := i + j
		cs, data, n, ok := parseWord(s, start, &nextEnd)
		if !ok {
			flush()
			out.WriteString(raw(s[i : start+2]))
			afterWord = false
			i = start + 2
			continue
		}
		gap := s[i:start]
		if !(afterWord && strings.TrimSpace(gap) == "") {
			flush()
			out.WriteString(raw(gap))
		}
		if cs != pendCS {
			flush()
			pendCS = cs
		}
		pend = append(pend, data...)
		afterWord = true
		i = start + n
	}
	flush()
	out.WriteString(raw(s[i:]))
	return out.String(), bad
}

// parseWord parses the encoded word at s[start:] ("=?cs?e?text?=") and
// returns its charset, decoded bytes and length.
func parseWord(s string, start int, nextEnd *int) (cs string, data []byte, n int, ok bool) {
	rest := s[start+2:]
	q := strings.IndexByte(rest, '?')
	if q <= 0 || q > 64 || q+2 >= len(rest) || rest[q+2] != '?' {
		return "", nil, 0, false
	}
	cs = rest[:q]
	if strings.ContainsAny(cs, " \t\r\n=") {
		return "", nil, 0, false
	}
	enc := rest[q+1]
	textStart := start + 2 + q + 3
	if *nextEnd < textStart {
		k := strings.Index(s[textStart:], "?=")
		if k < 0 {
			*nextEnd = len(s) + 1
		} else {
			*nextEnd = textStart + k
		}
	}
	if *nextEnd > len(s) {
		return "", nil, 0, false
	}
	text := s[textStart:*nextEnd]
	if len(text) > 2000 {
		return "", nil, 0, false
	}
	switch enc {
	case 'q', 'Q':
		data = make([]byte, 0, len(text))
		for i := 0; i < len(text); i++ {
			c := text[i]
			switch {
			case c == '_':
				data = append(data, ' ')
			case c == '=' && i+2 < len(text) && isHex(text[i+1]) && isHex(text[i+2]):
				data = append(data, unhex(text[i+1])<<4|unhex(text[i+2]))
				i += 2
			default:
				data = append(data, c)
			}
		}
	case 'b', 'B':
		clean := make([]byte, 0, len(text))
		for i := 0; i < len(text); i++ {
			if b64Value[text[i]] != 0xff {
				clean = append(clean, text[i])
			}
		}
		if len(clean)%4 == 1 {
			clean = clean[:len(clean)-1]
		}
		d, err := base64.RawStdEncoding.DecodeString(string(clean))
		if err != nil {
			return "", nil, 0, false
		}
		data = d
	default:
		return "", nil, 0, false
	}
	cs = strings.ToLower(cs)
	if i := strings.IndexByte(cs, '*'); i >= 0 {
		cs = cs[:i]
	}
	return cs, data, *nextEnd + 2 - start, true
}

// ---- body selection and text ----

// pickBody returns the leaves that make the Text of n, and the leaves of
// alternatives that lost to them (neither Text nor attachments).
func pickBody(n *node) (body, dropped []*node) {
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
			b, d := pickBody(c)
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
		chosen := []int{best}
		if len(plain) > 0 {
			chosen = plain
		}
		for i := range n.children {
			if slices.Contains(chosen, i) {
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
		return pickBody(n.children[0])
	}
	for _, c := range n.children {
		b, d := pickBody(c)
		if b == nil {
			continue
		}
		if body == nil {
			body, dropped = b, d
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
	body, dropped := pickBody(root)
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

	var walk func(n *node)
	walk = func(n *node) {
		if n.skipped {
			return
		}
		if n.multipart {
			for _, c := range n.children {
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
		}
		if a.Filename == "" {
			num := len(p.msg.Attachments) + 1
			if n.mediaType == "message/rfc822" || n.mediaType == "message/global" {
				a.Filename = fmt.Sprintf("message-%d.eml", num)
			} else {
				a.Filename = fmt.Sprintf("attachment-%d%s", num, extFor(n.mediaType))
			}
		}
		p.msg.Attachments = append(p.msg.Attachments, a)
	}
	walk(root)
}

func (p *parser) renderText(n *node) string {
	raw := n.text
	if n.multipart {
		// A multipart's own transfer encoding is meaningless, except when
		// its delimiters never came and the preamble is all there is.
		raw = decodeCTE(n.preamble, n.cte)
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
	if n.mediaType == "text/html" {
		return htmlToText(s)
	}
	if strings.EqualFold(n.params["format"], "flowed") {
		s = unflow(s, strings.EqualFold(n.params["delsp"], "yes"))
	}
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
	var b strings.Builder
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		quote := 0
		for quote < len(l) && l[quote] == '>' {
			quote++
		}
		prefix, body := l[:quote], l[quote:]
		body = strings.TrimPrefix(body, " ")
		if quote > 0 {
			prefix += " "
		}
		flowed := strings.HasSuffix(body, " ") && body != "-- " && i < len(lines)-1
		if flowed {
			nq := 0
			next := lines[i+1]
			for nq < len(next) && next[nq] == '>' {
				nq++
			}
			flowed = nq == quote
		}
		if !(i > 0 && prevFlowed(lines, i)) {
			b.WriteString(prefix)
		}
		if flowed {
			if delsp {
				body = body[:len(body)-1]
			}
			b.WriteString(body)
			continue
		}
		b.WriteString(body)
		if i < len(lines)-1 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func prevFlowed(lines []string, i int) bool {
	prev := lines[i-1]
	q := 0
	for q < len(prev) && prev[q] == '>' {
		q++
	}
	body := strings.TrimPrefix(prev[q:], " ")
	if !strings.HasSuffix(body, " ") || body == "-- " {
		return false
	}
	nq := 0
	for nq < len(lines[i]) && lines[i][nq] == '>' {
		nq++
	}
	return nq == q
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

func htmlToText(s string) string {
	t := html2text.HTML2TextWithOptions(sanitizeHTML(s),
		html2text.WithUnixLineBreaks(), html2text.WithListSupport(), html2text.WithLinksInnerText())
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
func sanitizeHTML(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	lower := asciiLower(s)
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
			b.WriteString(htmlTextRun(s[i : i+j]))
			i += j
			continue
		}
		if strings.HasPrefix(s[i:], "<!--") {
			end := strings.Index(s[i+4:], "-->")
			if end < 0 {
				break
			}
			i += 4 + end + 3
			continue
		}
		if i+1 >= len(s) || i > lastGT || !(isASCIILetter(s[i+1]) || s[i+1] == '/' || s[i+1] == '!' || s[i+1] == '?') {
			b.WriteRune(phLT)
			i++
			continue
		}
		end := i + strings.IndexByte(s[i:], '>')
		tag := s[i+1 : end]
		name, closing := tagName(lower[i+1 : end])
		next := end + 1
		switch name {
		case "script", "style", "title", "head", "xml":
			if !closing {
				if k := strings.Index(lower[next:], "</"+name); k >= 0 {
					next += k
				} else if name == "head" {
					if k := strings.Index(lower[next:], "<body"); k >= 0 {
						next += k
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
