package notify

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// received is one message as the test server saw it.
type received struct {
	from string
	to   []string
	data []byte
}

// testSMTP is a minimal in-process relay: it records what it accepts and
// can refuse chosen recipients or the message body with a given reply.
type testSMTP struct {
	addr string

	mu        sync.Mutex
	msgs      []received
	rcptReply map[string]*smtp.SMTPError
	dataReply *smtp.SMTPError
	user      string
	pass      string
	hold      chan struct{} // when set, DATA blocks until it is closed
	// afterData, when set, runs after a message was accepted (recorded)
	// and before the reply to its end is written: a relay that queued the
	// message and is slow to say so, or never does.
	afterData func(to []string)
	conns     int
}

func (ts *testSMTP) connections() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.conns
}

type smtpOpts struct {
	tls      *tls.Config
	implicit bool // TLS from the first byte instead of STARTTLS
	user     string
	pass     string
}

func startSMTP(t testing.TB, o smtpOpts) *testSMTP {
	t.Helper()
	ts := &testSMTP{rcptReply: map[string]*smtp.SMTPError{}, user: o.user, pass: o.pass}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		s := &testSession{srv: ts}
		ts.mu.Lock()
		ts.conns++
		ts.mu.Unlock()
		if ts.user != "" {
			return &authSession{s}, nil
		}
		return s, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = quietLog{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.tls != nil {
		srv.TLSConfig = o.tls
		if o.implicit {
			ln = tls.NewListener(ln, o.tls)
		}
	}
	ts.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ts.mu.Lock()
		if ts.hold != nil {
			select {
			case <-ts.hold:
			default:
				close(ts.hold)
			}
		}
		ts.mu.Unlock()
		_ = srv.Close()
	})
	return ts
}

func (ts *testSMTP) refuseRcpt(addr string, code int, enh smtp.EnhancedCode) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.rcptReply[strings.ToLower(addr)] = &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: "refused by test"}
}

func (ts *testSMTP) refuseData(code int, enh smtp.EnhancedCode) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.dataReply = &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: "content refused by test"}
}

func (ts *testSMTP) received() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.msgs...)
}

type quietLog struct{}

func (quietLog) Printf(string, ...any) {}
func (quietLog) Println(...any)        {}

type testSession struct {
	srv  *testSMTP
	from string
	to   []string
}

func (s *testSession) Reset()        { s.from, s.to = "", nil }
func (s *testSession) Logout() error { return nil }
func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.srv.mu.Lock()
	reply := s.srv.rcptReply[strings.ToLower(to)]
	s.srv.mu.Unlock()
	if reply != nil {
		return reply
	}
	s.to = append(s.to, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	s.srv.mu.Lock()
	hold, reply := s.srv.hold, s.srv.dataReply
	s.srv.mu.Unlock()
	if hold != nil {
		<-hold
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if reply != nil {
		return reply
	}
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, received{from: s.from, to: s.to, data: data})
	after := s.srv.afterData
	s.srv.mu.Unlock()
	if after != nil {
		after(s.to)
	}
	return nil
}

type authSession struct{ *testSession }

func (a *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (a *authSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != a.srv.user || pass != a.srv.pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		return nil
	}), nil
}

func selfSignedTLS(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func plainMailer(addr string) *Mailer {
	return NewMailer(SMTPConfig{Address: addr, Security: "none", Timeout: 5 * time.Second, HELO: "maildesk.test"}, testDesk)
}

// parsed is a received message decoded the way a mail client would.
type parsed struct {
	header  netmail.Header
	subject string
	body    string // the text/plain part
	html    string // the text/html alternative, if any
	textCT  string // Content-Type of the text part
	raw     string
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parsing sent message: %v\n%s", err, data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decoding subject: %v", err)
	}
	p := parsed{header: msg.Header, subject: subject, raw: string(data)}
	decode := func(cte string, r io.Reader) string {
		if strings.EqualFold(cte, "quoted-printable") {
			r = quotedprintable.NewReader(r)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("reading body: %v", err)
		}
		return string(b)
	}
	ct := msg.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "multipart/alternative" {
		p.textCT, p.body = ct, decode(msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		return p
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			return p
		}
		if err != nil {
			t.Fatalf("reading part: %v", err)
		}
		body := decode(part.Header.Get("Content-Transfer-Encoding"), part)
		switch pct := part.Header.Get("Content-Type"); {
		case strings.HasPrefix(pct, "text/plain"):
			p.textCT, p.body = pct, body
		case strings.HasPrefix(pct, "text/html"):
			p.html = body
		}
	}
}

