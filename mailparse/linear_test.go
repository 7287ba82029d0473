package mailparse

import (
	"fmt"
	"strings"
	"testing"
)

// The cost of one mail must be linear in its size (design.md), or one small
// hostile mail holds up every mail behind it. Each case below is one parser
// path fed an input that makes it work hard; the work is counted (the units
// of the work budget, incremented in the loops), never timed, so the check
// is exact on any machine. Doubling the input must not make the work per
// byte grow: linear work per byte stays flat (or falls, as fixed costs
// spread), quadratic work per byte doubles.

// linearCase is one path: gen returns an input of about n bytes.
type linearCase struct {
	name  string
	n     int
	gen   func(n int) string
	split bool // the input is a text for SplitQuoted, not a mail
}

// repeatTo repeats unit (given the repetition's index) until the result
// has at least n bytes.
func repeatTo(n int, unit func(i int) string) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		b.WriteString(unit(i))
	}
	return b.String()
}

func times(s string) func(int) string { return func(int) string { return s } }

const (
	htmlMail = "Subject: x\nContent-Type: text/html\n\n"
	qpMail   = "Subject: x\nContent-Transfer-Encoding: quoted-printable\n\n"
	b64Mail  = "Subject: x\nContent-Transfer-Encoding: base64\n\n"
)

