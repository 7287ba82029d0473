package mailparse

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func parseString(t *testing.T, raw string, lim Limits) *Message {
	t.Helper()
	m, err := Parse(strings.NewReader(raw), lim)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

func parseFile(t *testing.T, name string) *Message {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return parseString(t, string(b), Limits{})
}

func hasWarning(m *Message, substr string) bool {
	return slices.ContainsFunc(m.Warnings, func(w string) bool { return strings.Contains(w, substr) })
}

func attachmentNames(m *Message) []string {
	var names []string
	for _, a := range m.Attachments {
		names = append(names, a.Filename)
	}
	return names
}

func TestParseAlternativePrefersPlain(t *testing.T) {
	m := parseFile(t, "alternative.eml")
	if want := "Printer op de 2e verdieping is stuk – graag hulp"; m.Subject != want {
		t.Errorf("Subject = %q, want %q", m.Subject, want)
	}
	if want := (mail.Address{Name: "Jan de Vries", Address: "Jan.de.Vries@example.nl"}); m.From != want {
		t.Errorf("From = %+v, want %+v (local part kept, domain lower case)", m.From, want)
	}
	wantTo := []mail.Address{{Address: "servicedesk@desk.example"}, {Name: "Desk, Second", Address: "second@desk.example"}}
	if !slices.Equal(m.To, wantTo) {
		t.Errorf("To = %+v, want %+v", m.To, wantTo)
	}
	if want := []mail.Address{{Name: "Jörg Müller", Address: "joerg@example.de"}}; !slices.Equal(m.Cc, want) {
		t.Errorf("Cc = %+v, want %+v", m.Cc, want)
	}
	if len(m.ReplyTo) != 1 || m.ReplyTo[0].Address != "jan@example.nl" {
		t.Errorf("ReplyTo = %+v", m.ReplyTo)
	}
	if m.MessageID != "CAF1234.5678@mail.example.nl" {
		t.Errorf("MessageID = %q", m.MessageID)
	}
	if want := time.Date(2026, 3, 3, 8, 15, 0, 0, time.UTC); !m.Date.Equal(want) {
		t.Errorf("Date = %v, want %v", m.Date, want)
	}
	if !strings.Contains(m.Text, "Kunnen jullie even kijken?") || strings.Contains(m.Text, "HTML version") {
		t.Errorf("Text should be the QP-decoded plain alternative, got %q", m.Text)
	}
	if len(m.Attachments) != 0 {
		t.Errorf("the HTML alternative is not an attachment: %+v", m.Attachments)
	}
	if m.ContentType != "multipart/alternative" {
		t.Errorf("ContentType = %q", m.ContentType)
	}
	if got := m.Header["Subject"]; len(got) != 1 || got[0] != "Printer op de 2e verdieping is stuk – graag hulp" {
		t.Errorf("Header[Subject] = %q, want the decoded value", got)
	}
	if _, ok := m.Header["Message-Id"]; !ok {
		t.Errorf("Header keys must be canonical: %v", m.Header)
	}
}

func TestParseHTMLOnly(t *testing.T) {
	m := parseFile(t, "html-only.eml")
	want := "Disk alert\n\nServer db01 is at 95%.\nPlease clean up the runbook <https://wiki.example/disk>.\n\n- /var\n- /home\n\nCafé & more"
	if m.Text != want {
		t.Errorf("Text =\n%s\nwant\n%s", m.Text, want)
	}
}

func TestParseNestedMultipart(t *testing.T) {
	m := parseFile(t, "nested.eml")
	if m.Text != "Body in plain text." {
		t.Errorf("Text = %q", m.Text)
	}
	want := []Attachment{
		{Filename: "attachment-1.png", ContentType: "image/png", Size: 8, SHA256: sum("\x89PNG\r\n\x1a\n"), Inline: true, Part: 3},
		{Filename: "report.pdf", ContentType: "application/pdf", Size: 9, SHA256: sum("%PDF-1.4\n"), Part: 4},
		{Filename: "notes.txt", ContentType: "text/plain", Size: 23, SHA256: sum("attached text, not body"), Part: 5},
		// An attached mail is named after its subject (issue 17).
		{Filename: "forwarded.eml", ContentType: "message/rfc822", Size: 78,
			SHA256: sum("From: someone@example.org\nSubject: forwarded\n\nInner body must not become Text."), Part: 6},
		{Filename: "attachment-5.bin", ContentType: "application/octet-stream", Size: 4, SHA256: sum("AAAA"), Part: 7},
	}
	if !slices.Equal(m.Attachments, want) {
		t.Errorf("Attachments =\n%+v\nwant\n%+v", m.Attachments, want)
	}
}

func TestParseFilenames(t *testing.T) {
	m := parseFile(t, "rfc2231.eml")
	want := []string{"Grüße.txt", "€ rapport deel 2.pdf", "élève.docx"}
	if got := attachmentNames(m); !slices.Equal(got, want) {
		t.Errorf("names = %q, want %q", got, want)
	}
	for _, a := range m.Attachments {
		if a.Size != 2 || a.SHA256 != sum("hi") {
			t.Errorf("%s: size %d hash %s, want the decoded content", a.Filename, a.Size, a.SHA256)
		}
	}
}

func TestParseBounceMboxCRLF(t *testing.T) {
	m := parseFile(t, "mbox-crlf.eml")
	if m.Subject != "Undelivered Mail Returned to Sender" {
		t.Errorf("Subject = %q (the mbox From line must be skipped)", m.Subject)
	}
	if !m.NullReturnPath || m.ReturnPath != "" {
		t.Errorf("Return-Path <> not seen: %q %v", m.ReturnPath, m.NullReturnPath)
	}
	if m.Text != "The mail system could not deliver your message." {
		t.Errorf("Text = %q (CRLF must become LF)", m.Text)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].ContentType != "message/delivery-status" {
		t.Errorf("Attachments = %+v", m.Attachments)
	}
}

func TestParseBrokenHeaders(t *testing.T) {
	m := parseFile(t, "broken.eml")
	if want := (mail.Address{Name: "Broken, Sender", Address: "broken@example.com"}); m.From != want {
		t.Errorf("From = %+v, want %+v", m.From, want)
	}
	if !hasWarning(m, "From:") || !hasWarning(m, "Cc:") {
		t.Errorf("lenient address parsing must warn: %q", m.Warnings)
	}
	wantCc := []mail.Address{{Name: "Jörg", Address: "joerg@example.de"}, {Name: "unterminated", Address: "x@example.de"}}
	if !slices.Equal(m.Cc, wantCc) {
		t.Errorf("Cc = %+v, want %+v", m.Cc, wantCc)
	}
	if len(m.To) != 0 {
		t.Errorf("To = %+v, want none for an empty group", m.To)
	}
	if m.Subject != "café and € sign" {
		t.Errorf("Subject = %q", m.Subject)
	}
	if want := time.Date(2026, 3, 3, 8, 15, 0, 0, time.UTC); !m.Date.Equal(want) {
		t.Errorf("Date = %v", m.Date)
	}
	if m.MessageID != "" {
		t.Errorf("MessageID = %q, want empty when absent", m.MessageID)
	}
	if want := []string{"a@b", "c@d"}; !slices.Equal(m.InReplyTo, want) {
		t.Errorf("InReplyTo = %q, want %q", m.InReplyTo, want)
	}
	if want := []string{"r1@x", "r2@x"}; !slices.Equal(m.References, want) {
		t.Errorf("References = %q, want %q", m.References, want)
	}
	if m.Text != "Café text in an unknown charset." || !hasWarning(m, `unknown charset "x-made-up"`) {
		t.Errorf("unknown charset: Text %q warnings %q", m.Text, m.Warnings)
	}
}

func TestParseSubjects(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"plain   subject\twith  runs ", "plain subject with runs"},
		{"=?UTF-8?B?w6lsw6h2ZQ==?=", "élève"},
		{"=?iso-8859-1?q?Gr=FC=DFe?=", "Grüße"},
		{"=?windows-1252?Q?=93quoted=94_=80?=", "“quoted” €"},
		{"=?utf-8?q?a?= =?utf-8?q?b?=", "ab"},
		{"Re: =?utf-8?q?caf=C3=A9?= ok", "Re: café ok"},
		{"=?utf-8?q?split_=C3?= =?utf-8?q?=A9?=", "split é"},
		{"=?utf-8?q?spaces inside word?=", "spaces inside word"},
		{"no-space=?utf-8?q?=C3=A9?=after", "no-spaceéafter"},
		{"=?utf-8?b?w6k?=", "é"},
		{"=?utf-8*de?q?sprache?=", "sprache"},
		{"=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=", "テスト"},
		{"=?utf-8?q?unterminated", "=?utf-8?q?unterminated"},
		{"Caf\xe9 raw latin-1", "Café raw latin-1"},
		{"=?utf-7?q?Hi_+AOk-?=", "Hi é"},
	}
	for _, tt := range tests {
		m := parseString(t, "From: a@example.com\nSubject: "+tt.raw+"\n\nbody\n", Limits{})
		if m.Subject != tt.want {
			t.Errorf("Subject(%q) = %q, want %q", tt.raw, m.Subject, tt.want)
		}
	}
}

