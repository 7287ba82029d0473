package mailparse

import (
	"bytes"
	"strings"
	"testing"
)

// The cost of a header of RFC 2047 words (issue 17, item 6). How to run it
// and what it gave are in docs/performance.md.

// wordsHeader is about n bytes of encoded words in two charsets, folded as
// a mail client folds them; the charsets alternate, so every word is
// converted on its own.
func wordsHeader(n int) string {
	const (
		utf8Word   = "=?utf-8?q?Printer_kapot_op_de_2e_verdieping_=E2=80=93_graag_hulp?="
		latin1Word = "=?iso-8859-1?b?R3L832UgYXVzIEv2bG4=?="
	)
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteString("\r\n ")
		}
		if i%2 == 0 {
			b.WriteString(utf8Word)
		} else {
			b.WriteString(latin1Word)
		}
	}
	return b.String()
}

// BenchmarkEncodedWords decodes a 1 MiB header value: as Parse does (the
// words of the first 64 KiB, the rest kept), and without the cap (what the
// decoder costs per byte).
func BenchmarkEncodedWords(b *testing.B) {
	v := wordsHeader(1 << 20)
	for _, bc := range []struct {
		name  string
		limit int
	}{{"capped", maxWordBytes}, {"uncapped", len(v) + 1}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			b.ReportAllocs()
			for b.Loop() {
				decodeWordsCapped(v, "", nil, bc.limit)
			}
		})
	}
}

// BenchmarkParseWordsHeader parses a mail whose header is 1 MiB of encoded
// words in its Subject.
func BenchmarkParseWordsHeader(b *testing.B) {
	raw := []byte("From: Jan <jan@acme.example>\r\nMessage-ID: <w1@acme.example>\r\nSubject: " +
		wordsHeader(1<<20-200) + "\r\n\r\nbody\r\n")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(raw), Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