var linearCases = []linearCase{
	// Finding 2 of issue 14.
	{name: "quote: many > lines then text", n: 16 << 10, split: true,
		gen: func(n int) string { return repeatTo(n, times(">\n")) + "new text\n" }},
	{name: "quote: quoted lines then text", n: 16 << 10, split: true,
		gen: func(n int) string { return repeatTo(n, times("> some quoted text\n\n")) + "new text\n" }},
	{name: "quote: lines with colons", n: 16 << 10, split: true, gen: func(n int) string { return repeatTo(n, times("a:\n")) }},
	{name: "quote: header-like lines", n: 16 << 10, split: true, gen: func(n int) string { return repeatTo(n, times("From: x\n")) }},
	{name: "quote: wrapped attributions before blank lines", n: 16 << 10, split: true,
		gen: func(n int) string { return repeatTo(n, times("On Monday Jan\n<j@x> wrote:\n\n\n\n")) + "end\n" }},
	{name: "html: repeated <head>", n: 64 << 10,
		gen: func(n int) string { return htmlMail + repeatTo(n, times("<head>")) }},
	{name: "subject: unknown charsets", n: 64 << 10,
		gen: func(n int) string {
			return "Subject: " + repeatTo(n, func(i int) string { return fmt.Sprintf("=?x-%06d?q?a?= ", i) }) + "\n\nbody\n"
		}},
	{name: "qp: soft breaks", n: 256 << 10,
		gen: func(n int) string { return qpMail + repeatTo(n, times("=\n")) }},
	{name: "qp: soft breaks after blanks", n: 256 << 10,
		gen: func(n int) string { return qpMail + repeatTo(n, times("="+strings.Repeat(" ", 200)+"\n")) }},
	{name: "cc: encoded-word names", n: 64 << 10,
		gen: func(n int) string {
			return "Subject: x\nCc: " + repeatTo(n, func(i int) string { return fmt.Sprintf("=?utf-8?q?J=C3=B6rg_%d?= <j%d@x.example>, ", i, i) }) + "\n\nbody\n"
		}},
	{name: "cc: encoded-word names in unknown charsets", n: 64 << 10,
		gen: func(n int) string {
			return "Subject: x\nCc: " + repeatTo(n, func(i int) string { return fmt.Sprintf("=?x-%06d?q?J=F6rg?= <j%d@x.example>, ", i, i) }) + "\n\nbody\n"
		}},
	{name: "cc: one name of many encoded words", n: 64 << 10,
		gen: func(n int) string {
			return "Subject: x\nCc: " + repeatTo(n, times("=?utf-8?q?J=C3=B6rg?= ")) + "<j@x.example>\n\nbody\n"
		}},
	{name: "cc: encoded words read leniently", n: 64 << 10,
		gen: func(n int) string {
			return "Subject: x\nCc: " + repeatTo(n, func(i int) string { return fmt.Sprintf("=?utf-8?q?a,b?= j%d@x.example (c) x, ", i) }) + "\"\n\nbody\n"
		}},

	// Paths hardened before (TestParseHostileInputs), counted here.
	{name: "from: angle brackets", n: 64 << 10, gen: func(n int) string { return "From: " + repeatTo(n, times("<")) + "\n\nx" }},
	{name: "from: commas", n: 64 << 10, gen: func(n int) string { return "From: " + repeatTo(n, times("a,")) + "\n\nx" }},
	{name: "from: open encoded words", n: 64 << 10, gen: func(n int) string { return "From: " + repeatTo(n, times("=?a?q?,")) + "\n\nx" }},
	{name: "from: comments in address", n: 64 << 10,
		gen: func(n int) string {
			return "From: " + repeatTo(n, func(i int) string { return fmt.Sprintf("<v@x(c%d)>, ", i) }) + "\n\nx"
		}},
	{name: "date: comments", n: 64 << 10, gen: func(n int) string { return "Date: " + repeatTo(n, times("(")) + "\n\nx" }},
	{name: "subject: open encoded words", n: 64 << 10, gen: func(n int) string { return "Subject: " + repeatTo(n, times("=?a?q?")) + "\n\nx" }},
	{name: "subject: encoded words", n: 64 << 10, gen: func(n int) string { return "Subject: " + repeatTo(n, times("=?gbk?b?1tA=?=")) + "\n\nx" }},
	{name: "header: continuation lines", n: 64 << 10, gen: func(n int) string { return "Subject: x\n" + repeatTo(n, times(" y\n")) + "\nx" }},
	{name: "header: unindented continuation", n: 64 << 10, gen: func(n int) string { return "Subject: x\n" + repeatTo(n, times("y\n")) + "From: y\n\nx" }},
	{name: "references: brackets", n: 64 << 10, gen: func(n int) string { return "References: " + repeatTo(n, times("<")) + "\n\nx" }},
	{name: "references: ids", n: 64 << 10,
		gen: func(n int) string {
			return "References: " + repeatTo(n, func(i int) string { return fmt.Sprintf("<%d@x> ", i) }) + "\n\nx"
		}},
	{name: "content-type: parameters", n: 64 << 10,
		gen: func(n int) string { return "Content-Type: text/plain; " + repeatTo(n, times("a*1*=b; ")) + "\n\nx" }},
	{name: "content-type: rfc 2231 parameters", n: 64 << 10,
		gen: func(n int) string { return "Content-Type: text/plain; " + repeatTo(n, times("a*=''b%; ")) + "\n\nx" }},
	{name: "html: stray >", n: 64 << 10, gen: func(n int) string { return htmlMail + "<a " + repeatTo(n, times(">")) }},
	{name: "html: stray <", n: 64 << 10, gen: func(n int) string { return htmlMail + repeatTo(n, times("<a")) }},
	{name: "html: ampersands", n: 64 << 10, gen: func(n int) string { return htmlMail + repeatTo(n, times("&")) }},
	{name: "html: comments", n: 64 << 10, gen: func(n int) string { return htmlMail + repeatTo(n, times("<!--")) }},
	{name: "html: unclosed scripts", n: 64 << 10, gen: func(n int) string { return htmlMail + repeatTo(n, times("<title>x</b>")) }},
	{name: "html: links", n: 64 << 10, gen: func(n int) string { return htmlMail + repeatTo(n, times(`<a href="http://x.example/">x `)) }},
	{name: "html: tags", n: 64 << 10, gen: func(n int) string { return htmlMail + repeatTo(n, times("<p><li><div>x</td>")) }},
	{name: "mime: delimiters only", n: 64 << 10,
		gen: func(n int) string {
			return "Content-Type: multipart/mixed; boundary=b\n\n" + repeatTo(n, times("--b\n"))
		}},
	{name: "mime: nested same boundary", n: 64 << 10,
		gen: func(n int) string {
			return "Content-Type: multipart/mixed; boundary=b\n\n" + repeatTo(n, times("--b\nContent-Type: multipart/mixed; boundary=b\n\n"))
		}},
	{name: "mime: plain alternatives", n: 16 << 10,
		gen: func(n int) string {
			return "Content-Type: multipart/alternative; boundary=b\n\n" + repeatTo(n, times("--b\n\nplain\n"))
		}},
	{name: "text: flowed quotes", n: 64 << 10,
		gen: func(n int) string { return "Content-Type: text/plain; format=flowed\n\n" + repeatTo(n, times(">")) }},
	{name: "text: flowed lines", n: 64 << 10,
		gen: func(n int) string {
			return "Content-Type: text/plain; format=flowed\n\n" + repeatTo(n, times("> a \n"))
		}},
	{name: "text: long line", n: 256 << 10, gen: func(n int) string { return "Subject: x\n\n" + repeatTo(n, times("a")) }},
	{name: "qp: equals", n: 256 << 10, gen: func(n int) string { return qpMail + repeatTo(n, times("=")) }},
	{name: "qp: equals and space", n: 256 << 10, gen: func(n int) string { return qpMail + repeatTo(n, times("= ")) }},
	{name: "qp: control bytes", n: 256 << 10, gen: func(n int) string { return qpMail + repeatTo(n, times("\x01")) }},
	{name: "base64: padding only", n: 256 << 10, gen: func(n int) string { return b64Mail + repeatTo(n, times("QQ==\n")) }},
	// Issue 17's paths.
	{name: "uuencode: begin lines", n: 64 << 10, gen: func(n int) string { return "Subject: x\n\n" + repeatTo(n, times("begin 644 a.bin\n")) }},
	{name: "uuencode: data without end", n: 64 << 10,
		gen: func(n int) string {
			return "Subject: x\n\nbegin 644 a.bin\n" + repeatTo(n, times("M"+strings.Repeat("A", 60)+"\n"))
		}},
	{name: "uuencode: files", n: 64 << 10,
		gen: func(n int) string { return "Subject: x\n\n" + repeatTo(n, times("begin 644 a.bin\n#86)C\n`\nend\n")) }},
	{name: "subject: undeclared cyrillic", n: 64 << 10,
		gen: func(n int) string { return "Subject: " + repeatTo(n, times("\xf0\xd2\xc9\xd7\xc5\xd4 ")) + "\n\nx" }},
	{name: "text: undeclared cyrillic", n: 256 << 10,
		gen: func(n int) string {
			return "Subject: x\n\n" + repeatTo(n, times("\xf0\xd2\xc9\xd7\xc5\xd4 \xcd\xc9\xd2\n"))
		}},
	{name: "subject: encoded words over the cap", n: 128 << 10,
		gen: func(n int) string { return "Subject: " + repeatTo(n, times("=?utf-8?q?caf=C3=A9?= ")) + "\n\nx" }},
	{name: "report: forwarded dsn", n: 32 << 10,
		gen: func(n int) string {
			return "Subject: x\nContent-Type: multipart/mixed; boundary=w\n\n--w\nContent-Type: message/rfc822\n\n" +
				"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\n" +
				repeatTo(n, func(i int) string { return fmt.Sprintf("Final-Recipient: rfc822; u%d@x\nAction: failed\n\n", i) }) + "--b--\n--w--\n"
		}},
	{name: "smime: signed content", n: 64 << 10,
		gen: func(n int) string {
			der := signedData([]byte("Content-Type: text/plain\n\n"+repeatTo(n, times("signed text\n"))), true)
			return "Subject: x\nContent-Type: application/pkcs7-mime; smime-type=signed-data\n\n" + string(der)
		}},
	{name: "dsn: recipients", n: 16 << 10,
		gen: func(n int) string {
			return "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\n" +
				repeatTo(n, func(i int) string { return fmt.Sprintf("Final-Recipient: rfc822; u%d@x\nAction: failed\n\n", i) }) + "--b--\n"
		}},
}