func TestParseBodyEncodings(t *testing.T) {
	tests := []struct {
		name, header, body, want string
	}{
		{"qp", "Content-Transfer-Encoding: quoted-printable\nContent-Type: text/plain; charset=utf-8",
			"caf=C3=A9 soft=\nbreak =3D x\nbroken =ZZ escape=", "café softbreak = x\nbroken =ZZ escape"},
		{"base64", "Content-Transfer-Encoding: base64\nContent-Type: text/plain; charset=utf-8",
			"  Y2Fmw6kgaW4g\n  YmFzZTY0IQ== junk after padding\n", "café in base64!"},
		{"latin1", "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit", "caf\xe9", "café"},
		{"undeclared 8bit", "", "caf\xe9 and caf\xc3\xa9", "café and café"},
		{"unknown cte", "Content-Transfer-Encoding: x-rot13", "kept as is", "kept as is"},
		{"flowed", "Content-Type: text/plain; format=flowed", "a long line \nwrapped here\n> quoted \n> too\nend", "a long line wrapped here\n> quoted too\nend"},
		{"trailing space", "", "line with spaces   \r\nnext\t\n\n\n", "line with spaces\nnext"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := "From: a@example.com\nSubject: x\n" + tt.header + "\n\n" + tt.body + "\n"
			raw = strings.ReplaceAll(raw, "\n\n\n", "\n\n")
			m := parseString(t, raw, Limits{})
			if m.Text != tt.want {
				t.Errorf("Text = %q, want %q (warnings %q)", m.Text, tt.want, m.Warnings)
			}
		})
	}
}

