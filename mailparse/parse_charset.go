package mailparse

// Charsets and RFC 2047 words. Labels are resolved in one place,
// charsetEncoding (htmlindex, then go-message's IANA table in toUTF8);
// encoded words are decoded by mime.WordDecoder. What stays hand-written is
// guessing the charset of undeclared 8-bit bytes, and UTF-7, which x/text
// does not have.

import (
	"bytes"
	"encoding/base64"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	xunicode "golang.org/x/text/encoding/unicode"
)

// charsetAliases maps labels before the lookup: "" means no conversion
// (UTF-8 kept, stray 8-bit bytes read as windows-1252, see fix8bit), which
// is what mislabelled "us-ascii" mail needs; the others are names seen in
// mail that htmlindex does not know.
var charsetAliases = map[string]string{
	"us-ascii": "", "ascii": "", "utf-8": "", "utf8": "", "x-unknown": "", "unknown-8bit": "",
	"default": "", "7bit": "", "8bit": "",
	"unicode-1-1-utf-7": "utf-7", "csunicode11utf7": "utf-7", "x-utf-7": "utf-7",
	"iso-2022-jp-2": "iso-2022-jp", "iso-2022-jp-3": "iso-2022-jp",
	"cp936": "gbk", "ms936": "gbk", "windows-936": "gbk", "euc-cn": "gbk",
	"cp932": "shift_jis", "cp949": "euc-kr", "cp950": "big5",
}

// normCharset lower-cases a label and drops quotes and an RFC 2231
// language suffix; it returns the alias when there is one.
func normCharset(label string) string {
	label = strings.ToLower(strings.Trim(strings.TrimSpace(label), "\"'"))
	if i := strings.IndexByte(label, '*'); i >= 0 {
		label = label[:i]
	}
	if a, ok := charsetAliases[label]; ok {
		return a
	}
	return label
}

// charsetEncoding resolves a normalised label by WHATWG rules, as mail
// clients read labels (latin1 is windows-1252, gb2312 is GBK); nil if
// unknown there.
func charsetEncoding(label string) encoding.Encoding {
	enc, _ := htmlindex.Get(label)
	if enc == simplifiedchinese.GBK {
		return simplifiedchinese.GB18030 // gb2312 mail carries GBK and GB18030 characters
	}
	return enc
}