func TestSendHeaders(t *testing.T) {
	srv := startSMTP(t, smtpOpts{})
	m := plainMailer(srv.addr)
	fixed := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return fixed }

	tests := []struct {
		name        string
		note        Notification
		wantSubject string
		wantRefs    string
		bodyHas     string
	}{
		{
			name: "ack nl",
			note: func() Notification {
				n := ackNote()
				n.References = []string{"root@mail.customer.example"}
				return n
			}(),
			wantSubject: "[SD-1] Printer doet het niet",
			wantRefs:    "<root@mail.customer.example> <abc.123@mail.customer.example>",
			bodyHas:     "ticketnummer SD-1",
		},
		{
			name: "ack en with non-ascii",
			note: func() Notification {
				n := ackNote()
				n.ID, n.Language, n.Subject, n.ToName = "SD-1/ack-en", "en", "Café printer — kapot", "José Müller"
				return n
			}(),
			wantSubject: "[SD-1] Café printer — kapot",
			wantRefs:    "<abc.123@mail.customer.example>",
			bodyHas:     "ticket number SD-1",
		},
		{
			name:        "rejection en",
			note:        rejectionNote(),
			wantSubject: "Not processed: Urgent: server down",
			wantRefs:    "<x1@elsewhere.example>",
			bodyHas:     "not registered",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := m.Send(t.Context(), tt.note); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.received()
			if len(got) != i+1 {
				t.Fatalf("server has %d messages, want %d", len(got), i+1)
			}
			rcv := got[i]
			wantFrom := testDesk.Address
			if tt.note.Kind.IsNotice() {
				wantFrom = "" // RFC 3834 null reverse-path, see TestSendReturnPath
			}
			if rcv.from != wantFrom {
				t.Errorf("envelope sender %q, want %q", rcv.from, wantFrom)
			}
			if len(rcv.to) != 1 || rcv.to[0] != tt.note.To {
				t.Errorf("envelope recipients %q, want [%s]", rcv.to, tt.note.To)
			}
			p := parse(t, rcv.data)
			want := map[string]string{
				"Auto-Submitted":           "auto-replied",
				"X-Auto-Response-Suppress": "All",
				"Precedence":               "bulk",
				"X-Maildesk-Loop":          "acme-it",
				"In-Reply-To":              "<" + tt.note.InReplyTo + ">",
				"References":               tt.wantRefs,
			}
			for k, v := range want {
				if got := p.header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if p.subject != tt.wantSubject {
				t.Errorf("Subject = %q, want %q", p.subject, tt.wantSubject)
			}
			r, _ := Render(testDesk, tt.note)
			if mid := p.header.Get("Message-ID"); mid != "<"+r.MessageID+">" ||
				!strings.Contains(mid, ".maildesk.") || !strings.HasSuffix(mid, "@desk.example>") {
				t.Errorf("Message-ID = %q, want <%s>", mid, r.MessageID)
			}
			from, err := p.header.AddressList("From")
			if err != nil || len(from) != 1 || from[0].Name != testDesk.Name || from[0].Address != testDesk.Address {
				t.Errorf("From = %v (%v)", from, err)
			}
			to, err := p.header.AddressList("To")
			if err != nil || len(to) != 1 || to[0].Name != tt.note.ToName || to[0].Address != tt.note.To {
				t.Errorf("To = %v (%v)", to, err)
			}
			if d, err := p.header.Date(); err != nil || !d.Equal(fixed) {
				t.Errorf("Date = %v (%v)", d, err)
			}
			for _, h := range []string{"User-Agent", "X-Mailer"} {
				if v := p.header.Get(h); v != "" {
					t.Errorf("%s: %q present", h, v)
				}
			}
			if ct := p.header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
				t.Errorf("Content-Type = %q, want multipart/alternative", ct)
			}
			if !strings.HasPrefix(p.textCT, "text/plain") || !strings.Contains(strings.ToLower(p.textCT), "utf-8") {
				t.Errorf("text part Content-Type = %q", p.textCT)
			}
			if !strings.Contains(p.html, "<html") || !strings.Contains(p.html, tt.note.Ticket) {
				t.Errorf("HTML part missing or without the ticket:\n%s", p.html)
			}
			if !strings.Contains(p.body, tt.bodyHas) {
				t.Errorf("body lacks %q:\n%s", tt.bodyHas, p.body)
			}
		})
	}
}