func TestParseUnknownTransferEncodingWarns(t *testing.T) {
	m := parseString(t, "Subject: x\nContent-Transfer-Encoding: x-rot13\n\nabc\n", Limits{})
	if !hasWarning(m, `unknown transfer encoding "x-rot13"`) {
		t.Errorf("warnings = %q", m.Warnings)
	}
}

func TestParseAttachmentRules(t *testing.T) {
	raw := `From: a@example.com
Subject: rules
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain
Content-Disposition: attachment

only an attachment
--b
Content-Type: image/jpeg
Content-Disposition: inline

jpeg
--b
Content-Type: text/html; charset=utf-8

<p>the body</p>
--b
Content-Type: text/plain

footer appended? no: HTML body
--b--
`
	m := parseString(t, raw, Limits{})
	if m.Text != "the body" {
		t.Errorf("Text = %q: a text/plain attachment is not the body", m.Text)
	}
	want := []string{"attachment-1.txt", "attachment-2.jpg", "attachment-3.txt"}
	if got := attachmentNames(m); !slices.Equal(got, want) {
		t.Errorf("names = %q, want %q", got, want)
	}
	if !m.Attachments[1].Inline || m.Attachments[0].Inline {
		t.Errorf("Inline flags wrong: %+v", m.Attachments)
	}
}

func TestParseMixedTextPartsJoin(t *testing.T) {
	raw := "Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nfirst part\n--b\nContent-Type: image/gif\n\nGIF\n--b\nContent-Type: text/plain\n\nsecond part\n--b--\n"
	m := parseString(t, raw, Limits{})
	if m.Text != "first part\n\nsecond part" {
		t.Errorf("Text = %q", m.Text)
	}
}