// workCeiling is the most any case may cost per byte: the default budget
// (defaultWorkPerByte) must leave room above it, or a hostile but linear
// mail would be quarantined.
const workCeiling = defaultWorkPerByte / 2

func measureWork(t *testing.T, c linearCase, s string) int64 {
	t.Helper()
	w := &work{}
	if c.split {
		splitQuoted(s, w)
		return w.used
	}
	if _, err := parse(strings.NewReader(s), Limits{}, w); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return w.used
}

func TestParseWorkIsLinear(t *testing.T) {
	for _, c := range linearCases {
		t.Run(c.name, func(t *testing.T) {
			small, large := c.gen(c.n), c.gen(2*c.n)
			ws, wl := measureWork(t, c, small), measureWork(t, c, large)
			perSmall := float64(ws) / float64(len(small))
			perLarge := float64(wl) / float64(len(large))
			t.Logf("%d bytes: %d units (%.1f/byte); %d bytes: %d units (%.1f/byte)", len(small), ws, perSmall, len(large), wl, perLarge)
			if perLarge > 1.25*perSmall {
				t.Errorf("work per byte grows from %.1f to %.1f when the input doubles: superlinear", perSmall, perLarge)
			}
			if !c.split && perLarge > workCeiling {
				t.Errorf("%.1f units per byte, over the ceiling of %d", perLarge, workCeiling)
			}
		})
	}
}
