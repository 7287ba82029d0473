package mailparse

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/maildesk/maildesk/internal/testmail"
)

// fuzzLimits are small so that the fuzzer reaches every limit quickly.
var fuzzLimits = Limits{MaxSize: 1 << 20, MaxParts: 50, MaxDepth: 8, MaxText: 4096}

func addSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range testmail.Malformed() {
		f.Add([]byte(s))
	}
}

// parseBounded runs Parse with a deadline: a hang (or superlinear work on
// hostile input) is a bug as much as a panic is.
func parseBounded(t *testing.T, data []byte, lim Limits, bound time.Duration) (*Message, error) {
	t.Helper()
	type result struct {
		m   *Message
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := Parse(bytes.NewReader(data), lim)
		done <- result{m, err}
	}()
	select {
	case r := <-done:
		if errors.Is(r.err, errInternal) {
			t.Fatalf("Parse recovered from a panic: %v", r.err)
		}
		return r.m, r.err
	case <-time.After(bound):
		t.Fatalf("Parse did not return within %v on %d bytes", bound, len(data))
		return nil, nil
	}
}

func checkMessage(t *testing.T, data []byte, m *Message) {
	t.Helper()
	if m.Size != int64(len(data)) || m.ContentHash != sum(string(data)) {
		t.Errorf("Size/ContentHash do not cover the input: %d vs %d", m.Size, len(data))
	}
	if len(m.Text) > fuzzLimits.MaxText {
		t.Errorf("Text is %d bytes, over MaxText", len(m.Text))
	}
	if len(m.Attachments) > fuzzLimits.MaxParts {
		t.Errorf("%d attachments, over MaxParts", len(m.Attachments))
	}
	if len(m.Warnings) > maxWarnings {
		t.Errorf("%d warnings", len(m.Warnings))
	}
	for what, s := range map[string]string{"Text": m.Text, "Subject": m.Subject, "From.Name": m.From.Name, "From.Address": m.From.Address} {
		if !utf8.ValidString(s) {
			t.Errorf("%s is not valid UTF-8: %q", what, s)
		}
	}
	for _, a := range m.Attachments {
		if !utf8.ValidString(a.Filename) || a.Filename == "" || len(a.SHA256) != 64 || a.Size < 0 {
			t.Errorf("bad attachment %+v", a)
		}
	}
}

func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseBounded(t, data, fuzzLimits, 10*time.Second)
		if err != nil {
			// ErrTooComplex is no expected kind: fuzz inputs stay far below
			// the budget unless a path is superlinear.
			if !errors.Is(err, ErrNotMail) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		checkMessage(t, data, m)
		// The fuzzer hunts superlinear paths too: on inputs of a few
		// kilobytes a quadratic one costs far more than the most any
		// linear path costs per byte (workCeiling) plus fixed costs.
		w := &work{}
		if _, err := parse(bytes.NewReader(data), fuzzLimits, w); err != nil {
			t.Fatalf("second parse: %v", err)
		}
		if limit := int64(workCeiling*len(data) + fuzzFixedWork); w.used > limit {
			t.Fatalf("%d units of work for %d bytes, over %d", w.used, len(data), limit)
		}
	})
}

// fuzzFixedWork covers what a small input may cost besides its bytes: the
// parts fuzzLimits allows, their headers, a few warnings.
const fuzzFixedWork = 64 << 10

// FuzzReports drives the bounce and feedback-report path: parsing the
// delivery-status and feedback-report parts and the forwarded report,
// seeded with the synthetic reports of internal/testmail. The
// classification that trusts them is fuzzed from the same seeds in
// ingest (FuzzClassify).
func FuzzReports(f *testing.F) {
	for _, s := range testmail.Reports() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseBounded(t, data, fuzzLimits, 10*time.Second)
		if err != nil {
			return
		}
		checkMessage(t, data, m)
		if r := m.Report; r != nil {
			if len(r.Recipients) > maxReportRecipients {
				t.Fatalf("%d report recipients", len(r.Recipients))
			}
			for _, rr := range r.Recipients {
				if !strings.Contains(rr.Address, "@") || rr.Address != strings.ToLower(rr.Address) || rr.Original != strings.ToLower(rr.Original) {
					t.Fatalf("recipient %+v", rr)
				}
			}
		}
		if fb := m.Feedback; fb != nil && len(fb.Recipients) > maxReportRecipients {
			t.Fatalf("%d feedback recipients", len(fb.Recipients))
		}
		w := &work{}
		if _, err := parse(bytes.NewReader(data), fuzzLimits, w); err != nil {
			t.Fatalf("second parse: %v", err)
		}
		if limit := int64(workCeiling*len(data) + fuzzFixedWork); w.used > limit {
			t.Fatalf("%d units of work for %d bytes, over %d", w.used, len(data), limit)
		}
	})
}

// FuzzSignedContent drives the BER reader of opaque signed mail, seeded
// with this package's SignedData in DER and in BER.
func FuzzSignedContent(f *testing.F) {
	content := []byte("Content-Type: text/plain\r\n\r\nsigned\r\n")
	f.Add(signedData(content, false))
	f.Add(signedData(content, true))
	f.Add([]byte("\x30\x80\x30\x80\x30\x80\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("\x30\x84\xff\xff\xff\xff\x06"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, ok := signedContent(b)
		if ok && (len(out) == 0 || len(out) > len(b)) {
			t.Fatalf("%d bytes of content from %d", len(out), len(b))
		}
	})
}

// FuzzExtractUU drives the uuencode reader of plain text.
func FuzzExtractUU(f *testing.F) {
	f.Add(uuencode("a.gif", []byte("GIF89a\x00\x01")), false)
	f.Add("text\n"+uuencode(`C:\x\b.txt`, []byte("hello"))+"more", false)
	f.Add("begin 644 x\nM1TE&\n", true)
	f.Add("begin 644 y\n`\nend\n", false)
	f.Fuzz(func(t *testing.T, s string, trunc bool) {
		text, files, _ := extractUU(s, trunc)
		if len(text) > len(s) || len(files) > maxUUFiles {
			t.Fatalf("text %d of %d bytes, %d files", len(text), len(s), len(files))
		}
		for _, f := range files {
			if f.name == "" || len(f.sum) != 64 || f.size < 0 || f.size > int64(len(s)) {
				t.Fatalf("file %+v", f)
			}
		}
	})
}

// encodedWordOracle is the expression encodedWords replaced.
var encodedWordOracle = regexp.MustCompile(`(?s)=\?([^?\s=]{1,64})\?([bBqQ])\?(.*?)\?=`)

func FuzzEncodedWords(f *testing.F) {
	for _, s := range []string{
		"=?utf-8?q?a?= =?x?b?YQ==?=", "=?a?q?x=?b?q?y?=", "=?=?a?q?x?=", "=?a?q??=", "=?a?q?=", "=?" + strings.Repeat("é", 40) + "?q?x?= =?a?q?y?=",
		"=?\xff?q?x?=", "=?a b?q?x?= =?c?Q?y?=", "=?" + strings.Repeat("a", 65) + "?q?x?= =?b?q?y?=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := slices.DeleteFunc(encodedWordOracle.FindAllStringSubmatchIndex(s, -1), func(w []int) bool { return w[3]-w[2] > 64 })
		got := encodedWords(s, nil)
		if len(got) != len(want) {
			t.Fatalf("%q: %d words, want %d: %v, want %v", s, len(got), len(want), got, want)
		}
		for i := range got {
			if !slices.Equal(got[i], want[i]) {
				t.Fatalf("%q: word %d at %v, want %v", s, i, got[i], want[i])
			}
		}
	})
}
