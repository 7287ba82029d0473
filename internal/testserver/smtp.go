package testserver

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message accepted by the SMTPServer.
type Received struct {
	From     string   // MAIL FROM
	To       []string // accepted RCPT TO addresses
	Data     []byte   // message as sent (CRLF line endings)
	AuthUser string   // user of AUTH PLAIN, "" without AUTH
}

// SMTPServer is an in-process SMTP server (plaintext, AUTH PLAIN accepts
// any credentials) that records every message it accepts.
type SMTPServer struct {
	Addr string

	mu       sync.Mutex
	msgs     []Received
	changed  chan struct{} // closed and replaced when msgs grows
	reply    func(rcpt string) error
	silent   func(rcpts []string) bool
	quit     chan struct{} // closed by Stop: releases silent sessions
	forward  *DovecotServer
	srv      *smtp.Server
	stopOnce sync.Once
	logger   *tbLogger
}

// SMTP starts an SMTP server on a free loopback port.
func SMTP(t testing.TB) *SMTPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: smtp: listen: %v", err)
	}
	s := &SMTPServer{
		Addr:    ln.Addr().String(),
		changed: make(chan struct{}),
		quit:    make(chan struct{}),
		logger:  newTBLogger(t, "smtp server: "),
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: s}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ErrorLog = s.logger
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(s.Stop)
	return s
}

// Stop closes the listener and all connections.
func (s *SMTPServer) Stop() {
	s.stopOnce.Do(func() {
		close(s.quit)
		_ = s.srv.Close()
		s.logger.close()
	})
}

// Messages returns the accepted messages in order of acceptance.
func (s *SMTPServer) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// WaitFor waits until at least n messages were accepted and returns them;
// it fails the test after timeout.
func (s *SMTPServer) WaitFor(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			msgs := slices.Clone(s.msgs)
			s.mu.Unlock()
			return msgs
		}
		changed, got := s.changed, len(s.msgs)
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("testserver: smtp %s: waited %s for %d message(s), got %d", s.Addr, timeout, n, got)
		}
	}
}

// SetReply decides per recipient whether RCPT TO is accepted: f returns nil
// to accept or an error, typically an *smtp.SMTPError such as
// &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"},
// to refuse. f runs on server goroutines. nil restores accept-all.
func (s *SMTPServer) SetReply(f func(rcpt string) error) {
	s.mu.Lock()
	s.reply = f
	s.mu.Unlock()
}

// SetSilentAfterData makes the server, for a message whose accepted
// recipients f reports true for, take the whole message and record it (and
// forward it, see ForwardTo) as a relay that queued it would, and then never
// answer the end of DATA: the reply is lost. The session stays silent until
// the client gives up (the server notices only when it stops). f runs on
// server goroutines; nil answers every message again.
func (s *SMTPServer) SetSilentAfterData(f func(rcpts []string) bool) {
	s.mu.Lock()
	s.silent = f
	s.mu.Unlock()
}

// ForwardTo makes the server deliver every message to d over LMTP before
// accepting it, so a test can read it from the recipient's mailbox. A failed
// delivery is answered with 451, and the message is not recorded.
func (s *SMTPServer) ForwardTo(d *DovecotServer) {
	s.mu.Lock()
	s.forward = d
	s.mu.Unlock()
}

type smtpSession struct {
	srv      *SMTPServer
	from     string
	to       []string
	authUser string
}

var _ smtp.AuthSession = (*smtpSession)(nil)

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		ss.authUser = username
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	ss.to = nil
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.srv.mu.Lock()
	reply := ss.srv.reply
	ss.srv.mu.Unlock()
	if reply != nil {
		if err := reply(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.srv.mu.Lock()
	fwd := ss.srv.forward
	ss.srv.mu.Unlock()
	if fwd != nil {
		if err := lmtpDeliver(fwd.LMTPAddr, ss.from, ss.to, data); err != nil {
			ss.srv.logger.Printf("forward to dovecot: %v", err)
			return &smtp.SMTPError{
				Code:         451,
				EnhancedCode: smtp.EnhancedCode{4, 3, 0},
				Message:      strings.ReplaceAll(fmt.Sprintf("testserver: forward to dovecot failed: %v", err), "\n", "; "),
			}
		}
	}
	ss.srv.mu.Lock()
	ss.srv.msgs = append(ss.srv.msgs, Received{
		From:     ss.from,
		To:       slices.Clone(ss.to),
		Data:     data,
		AuthUser: ss.authUser,
	})
	close(ss.srv.changed)
	ss.srv.changed = make(chan struct{})
	silent, quit := ss.srv.silent, ss.srv.quit
	ss.srv.mu.Unlock()
	if silent != nil && silent(slices.Clone(ss.to)) {
		<-quit
		return errors.New("testserver: stopped while silent")
	}
	return nil
}

func (ss *smtpSession) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *smtpSession) Logout() error { return nil }
