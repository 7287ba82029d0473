package mailparse_test

import (
	"fmt"
	"strings"

	"github.com/maildesk/maildesk/mailparse"
)

// A customer's reply with a Dutch subject in an encoded word, a quoted
// history and a PDF: Parse decodes the header (the address's domain in
// lower case, its local part as sent; ids without angle brackets), picks
// the plain text over the HTML and lists the attachment by its place among
// the mail's parts (what ExtractPart takes); SplitQuoted parts the new text
// from the history.
func Example() {
	raw := strings.Join([]string{
		`From: "Jan de Vries" <Jan@Acme.Example>`,
		`To: servicedesk@desk.example`,
		`Subject: =?utf-8?q?Re:_[SD-12]_Printer_op_de_2e_verdieping_=E2=80=93_kapot?=`,
		`Message-ID: <CAF1234@mail.acme.example>`,
		`In-Reply-To: <ack.sd-12.acme-it.maildesk.0123456789abcdef@desk.example>`,
		`Date: Mon, 7 Dec 2026 09:15:00 +0100`,
		`MIME-Version: 1.0`,
		`Content-Type: multipart/mixed; boundary="m"`,
		``,
		`--m`,
		`Content-Type: multipart/alternative; boundary="a"`,
		``,
		`--a`,
		`Content-Type: text/plain; charset=utf-8`,
		``,
		`Hij doet het nog steeds niet.`,
		``,
		`Op ma 7 dec 2026 om 08:00 schreef Servicedesk <servicedesk@desk.example>:`,
		`> We hebben uw melding ontvangen.`,
		`--a`,
		`Content-Type: text/html; charset=utf-8`,
		``,
		`<p>Hij doet het nog steeds niet.</p>`,
		`--a--`,
		`--m`,
		`Content-Type: application/pdf; name="foutmelding.pdf"`,
		`Content-Disposition: attachment; filename="foutmelding.pdf"`,
		`Content-Transfer-Encoding: base64`,
		``,
		`JVBERi0xLjQK`,
		`--m--`,
		``,
	}, "\r\n")

	m, err := mailparse.Parse(strings.NewReader(raw), mailparse.Limits{})
	if err != nil {
		fmt.Println("unparseable:", err)
		return
	}
	fmt.Println("From:", m.From.Name, "<"+m.From.Address+">")
	fmt.Println("Subject:", m.Subject)
	fmt.Println("Message-ID:", m.MessageID)
	fmt.Println("In-Reply-To:", m.InReplyTo)
	fmt.Println("Date:", m.Date.UTC())
	for _, a := range m.Attachments {
		fmt.Printf("Attachment %d: %s (%s, %d bytes)\n", a.Part, a.Filename, a.ContentType, a.Size)
	}
	fresh, quoted := mailparse.SplitQuoted(m.Text)
	fmt.Printf("Fresh: %q\n", fresh)
	fmt.Printf("Quoted: %q\n", quoted)
	fmt.Println("Warnings:", len(m.Warnings))
	// Output:
	// From: Jan de Vries <Jan@acme.example>
	// Subject: Re: [SD-12] Printer op de 2e verdieping – kapot
	// Message-ID: CAF1234@mail.acme.example
	// In-Reply-To: [ack.sd-12.acme-it.maildesk.0123456789abcdef@desk.example]
	// Date: 2026-12-07 08:15:00 +0000 UTC
	// Attachment 3: foutmelding.pdf (application/pdf, 9 bytes)
	// Fresh: "Hij doet het nog steeds niet."
	// Quoted: "Op ma 7 dec 2026 om 08:00 schreef Servicedesk <servicedesk@desk.example>:\n> We hebben uw melding ontvangen."
	// Warnings: 0
}
