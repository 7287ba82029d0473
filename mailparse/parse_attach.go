package mailparse

// Attachments as agents expect them: a signature is no attachment, an
// opaque signed mail shows its content, an attached mail is named after
// its subject, and the uuencoded files of old Outlook and Notes mail are
// files, not kilobytes of noise in the ticket text.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/textproto"
	"strings"
	"unicode/utf8"
)

// isSignaturePart: the detached signature of a multipart/signed (RFC 1847):
// it proves the content, it is not a file the sender attached.
func isSignaturePart(mediaType string) bool {
	switch mediaType {
	case "application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature":
		return true
	}
	return false
}

// isOpaqueSigned: an S/MIME part that may carry signed content
// (smime-type signed-data, or none said); an encrypted one
// (enveloped-data) cannot be read and stays an attachment.
func isOpaqueSigned(n *node) bool {
	switch n.mediaType {
	case "application/pkcs7-mime", "application/x-pkcs7-mime":
		st := strings.ToLower(strings.TrimSpace(n.params["smime-type"]))
		return st == "" || st == "signed-data"
	case "application/octet-stream":
		return strings.HasSuffix(strings.ToLower(n.filename), ".p7m")
	}
	return false
}

// maxUnwraps is how many opaque signed parts of one mail are unwrapped: a
// signed part inside a signed part stays an attachment, so that a nest of
// them cannot hold a copy of the mail per level.
const maxUnwraps = 1

// berCost weighs a byte of a signed part: the BER reader passes over it
// once per level it descends, five levels.
const berCost = 8

// unwrapSigned reads the content of an opaque signed part like any other
// part and hangs it under n, which becomes its container: the content's
// text becomes the ticket's, its files the attachments, and the p7m
// itself is neither. n stays an attachment when there is no content to
// take out.
func (p *parser) unwrapSigned(n *node, depth int) {
	der := n.signed
	n.signed = nil
	p.unwraps++
	p.w.add(berCost * len(der))
	content, ok := signedContent(der)
	if !ok || depth+1 >= p.lim.MaxDepth || p.parts >= p.lim.MaxParts {
		return
	}
	saved := p.lr
	defer func() { p.lr = saved }()
	p.lr = &lineReader{br: bufio.NewReader(bytes.NewReader(content)), w: p.w}
	header, _, _ := p.readHeader(nil, false)
	p.parts++
	p.w.add(partCost)
	child := p.newNode(header, "")
	p.entity(child, depth+1, nil)
	n.children, n.multipart = []*node{child}, true
}

// attachedSubject is the Subject of an attached mail (its header, kept
// as a report part), decoded, as it may name a file; "" when it has none.
func (p *parser) attachedSubject(b []byte) string {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
	h, _ := r.ReadMIMEHeader()
	s := h.Get("Subject")
	if s == "" {
		return ""
	}
	s, _ = decodeWords(truncate(s, 4<<10), p.hint, p.w)
	return subjectFilename(s)
}

// maxSubjectName bounds a file name made of a subject, in characters.
const maxSubjectName = 100

// subjectFilename makes a subject a file name: without the characters no
// file system takes (/ \ : * ? " < > |) and control characters, white
// space folded, without leading and trailing dots and blanks, cut to
// maxSubjectName characters.
func subjectFilename(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r < ' ', r == 0x7f, strings.ContainsRune(`/\:*?"<>|`, r):
			return ' '
		}
		return r
	}, s)
	s = strings.Trim(foldSpace(s), ". ")
	if utf8.RuneCountInString(s) > maxSubjectName {
		s = strings.TrimRight(string([]rune(s)[:maxSubjectName]), ". ")
	}
	return s
}

// uniqueName returns name, or name with " (2)", " (3)" ... before its
// extension when an earlier attachment has it.
func uniqueName(name string, used map[string]bool) string {
	out := name
	base, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		base, ext = name[:i], name[i:]
	}
	for k := 2; used[out]; k++ {
		out = fmt.Sprintf("%s (%d)%s", base, k, ext)
	}
	used[out] = true
	return out
}

// ---- uuencode ----

// maxUUFiles bounds the files taken out of one text.
const maxUUFiles = 100

// uuFile is a uuencoded file found in a text.
type uuFile struct {
	name string
	size int64
	sum  string
}

