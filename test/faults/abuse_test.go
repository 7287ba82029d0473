package faults

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"strings"
	"testing"
	"time"
)

// apiToken is the agent token of the abuse test's desk.
const apiToken = "alice-0123456789abcdef0123456789"

// Display names carrying CR LF (RFC 2047 encoded: the only way to get
// them through a header).
var (
	nameCRLF     = qPhrase("Name\r\nBcc: victim2@evil.example\r\nX-Injected: yes")
	strangerName = qPhrase("Evil\r\nBcc: victim3@evil.example\r\nX-Injected: yes")
)

// qPhrase is s as one RFC 2047 Q encoded word valid in a display name
// (RFC 2047 5(3): only letters and digits stay as they are).
func qPhrase(s string) string {
	var b strings.Builder
	b.WriteString("=?utf-8?q?")
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('_')
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	return b.String() + "?="
}

// Injection attempts: subjects and display names that try to add header
// fields or recipients (encoded CR LF) or markup to what the desk sends
// and shows.
const (
	subjectCRLF   = "=?utf-8?q?Printer=0D=0ABcc:_victim1@evil.example=0D=0AX-Injected:_yes?="
	subjectScript = `<script>alert("subject")</script> printer`
	nameMarkup    = `"\"><img src=x onerror=alert(1)>"`
	// Contacts without a name in the directory: the desk takes the name
	// from their mail.
	nonameAddr  = "noname@acme.example"
	noname2Addr = "noname2@acme.example"
)

// TestAbuse feeds the desk what an attacker would: 1,000 mails from one
// unauthorised sender and 200 from different senders at one domain
// (notices stay within notice_interval, one per sender, and
// authz.domain_notice_limit, 10 per domain per hour), subjects and names
// that try header and HTML injection (the mails that go out have no extra
// header fields or recipients; the dashboard and the mails' HTML show the
// text escaped), and API requests without or with a wrong token or from
// another site (refused, nothing changes).
func TestAbuse(t *testing.T) {
	skipShort(t)
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	d := newDesk(t, deskOptions{
		HTTP:     fmt.Sprintf("  listen: %s\n  tokens: [{name: alice, token: %s}]\n", httpAddr, apiToken),
		Contacts: contactsYAML("{email: "+nonameAddr+"}", "{email: "+noname2Addr+"}"),
	})

	c := &corpus{run: "abuse"}
	add := func(from, name, subject string) {
		m := testMail{Seq: len(c.mails) + 1, From: from}
		_, dom, _ := strings.Cut(from, "@")
		m.ID = fmt.Sprintf("a%d@%s", m.Seq, dom)
		m.Raw = []byte(c.header(m, name, subject, nil) + "Please help.\r\n")
		c.mails = append(c.mails, m)
	}
	for i := range 1000 {
		add("spammer@evil.example", "Spam Mer", fmt.Sprintf("Cheap watches %d", i))
	}
	for i := range 200 {
		add(fmt.Sprintf("user%d@flood.example", i), "Flood", "Hello")
	}
	add(contacts[0].email, contacts[0].name, subjectCRLF)
	add(nonameAddr, nameMarkup, subjectScript)
	add(noname2Addr, nameCRLF, "VPN")
	add("inject@injection.example", strangerName, `Hi</title><script>alert(2)</script>`)
	d.dc.DeliverMaildir(t, deskAddr, c.raws(0, len(c.mails)))
	d.start()
	d.waitQuiet(len(c.mails), 60*time.Second)

	// Notices within the limits.
	notices := map[string]int{}
	perDomain := map[string]int{}
	for _, s := range d.sent() {
		if s.kind != "rejection" {
			continue
		}
		to := strings.ToLower(s.rcpt[0])
		notices[to]++
		_, dom, _ := strings.Cut(to, "@")
		perDomain[dom]++
	}
	if n := notices["spammer@evil.example"]; n != 1 {
		t.Errorf("1,000 mails from one stranger got %d notices, want 1 (notice_interval 24h)", n)
	}
	if n := perDomain["flood.example"]; n > 10 || n == 0 {
		t.Errorf("200 senders at one domain got %d notices, want 1 to 10 (domain_notice_limit 10 per hour)", n)
	}
	t.Logf("notices: %d to spammer@evil.example, %d to flood.example, %d to injection.example",
		notices["spammer@evil.example"], perDomain["flood.example"], perDomain["injection.example"])
	records := map[string]int{}
	for _, r := range d.rejections() {
		_, dom, _ := strings.Cut(r.Sender, "@")
		records[dom]++
	}
	if records["evil.example"] != 1000 || records["flood.example"] != 200 {
		t.Errorf("rejection records: %d for evil.example, %d for flood.example; want one per mail (1,000 and 200)",
			records["evil.example"], records["flood.example"])
	}
	counts, err := d.counts()
	if err != nil {
		t.Fatal(err)
	}
	if counts["Rejected"] != 1201 || counts["Processed"] != 3 {
		t.Errorf("mailboxes %v, want 1,201 Rejected and 3 Processed", counts)
	}

	t.Run("mail injection", func(t *testing.T) { checkInjectionInert(t, d) })
	t.Run("dashboard", func(t *testing.T) { checkDashboard(t, httpAddr) })
	t.Run("api auth", func(t *testing.T) { checkAPIAuth(t, d, httpAddr) })
}