func TestSendHeaderInjectionInert(t *testing.T) {
	srv := startSMTP(t, smtpOpts{})
	d := testDesk
	d.Name = "Acme\r\nBcc: desk-victim@x.example"
	m := NewMailer(SMTPConfig{Address: srv.addr, Security: "none", Timeout: 5 * time.Second}, d)
	n := ackNote()
	n.Subject = "Hi\r\nBcc: victim@x.example\r\n\r\nfake body"
	n.ToName = "Jan\r\nBcc: other@x.example"
	n.Customer = "C\r\nBcc: c@x.example"
	n.InReplyTo = "a@x.example>\r\nBcc: irt@x.example"
	n.References = []string{"r@x.example\r\nBcc: ref@x.example", "good@x.example"}
	if err := m.Send(t.Context(), n); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.received()
	if len(got) != 1 || len(got[0].to) != 1 || got[0].to[0] != n.To {
		t.Fatalf("recipients: %+v", got)
	}
	p := parse(t, got[0].data)
	if v, ok := p.header["Bcc"]; ok {
		t.Errorf("Bcc header present: %q", v)
	}
	headerPart, _, _ := strings.Cut(p.raw, "\r\n\r\n")
	for line := range strings.SplitSeq(headerPart, "\r\n") {
		if strings.HasPrefix(strings.ToLower(line), "bcc:") {
			t.Errorf("raw header line %q", line)
		}
	}
	if p.header.Get("In-Reply-To") != "" {
		t.Errorf("invalid In-Reply-To kept: %q", p.header.Get("In-Reply-To"))
	}
	if refs := p.header.Get("References"); refs != "<good@x.example>" {
		t.Errorf("References = %q", refs)
	}
	if strings.Contains(p.subject, "\n") || strings.Contains(p.subject, "\r") {
		t.Errorf("subject kept a line break: %q", p.subject)
	}
}

func TestSendClassification(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(*testSMTP)
		permanent bool
	}{
		{"451 at RCPT is temporary", func(s *testSMTP) { s.refuseRcpt("jan@customer.example", 451, smtp.EnhancedCode{4, 3, 0}) }, false},
		{"550 at RCPT is permanent", func(s *testSMTP) { s.refuseRcpt("jan@customer.example", 550, smtp.EnhancedCode{5, 1, 1}) }, true},
		{"552 at RCPT is temporary", func(s *testSMTP) { s.refuseRcpt("jan@customer.example", 552, smtp.EnhancedCode{5, 2, 2}) }, false},
		{"554 after DATA is permanent", func(s *testSMTP) { s.refuseData(554, smtp.EnhancedCode{5, 6, 0}) }, true},
		{"451 after DATA is temporary", func(s *testSMTP) { s.refuseData(451, smtp.EnhancedCode{4, 3, 0}) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, smtpOpts{})
			tt.setup(srv)
			err := plainMailer(srv.addr).Send(t.Context(), ackNote())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if IsPermanent(err) != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v: %v", !tt.permanent, tt.permanent, err)
			}
			if len(srv.received()) != 0 {
				t.Error("message stored despite refusal")
			}
		})
	}
}

