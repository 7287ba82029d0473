package ingest

import (
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

var _ = strings.Contains

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
