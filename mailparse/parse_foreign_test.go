package mailparse

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// Mail as other systems and old clients write it (issue 17, items 4, 5 and
// 7). Every message here is written for these tests.

// A blank text/plain part in multipart/mixed does not win over the HTML
// part next to it. Before, the ticket text was empty.
func TestParseBlankPlainInMixed(t *testing.T) {
	mixed := func(plain, html string) string {
		return "From: a@example.com\nSubject: s\nContent-Type: multipart/mixed; boundary=M\n\n" +
			"--M\nContent-Type: text/plain; charset=utf-8\n\n" + plain + "\n" +
			"--M\nContent-Type: text/html; charset=utf-8\n\n" + html + "\n" +
			"--M\nContent-Type: application/pdf; name=a.pdf\nContent-Disposition: attachment; filename=a.pdf\n\n%PDF\n--M--\n"
	}
	tests := []struct {
		name, plain, html, want string
		attachments             []string
	}{
		{"empty plain", "", "<p>Hello from the HTML</p>", "Hello from the HTML", []string{"a.pdf"}},
		{"white space plain", "  \n\t\n", "<p>Hello from the HTML</p>", "Hello from the HTML", []string{"a.pdf"}},
		// As before: the HTML sibling of a plain text with words is kept
		// as an attachment.
		{"plain with text wins", "Plain words", "<p>HTML words</p>", "Plain words", []string{"attachment-1.html", "a.pdf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parseString(t, mixed(tt.plain, tt.html), Limits{})
			if m.Text != tt.want {
				t.Errorf("Text = %q, want %q", m.Text, tt.want)
			}
			if names := attachmentNames(m); !slices.Equal(names, tt.attachments) {
				t.Errorf("attachments %q", names)
			}
		})
	}
}

// Undeclared 8-bit text in single-byte Cyrillic, Greek and Central
// European charsets is read in them, not as GB18030 or windows-1252;
// Western and Chinese text stay as they were read.
func TestParseUndeclaredSingleByte(t *testing.T) {
	enc := func(cm *charmap.Charmap, s string) string {
		b, err := cm.NewEncoder().String(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	gbk, err := simplifiedchinese.GBK.NewEncoder().String("打印机坏了，请帮忙看看")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, raw, want string
	}{
		{"koi8-r", enc(charmap.KOI8R, "Принтер не работает, помогите пожалуйста"), "Принтер не работает, помогите пожалуйста"},
		{"windows-1251", enc(charmap.Windows1251, "Принтер не работает, помогите пожалуйста"), "Принтер не работает, помогите пожалуйста"},
		{"windows-1251 short", enc(charmap.Windows1251, "Счет"), "Счет"},
		{"windows-1251 two words", enc(charmap.Windows1251, "Привет мир"), "Привет мир"},
		{"koi8-r lower case", enc(charmap.KOI8R, "привет мир"), "привет мир"},
		{"windows-1251 capitals", enc(charmap.Windows1251, "СРОЧНО ПРИНТЕР"), "СРОЧНО ПРИНТЕР"},
		{"koi8-r capitals", enc(charmap.KOI8R, "СРОЧНО ПРИНТЕР"), "СРОЧНО ПРИНТЕР"},
		{"cyrillic with a tag", "Re: [SD-12] " + enc(charmap.Windows1251, "Счет за октябрь"), "Re: [SD-12] Счет за октябрь"},
		{"windows-1253", enc(charmap.Windows1253, "Καλημέρα, ο εκτυπωτής δεν λειτουργεί"), "Καλημέρα, ο εκτυπωτής δεν λειτουργεί"},
		{"windows-1250", enc(charmap.Windows1250, "Zażółć gęślą jaźń, drukarka nie działa"), "Zażółć gęślą jaźń, drukarka nie działa"},
		{"iso-8859-2", enc(charmap.ISO8859_2, "Zażółć gęślą jaźń, drukarka nie działa"), "Zażółć gęślą jaźń, drukarka nie działa"},
		{"windows-1252 stays", enc(charmap.Windows1252, "Grüße aus Köln, der Drucker ist kaputt"), "Grüße aus Köln, der Drucker ist kaputt"},
		{"windows-1252 umlauts only", enc(charmap.Windows1252, "äöüß ad asd"), "äöüß ad asd"},
		{"windows-1252 french", enc(charmap.Windows1252, "L'imprimante ne marche pas, ça m'énerve"), "L'imprimante ne marche pas, ça m'énerve"},
		{"gbk stays chinese", gbk, "打印机坏了，请帮忙看看"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parseString(t, "From: a@example.com\nSubject: "+tt.raw+"\n\n"+tt.raw+"\n", Limits{})
			if m.Subject != tt.want {
				t.Errorf("Subject = %q, want %q", m.Subject, tt.want)
			}
			if m.Text != tt.want {
				t.Errorf("Text = %q, want %q", m.Text, tt.want)
			}
		})
	}
}