// checkInjectionInert checks every mail the desk sent: one recipient, who
// is the To header's only address, no Bcc or X-Injected field, a subject
// on one line, and HTML without the attacker's markup.
func checkInjectionInert(t *testing.T, d *desk) {
	sent := d.sent()
	injected := 0
	for _, s := range sent {
		if len(s.rcpt) != 1 || strings.Contains(strings.ToLower(s.rcpt[0]), "victim") {
			t.Errorf("%s <%s> went to %v", s.kind, s.messageID, s.rcpt)
			continue
		}
		for _, k := range []string{"Bcc", "Cc", "X-Injected"} {
			if v, ok := s.header[k]; ok {
				t.Errorf("%s to %s has header %s: %q\n%s", s.kind, s.rcpt[0], k, v, headerBlock(s.raw))
			}
		}
		to, err := mail.ParseAddressList(s.header.Get("To"))
		if err != nil || len(to) != 1 || !strings.EqualFold(to[0].Address, s.rcpt[0]) {
			t.Errorf("%s to %s: To header %q (%v), want only the recipient", s.kind, s.rcpt[0], s.header.Get("To"), err)
		}
		if strings.ContainsAny(s.subject, "\r\n") {
			t.Errorf("%s to %s: subject has a line break: %q", s.kind, s.rcpt[0], s.subject)
		}
		html, err := htmlPart(s.raw)
		if err != nil {
			t.Errorf("%s to %s: %v", s.kind, s.rcpt[0], err)
		}
		for _, bad := range []string{"<script", "<img"} {
			if strings.Contains(strings.ToLower(html), bad) {
				t.Errorf("%s to %s: HTML part contains %s:\n%s", s.kind, s.rcpt[0], bad, html)
			}
		}
		if bytes.Contains(s.raw, []byte("victim")) || strings.Contains(html, "&lt;script") || strings.Contains(html, "&lt;img") {
			injected++
		}
	}
	// The attempts did reach the mails (as text): the checks above saw them.
	if injected != 4 {
		t.Errorf("%d of the mails sent carry an injection attempt as text, want 4: the acks of the three attempts and the stranger's notice", injected)
	}
}

// headerBlock is the header of a raw mail, for failure messages.
func headerBlock(raw []byte) string {
	h, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	return string(h)
}

// htmlPart returns the decoded text/html part of a raw mail ("" if none).
func htmlPart(raw []byte) (string, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	var walk func(ct string, enc string, body io.Reader) (string, error)
	walk = func(ct, enc string, body io.Reader) (string, error) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			return "", fmt.Errorf("content type %q: %v", ct, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					return "", nil
				}
				if err != nil {
					return "", err
				}
				if h, err := walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); h != "" || err != nil {
					return h, err
				}
			}
		}
		if mt != "text/html" {
			return "", nil
		}
		if strings.EqualFold(enc, "quoted-printable") {
			body = quotedprintable.NewReader(body)
		}
		b, err := io.ReadAll(body)
		return string(b), err
	}
	return walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
}