func TestParseHeaderQuirks(t *testing.T) {
	tests := []struct {
		name, raw    string
		subject      string
		text         string
		wantWarnings bool
	}{
		{"no blank line", "Subject: s\nThis line starts the body\nAnother: field-like\n\nmore\n", "s", "This line starts the body\nAnother: field-like\n\nmore", true},
		{"unindented continuation", "X-Junk: a\nnot a field\nSubject: s\n\nbody\n", "s", "body", true},
		{"leading indented line", " Subject: s\n\nbody\n", "s", "body", true},
		{"bom", "\uFEFFSubject: s\n\nbody\n", "s", "body", false},
		{"space before colon", "Subject : s\n\nbody\n", "s", "body", false},
		{"folded", "Subject: a\n\tb\n  c\n\nbody\n", "a b c", "body", false},
		{"header only", "Subject: s\n", "s", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parseString(t, tt.raw, Limits{})
			if m.Subject != tt.subject || m.Text != tt.text {
				t.Errorf("Subject %q Text %q, want %q %q", m.Subject, m.Text, tt.subject, tt.text)
			}
			if got := len(m.Warnings) > 0; got != tt.wantWarnings {
				t.Errorf("warnings = %q", m.Warnings)
			}
		})
	}
}

func TestParseIDs(t *testing.T) {
	tests := []struct {
		header  string
		id      string
		replyTo []string
	}{
		{"Message-ID: <a@b>\nIn-Reply-To: <x@y>", "a@b", []string{"x@y"}},
		{"Message-ID: bare@host.example\nIn-Reply-To: x@y, <z@w>", "bare@host.example", []string{"z@w"}},
		{"Message-ID: (comment) <a@b> (more)\nIn-Reply-To: Your message of Tue <x@y>", "a@b", []string{"x@y"}},
		{"Message-ID: < spaced@id >", "spaced@id", nil},
		{"Message-ID:", "", nil},
		{"X-No-Id: 1", "", nil},
		{"In-Reply-To: bare@x.example other@y.example", "", []string{"bare@x.example", "other@y.example"}},
	}
	for _, tt := range tests {
		m := parseString(t, "Subject: x\n"+tt.header+"\n\nbody\n", Limits{})
		if m.MessageID != tt.id || !slices.Equal(m.InReplyTo, tt.replyTo) {
			t.Errorf("%q: MessageID %q InReplyTo %q, want %q %q", tt.header, m.MessageID, m.InReplyTo, tt.id, tt.replyTo)
		}
	}
}

func TestParseDates(t *testing.T) {
	want := time.Date(2026, 3, 3, 9, 15, 0, 0, time.UTC)
	for _, v := range []string{
		"Tue, 3 Mar 2026 09:15:00 +0000",
		"Tue, 03 Mar 2026 09:15:00 GMT",
		"3 Mar 2026 09:15:00 +0000 (UTC)",
		"Tue, 3 Mar 2026 09 : 15 : 00 +0000",
		"Tue, 3 Mar 26 09:15:00 +0000",
		"Tue, 3 Mar 2026 10:15:00 +100",
		"Tue Mar  3 09:15:00 2026",
		"2026-03-03 09:15:00 +0000",
	} {
		m := parseString(t, "Subject: x\nDate: "+v+"\n\nbody\n", Limits{})
		if !m.Date.Equal(want) {
			t.Errorf("Date %q = %v, want %v", v, m.Date, want)
		}
	}
	m := parseString(t, "Subject: x\nDate: someday\n\nbody\n", Limits{})
	if !m.Date.IsZero() || !hasWarning(m, "Date") {
		t.Errorf("unparseable Date: %v %q", m.Date, m.Warnings)
	}
}

func TestParseReturnPath(t *testing.T) {
	for raw, want := range map[string]struct {
		path string
		null bool
	}{
		"<Bounce@Example.COM>": {"Bounce@example.com", false},
		"<>":                   {"", true},
		"< >":                  {"", true},
		"plain@example.com":    {"plain@example.com", false},
	} {
		m := parseString(t, "Return-Path: "+raw+"\nSubject: x\n\nbody\n", Limits{})
		if m.ReturnPath != want.path || m.NullReturnPath != want.null {
			t.Errorf("Return-Path %q: %q %v, want %q %v", raw, m.ReturnPath, m.NullReturnPath, want.path, want.null)
		}
	}
}

func TestParseCRLFMatchesLF(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lf := strings.ReplaceAll(string(b), "\r\n", "\n")
		crlf := strings.ReplaceAll(lf, "\n", "\r\n")
		a, c := parseString(t, lf, Limits{}), parseString(t, crlf, Limits{})
		if a.Subject != c.Subject || a.Text != c.Text || a.From != c.From || !slices.Equal(attachmentNames(a), attachmentNames(c)) {
			t.Errorf("%s: LF and CRLF parse differently:\n%+v\n%+v", f, a, c)
		}
		if c.Size != int64(len(crlf)) || c.ContentHash != sum(crlf) {
			t.Errorf("%s: Size/ContentHash must cover the raw bytes", f)
		}
	}
}

