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

// send runs one transaction. from "" is the null reverse-path. Each step
// has its own deadline: timeout for the commands and for writing the
// message, dataTimeout for the reply to the end of DATA, which a server may
// take minutes to give. Once the server has accepted the message (the reply
// to the end of DATA) nothing may turn into an error: the caller would
// retry and send it twice; and without that reply the message may have been
// accepted all the same (DeliveryUncertain).
func (s *session) send(ctx context.Context, from, to string, msg *mail.Msg, timeout, dataTimeout time.Duration) error {
	stop := context.AfterFunc(ctx, s.closeConn)
	defer stop()

	if err := s.deadline(timeout); err != nil {
		return stageErr(StageMail, err)
	}
	if err := s.sc.Mail("<" + from + ">"); err != nil {
		return stageErr(StageMail, err)
	}
	if err := s.deadline(timeout); err != nil {
		return stageErr(StageRcpt, err)
	}
	if err := s.sc.Rcpt("<" + to + ">"); err != nil {
		s.reset(timeout)
		return stageErr(StageRcpt, err)
	}
	if err := s.deadline(timeout); err != nil {
		return stageErr(StageData, err)
	}
	w, err := s.sc.Data()
	if err != nil {
		s.reset(timeout)
		return stageErr(StageData, err)
	}
	if _, err := msg.WriteTo(w); err != nil {
		// The server has part of a message: only closing the connection
		// makes sure it is not delivered half.
		s.broken = true
		return stageErr(StageData, fmt.Errorf("writing message: %w", err))
	}
	// Close writes what is buffered and the final dot, and reads the reply.
	if err := s.deadline(dataTimeout); err != nil {
		return stageErr(StageData, err)
	}
	if err := w.Close(); err != nil {
		se := stageErr(StageDataEnd, err)
		if se.Code == 0 {
			// No reply: the connection is done, and the message may be
			// queued at the server.
			s.broken = true
		}
		return se
	}
	s.reset(timeout)
	return nil
}

// deadline gives the next step d (none when d is 0); failing to set one
// leaves the connection in an unknown state.
func (s *session) deadline(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if err := s.conn.SetDeadline(time.Now().Add(d)); err != nil {
		s.broken = true
		return err
	}
	return nil
}

// reset ends a transaction; if even that fails, the connection is done.
func (s *session) reset(timeout time.Duration) {
	if s.deadline(timeout) != nil {
		return
	}
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