func TestSendConnectionFailuresAreTemporary(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	_ = ln.Close()

	plain := startSMTP(t, smtpOpts{})
	authSrv := startSMTP(t, smtpOpts{user: "desk", pass: "secret"})

	tests := []struct {
		name string
		cfg  SMTPConfig
	}{
		{"unreachable", SMTPConfig{Address: closedAddr, Security: "none", Timeout: 2 * time.Second}},
		{"starttls required but not offered", SMTPConfig{Address: plain.addr, Security: "starttls", Timeout: 2 * time.Second}},
		{"bad credentials", SMTPConfig{Address: authSrv.addr, Security: "none", Timeout: 2 * time.Second, Username: "desk", Password: "wrong"}},
		{"unknown security", SMTPConfig{Address: plain.addr, Security: "ssl"}},
		{"bad port", SMTPConfig{Address: "127.0.0.1:smtp-ish", Security: "none"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewMailer(tt.cfg, testDesk).Send(t.Context(), ackNote())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if IsPermanent(err) {
				t.Errorf("IsPermanent = true: %v", err)
			}
		})
	}
}

func TestSendSecurityAndAuth(t *testing.T) {
	tlsConf := selfSignedTLS(t)
	tests := []struct {
		name string
		opts smtpOpts
		cfg  SMTPConfig
	}{
		{"starttls", smtpOpts{tls: tlsConf}, SMTPConfig{Security: "starttls", TLSSkipVerify: true}},
		{"implicit tls", smtpOpts{tls: tlsConf, implicit: true}, SMTPConfig{Security: "tls", TLSSkipVerify: true}},
		{"implicit tls with auth", smtpOpts{tls: tlsConf, implicit: true, user: "desk", pass: "secret"},
			SMTPConfig{Security: "tls", TLSSkipVerify: true, Username: "desk", Password: "secret"}},
		{"starttls with auth", smtpOpts{tls: tlsConf, user: "desk", pass: "secret"},
			SMTPConfig{Security: "starttls", TLSSkipVerify: true, Username: "desk", Password: "secret"}},
		{"plain with auth on localhost", smtpOpts{user: "desk", pass: "secret"},
			SMTPConfig{Security: "none", Username: "desk", Password: "secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, tt.opts)
			cfg := tt.cfg
			cfg.Address, cfg.Timeout = srv.addr, 5*time.Second
			if err := NewMailer(cfg, testDesk).Send(t.Context(), ackNote()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if len(srv.received()) != 1 {
				t.Errorf("server has %d messages", len(srv.received()))
			}
		})
	}

	t.Run("certificate verified unless skipped", func(t *testing.T) {
		srv := startSMTP(t, smtpOpts{tls: tlsConf, implicit: true})
		err := NewMailer(SMTPConfig{Address: srv.addr, Security: "tls", Timeout: 5 * time.Second}, testDesk).Send(t.Context(), ackNote())
		if err == nil || IsPermanent(err) {
			t.Errorf("Send = %v, want a temporary certificate error", err)
		}
	})
}

func TestSendContextBoundsWholeSend(t *testing.T) {
	srv := startSMTP(t, smtpOpts{})
	srv.mu.Lock()
	srv.hold = make(chan struct{})
	srv.mu.Unlock()
	m := NewMailer(SMTPConfig{Address: srv.addr, Security: "none", Timeout: time.Minute}, testDesk)

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := m.Send(ctx, ackNote())
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Send took %v despite a 300ms context", took)
	}
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send = %v, want context.DeadlineExceeded", err)
	}
	if IsPermanent(err) {
		t.Errorf("IsPermanent = true for %v", err)
	}
}