// extractUU takes the uuencoded files ("begin 644 name" ... "end") out of
// a plain text and returns the text without them. A block without its end
// is left as it is, unless the text was cut (trunc) and the block runs to
// its end: then its file cannot be had whole, and only its noise goes.
func extractUU(s string, trunc bool) (text string, files []uuFile, cut bool) {
	if !strings.Contains(s, "begin ") {
		return s, nil, false
	}
	var out strings.Builder
	out.Grow(len(s))
	rest := s
	for len(rest) > 0 {
		line, after, nl := strings.Cut(rest, "\n")
		if name, ok := uuBegin(line); ok && len(files) < maxUUFiles {
			f, next, complete := decodeUUBlock(after)
			if complete {
				f.name = name
				files = append(files, f)
				rest = next
				continue
			}
			if trunc && next == "" {
				cut = true
				break
			}
		}
		out.WriteString(line)
		if nl {
			out.WriteByte('\n')
		}
		rest = after
	}
	return out.String(), files, cut
}

// uuBegin reads a "begin MODE NAME" line.
func uuBegin(line string) (name string, ok bool) {
	line = strings.TrimRight(line, " \t\r")
	rest, found := strings.CutPrefix(line, "begin ")
	if !found {
		return "", false
	}
	mode, name, found := strings.Cut(rest, " ")
	if !found || len(mode) < 3 || len(mode) > 4 || strings.Trim(mode, "01234567") != "" {
		return "", false
	}
	name = cleanFilename(name)
	return name, name != ""
}

// decodeUUBlock decodes the data lines after a begin line up to "end";
// complete is false when a line is no data line or "end" never comes.
func decodeUUBlock(s string) (f uuFile, rest string, complete bool) {
	h := sha256.New()
	var buf []byte
	for len(s) > 0 {
		line, after, _ := strings.Cut(s, "\n")
		line = strings.TrimRight(line, "\r")
		if strings.TrimRight(line, " \t") == "end" {
			f.sum = hex.EncodeToString(h.Sum(nil))
			return f, after, true
		}
		var ok bool
		if buf, ok = uuLine(buf[:0], line); !ok {
			return f, s, false
		}
		h.Write(buf)
		f.size += int64(len(buf))
		s = after
	}
	return f, "", false
}

// uuLine decodes one uuencoded line: a length character, then groups of
// four characters for three bytes. Trailing blanks that a mailer stripped
// read as zero; an empty line or "`" is the zero-length line before "end".
// ok is false for a line that is not uuencoded data.
func uuLine(dst []byte, line string) ([]byte, bool) {
	if line == "" {
		return dst, true
	}
	n := int((line[0] - ' ') & 0x3f)
	body := line[1:]
	need := (n + 2) / 3 * 4
	if line[0] < ' ' || line[0] > '`' || len(body) > need+2 || len(body)+2 < need && n > 0 {
		return dst, false
	}
	var q [4]byte
	for i := 0; i < need; i += 4 {
		for k := range q {
			c := byte('`')
			if i+k < len(body) {
				c = body[i+k]
			}
			if c < ' ' || c > '`' {
				return dst, false
			}
			q[k] = (c - ' ') & 0x3f
		}
		for _, x := range []byte{q[0]<<2 | q[1]>>4, q[1]<<4 | q[2]>>2, q[2]<<6 | q[3]} {
			if n > 0 {
				dst = append(dst, x)
				n--
			}
		}
	}
	for _, c := range []byte(body[min(need, len(body)):]) {
		if c < ' ' || c > '`' {
			return dst, false
		}
	}
	return dst, true
}

// decodeUU decodes a part with Content-Transfer-Encoding x-uuencode: the
// data lines of its first begin ... end block.
func decodeUU(w io.Writer, src io.Reader, wk *work) {
	br := bufio.NewReader(src)
	inBlock := false
	var buf []byte
	for {
		line, err := br.ReadString('\n')
		wk.add(len(line) + lineCost)
		t := strings.TrimRight(line, "\r\n")
		switch {
		case !inBlock:
			_, inBlock = uuBegin(t)
		case strings.TrimRight(t, " \t") == "end":
			_, _ = io.Copy(io.Discard, br)
			return
		default:
			var ok bool
			if buf, ok = uuLine(buf[:0], t); ok {
				w.Write(buf)
			}
		}
		if err != nil {
			return
		}
	}
}

// typeByExt is the media type of a file name's extension, from extByType
// (the first type listed for an extension wins); application/octet-stream
// when unknown.
func typeByExt(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return "application/octet-stream"
	}
	if t, ok := extTypes[strings.ToLower(name[i:])]; ok {
		return t
	}
	return "application/octet-stream"
}

var extTypes = func() map[string]string {
	m := map[string]string{}
	for t, e := range extByType {
		// Several types share an extension: the least one, so that the
		// choice does not depend on map order.
		if cur, ok := m[e]; !ok || t < cur {
			m[e] = t
		}
	}
	m[".txt"], m[".jpg"], m[".html"], m[".xml"] = "text/plain", "image/jpeg", "text/html", "application/xml"
	return m
}()