func TestParseMaxSize(t *testing.T) {
	raw := "Subject: x\n\n" + strings.Repeat("a", 100) + "\n"
	if _, err := Parse(strings.NewReader(raw), Limits{MaxSize: int64(len(raw) - 1)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("one byte over: err = %v, want ErrTooLarge", err)
	}
	m, err := Parse(strings.NewReader(raw), Limits{MaxSize: int64(len(raw))})
	if err != nil || m.Size != int64(len(raw)) {
		t.Errorf("exactly MaxSize: %v, %+v", err, m)
	}
	// The size limit holds for input that is not a mail, too.
	if _, err := Parse(strings.NewReader(strings.Repeat("x", 1000)), Limits{MaxSize: 10}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("garbage over the limit: err = %v", err)
	}
}

func TestParseNotMail(t *testing.T) {
	for _, raw := range []string{"", "\n\nbody only\n", "no header here\njust text\n"} {
		if _, err := Parse(strings.NewReader(raw), Limits{}); !errors.Is(err, ErrNotMail) {
			t.Errorf("%q: err = %v, want ErrNotMail", raw, err)
		}
	}
}

func TestParseReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader("Subject: x\n\nbody"), iotest.ErrReader(errors.New("connection reset")))
	if _, err := Parse(r, Limits{}); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("err = %v, want the read error", err)
	}
}

func TestParseMaxParts(t *testing.T) {
	var b strings.Builder
	b.WriteString("Subject: many\nContent-Type: multipart/mixed; boundary=b\n\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "--b\nContent-Type: application/octet-stream\n\npart %d\n", i)
	}
	b.WriteString("--b--\n")
	m := parseString(t, b.String(), Limits{MaxParts: 10})
	if len(m.Attachments) != 9 || !hasWarning(m, "more than 10 MIME parts") {
		t.Errorf("%d attachments, warnings %q", len(m.Attachments), m.Warnings)
	}
	if m.Size != int64(b.Len()) {
		t.Errorf("Size = %d, want the whole mail %d read", m.Size, b.Len())
	}
}

func TestParseMaxDepth(t *testing.T) {
	var b strings.Builder
	b.WriteString("Subject: deep\nContent-Type: multipart/mixed; boundary=b0\n\n")
	const depth = 200
	for i := 1; i < depth; i++ {
		fmt.Fprintf(&b, "--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n", i-1, i)
	}
	fmt.Fprintf(&b, "--b%d\n\ndeep text\n", depth-1)
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\n", i)
	}
	m := parseString(t, b.String(), Limits{MaxDepth: 5})
	if !hasWarning(m, "deeper than 5") {
		t.Errorf("warnings = %q", m.Warnings)
	}
	m = parseString(t, b.String(), Limits{})
	if !hasWarning(m, "deeper than 20") || m.Text != "" {
		t.Errorf("default depth: text %q warnings %q", m.Text, m.Warnings)
	}
	m = parseString(t, b.String(), Limits{MaxDepth: depth + 1})
	if m.Text != "deep text" {
		t.Errorf("within MaxDepth the text is found: %q", m.Text)
	}
}

func TestParseMaxText(t *testing.T) {
	raw := "Subject: x\nContent-Type: text/plain; charset=utf-8\n\n" + strings.Repeat("é", 100) + "\n"
	m := parseString(t, raw, Limits{MaxText: 51})
	if m.Text != strings.Repeat("é", 25) || !hasWarning(m, "truncated") {
		t.Errorf("Text %q (%d bytes), warnings %q", m.Text, len(m.Text), m.Warnings)
	}
}

func TestParseMultipartRepairs(t *testing.T) {
	tests := []struct{ name, raw, text string }{
		{"missing close delimiter", "Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nunclosed\n", "unclosed"},
		{"wrong boundary", "Subject: x\nContent-Type: multipart/mixed; boundary=nope\n\nthe only text\n", "the only text"},
		{"no boundary param", "Subject: x\nContent-Type: multipart/mixed\n\ntext anyway\n", "text anyway"},
		{"inner not closed", "Subject: x\nContent-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\ninner\n--o\nContent-Type: text/plain\n\nouter\n--o--\n", "inner\n\nouter"},
		{"part header runs into delimiter", "Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n--b\n\nsecond\n--b--\n", "second"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parseString(t, tt.raw, Limits{})
			if m.Text != tt.text || len(m.Warnings) == 0 {
				t.Errorf("Text %q want %q, warnings %q", m.Text, tt.text, m.Warnings)
			}
		})
	}
}

