package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"time"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// Stages of an SMTP transaction, as SMTPError names them.
const (
	StageMail    = "MAIL FROM"
	StageRcpt    = "RCPT TO"
	StageData    = "DATA"
	StageDataEnd = "end of DATA"
)

// SMTPError is a failed step of the SMTP transaction for one message.
type SMTPError struct {
	Stage string
	// Code is the server's reply code; 0 when there was no reply (the
	// connection failed or timed out).
	Code int
	Err  error
}

func (e *SMTPError) Error() string { return "SMTP " + e.Stage + ": " + e.Err.Error() }
func (e *SMTPError) Unwrap() error { return e.Err }

func stageErr(stage string, err error) *SMTPError {
	se := &SMTPError{Stage: stage, Err: err}
	var te *textproto.Error
	if errors.As(err, &te) {
		se.Code = te.Code
	}
	return se
}

// session is one open SMTP connection.
type session struct {
	client *mail.Client
	sc     *smtp.Client
	conn   net.Conn
	// broken: the connection is in an unknown state and must not carry
	// another message.
	broken bool
}

// send runs one transaction. from "" is the null reverse-path. Once the
// server has accepted the message (the reply to the end of DATA) nothing
// may turn into an error: the caller would retry and send it twice.
func (s *session) send(ctx context.Context, from, to string, msg *mail.Msg, timeout time.Duration) error {
	if timeout > 0 {
		if err := s.conn.SetDeadline(time.Now().Add(timeout)); err != nil {
			s.broken = true
			return stageErr(StageMail, err)
		}
	}
	stop := context.AfterFunc(ctx, s.closeConn)
	defer stop()

	if err := s.sc.Mail("<" + from + ">"); err != nil {
		return stageErr(StageMail, err)
	}
	if err := s.sc.Rcpt("<" + to + ">"); err != nil {
		s.reset()
		return stageErr(StageRcpt, err)
	}
	w, err := s.sc.Data()
	if err != nil {
		s.reset()
		return stageErr(StageData, err)
	}
	if _, err := msg.WriteTo(w); err != nil {
		// The server has part of a message: only closing the connection
		// makes sure it is not delivered half.
		s.broken = true
		return stageErr(StageData, fmt.Errorf("writing message: %w", err))
	}
	if err := w.Close(); err != nil {
		return stageErr(StageDataEnd, err)
	}
	s.reset()
	return nil
}

// reset ends a transaction; if even that fails, the connection is done.
func (s *session) reset() {
	if err := s.sc.Reset(); err != nil {
		s.broken = true
	}
}

func (s *session) closeConn() {
	if s.conn != nil {
		_ = s.conn.Close()
	}
}

// close says QUIT when it can and always closes the connection.
func (s *session) close() {
	if s.sc != nil && !s.broken {
		if s.conn != nil {
			_ = s.conn.SetDeadline(time.Now().Add(5 * time.Second))
		}
		_ = s.client.CloseWithSMTPClient(s.sc)
	}
	s.closeConn()
}
