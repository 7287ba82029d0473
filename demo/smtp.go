package demo

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// smtpServer accepts mail for any address, without AUTH or TLS, and files
// it in the recipient's INBOX on the imapServer: the desk's acknowledgements
// reach the contacts' mailboxes this way, and a person's mail the desk's.
type smtpServer struct {
	srv    *smtp.Server
	ln     net.Listener
	imap   *imapServer
	log    *slog.Logger
	closed atomic.Bool
}

// maxMessageBytes is above the desk's default max_message_size, so that
// the desk's own handling of oversized mail can be tried.
const maxMessageBytes = 30 << 20

func newSMTPServer(ln net.Listener, im *imapServer, log *slog.Logger) *smtpServer {
	s := &smtpServer{ln: ln, imap: im, log: log}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: s}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.MaxMessageBytes = maxMessageBytes
	s.srv.MaxRecipients = 100
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.ErrorLog = printfLogger{log}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !s.closed.Load() {
			log.Warn("SMTP server stopped", "err", err)
		}
	}()
	return s
}

func (s *smtpServer) close() {
	s.closed.Store(true)
	_ = s.srv.Close()
	_ = s.ln.Close() // in case Serve has not registered it yet
}

type smtpSession struct {
	srv  *smtpServer
	from string
	to   []string
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from, ss.to = from, nil
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	a, err := mail.ParseAddress(to)
	if err != nil || !strings.Contains(a.Address, "@") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "not a mail address: " + to}
	}
	ss.to = append(ss.to, strings.ToLower(a.Address))
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("reading the message from %s: %w", ss.from, err)
	}
	// A delivering server records the envelope sender; the desk reads it to
	// tell bounces (Return-Path: <>) from other mail.
	raw := append([]byte("Return-Path: <"+ss.from+">\r\n"), data...)
	for _, to := range ss.to {
		if err := ss.srv.imap.deliver(to, raw); err != nil {
			ss.srv.log.Error("cannot deliver mail", "from", ss.from, "to", to, "err", err)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "cannot deliver to " + to}
		}
		ss.srv.log.Info("demo mail delivered", "from", ss.from, "to", to, "bytes", len(raw))
	}
	return nil
}

func (ss *smtpSession) Reset() { ss.from, ss.to = "", nil }

func (ss *smtpSession) Logout() error { return nil }