func TestSendReusesOneConnectionPerBurst(t *testing.T) {
	srv := startSMTP(t, smtpOpts{})
	srv.refuseRcpt("refused@customer.example", 550, smtp.EnhancedCode{5, 1, 1})
	srv.refuseRcpt("later@customer.example", 451, smtp.EnhancedCode{4, 2, 0})
	ok1, bad, soon, ok2, invalid := ackNote(), ackNote(), ackNote(), rejectionNote(), ackNote()
	bad.ID, bad.To = "SD-2/ack", "refused@customer.example"
	soon.ID, soon.To = "SD-3/ack", "later@customer.example"
	invalid.ID, invalid.Kind = "x", "unknown"

	m := plainMailer(srv.addr)
	var errs []error
	for _, n := range []Notification{ok1, bad, soon, ok2, invalid} {
		errs = append(errs, m.Send(t.Context(), n))
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || errs[3] != nil {
		t.Errorf("delivered notifications report errors: %v, %v", errs[0], errs[3])
	}
	if !IsPermanent(errs[1]) || !RecipientRefused(errs[1]) || !strings.Contains(errs[1].Error(), "SD-2/ack") {
		t.Errorf("refused notification: %v", errs[1])
	}
	if errs[2] == nil || IsPermanent(errs[2]) || !strings.Contains(errs[2].Error(), "451") {
		t.Errorf("temporarily refused notification: %v", errs[2])
	}
	if !IsPermanent(errs[4]) || RecipientRefused(errs[4]) {
		t.Errorf("invalid notification: %v", errs[4])
	}
	got := srv.received()
	if len(got) != 2 || got[0].to[0] != ok1.To || got[1].to[0] != ok2.To {
		t.Errorf("server received %+v", got)
	}
	if c := srv.connections(); c != 1 {
		t.Errorf("%d connections for one burst, want 1", c)
	}

	// After Close the next Send opens a new connection.
	if err := m.Send(t.Context(), ok1); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if c := srv.connections(); c != 2 {
		t.Errorf("%d connections after a second burst, want 2", c)
	}
}

func TestSendRedialsWhenKeptConnectionDropped(t *testing.T) {
	srv := startSMTP(t, smtpOpts{})
	m := plainMailer(srv.addr)
	defer m.Close()
	if err := m.Send(t.Context(), ackNote()); err != nil {
		t.Fatal(err)
	}
	// The server (or a NAT box) drops the idle connection.
	m.mu.Lock()
	m.idle[0].closeConn()
	m.mu.Unlock()
	if err := m.Send(t.Context(), rejectionNote()); err != nil {
		t.Fatalf("Send after the kept connection died: %v", err)
	}
	if n := len(srv.received()); n != 2 {
		t.Errorf("server has %d messages, want 2", n)
	}
}

// RFC 3834 3.3: notices to strangers go with the null reverse-path, mail to
// contacts with a return path whose bounces reach the desk.
func TestSendReturnPath(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*SMTPConfig)
		n    Notification
		want string
	}{
		{"ack from the desk address", func(*SMTPConfig) {}, ackNote(), "servicedesk@desk.example"},
		{"ack from a configured return path", func(c *SMTPConfig) { c.ReturnPath = "bounces@desk.example" }, ackNote(), "bounces@desk.example"},
		{"rejection with null sender", func(*SMTPConfig) {}, rejectionNote(), ""},
		{"rejection with return path when the relay needs one", func(c *SMTPConfig) { c.NoticeReturnPath = true }, rejectionNote(), "servicedesk@desk.example"},
		// A reply is mail to a contact like any other: its bounces must reach the desk.
		{"agent reply from the desk address", func(*SMTPConfig) {}, replyNote(), "servicedesk@desk.example"},
		{"agent reply from a configured return path", func(c *SMTPConfig) { c.ReturnPath = "bounces@desk.example" }, replyNote(), "bounces@desk.example"},
		{"progress from the desk address", func(*SMTPConfig) {}, progressNote(), "servicedesk@desk.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, smtpOpts{})
			cfg := SMTPConfig{Address: srv.addr, Security: "none", Timeout: 5 * time.Second}
			tt.cfg(&cfg)
			m := NewMailer(cfg, testDesk)
			defer m.Close()
			if err := m.Send(t.Context(), tt.n); err != nil {
				t.Fatal(err)
			}
			if got := srv.received(); len(got) != 1 || got[0].from != tt.want {
				t.Errorf("envelope sender = %+v, want %q", got, tt.want)
			}
		})
	}
}