// checkDashboard: the page shows the attacker's subject and name escaped.
func checkDashboard(t *testing.T, addr string) {
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.SetBasicAuth("anyone", apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET / with the token: %d\n%s", resp.StatusCode, body)
	}
	page := string(body)
	for _, bad := range []string{"<script", "<img"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("dashboard contains %s", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(", "&lt;img src=x onerror=alert(1)&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("dashboard does not show %q (the escaped subject or name)", want)
		}
	}
}

// checkAPIAuth: no token, a wrong one, or a cross-site request is refused,
// and the refused requests changed nothing.
func checkAPIAuth(t *testing.T, d *desk, addr string) {
	base := "http://" + addr
	ticket := d.tickets()[0].Number
	do := func(method, path, body string, set func(*http.Request)) (int, http.Header) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if set != nil {
			set(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	note := `{"message": "planted by an attacker"}`
	notePath := "/api/v1/tickets/" + ticket + "/notes"
	for _, tc := range []struct {
		what, method, path, body string
		set                      func(*http.Request)
		want                     int
	}{
		{"tickets without a token", "GET", "/api/v1/tickets", "", nil, 401},
		{"tickets with a wrong token", "GET", "/api/v1/tickets", "", bearer("alice-0123456789abcdef0123456788"), 401},
		{"tickets with an empty bearer", "GET", "/api/v1/tickets", "", bearer(""), 401},
		{"tickets with a wrong basic password", "GET", "/api/v1/tickets", "", func(r *http.Request) { r.SetBasicAuth("alice", "wrong-token-0123456789") }, 401},
		{"tickets with the token as user name", "GET", "/api/v1/tickets", "", func(r *http.Request) { r.SetBasicAuth(apiToken, "") }, 401},
		{"dashboard without a token", "GET", "/", "", nil, 401},
		{"rejections without a token", "GET", "/api/v1/rejections", "", nil, 401},
		{"outbox with a wrong token", "GET", "/api/v1/outbox", "", bearer("x"), 401},
		{"note without a token", "POST", notePath, note, nil, 401},
		{"note with a wrong token", "POST", notePath, note, bearer(strings.ToUpper(apiToken)), 401},
		{"change without a token", "PATCH", "/api/v1/tickets/" + ticket, `{"status": "closed"}`, nil, 401},
		{"cross-site note with the token (browser)", "POST", notePath, note, func(r *http.Request) {
			bearer(apiToken)(r)
			r.Header.Set("Sec-Fetch-Site", "cross-site")
		}, 403},
		{"cross-origin note with basic auth", "POST", notePath, note, func(r *http.Request) {
			r.SetBasicAuth("alice", apiToken)
			r.Header.Set("Origin", "http://evil.example")
		}, 403},
		{"tickets with the token", "GET", "/api/v1/tickets", "", bearer(apiToken), 200},
		{"dashboard with the token", "GET", "/", "", func(r *http.Request) { r.SetBasicAuth("", apiToken) }, 200},
		{"health probe without a token", "GET", "/healthz", "", nil, 200},
	} {
		code, h := do(tc.method, tc.path, tc.body, tc.set)
		if code != tc.want {
			t.Errorf("%s: %s %s answered %d, want %d", tc.what, tc.method, tc.path, code, tc.want)
		}
		if code == 401 && len(h.Values("WWW-Authenticate")) == 0 {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.what)
		}
	}
	// Nothing the refused requests asked for happened.
	out, err := d.cli("tickets", "show", ticket, "--json")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("planted by an attacker")) || bytes.Contains(out, []byte(`"status": "closed"`)) {
		t.Errorf("a refused request changed %s:\n%s", ticket, out)
	}
}
