package mailparse

// The structural walker stays hand-written: go-message's textproto.ReadHeader
// gives up at the first malformed header line, its multipart reader errors
// on stray lines, and neither bounds the number of parts. Decoding the
// transfer encodings is left to encoding/base64 and mime/quotedprintable.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/textproto"
	"slices"
	"strings"
	"sync"
)

// lineReader hands out lines with their terminators. Lines longer than the
// buffer come in several chunks; only the first has start set, because only
// a line start can be a boundary. Lines pushed back come first.
type lineReader struct {
	br    *bufio.Reader
	queue [][]byte
	mid   bool
	err   error
	w     *work
}

// lineCost is the work of a line besides its bytes: the reader, boundary
// checks and decoders each do something per line.
const lineCost = 16

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
	l.mid = err == bufio.ErrBufferFull
	if err != nil && !l.mid {
		l.err = err
	}
	if len(b) == 0 {
		return nil, false, false
	}
	l.w.add(len(b) + lineCost)
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

// readHeader reads one header block. It stops at the blank line, at a
// delimiter of an enclosing multipart (returned as h) or at a line that
// cannot belong to a header and is not followed by well-known fields: that
// line and the rest are pushed back to become the body. Unindented garbage
// before well-known fields is treated as a continuation, as some broken
// gateways write folded values without indentation.
func (p *parser) readHeader(stack []string, top bool) (header textproto.MIMEHeader, h hit, gotHit bool) {
	var raws [][]byte
	var lines []string
	var term []byte
	used := 0
	for first := top; ; first = false {
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
		if first {
			content = strings.TrimPrefix(content, "\uFEFF")
			if strings.HasPrefix(content, "From ") || strings.HasPrefix(content, ">From ") {
				continue // mbox separator
			}
		}
		if content == "" || content == "\r" {
			term = raw
			break
		}
		if used += len(raw); used > maxHeaderBytes {
			p.warn("header block larger than %d bytes: rest read as body", maxHeaderBytes)
			term = raw
			break
		}
		raws = append(raws, raw)
		lines = append(lines, content)
	}

	lastKnown := -1
	for i, c := range lines {
		if k, _, ok := splitField(c); ok && knownFields[k] {
			lastKnown = i
		}
	}
	// Values are collected as pieces and joined once: appending to a
	// string per continuation line is quadratic on a hostile header.
	var keys []string
	var pieces [][]string
	add := func(c string) {
		k, v, _ := splitField(c)
		keys = append(keys, k)
		pieces = append(pieces, []string{v})
	}
	cont := func(c string) bool {
		if len(pieces) == 0 {
			return false
		}
		pieces[len(pieces)-1] = append(pieces[len(pieces)-1], c)
		return true
	}
	for i, c := range lines {
		p.w.add(len(c) + lineCost)
		_, _, field := splitField(c)
		indented := c[0] == ' ' || c[0] == '\t'
		if !field && !indented && i > lastKnown {
			// Python's MissingHeaderBodySeparatorDefect: the body starts here.
			p.warn("header not ended by a blank line")
			back := raws[i:]
			if term != nil {
				back = append(back, term)
			}
			p.lr.unread(back)
			h, gotHit = hit{}, false
			break
		}
		switch {
		case field:
			add(c)
		case indented:
			if cont(c) {
				continue
			}
			if t := strings.TrimLeft(c, " \t"); isField(t) {
				p.warn("header starts with an indented line")
				add(t)
			} else {
				p.warn("header: dropped an indented line without field")
			}
		case cont(" " + c):
			p.warn("header: unindented continuation line")
		default:
			p.warn("header: dropped a line that is not a field")
		}
	}
	header = make(textproto.MIMEHeader, len(keys))
	for i, k := range keys {
		header[k] = append(header[k], strings.TrimSpace(strings.Join(pieces[i], "")))
	}
	return header, h, gotHit
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

	// leaf is the entity's place among the mail's leaves, 1-based, in
	// the order they stream by (Attachment.Part); 0 for a multipart.
	leaf int

	// leaf results
	size    int64
	sum     string
	capture bool   // the decoded bytes are kept because they may become Text
	text    []byte // kept decoded bytes (transfer encoding only)
	trunc   bool
	skipped bool
	// preamble text of a multipart whose delimiters never showed up
	preamble []byte
	// signed is the content of an opaque signed part (smime.p7m), kept
	// until its content is taken out (unwrapSigned).
	signed []byte
	// subject is an attached mail's Subject as a file name.
	subject string
}