// An agent's reply on the wire: threaded under the ticket, the desk's loop
// header and Message-ID, none of the automatic-mail headers, and the text
// as written, whose line breaks cannot start header lines.
func TestSendAgentReply(t *testing.T) {
	srv := startSMTP(t, smtpOpts{})
	m := plainMailer(srv.addr)
	n := replyNote()
	n.Text = "Beste Jan,\r\n\r\nBcc: victim@x.example\r\nSubject: hacked\r\n\r\nGroet,"
	if err := m.Send(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	got := srv.received()
	if len(got) != 1 || len(got[0].to) != 1 || got[0].to[0] != n.To || got[0].from != testDesk.Address {
		t.Fatalf("envelope %+v", got)
	}
	p := parse(t, got[0].data)
	for _, h := range []string{"Auto-Submitted", "Precedence", "X-Auto-Response-Suppress", "Bcc"} {
		if v, ok := p.header[h]; ok {
			t.Errorf("%s present: %q", h, v)
		}
	}
	want := map[string]string{
		"X-Maildesk-Loop": "acme-it",
		"In-Reply-To":     "<orig.1@mail.customer.example>",
		"References":      "<orig.1@mail.customer.example>",
	}
	for k, v := range want {
		if got := p.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if p.subject != "[SD-4] Re: Printer kapot" {
		t.Errorf("Subject = %q", p.subject)
	}
	if mid := p.header.Get("Message-ID"); !strings.HasPrefix(mid, "<reply.sd-4.acme-it.maildesk.") {
		t.Errorf("Message-ID = %q", mid)
	}
	body := strings.ReplaceAll(p.body, "\r\n", "\n")
	if !strings.HasPrefix(body, "Beste Jan,\n\nBcc: victim@x.example\nSubject: hacked\n\nGroet,\n\nPiet Agent\nAcme IT Servicedesk\n") {
		t.Errorf("body:\n%s", p.body)
	}
	if !strings.Contains(p.html, "Bcc: victim@x.example<br>Subject: hacked") {
		t.Errorf("HTML:\n%s", p.html)
	}
}

// A relay that takes the whole message and never answers its end: the
// send gives up after smtp.data_timeout, not before, and the failure says
// the mail may have been delivered (it was: the relay recorded it).
func TestSendSilentAfterDataIsUncertain(t *testing.T) {
	srv := startSMTP(t, smtpOpts{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv.mu.Lock()
	srv.afterData = func([]string) { <-release }
	srv.mu.Unlock()
	m := NewMailer(SMTPConfig{Address: srv.addr, Security: "none", Timeout: 5 * time.Second, DataTimeout: 300 * time.Millisecond}, testDesk)
	defer m.Close()
	err := m.Send(t.Context(), ackNote())
	if err == nil || !DeliveryUncertain(err) || IsPermanent(err) {
		t.Fatalf("Send = %v; want a temporary error with DeliveryUncertain", err)
	}
	if !strings.Contains(err.Error(), "delivery uncertain") || !strings.Contains(err.Error(), "end of DATA") {
		t.Errorf("error does not say what happened: %v", err)
	}
	if n := len(srv.received()); n != 1 {
		t.Errorf("relay has %d messages, want the one it never answered", n)
	}
	// The connection is not used again: its reply may still come.
	m.mu.Lock()
	idle := len(m.idle)
	m.mu.Unlock()
	if idle != 0 {
		t.Errorf("%d connections kept after an unanswered end of DATA", idle)
	}
}

// The reply to the end of DATA may take longer than smtp.timeout (a relay
// filtering the message): the send waits for it.
func TestSendWaitsForSlowEndOfData(t *testing.T) {
	srv := startSMTP(t, smtpOpts{})
	srv.mu.Lock()
	srv.afterData = func([]string) { time.Sleep(1500 * time.Millisecond) }
	srv.mu.Unlock()
	m := NewMailer(SMTPConfig{Address: srv.addr, Security: "none", Timeout: 500 * time.Millisecond, DataTimeout: time.Minute}, testDesk)
	defer m.Close()
	if err := m.Send(t.Context(), ackNote()); err != nil {
		t.Fatalf("Send = %v; want it to wait for the relay's answer", err)
	}
}

// Failures before the message is complete are ordinary temporary
// failures: nothing can have been delivered. This relay answers the
// greeting, EHLO and MAIL FROM, then never RCPT TO: the send gives up after
// smtp.timeout, not smtp.data_timeout.
func TestSendSilentBeforeDataIsNotUncertain(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				fmt.Fprint(c, "220 silent.test ESMTP\r\n")
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
					case "EHLO":
						fmt.Fprint(c, "250-silent.test\r\n250 8BITMIME\r\n")
					case "MAIL":
						fmt.Fprint(c, "250 ok\r\n")
					case "QUIT":
						fmt.Fprint(c, "221 bye\r\n")
						return
					default: // RCPT and anything after: no answer
					}
				}
			}()
		}
	}()
	m := NewMailer(SMTPConfig{Address: ln.Addr().String(), Security: "none", Timeout: 300 * time.Millisecond, DataTimeout: time.Hour}, testDesk)
	defer m.Close()
	done := make(chan error, 1)
	go func() { done <- m.Send(t.Context(), ackNote()) }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Send waited for RCPT TO as if it were the end of DATA")
	}
	if err == nil || DeliveryUncertain(err) || IsPermanent(err) {
		t.Fatalf("Send = %v; want a temporary failure that is not uncertain", err)
	}
}

