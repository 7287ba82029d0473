package mailparse

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
)

// Limits bound what one mail may cost.
type Limits struct {
	MaxSize  int64 // raw bytes read at most; a larger mail yields ErrTooLarge (0 = 25 MB)
	MaxParts int   // MIME parts walked at most (0 = 1000); beyond it the remaining parts are skipped with a Warning
	MaxDepth int   // multipart nesting (0 = 20)
	MaxText  int   // bytes of Text kept (0 = 256 KiB), then truncated with a Warning
	// WorkPerByte bounds the parsing work per raw byte read (0 = 128 units,
	// see budget.go); a mail costing more fails with ErrTooComplex.
	WorkPerByte int
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
	// maxWarnings and maxWarningBytes keep a hostile mail from turning
	// Warnings into a log flood.
	maxWarnings     = 50
	maxWarningBytes = 300
)

// ErrTooLarge is returned by Parse for a mail bigger than Limits.MaxSize.
var ErrTooLarge = errors.New("mailparse: mail exceeds the size limit")

// ErrNotMail is returned by Parse when the input has no header field at all.
var ErrNotMail = errors.New("mailparse: input is not a mail: no header fields")

// errInternal marks a recovered panic; the fuzz tests look for it.
var errInternal = errors.New("mailparse: internal parser error")

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
	if l.WorkPerByte <= 0 {
		l.WorkPerByte = defaultWorkPerByte
	}
	return l
}

// Parse reads one raw RFC 5322 message from r, streaming: the body is never
// held whole in memory beyond the text kept (attachments are hashed and
// counted while streaming through them). It fills every Message field.
// An error means the mail is unusable (no header at all, exceeds MaxSize,
// read error); everything repairable becomes a Warning instead and parsing
// continues. Parse never panics and always terminates; a mail whose
// parsing costs more than Limits.WorkPerByte allows fails with
// ErrTooComplex.
func Parse(r io.Reader, lim Limits) (*Message, error) {
	return parse(r, lim, nil)
}

// parse is Parse metered by w; nil means the budget of lim. The tests pass
// an unlimited work to count what a mail costs.
func parse(r io.Reader, lim Limits, w *work) (m *Message, err error) {
	return parseWith(r, lim, w, nil)
}

// parseExtract is Parse copying one leaf's content out on the way (x).
func parseExtract(r io.Reader, lim Limits, x *extraction) (*Message, error) {
	return parseWith(r, lim, nil, x)
}

func parseWith(r io.Reader, lim Limits, w *work, x *extraction) (m *Message, err error) {
	lim = lim.withDefaults()
	raw := &rawReader{r: r, limit: lim.MaxSize, h: sha256.New()}
	if w == nil {
		w = &work{perByte: int64(lim.WorkPerByte)}
	}
	w.read = &raw.n
	br := readers.Get().(*bufio.Reader)
	br.Reset(raw)
	defer func() {
		br.Reset(nil) // keep no reference to this mail
		readers.Put(br)
	}()
	p := &parser{
		lim:      lim,
		lr:       &lineReader{br: br, w: w},
		msg:      &Message{},
		textRoom: 16 * lim.MaxText,
		w:        w,
		extract:  x,
	}
	defer func() {
		v := recover()
		if _, ok := v.(overBudget); ok {
			m, err = nil, fmt.Errorf("parsing stopped after %d units of work at byte %d: %w", w.used, raw.n, ErrTooComplex)
		} else if v != nil {
			// A parser bug must cost one mail, not the daemon.
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
	if rep := p.msg.Report; rep != nil && rep.OriginalMessageID == "" {
		rep.OriginalMessageID = p.returnedID
	}
	if f := p.msg.Feedback; f != nil && f.OriginalMessageID == "" {
		f.OriginalMessageID = p.returnedID
	}
	p.forwardedReport()
	return p.msg, nil
}

// readers are the parsers' read buffers, reused from mail to mail.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}

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

type parser struct {
	lim       Limits
	lr        *lineReader
	msg       *Message
	parts     int
	textRoom  int // bytes all text parts together may still keep
	gotHeader bool
	warned    map[string]bool
	partsWarn bool
	// hint is a charset declared somewhere in the mail, used for raw 8-bit
	// header bytes and undeclared text: a mail whose parts say gb2312 has
	// its raw 8-bit Subject in GBK too, not in Latin-1.
	hint string
	// returnedID is the Message-ID of a returned message or headers part,
	// the original of a bounce.
	returnedID string
	// forwarded is a returned message that is itself a delivery status
	// report (a forwarded bounce); nested: this parser reads one such, and
	// looks for no further one inside it.
	forwarded []byte
	nested    bool
	// uuFiles are the uuencoded files taken out of the text; unwraps
	// counts the opaque signed parts unwrapped.
	uuFiles []uuFile
	unwraps int
	w       *work
	// leaves counts the leaf entities so far (node.leaf).
	leaves int
	// extract, when set, copies one leaf's decoded content (ExtractPart).
	extract *extraction
}

func (p *parser) warn(format string, args ...any) {
	if len(p.msg.Warnings) >= maxWarnings {
		p.w.add(1)
		return
	}
	w := format
	if len(args) > 0 {
		w = fmt.Sprintf(format, args...)
	}
	p.w.add(16 + len(w))
	// An error of net/mail may quote the rest of a megabyte header.
	w = truncate(w, maxWarningBytes)
	if p.warned[w] {
		return
	}
	if p.warned == nil {
		p.warned = map[string]bool{}
	}
	p.warned[w] = true
	p.msg.Warnings = append(p.msg.Warnings, w)
}

func (p *parser) run() {
	header, _, _ := p.readHeader(nil, true)
	if len(header) == 0 {
		// Drain the input anyway: MaxSize must hold even for garbage.
		for _, _, ok := p.lr.next(); ok; _, _, ok = p.lr.next() {
		}
		return
	}
	p.gotHeader = true
	root := p.newNode(header, "")
	p.parts = 1
	p.msg.ContentType = root.mediaType
	p.entity(root, 0, nil)
	// The header is decoded last, when the parts have told which charset
	// raw 8-bit header bytes are likely in.
	p.fillHeader(header)
	p.assemble(root)
}