// newNode reads what the walk needs from a part header. parentSub is the
// subtype of the enclosing multipart ("digest" changes the default type).
func (p *parser) newNode(header textproto.MIMEHeader, parentSub string) *node {
	n := &node{}
	// A repeated Content-Type is read like mail-parser does: the last one
	// wins (broken generators append the real one).
	ct := ""
	if vs := header["Content-Type"]; len(vs) > 0 {
		ct = vs[len(vs)-1]
	}
	if ct != "" {
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
	n.cte = normalizeCTE(header.Get("Content-Transfer-Encoding"))
	disp, dparams := p.parseParams(header.Get("Content-Disposition"))
	n.disp = strings.ToLower(strings.TrimSpace(disp))
	n.filename = cleanFilename(dparams["filename"])
	// "file" and a filename on Content-Type are not standard but seen
	// from old mailers.
	for _, v := range []string{n.params["name"], n.params["filename"], n.params["file"], dparams["name"]} {
		if n.filename == "" {
			n.filename = cleanFilename(v)
		}
	}
	_, n.contentID = header["Content-Id"]
	return n
}

func validMediaType(mt string) bool {
	_, _, err := mime.ParseMediaType(mt)
	return err == nil && strings.Contains(mt, "/")
}

// cleanFilename removes control characters and white space around a file
// name, and keeps only the base name of a Windows path (C:\Users\jan\scan.pdf
// is scan.pdf): the folders are the sender's.
func cleanFilename(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if i := strings.LastIndexByte(s, '\\'); i >= 0 && strings.TrimSpace(s[i+1:]) != "" {
		s = s[i+1:]
	}
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
	case v == "uuencode" || v == "x-uue" || v == "uue":
		return "x-uuencode"
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
	h := p.leaf(n, stack)
	if n.signed != nil {
		p.unwrapSigned(n, depth)
	}
	return h
}

// skip consumes lines up to a delimiter in stack or the end of input.
func (p *parser) skip(stack []string) hit {
	b := &bodyReader{lr: p.lr, stack: stack}
	copyPooled(io.Discard, b)
	return b.hit
}

func (p *parser) multipart(n *node, boundary string, depth int, stack []string) hit {
	own := len(stack)
	inner := append(slices.Clip(stack), boundary)
	sub := n.mediaType[len("multipart/"):]

	// Preamble: kept (bounded) in case the delimiters never come, so that a
	// mail with a wrong boundary still has a body.
	for found := false; !found; {
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
		var h hit
		if p.parts >= p.lim.MaxParts {
			if !p.partsWarn {
				p.partsWarn = true
				p.warn("more than %d MIME parts: the rest skipped", p.lim.MaxParts)
			}
			p.w.add(partCost / 4)
			h = p.skip(inner)
		} else {
			p.parts++
			p.w.add(partCost)
			header, bh, gotHit := p.readHeader(inner, false)
			child := p.newNode(header, sub)
			n.children = append(n.children, child)
			if gotHit {
				// A delimiter right in the part header: the part is empty.
				if len(header) > 0 {
					p.warn("part header not ended by a blank line")
				}
				child.multipart = false
				child.capture = isTextCandidate(child)
				p.leaves++
				child.leaf = p.leaves
				p.finishLeaf(child, newLeafSink(0, p.w))
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
		default:
			p.warn("multipart not closed before its parent's delimiter")
		}
		return h
	}
}

// partCost is the work of a part besides its bytes: a header map, its
// parameters, a hash.
const partCost = 256

// leafSink hashes and counts the decoded content and keeps a bounded copy
// when the part may become Text.
type leafSink struct {
	// out also gets the decoded content (ExtractPart); nil: nobody.
	out    io.Writer
	outErr error
	h      hash.Hash
	n      int64
	keep   []byte
	limit  int
	trunc  bool
	w      *work
}

func newLeafSink(limit int, w *work) *leafSink {
	return &leafSink{h: sha256.New(), limit: limit, w: w}
}

func (s *leafSink) Write(b []byte) (int, error) {
	s.w.add(len(b))
	if s.out != nil && s.outErr == nil {
		// A reader gone away stops the copy, not the parse: the mail is
		// read to its end either way (the fetch is bounded by its size).
		_, s.outErr = s.out.Write(b)
	}
	s.h.Write(b)
	s.n += int64(len(b))
	if room := s.limit - len(s.keep); room > 0 {
		s.keep = append(s.keep, b[:min(len(b), room)]...)
		s.trunc = s.trunc || len(b) > room
	} else if len(b) > 0 && s.limit > 0 {
		s.trunc = true
	}
	return len(b), nil
}

func (p *parser) finishLeaf(n *node, s *leafSink) {
	n.size = s.n
	n.sum = hex.EncodeToString(s.h.Sum(nil))
	n.text, n.trunc = s.keep, s.trunc
	p.textRoom -= len(s.keep)
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
		limit = min(4*p.lim.MaxText, max(p.textRoom, 0))
	}
	report := isReportPart(n.mediaType)
	if report && limit == 0 {
		limit = maxReportPart
	}
	signed := limit == 0 && p.unwraps < maxUnwraps && isOpaqueSigned(n)
	if signed {
		limit = maxSignedData
	}
	sink := newLeafSink(limit, p.w)
	p.leaves++
	n.leaf = p.leaves
	if p.extract != nil && p.extract.part == n.leaf {
		sink.out = p.extract.out
		p.extract.node = n
	}
	body := &bodyReader{lr: p.lr, stack: stack}
	switch n.cte {
	case "", "base64", "quoted-printable", "x-uuencode":
	default:
		p.warn("unknown transfer encoding %q: content kept as is", n.cte)
	}
	decodeBody(sink, body, n.cte, p.w)
	copyPooled(io.Discard, body) // up to the delimiter, whatever the decoder left
	if report && !n.capture {
		if n.mediaType == "message/rfc822" || n.mediaType == "message/global" {
			n.subject = p.attachedSubject(sink.keep)
		}
		p.noteReport(n.mediaType, sink.keep)
		sink.keep = nil // read for the report, not text
	}
	if signed {
		if !sink.trunc {
			n.signed = sink.keep
		}
		sink.keep = nil // read for its content, not text
	}
	p.finishLeaf(n, sink)
	if sink.out != nil {
		p.extract.err = sink.outErr
	}
	return body.hit
}

// bodyReader yields the raw body of one entity: the lines up to a delimiter
// of an enclosing multipart (then in hit) or the end of input. The line
// break before a delimiter belongs to the delimiter, so each one is held
// back until the next line shows it is content.
type bodyReader struct {
	lr    *lineReader
	stack []string
	hit   hit
	done  bool
	cur   []byte // returned next
	line  []byte // returned after cur; valid until lr moves on
	eol   []byte // held back
}

func (b *bodyReader) fill() bool {
	for len(b.cur) == 0 {
		switch {
		case len(b.line) > 0:
			b.cur, b.line = b.line, nil
		case b.done:
			return false
		default:
			line, start, ok := b.lr.next()
			if !ok {
				b.done, b.hit, b.cur = true, eofHit, b.eol
				continue
			}
			if start {
				if h, ok := matchBoundary(line, b.stack); ok {
					b.done, b.hit = true, h
					continue
				}
			}
			var eol []byte
			b.cur = b.eol
			b.line, eol = splitEOL(line)
			b.eol = crlf[2-len(eol):] // a constant: line is reused by lr
		}
	}
	return true
}

var crlf = []byte("\r\n")

// Read returns as many lines as fit in p: one line per call made the
// decoders' buffers refill once per line, costly on a body of short lines.
func (b *bodyReader) Read(p []byte) (int, error) {
	if !b.fill() {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && b.fill() {
		k := copy(p[n:], b.cur)
		b.cur = b.cur[k:]
		n += k
	}
	return n, nil
}

// decodeBody writes the body from src to w, decoding its transfer encoding.
func decodeBody(w io.Writer, src io.Reader, cte string, wk *work) {
	switch cte {
	case "base64":
		decodeBase64(w, src, wk)
	case "x-uuencode":
		decodeUU(w, src, wk)
	case "quoted-printable":
		copyPooled(w, quotedprintable.NewReader(&qpFilter{src: bufio.NewReader(src), w: wk}))
	default:
		copyPooled(w, src)
	}
}

// copyBuffers keep io.Copy from allocating 32 KiB for every part of every
// mail (neither side has WriteTo or ReadFrom).
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func copyPooled(w io.Writer, r io.Reader) {
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	_, _ = io.CopyBuffer(w, r, *buf)
}

// decodeBase64 feeds base64.RawStdEncoding only alphabet bytes, as mail in
// the wild has indented, junk-laden and unpadded base64. Padding ends a
// block: the rest of its line is junk, and a new block (concatenated
// base64) may start on the next line.
func decodeBase64(w io.Writer, src io.Reader, wk *work) {
	var in [4096]byte
	var enc, dec []byte
	flush := func(end bool) {
		n := len(enc) - len(enc)%4
		if end && len(enc)%4 > 1 {
			n = len(enc) // a lone last character carries no whole byte
		}
		dec = slices.Grow(dec[:0], n)[:base64.RawStdEncoding.DecodedLen(n)]
		k, _ := base64.RawStdEncoding.Decode(dec, enc[:n])
		w.Write(dec[:k])
		enc = enc[:copy(enc, enc[n:])]
		if end {
			enc = enc[:0]
		}
	}
	junk := false
	for {
		n, err := src.Read(in[:])
		wk.add(n)
		for _, c := range in[:n] {
			switch {
			case junk:
				junk = c != '\n'
			case isBase64(c):
				enc = append(enc, c)
			case c == '=':
				flush(true)
				junk = true
			}
		}
		if len(enc) >= 4096 {
			flush(false)
		}
		if err != nil {
			flush(true)
			return
		}
	}
}

func isBase64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/'
}

// qpFilter passes the body to mime/quotedprintable in a form it accepts
// whole: it stops for good at a control byte, at a '=' before a '=' or a
// bare CR, and at a line longer than its 4 KiB buffer. So control bytes and
// every '=' that starts neither an escape nor a soft line break are
// escaped, and long lines get soft breaks between escapes.
type qpFilter struct {
	src *bufio.Reader
	out []byte
	col int
	w   *work
	// blank: the last byte passed on raw was white space.
	blank bool
}

func (f *qpFilter) Read(p []byte) (int, error) {
	read := 0
	for len(f.out) < len(p) {
		c, err := f.src.ReadByte()
		read++
		if err != nil {
			if len(f.out) == 0 {
				f.w.add(read)
				return 0, err
			}
			break
		}
		var next []byte
		if c == '=' || c == '\r' {
			next, _ = f.src.Peek(2)
		}
		eol := c == '\n' || c == '\r' && len(next) > 0 && next[0] == '\n'
		if f.col > 1000 && !eol {
			f.out = append(f.out, "=\n"...)
			f.col = 0
		}
		n := len(f.out)
		switch {
		case c == '=' && len(next) == 2 && isHex(next[0]) && isHex(next[1]):
			f.out = append(f.out, c, next[0], next[1])
			f.src.Discard(2)
		case c == '=' && f.softBreak():
			// A soft break joins two lines: the decoder is spared the
			// line, which halves the cost of a body of nothing but soft
			// breaks. Not after a blank, which the soft break keeps from
			// being trimmed as trailing white space.
			if next, err := f.src.Peek(1); err == nil && next[0] == '\n' && !f.blank {
				f.src.Discard(1)
				read++
				continue
			}
			f.out = append(f.out, c)
		case c == '=' || c < ' ' && c != '\t' && c != '\r' && c != '\n' || c == 0x7f:
			f.out = append(f.out, '=', upperHex[c>>4], upperHex[c&15])
		default:
			f.out = append(f.out, c)
		}
		f.col += len(f.out) - n
		f.blank = c == ' ' || c == '\t' || c == '\r'
		if c == '\n' {
			f.col = 0
		}
	}
	f.w.add(read)
	n := copy(p, f.out)
	f.out = f.out[:copy(f.out, f.out[n:])]
	return n, nil
}

// softBreak reports whether the '=' just read is a soft line break: only
// blanks follow it up to the line end. It drops those blanks, as both
// decoders do there.
func (f *qpFilter) softBreak() bool {
	for k := 0; k < 256; k++ {
		next, _ := f.src.Peek(k + 1)
		if len(next) <= k || next[k] == '\n' {
			f.w.add(k + 1)
			f.src.Discard(k)
			return true
		}
		if next[k] != ' ' && next[k] != '\t' && next[k] != '\r' {
			f.w.add(k + 1)
			return false
		}
	}
	f.w.add(256)
	return false
}

const upperHex = "0123456789ABCDEF"

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// decodeCTE decodes a small buffer.
func decodeCTE(b []byte, cte string, w *work) []byte {
	var out bytes.Buffer
	decodeBody(&out, bytes.NewReader(b), cte, w)
	return out.Bytes()
}