// TestParseHostileInputs guards against quadratic paths found while
// hardening the parser (a megabyte of '<' in From took 15 s; string
// appends per continuation line; html2text rescanning tag text per '>').
func TestParseHostileInputs(t *testing.T) {
	const n = 1 << 20
	cases := map[string]string{
		"angle brackets in From":  "From: " + strings.Repeat("<", n) + "\n\nx",
		"commas in From":          "From: " + strings.Repeat("a,", n/2) + "\n\nx",
		"encoded words in From":   "From: " + strings.Repeat("=?a?q?,", n/7) + "\n\nx",
		"comments in Date":        "Date: " + strings.Repeat("(", n) + "\n\nx",
		"open words in Subject":   "Subject: " + strings.Repeat("=?a?q?", n/6) + "\n\nx",
		"continuation lines":      "Subject: x\n" + strings.Repeat(" y\n", n/3) + "\nx",
		"unindented continuation": "Subject: x\n" + strings.Repeat("y\n", n/2) + "From: y\n\nx",
		"brackets in References":  "References: " + strings.Repeat("<", n) + "\n\nx",
		"parameters":              "Content-Type: text/plain; " + strings.Repeat("a*1*=b; ", n/8) + "\n\nx",
		"html stray >":            "Content-Type: text/html\n\n<a " + strings.Repeat(">", n),
		"html stray <":            "Content-Type: text/html\n\n" + strings.Repeat("<a", n/2),
		"html ampersands":         "Content-Type: text/html\n\n" + strings.Repeat("&", n),
		"html comments":           "Content-Type: text/html\n\n" + strings.Repeat("<!--", n/4),
		"delimiters only":         "Content-Type: multipart/mixed; boundary=b\n\n" + strings.Repeat("--b\n", n/4),
		"nested same boundary":    "Content-Type: multipart/mixed; boundary=b\n\n" + strings.Repeat("--b\nContent-Type: multipart/mixed; boundary=b\n\n", n/40),
		"flowed quotes":           "Content-Type: text/plain; format=flowed\n\n" + strings.Repeat(">", n),
		"long line":               "Subject: x\n\n" + strings.Repeat("a", 8*n),
		"qp equals":               "Content-Transfer-Encoding: quoted-printable\n\n" + strings.Repeat("=", 8*n),
	}
	for name, raw := range cases {
		_, err := parseBounded(t, []byte(raw), Limits{}, hostileBound)
		if err != nil && !errors.Is(err, ErrNotMail) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestParseLenientDecoding pins the leniency kept around the standard
// decoders (mime/quotedprintable, encoding/base64, mime.WordDecoder,
// mime.ParseMediaType): each case is input they reject or mis-read alone.
func TestParseLenientDecoding(t *testing.T) {
	const qp = "Content-Transfer-Encoding: quoted-printable\n"
	tests := []struct{ name, header, body, want string }{
		{"qp control bytes", qp + "Content-Type: text/plain; charset=iso-2022-jp", "\x1b$B%F%9%H\x1b(B=\n ok", "テスト ok"},
		{"qp equals before soft break", qp, "a==\nb=\r\nc", "a=bc"},
		{"qp equals before bare CR", qp, "a=\rb", "a=\nb"},
		{"qp long line", qp + "Content-Type: text/plain; charset=utf-8", strings.Repeat("=C3=A9", 3000) + "=\n=3D", strings.Repeat("é", 3000) + "="},
		{"base64 concatenated", "Content-Transfer-Encoding: base64", "YWJj\nZA== ignored\nZWY=\n", "abcdef"},
		{"base64 lone last character", "Content-Transfer-Encoding: base64", "YWJjZ", "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parseString(t, "Subject: x\n"+tt.header+"\n\n"+tt.body+"\n", Limits{})
			if m.Text != tt.want {
				t.Errorf("Text = %q, want %q", m.Text, tt.want)
			}
		})
	}

	subjects := map[string]string{
		"=?gb2312?b?1tA=?= =?gb2312?b?zsQ=?=":     "中文",
		"=?gb2312?q?=D6?= =?gb2312?q?=D0?=":       "中", // one character split across words
		"=?utf-8?q?100=?= =?utf-8?q?a=3?=":        "100=a=3",
		"=?utf-8?q?what?_ok?=":                    "what? ok",
		"=?iso-8859-1?q?=93quoted=94?=":           "“quoted”", // read as windows-1252
		"=?utf-8?b?w6 k=?= =?us-ascii?q?caf=E9?=": "écafé",
	}
	for raw, want := range subjects {
		m := parseString(t, "Subject: "+raw+"\n\nbody\n", Limits{})
		if m.Subject != want {
			t.Errorf("Subject(%q) = %q, want %q", raw, m.Subject, want)
		}
	}

	names := map[string]string{
		`attachment; filename*=iso-8859-1'fr'%E9t%E9.txt`:           "été.txt",
		`attachment; filename*=''100%.txt`:                          "100%.txt",
		`attachment; filename*0*=iso-8859-1''%E9; filename*1=t.txt`: "ét.txt",
		`attachment; filename=my report.pdf; size=12`:               "my report.pdf",
		`attachment filename="a \"b\".pdf"`:                         `a "b".pdf`,
		`attachment; filename="C:\TEMP\nsmail.png"`:                 "nsmail.png", // a Windows path keeps its base name (issue 17)
	}
	for disp, want := range names {
		m := parseString(t, "Subject: x\nContent-Type: application/pdf\nContent-Disposition: "+disp+"\n\nx\n", Limits{})
		if got := attachmentNames(m); len(got) != 1 || got[0] != want {
			t.Errorf("Content-Disposition %q: names %q, want %q", disp, got, want)
		}
	}
}

// TestParseHostileDecoding guards the filters in front of the standard
// decoders against inputs that make them slow or stop early.
func TestParseHostileDecoding(t *testing.T) {
	const n = 8 << 20
	cases := map[string]string{
		"qp control bytes":    "Content-Transfer-Encoding: quoted-printable\n\n" + strings.Repeat("\x01", n),
		"qp equals and space": "Content-Transfer-Encoding: quoted-printable\n\n" + strings.Repeat("= ", n/2),
		"base64 padding only": "Content-Transfer-Encoding: base64\n\n" + strings.Repeat("QQ==\n", n/5),
		"encoded words":       "Subject: " + strings.Repeat("=?gbk?b?1tA=?=", n/8/14) + "\n\nx",
		"rfc 2231 parameters": "Content-Type: text/plain; " + strings.Repeat("a*=''b%; ", n/8/9) + "\n\nx",
	}
	for name, raw := range cases {
		m, err := parseBounded(t, []byte(raw), Limits{}, hostileBound)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.Size != int64(len(raw)) {
			t.Errorf("%s: read %d of %d bytes", name, m.Size, len(raw))
		}
	}
}

// hostileBound is far above the few seconds a linear pass over these
// inputs takes even under -race on a loaded two-core machine, and far
// below the many minutes a quadratic one takes on a megabyte: it catches
// superlinear work without being a timing figure (those are benchmarks).
const hostileBound = 60 * time.Second

// TestParseCanonicalAddresses: limits, suppression and lookups key on the
// parsed address, so every way of writing one mailbox must parse to one
// string (issue 14, finding 5: "<victim@x(cN)>" with a changing comment
// earned 25 notices to one mailbox in a minute).
func TestParseCanonicalAddresses(t *testing.T) {
	const want = "victim@x.example"
	forms := []string{
		"<victim@x.example(c1)>",
		"<victim@x.example (c2)>",
		"Victim <victim@x.example((nested) c3)>",
		"victim@x.example (c4)",
		"(c5)victim@x.example",
		"victim(c6)@x.example",
		"victim@(c7)x.example",
		`"victim"@x.example`,
		`<"victim"@X.Example>`,
		"<victim@X.EXAMPLE.>",
		"victim@x.example.",
		"<victim@ x.example >",
		"<mailto:victim@x.example>",
		"<@relay.example:victim@x.example>",
		"=?utf-8?q?V=C3=ADctim?= <victim@x.example(c8)>",
		"<victim@x.example(c9)>, other@y.example",
	}
	for i := range 25 {
		forms = append(forms, fmt.Sprintf("<victim@x.example(c%d)>", 100+i))
	}
	for _, f := range forms {
		m := parseString(t, "From: "+f+"\nTo: "+f+"\nReply-To: "+f+"\nReturn-Path: "+f+"\nSubject: x\n\nbody\n", Limits{})
		if m.From.Address != want {
			t.Errorf("From: %s: address %q, want %q", f, m.From.Address, want)
		}
		if len(m.To) == 0 || m.To[0].Address != want || len(m.ReplyTo) == 0 || m.ReplyTo[0].Address != want {
			t.Errorf("To/Reply-To: %s: %+v %+v", f, m.To, m.ReplyTo)
		}
		if !strings.HasPrefix(f, "=?") && !strings.Contains(f, ", ") && m.ReturnPath != want {
			t.Errorf("Return-Path: %s: %q", f, m.ReturnPath)
		}
	}

	// The domain is canonical as config keeps the desk's lists: IDNA ASCII
	// form, lower case. The local part is as sent.
	for from, want := range map[string]string{
		"<Victim@BÜCHER.example>":              "Victim@xn--bcher-kva.example",
		"<Victim@xn--bcher-kva.example>":       "Victim@xn--bcher-kva.example",
		"Jan <Jan.Jansen@Acme.Example>":        "Jan.Jansen@acme.example",
		`"jan jansen"@acme.example`:            "jan jansen@acme.example",
		"<jan@[192.0.2.1]>":                    "jan@[192.0.2.1]",
		"<jan(c)@[192.0.2.1](c)>":              "jan@[192.0.2.1]",
		"MAILER-DAEMON (Mail Delivery System)": "",
	} {
		m := parseString(t, "From: "+from+"\n\nbody\n", Limits{})
		if m.From.Address != want {
			t.Errorf("From: %s: address %q, want %q", from, m.From.Address, want)
		}
	}
}

// TestParseDisplayNames: names are copied into notices, ticket lists and
// To lines: no control or format characters (bidi overrides reorder what a
// terminal or page shows), and no unbounded length.
func TestParseDisplayNames(t *testing.T) {
	long := strings.Repeat("é", 1000)
	for from, want := range map[string]string{
		"\"\u202eevil\u202c Jan\" <a@x.example>":                                            "evil Jan",
		"=?utf-8?q?J=E2=80=AEan?= <a@x.example>":                                            "Jan",
		"=?utf-8?q?Jan=07=1B[31m_Jansen?= <a@x.example>":                                    "Jan[31m Jansen",
		"\"Jan\u200b\u2066Jansen\u2069\" <a@x.example>":                                     "JanJansen",
		"\"\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645\" <a@x.example>":                "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", // ZWNJ kept
		"a@x.example (\u202eevil)":                                                          "evil",
		"\u202eJan <a@x.example>, b":                                                        "Jan", // read leniently
		"\"" + long + "\" <a@x.example>":                                                    strings.Repeat("é", maxNameRunes),
		"=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(long)) + "?= <a@x.example>": strings.Repeat("é", maxNameRunes),
	} {
		m := parseString(t, "From: "+from+"\nCc: "+from+"\n\nbody\n", Limits{})
		if m.From.Name != want || len(m.Cc) == 0 || m.Cc[0].Name != want {
			t.Errorf("From: %.80q: name %.80q (Cc %.80q), want %.80q", from, m.From.Name, m.Cc, want)
		}
	}
}

// TestParseWorkBudget: a mail that costs more work than its size allows
// fails with ErrTooComplex, which the pipeline quarantines with the error
// as the reason.
func TestParseWorkBudget(t *testing.T) {
	raw := "Subject: x\nContent-Type: text/html\n\n" + strings.Repeat("<p>some text &amp; more</p>\n", 80000)
	if _, err := Parse(strings.NewReader(raw), Limits{}); err != nil {
		t.Fatalf("default budget: %v", err)
	}
	_, err := Parse(strings.NewReader(raw), Limits{WorkPerByte: 2})
	if !errors.Is(err, ErrTooComplex) {
		t.Fatalf("tight budget: err %v, want ErrTooComplex", err)
	}
	if errors.Is(err, errInternal) || !strings.Contains(err.Error(), "units of work") {
		t.Errorf("error does not say why: %v", err)
	}
	// The parser is usable for the next mail.
	if m, err := Parse(strings.NewReader("Subject: next\n\nbody\n"), Limits{WorkPerByte: 2}); err != nil || m.Subject != "next" {
		t.Errorf("next mail: %v %+v", err, m)
	}
}