// The signature of a signed mail is no attachment; the files signed with
// it are.
func TestParseSignedMail(t *testing.T) {
	signed := func(protocol, sigType, sigName string) string {
		return "From: a@example.com\nSubject: s\nContent-Type: multipart/signed; protocol=\"" + protocol + "\"; micalg=sha-256; boundary=O\n\n" +
			"--O\nContent-Type: multipart/mixed; boundary=I\n\n--I\nContent-Type: text/plain\n\nSigned words.\n" +
			"--I\nContent-Type: application/pdf; name=offer.pdf\nContent-Disposition: attachment; filename=offer.pdf\n\n%PDF\n--I--\n" +
			"--O\nContent-Type: " + sigType + "; name=" + sigName + "\nContent-Disposition: attachment; filename=" + sigName + "\n\nSIGNATURE\n--O--\n"
	}
	for _, tt := range []struct{ protocol, sigType, sigName string }{
		{"application/pgp-signature", "application/pgp-signature", "signature.asc"},
		{"application/pkcs7-signature", "application/pkcs7-signature", "smime.p7s"},
		{"application/x-pkcs7-signature", "application/x-pkcs7-signature", "smime.p7s"},
	} {
		m := parseString(t, signed(tt.protocol, tt.sigType, tt.sigName), Limits{})
		if m.Text != "Signed words." || !slices.Equal(attachmentNames(m), []string{"offer.pdf"}) {
			t.Errorf("%s: text %q, attachments %q", tt.sigType, m.Text, attachmentNames(m))
		}
	}
	// A signature type outside multipart/signed is a file like any other.
	m := parseString(t, "From: a@example.com\nSubject: s\nContent-Type: multipart/mixed; boundary=M\n\n--M\n\ntext\n"+
		"--M\nContent-Type: application/pgp-signature; name=release.sig\n\nSIG\n--M--\n", Limits{})
	if !slices.Equal(attachmentNames(m), []string{"release.sig"}) {
		t.Errorf("detached signature file: %q", attachmentNames(m))
	}
}