// Sends from several goroutines use a connection each: one the relay does
// not answer holds up none of the others.
func TestSendConcurrentlyOneStuck(t *testing.T) {
	srv := startSMTP(t, smtpOpts{})
	release := make(chan struct{})
	srv.mu.Lock()
	srv.afterData = func(to []string) {
		if len(to) == 1 && to[0] == "stuck@customer.example" {
			<-release
		}
	}
	srv.mu.Unlock()
	m := NewMailer(SMTPConfig{Address: srv.addr, Security: "none", Timeout: 5 * time.Second, DataTimeout: time.Minute}, testDesk)
	defer m.Close()
	stuck := ackNote()
	stuck.ID, stuck.To = "SD-9/ack", "stuck@customer.example"
	stuckDone := make(chan error, 1)
	go func() { stuckDone <- m.Send(context.Background(), stuck) }()
	for i := range 5 {
		n := ackNote()
		n.ID = fmt.Sprintf("SD-%d/ack", i+1)
		if err := m.Send(t.Context(), n); err != nil {
			t.Fatalf("send %d while another waits for its reply: %v", i, err)
		}
	}
	select {
	case err := <-stuckDone:
		t.Fatalf("the stuck send returned early: %v", err)
	default:
	}
	close(release)
	if err := <-stuckDone; err != nil {
		t.Fatalf("stuck send, once answered: %v", err)
	}
	if c := srv.connections(); c != 2 {
		t.Errorf("%d connections, want 2 (the stuck one and one for the rest)", c)
	}
}
