package mailparse

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

// attachmentsMail has a text body, an HTML alternative, a base64 PDF, a
// quoted-printable text file, an inline image in a related part and a
// forwarded mail: every kind of leaf a page offers for download.
const attachmentsMail = "From: Jan <jan@acme.example>\r\n" +
	"Subject: logs\r\n" +
	"Content-Type: multipart/mixed; boundary=outer\r\n" +
	"\r\n" +
	"--outer\r\n" +
	"Content-Type: multipart/related; boundary=rel\r\n" +
	"\r\n" +
	"--rel\r\n" +
	"Content-Type: multipart/alternative; boundary=alt\r\n" +
	"\r\n" +
	"--alt\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"See the logs.\r\n" +
	"--alt\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<p>See the logs. <img src=\"cid:shot\"></p>\r\n" +
	"--alt--\r\n" +
	"--rel\r\n" +
	"Content-Type: image/png\r\n" +
	"Content-ID: <shot>\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\n" +
	"--rel--\r\n" +
	"--outer\r\n" +
	"Content-Type: application/pdf; name=\"report.pdf\"\r\n" +
	"Content-Disposition: attachment; filename=\"report.pdf\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"JVBERi0xLjQKJcTl8uXrp/Og0MTGCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCg==\r\n" +
	"--outer\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Disposition: attachment; filename=\"<script>alert(1)</script>.txt\"\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"line one=0D=0Aline two caf=C3=A9\r\n" +
	"--outer\r\n" +
	"Content-Type: message/rfc822\r\n" +
	"\r\n" +
	"Subject: inner\r\n" +
	"\r\n" +
	"inner body\r\n" +
	"--outer--\r\n"

// TestExtractPart: every attachment Parse lists comes out of ExtractPart
// with the size and SHA-256 Parse recorded, and the text parts are no
// attachment.
func TestExtractPart(t *testing.T) {
	m, err := Parse(strings.NewReader(attachmentsMail), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 4 {
		t.Fatalf("%d attachments, want 4: %+v", len(m.Attachments), m.Attachments)
	}
	want := map[string]string{ // filename -> decoded content prefix
		"report.pdf":                    "%PDF-1.4",
		"<script>alert(1)</script>.txt": "line one\r\nline two café",
		"message-4.eml":                 "Subject: inner",
	}
	parts := map[int]bool{}
	for _, a := range m.Attachments {
		if parts[a.Part] || a.Part < 1 {
			t.Errorf("attachment %q has part %d, not a new one", a.Filename, a.Part)
		}
		parts[a.Part] = true
		var buf bytes.Buffer
		got, err := ExtractPart(strings.NewReader(attachmentsMail), Limits{}, a.Part, &buf)
		if err != nil {
			t.Fatalf("%s: %v", a.Filename, err)
		}
		if got != a {
			t.Errorf("ExtractPart says %+v, Parse %+v", got, a)
		}
		sum := sha256.Sum256(buf.Bytes())
		if int64(buf.Len()) != a.Size || hex.EncodeToString(sum[:]) != a.SHA256 {
			t.Errorf("%s: %d bytes with another hash than Parse's %d", a.Filename, buf.Len(), a.Size)
		}
		if p, ok := want[a.Filename]; ok && !strings.HasPrefix(buf.String(), p) {
			t.Errorf("%s starts %q, want %q", a.Filename, buf.String(), p)
		}
		if a.ContentType == "image/png" && (!a.Inline || !bytes.HasPrefix(buf.Bytes(), []byte("\x89PNG"))) {
			t.Errorf("inline image: %+v %q", a, buf.Bytes())
		}
	}
	// The text/plain body is part 1: content, but no attachment.
	var buf bytes.Buffer
	if _, err := ExtractPart(strings.NewReader(attachmentsMail), Limits{}, 1, &buf); !errors.Is(err, ErrNoSuchPart) {
		t.Errorf("part 1 (the text): %v, want ErrNoSuchPart", err)
	}
	for _, part := range []int{0, -1, 99} {
		buf.Reset()
		if _, err := ExtractPart(strings.NewReader(attachmentsMail), Limits{}, part, &buf); !errors.Is(err, ErrNoSuchPart) || buf.Len() != 0 {
			t.Errorf("part %d: %v, %d bytes; want ErrNoSuchPart and nothing", part, err, buf.Len())
		}
	}
}

// FuzzExtractPart: whatever the mail, each attachment Parse lists is
// extracted with the size and hash Parse gave it.
func FuzzExtractPart(f *testing.F) {
	addSeeds(f)
	f.Add([]byte(attachmentsMail))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseBounded(t, data, fuzzLimits, 10*time.Second)
		if err != nil {
			return
		}
		for _, a := range m.Attachments {
			h := sha256.New()
			n := &countWriter{w: h}
			got, err := ExtractPart(bytes.NewReader(data), fuzzLimits, a.Part, n)
			if err != nil {
				t.Fatalf("part %d of %+v: %v", a.Part, m.Attachments, err)
			}
			if got != a || n.n != a.Size || hex.EncodeToString(h.Sum(nil)) != a.SHA256 {
				t.Fatalf("part %d: extracted %d bytes as %+v, Parse listed %+v", a.Part, n.n, got, a)
			}
		}
	})
}

type countWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	c.n += int64(len(b))
	return c.w.Write(b)
}