// toUTF8 decodes b from the charset label. known is false for a label no
// decoder knows; the text is then kept as is (UTF-8 or windows-1252).
func toUTF8(b []byte, label string) (s string, known bool) {
	label = normCharset(label)
	switch label {
	case "":
		return fix8bit(b), true
	case "utf-7":
		return decodeUTF7(b), true
	}
	var (
		out []byte
		err error
	)
	// The decoders' Bytes, not their Reader: a Reader allocates 8 KiB of
	// buffers, per encoded word of a header.
	switch enc := charsetEncoding(label); {
	case enc == japanese.ISO2022JP && !isASCII(b):
		// 8-bit bytes under that 7-bit label are Shift_JIS from Japanese
		// mailers that label everything ISO-2022-JP.
		out, err = japanese.ShiftJIS.NewDecoder().Bytes(b)
	case enc != nil:
		out, err = enc.NewDecoder().Bytes(b)
	default:
		var r io.Reader
		if r, err = charset.Reader(label, bytes.NewReader(b)); err != nil {
			return fix8bit(b), false
		}
		out, err = io.ReadAll(r)
	}
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

// noteCharset records a declared charset as hint; multi-byte (CJK)
// charsets win over single-byte ones because their raw bytes would
// otherwise be misread as Latin-1 mojibake.
func (p *parser) noteCharset(label string) {
	label = strings.ToLower(strings.Trim(strings.TrimSpace(label), "\"'"))
	if a, ok := charsetAliases[label]; label == "" || ok && a == "" {
		return
	}
	if p.hint == "" || (!isMultibyteCharset(p.hint) && isMultibyteCharset(label)) {
		p.hint = label
	}
}

func isMultibyteCharset(label string) bool {
	switch charsetEncoding(normCharset(label)) {
	case simplifiedchinese.GB18030, traditionalchinese.Big5, japanese.EUCJP, japanese.ISO2022JP,
		japanese.ShiftJIS, korean.EUCKR, encoding.Replacement: // the latter for ISO-2022-KR/CN, HZ
		return true
	}
	return false
}

// isLatinCharset reports a charset that accepts any bytes, so it says
// nothing about what raw 8-bit bytes really are.
func isLatinCharset(label string) bool {
	enc := charsetEncoding(normCharset(label))
	return enc == charmap.Windows1252 || enc == charmap.ISO8859_15
}

func (p *parser) decode8(b []byte) string {
	return guess8bit(b, p.hint)
}

// guess8bit turns raw 8-bit bytes into UTF-8: UTF-8 as is; else, when
// there is no hint or a Latin one (which would accept any bytes), a sniff
// (sniff8bit); else the hint charset when the bytes are valid in it; else
// windows-1252.
func guess8bit(b []byte, hint string) string {
	if utf8.Valid(b) {
		return string(b)
	}
	if hint == "" || isLatinCharset(hint) {
		if s, ok := sniff8bit(b); ok {
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

// sniff8bit guesses the charset of undeclared 8-bit text. The
// single-byte Cyrillic (windows-1251, KOI8-R) and Greek readings come
// first: such text is nearly all 8-bit too, and short runs of it decode
// as GB18030 just as well, so a Russian subject came out Chinese. The
// plausible one (scoreSingleByte) that scores best and better than
// windows-1252 wins; else the CJK sniff; else a plausible Central
// European reading that beats windows-1252. ok is false when
// windows-1252 (fix8bit) is as good a guess as any.
func sniff8bit(b []byte) (string, bool) {
	if mostlyUTF8(b) {
		// UTF-8 with a few stray Latin-1 bytes pasted in: fix8bit's case.
		return sniffCJK(b)
	}
	latin := scoreSingleByte(b, singleByte[0])
	best := -1
	scores := make([]sbScore, len(singleByte))
	for i := 1; i < len(singleByte); i++ {
		sc := scoreSingleByte(b, singleByte[i])
		scores[i] = sc
		if sc.plausible && sc.score > latin.score && singleByte[i].script != unicode.Latin && (best < 0 || sc.score > scores[best].score) {
			best = i
		}
	}
	if best > 0 {
		return decodeSingleByte(b, singleByte[best].cm), true
	}
	if s, ok := sniffCJK(b); ok {
		return s, true
	}
	for i := 1; i < len(singleByte); i++ {
		if sc := scores[i]; sc.plausible && sc.score > latin.score && (best < 0 || sc.score > scores[best].score) {
			best = i
		}
	}
	if best > 0 {
		return decodeSingleByte(b, singleByte[best].cm), true
	}
	return "", false
}

// mostlyUTF8 reports 8-bit text of which a good part (a fifth or more of
// its non-ASCII sequences) is valid multi-byte UTF-8. Single-byte text
// makes such sequences only by chance, and rarely.
func mostlyUTF8(b []byte) bool {
	if len(b) > sniffPrefix {
		b = b[:sniffPrefix]
	}
	valid, stray := 0, 0
	for i := 0; i < len(b); {
		if b[i] < 0x80 {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			stray++
		} else {
			valid++
		}
		i += size
	}
	return 4*valid >= stray
}

// singleByteCharset is a reading sniff8bit tries: the charset, the
// script of its letters and the letters most frequent in its languages'
// text (lower case; a reading that makes them is likelier).
type singleByteCharset struct {
	cm       *charmap.Charmap
	script   *unicode.RangeTable
	frequent string
	common   string
	// high describes what the bytes 0x80-0xFF decode to, made once.
	high *[128]sbRune
}

// sbRune is what one 8-bit byte is in a single-byte charset.
type sbRune struct {
	letter, upper, foreign, bad bool    // a letter; a capital; of another script; undefined or a C1 control
	bonus                       float64 // frequent and small letters
}

// singleByte are the readings in the order ties go: windows-1252 first
// (what undeclared 8-bit mail mostly is), then Central European, Cyrillic
// and Greek.
var singleByte = []singleByteCharset{
	{cm: charmap.Windows1252, script: unicode.Latin},
	{cm: charmap.Windows1250, script: unicode.Latin},
	{cm: charmap.ISO8859_2, script: unicode.Latin},
	{cm: charmap.Windows1251, script: unicode.Cyrillic, frequent: "оеаинтсрвл", common: "кмдпуяыьгзбч"},
	{cm: charmap.KOI8R, script: unicode.Cyrillic, frequent: "оеаинтсрвл", common: "кмдпуяыьгзбч"},
	{cm: charmap.Windows1253, script: unicode.Greek, frequent: "αοειτνσςηρ", common: "πκμλυάέίόήύωθδγφχ"},
}

func init() {
	for i := range singleByte {
		c := &singleByte[i]
		c.high = new([128]sbRune)
		for x := 0x80; x < 0x100; x++ {
			r := c.cm.DecodeByte(byte(x))
			d := sbRune{letter: unicode.IsLetter(r), upper: unicode.IsUpper(r), bad: r == utf8.RuneError || r >= 0x80 && r < 0xa0}
			if d.letter {
				d.foreign = !unicode.Is(c.script, r)
				switch lr := unicode.ToLower(r); {
				case strings.ContainsRune(c.frequent, lr):
					d.bonus = 0.5
				case strings.ContainsRune(c.common, lr):
					d.bonus = 0.25
				}
				if !d.upper {
					d.bonus += 0.1
				}
			}
			c.high[x-0x80] = d
		}
	}
}

// sniffPrefix is how much of a text sniff8bit scores: the charset of
// undeclared text does not change halfway, and a large body must cost no
// more than its first kilobytes.
const sniffPrefix = 8 << 10

// sbScore is how a single-byte reading of a text looks.
type sbScore struct {
	score     float64
	plausible bool // nearly every 8-bit byte makes a letter in a word that looks right
	usable    bool // no byte the charset leaves undefined, no C1 control
}

// scoreSingleByte reads (the start of) b in c and scores it per 8-bit
// byte: +1 for a letter in a word that looks like a word of c's script,
// -1 for one in a word that does not (many more 8-bit than ASCII letters
// in a Latin word; a Cyrillic or Greek letter next to an ASCII letter; a
// capital after a small letter; a Greek final sigma inside a word), -2
// for a symbol between two letters ("Za¿ó³æ" is "Zażółć" misread); a
// bonus for frequent letters and small letters, which tell two readings
// of the same script apart.
func scoreSingleByte(b []byte, c singleByteCharset) sbScore {
	if len(b) > sniffPrefix {
		b = b[:sniffPrefix]
	}
	var (
		good, bad, bonus float64
		high             int
		// the current word: its 8-bit and ASCII letters, whether the last
		// letter was small, and the penalties so far
		wHigh, wASCII int
		wCase         int
		lastLower     bool
		finalSigma    bool // the last letter was ς, which only ends a word
		prevLetter    bool
		asciiLetters  int
	)
	usable := true
	endWord := func() {
		switch {
		case wHigh == 0:
		case c.script == unicode.Latin && wHigh > 2*wASCII+1, c.script != unicode.Latin && wASCII > 0:
			bad += float64(wHigh)
		default:
			good += float64(wHigh)
		}
		bad += float64(wCase)
		wHigh, wASCII, wCase, lastLower, finalSigma = 0, 0, 0, false, false
	}
	for i, x := range b {
		var d sbRune
		if x < 0x80 {
			d = sbRune{letter: isASCIILetter(x), upper: 'A' <= x && x <= 'Z'}
		} else {
			high++
			d = c.high[x-0x80]
			usable = usable && !d.bad
		}
		if !d.letter {
			if x >= 0x80 && prevLetter && i+1 < len(b) && nextIsLetter(b[i+1], c) {
				bad += 2
			}
			endWord()
			prevLetter = false
			continue
		}
		prevLetter = true
		if finalSigma {
			wCase++
		}
		finalSigma = x >= 0x80 && c.cm == charmap.Windows1253 && x == 0xf2 // ς
		if x < 0x80 {
			wASCII++
			asciiLetters++
		} else {
			if d.foreign {
				wCase++ // a letter of another script: as bad as a wrong case
			}
			wHigh++
			bonus += d.bonus
		}
		if d.upper && lastLower {
			wCase++
		}
		lastLower = !d.upper
	}
	endWord()
	if high == 0 {
		return sbScore{usable: usable}
	}
	// Plausible: three 8-bit bytes at least, nine in ten of them letters
	// in words that look right, and, for another script than Latin, more
	// of its letters than ASCII ones: "äöüß ad asd" is no Greek.
	plausible := usable && high >= 3 && good-bad >= 0.9*float64(high) && (c.script == unicode.Latin || high >= asciiLetters)
	return sbScore{score: good - bad + bonus, plausible: plausible, usable: usable}
}

func nextIsLetter(x byte, c singleByteCharset) bool {
	if x < 0x80 {
		return isASCIILetter(x)
	}
	return c.high[x-0x80].letter
}

func decodeSingleByte(b []byte, cm *charmap.Charmap) string {
	out, err := cm.NewDecoder().Bytes(b)
	if err != nil { // a single-byte decoder has no error to return
		return fix8bit(b)
	}
	return string(out)
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

var utf16be = xunicode.UTF16(xunicode.BigEndian, xunicode.IgnoreBOM)

// decodeUTF7 implements RFC 2152: base64 runs after '+' are UTF-16, and a
// '-' right after a run (or "+-", a plain '+') is dropped.
func decodeUTF7(b []byte) string {
	var out []byte
	for {
		i := bytes.IndexByte(b, '+')
		if i < 0 {
			out = append(out, b...)
			break
		}
		out, b = append(out, b[:i]...), b[i+1:]
		j := 0
		for j < len(b) && isBase64(b[j]) {
			j++
		}
		run := b[:j]
		b = b[j:]
		if len(run) == 0 {
			out = append(out, '+')
		}
		if len(run)%4 == 1 {
			run = run[:len(run)-1] // a lone last character carries no bits of a byte
		}
		raw, _ := base64.RawStdEncoding.DecodeString(string(run))
		dec, _ := utf16be.NewDecoder().Bytes(raw[:len(raw)&^1])
		out = append(out, dec...)
		b = bytes.TrimPrefix(b, []byte("-"))
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// encodedWord is where one RFC 2047 word is in a string: the whole word
// s[start:end], its charset s[cs:csEnd], its encoding letter s[enc] and
// its encoded text s[text:textEnd].
type encodedWord struct {
	start, end, cs, csEnd, enc, text, textEnd int
}

// wordScanner finds RFC 2047 words leniently, one at a time, in one pass:
// inside other text or quotes, with spaces or '?' in the encoded text. It
// finds what regexp.FindAllStringSubmatchIndex would for
//
//	(?s)=\?([^?\s=]{1,64})\?([bBqQ])\?(.*?)\?=
//
// (FuzzEncodedWords holds it to that), minus words whose charset is over
// 64 bytes. That expression, though linear, cost about a microsecond per
// byte of a header full of words.
type wordScanner struct {
	s   string
	i   int
	end int // the first "?=" at or after the last text searched, len(s) if none; -1 before the first search
	w   *work
}

func newWordScanner(s string, w *work) wordScanner { return wordScanner{s: s, end: -1, w: w} }

// next returns the next word; ok is false when there is none.
func (sc *wordScanner) next() (wd encodedWord, ok bool) {
	s, w := sc.s, sc.w
	for sc.i < len(s) {
		k := strings.Index(s[sc.i:], "=?")
		if k < 0 {
			w.add(len(s) - sc.i)
			sc.i = len(s)
			break
		}
		start := sc.i + k
		w.add(k + 2)
		// The charset scan stops at '=', where the next candidate starts:
		// the scans of successive candidates do not overlap.
		cs, j, runes := start+2, start+2, 0
		for j < len(s) && runes <= 64 && !isWordSpecial(s[j]) {
			_, size := utf8.DecodeRuneInString(s[j:])
			j += size
			runes++
		}
		w.add(j - cs)
		if j == cs || runes > 64 || j+3 > len(s) || s[j] != '?' || !strings.ContainsRune("bBqQ", rune(s[j+1])) || s[j+2] != '?' {
			sc.i = start + 1
			continue
		}
		text := j + 3
		if sc.end < text {
			sc.end = len(s)
			if k := strings.Index(s[text:], "?="); k >= 0 {
				sc.end = text + k
			}
			w.add(sc.end - text)
		}
		if sc.end == len(s) {
			sc.i = len(s) // no word can end, from here or any later start
			break
		}
		sc.i = sc.end + 2
		if j-cs <= 64 { // bytes, not runes
			return encodedWord{start: start, end: sc.end + 2, cs: cs, csEnd: j, enc: j + 1, text: text, textEnd: sc.end}, true
		}
	}
	return encodedWord{}, false
}

// encodedWords returns the words of s as the submatch indexes of the
// expression wordScanner stands for.
func encodedWords(s string, w *work) [][]int {
	var words [][]int
	sc := newWordScanner(s, w)
	for wd, ok := sc.next(); ok; wd, ok = sc.next() {
		words = append(words, []int{wd.start, wd.end, wd.cs, wd.csEnd, wd.enc, wd.enc + 1, wd.text, wd.textEnd})
	}
	return words
}

// isWordSpecial: the bytes that end an encoded word's charset ('?', '=' and
// what \s matches in a regular expression).
func isWordSpecial(c byte) bool {
	switch c {
	case '?', '=', ' ', '\t', '\n', '\f', '\r':
		return true
	}
	return false
}

// appendWordBytes appends the decoded text of one word to dst, leniently,
// as mailers write them: B text with junk and without padding (only
// alphabet bytes count, a lone last one carries no byte), Q text with '?',
// a '=' that starts no escape and bytes outside printable ASCII, all kept
// literally. It never fails, and it is one pass over text without
// allocating beyond dst.
func appendWordBytes(dst []byte, enc byte, text string) []byte {
	if enc == 'b' || enc == 'B' {
		var acc uint32
		bits := 0
		for i := 0; i < len(text); i++ {
			v := base64Value(text[i])
			if v < 0 {
				continue
			}
			acc = acc<<6 | uint32(v)
			if bits += 6; bits >= 8 {
				bits -= 8
				dst = append(dst, byte(acc>>bits))
			}
		}
		return dst
	}
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '_':
			dst = append(dst, ' ')
		case c == '=' && i+2 < len(text) && isHex(text[i+1]) && isHex(text[i+2]):
			dst = append(dst, unhex(text[i+1])<<4|unhex(text[i+2]))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// base64Value is the value of a base64 alphabet byte, -1 for any other.
func base64Value(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// wordCost is the work of decoding a word or a run of words besides its
// bytes: a charset lookup and conversion when the run ends.
const wordCost = 96

// maxBadCharsets is how many unknown charsets decodeWords reports.
const maxBadCharsets = 8

// maxWordBytes caps what one header field's encoded words may cost: the
// words in its first 64 KiB are decoded, the rest is kept as sent. No
// real header has more (a Subject is stored cut to 500 characters), and a
// megabyte of words must not be decoded and converted word by word.
const maxWordBytes = 64 << 10

// decodeWords decodes the RFC 2047 words of s. hint is the charset for raw
// 8-bit text between the words. It returns the charsets it could not
// decode; those words are kept as decoded bytes.
func decodeWords(s, hint string, w *work) (string, []string) {
	out, bad, _ := decodeWordsCapped(s, hint, w, maxWordBytes)
	return out, bad
}

// decodeWordsCapped is decodeWords for the words that start in the first
// limit bytes of s; capped reports that words after them were kept as
// sent.
func decodeWordsCapped(s, hint string, w *work, limit int) (_ string, bad []string, capped bool) {
	sc := newWordScanner(s, w)
	wd, ok := sc.next()
	if !ok {
		w.add(len(s))
		return guess8bit([]byte(s), hint), nil, false
	}
	var out strings.Builder
	out.Grow(len(s))
	var pend []byte
	pendCS := ""
	flush := func() {
		if len(pend) > 0 {
			w.add(len(pend) + len(bad) + wordCost)
			t, known := toUTF8(pend, pendCS)
			// bad only names charsets for warnings: a few are enough, and
			// searching all of them per word made a subject of many
			// distinct unknown charsets quadratic (0.9 MB took 16 s).
			if !known && len(bad) < maxBadCharsets && !slices.Contains(bad, pendCS) {
				bad = append(bad, pendCS)
			}
			out.WriteString(t)
		}
		pend = pend[:0]
	}
	last := -1 // end of the previous word
	rawCS, cs := "", ""
	for ; ok; wd, ok = sc.next() {
		if wd.start >= limit {
			capped = true
			break
		}
		w.add(2*(wd.end-wd.start) + 16)
		// White space between two words is not part of the text.
		if gap := s[max(last, 0):wd.start]; last < 0 || strings.TrimSpace(gap) != "" {
			flush()
			w.add(len(gap))
			out.WriteString(guess8bit([]byte(gap), hint))
		}
		if r := s[wd.cs:wd.csEnd]; r != rawCS {
			rawCS, cs = r, normCharset(r)
		}
		if cs != pendCS {
			flush()
			pendCS = cs
		}
		pend = appendWordBytes(pend, s[wd.enc], s[wd.text:wd.textEnd])
		last = wd.end
	}
	flush()
	w.add(len(s) - max(last, 0))
	out.WriteString(guess8bit([]byte(s[max(last, 0):]), hint))
	return out.String(), bad, capped
}