// ber builds a BER element with a definite length.
func ber(tag byte, content ...[]byte) []byte {
	body := bytes.Join(content, nil)
	n := len(body)
	switch {
	case n < 0x80:
		return append([]byte{tag, byte(n)}, body...)
	case n < 0x100:
		return append([]byte{tag, 0x81, byte(n)}, body...)
	case n < 0x10000:
		return append([]byte{tag, 0x82, byte(n >> 8), byte(n)}, body...)
	}
	return append([]byte{tag, 0x83, byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

// berIndef builds a constructed element with an indefinite length.
func berIndef(tag byte, content ...[]byte) []byte {
	return append(append([]byte{tag | 0x20, 0x80}, bytes.Join(content, nil)...), 0, 0)
}

// signedData wraps content as CMS SignedData without signers (nothing here
// checks signatures); indefinite writes it as mail clients do, in BER with
// indefinite lengths and the content in chunks.
func signedData(content []byte, indefinite bool) []byte {
	oidSigned := ber(0x06, oidSignedData)
	version := ber(0x02, []byte{1})
	emptySet := ber(0x31)
	if !indefinite {
		encap := ber(0x30, ber(0x06, oidData), ber(0xa0, ber(0x04, content)))
		return ber(0x30, oidSigned, ber(0xa0, ber(0x30, version, emptySet, encap, emptySet)))
	}
	half := len(content) / 2
	chunks := berIndef(0x04, ber(0x04, content[:half]), ber(0x04, content[half:]))
	encap := berIndef(0x30, ber(0x06, oidData), berIndef(0xa0, chunks))
	return berIndef(0x30, oidSigned, berIndef(0xa0, berIndef(0x30, version, emptySet, encap, emptySet)))
}

// An opaque signed mail (smime.p7m) shows its content: its text is the
// ticket's, its files are the attachments. Before, the ticket had only an
// attachment smime.p7m and no text.
func TestParseOpaqueSignedMail(t *testing.T) {
	inner := []byte("Content-Type: multipart/mixed; boundary=S\r\n\r\n--S\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Signed text, één.\r\n--S\r\nContent-Type: application/pdf; name=scan.pdf\r\nContent-Disposition: attachment; filename=scan.pdf\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--S--\r\n")
	p7m := func(smimeType string, der []byte) string {
		b64 := base64.StdEncoding.EncodeToString(der)
		var lines []string
		for len(b64) > 76 {
			lines, b64 = append(lines, b64[:76]), b64[76:]
		}
		lines = append(lines, b64)
		return "From: a@example.com\nSubject: signed\nMIME-Version: 1.0\nContent-Type: application/pkcs7-mime; " + smimeType +
			"name=smime.p7m\nContent-Disposition: attachment; filename=smime.p7m\nContent-Transfer-Encoding: base64\n\n" +
			strings.Join(lines, "\n") + "\n"
	}
	for name, raw := range map[string]string{
		"der":              p7m("smime-type=signed-data; ", signedData(inner, false)),
		"ber":              p7m("smime-type=signed-data; ", signedData(inner, true)),
		"no smime-type":    p7m("", signedData(inner, false)),
		"inside multipart": "From: a@example.com\nSubject: s\nContent-Type: multipart/mixed; boundary=X\n\n--X\n" + strings.SplitN(p7m("smime-type=signed-data; ", signedData(inner, true)), "\n", 3)[2] + "--X--\n",
	} {
		t.Run(name, func(t *testing.T) {
			m := parseString(t, raw, Limits{})
			if m.Text != "Signed text, één." {
				t.Errorf("Text = %q", m.Text)
			}
			if !slices.Equal(attachmentNames(m), []string{"scan.pdf"}) || m.Attachments[0].SHA256 != sum("%PDF-1.4\n") {
				t.Errorf("attachments %+v", m.Attachments)
			}
		})
	}
	// Encrypted, or not SignedData at all: it stays the attachment it is.
	for name, raw := range map[string]string{
		"enveloped": p7m("smime-type=enveloped-data; ", signedData(inner, false)),
		"garbage":   p7m("smime-type=signed-data; ", []byte("\x30\x80\x06\x09not really ber")),
		"truncated": p7m("smime-type=signed-data; ", signedData(inner, false)[:60]),
	} {
		m := parseString(t, raw, Limits{})
		if !slices.Equal(attachmentNames(m), []string{"smime.p7m"}) {
			t.Errorf("%s: attachments %q, text %q", name, attachmentNames(m), m.Text)
		}
	}
}

// File names keep no Windows folders; attached mails are named after their
// subject.
func TestParseAttachmentNames(t *testing.T) {
	part := func(header string) string {
		return "--M\n" + header + "\n\ndata\n"
	}
	tests := []struct {
		name, header, want string
	}{
		{"windows path quoted", `Content-Type: application/pdf; name="C:\Documents and Settings\jan\scan 1.pdf"`, "scan 1.pdf"},
		{"windows path disposition", `Content-Type: application/pdf` + "\n" + `Content-Disposition: attachment; filename="D:\Temp\offer.pdf"`, "offer.pdf"},
		{"unc path", `Content-Type: application/pdf; name="\\fileserver\share\report.xlsx"`, "report.xlsx"},
		{"unquoted windows path", `Content-Type: text/csv; name=C:\temp\export.csv`, "export.csv"},
		{"encoded windows path", `Content-Type: application/pdf` + "\n" + `Content-Disposition: attachment; filename*=utf-8''C%3A%5Ctemp%5Cb%C3%A9.pdf`, "bé.pdf"},
		{"unix path stays", `Content-Type: application/pdf; name="/home/jan/scan.pdf"`, "/home/jan/scan.pdf"},
		{"plain name", `Content-Type: application/pdf; name="scan.pdf"`, "scan.pdf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parseString(t, "From: a@example.com\nSubject: s\nContent-Type: multipart/mixed; boundary=M\n\n--M\n\ntext\n"+part(tt.header)+"--M--\n", Limits{})
			if names := attachmentNames(m); !slices.Equal(names, []string{tt.want}) {
				t.Errorf("names %q, want %q", names, tt.want)
			}
		})
	}
	msg := func(subject string) string {
		s := ""
		if subject != "" {
			s = "Subject: " + subject + "\n"
		}
		return "--M\nContent-Type: message/rfc822\n\nFrom: b@example.com\n" + s + "\nforwarded body\n"
	}
	m := parseString(t, "From: a@example.com\nSubject: s\nContent-Type: multipart/mixed; boundary=M\n\n--M\n\ntext\n"+
		msg("Quote: Q3/2026 prices?")+msg("=?utf-8?q?Offerte_f=C3=BCr_*Acme*?=")+msg("Quote: Q3/2026 prices?")+msg("")+
		"--M\nContent-Type: message/rfc822; name=original.eml\n\nSubject: x\n\nbody\n--M--\n", Limits{})
	want := []string{"Quote Q3 2026 prices.eml", "Offerte für Acme.eml", "Quote Q3 2026 prices (2).eml", "message-4.eml", "original.eml"}
	if names := attachmentNames(m); !slices.Equal(names, want) {
		t.Errorf("attached mails: %q, want %q", names, want)
	}
}

// uuencode is the uuencoding of data under name, as old clients write it.
func uuencode(name string, data []byte) string {
	var b strings.Builder
	b.WriteString("begin 644 " + name + "\n")
	enc := func(c byte) byte {
		if c == 0 {
			return '`'
		}
		return c + ' '
	}
	for len(data) > 0 {
		n := min(45, len(data))
		line := data[:n]
		data = data[n:]
		b.WriteByte(enc(byte(n)))
		for i := 0; i < n; i += 3 {
			var g [3]byte
			copy(g[:], line[i:min(i+3, n)])
			b.Write([]byte{enc(g[0] >> 2), enc((g[0]<<4 | g[1]>>4) & 0x3f), enc((g[1]<<2 | g[2]>>6) & 0x3f), enc(g[2] & 0x3f)})
		}
		b.WriteByte('\n')
	}
	b.WriteString("`\nend\n")
	return b.String()
}

// uuencoded files in the text of old Outlook and Notes mail become
// attachments. Before, they were kilobytes of noise in the ticket text.
func TestParseUUEncodedFiles(t *testing.T) {
	gif := bytes.Repeat([]byte("GIF89a\x00\x01\x02\xff binary \x00"), 20)
	txt := []byte("line one\r\nline two\r\n")
	raw := "From: a@example.com\nSubject: s\n\nHello,\n\nthe files:\n\n" + uuencode("logo.gif", gif) + "\nand\n" +
		uuencode(`C:\export\list.txt`, txt) + "\nRegards, Jan\n"
	m := parseString(t, raw, Limits{})
	if want := "Hello,\n\nthe files:\n\n\nand\n\nRegards, Jan"; m.Text != want {
		t.Errorf("Text = %q, want %q", m.Text, want)
	}
	want := []Attachment{
		{Filename: "logo.gif", ContentType: "image/gif", Size: int64(len(gif)), SHA256: sum(string(gif))},
		{Filename: "list.txt", ContentType: "text/plain", Size: int64(len(txt)), SHA256: sum(string(txt))},
	}
	if !slices.Equal(m.Attachments, want) {
		t.Errorf("attachments %+v\nwant %+v", m.Attachments, want)
	}
	// Not a uuencoded file: text that only starts like one stays text.
	for _, s := range []string{
		"begin 644 notes.txt\nthis is prose, not data\nend\n",
		"begin 644 half.gif\nM1TE&.#EA\n",
		"begin the meeting at 644 o'clock\n",
	} {
		m := parseString(t, "From: a@example.com\nSubject: s\n\n"+s, Limits{})
		if len(m.Attachments) != 0 || m.Text != strings.TrimSpace(s) {
			t.Errorf("%q: text %q, attachments %+v", s, m.Text, m.Attachments)
		}
	}
	// A part sent with Content-Transfer-Encoding: x-uuencode is decoded.
	m = parseString(t, "From: a@example.com\nSubject: s\nContent-Type: multipart/mixed; boundary=M\n\n--M\n\ntext\n"+
		"--M\nContent-Type: application/octet-stream; name=logo.gif\nContent-Transfer-Encoding: x-uuencode\n\n"+uuencode("logo.gif", gif)+"--M--\n", Limits{})
	if len(m.Attachments) != 1 || m.Attachments[0].SHA256 != sum(string(gif)) || hasWarning(m, "unknown transfer encoding") {
		t.Errorf("x-uuencode part: %+v %q", m.Attachments, m.Warnings)
	}
}
