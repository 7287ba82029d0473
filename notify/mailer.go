package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/maildesk/maildesk/signin"
)

// DefaultDataTimeout is how long the reply to the end of DATA is waited
// for when SMTPConfig.DataTimeout is 0: RFC 5321 4.5.3.2.6 gives the
// server 10 minutes, because it may be filtering or relaying the message
// before it answers.
const DefaultDataTimeout = 10 * time.Minute

// SMTPConfig says how to reach the outgoing relay.
type SMTPConfig struct {
	Address       string // host:port
	Security      string // none | starttls | tls
	TLSSkipVerify bool
	// Username enables SMTP AUTH (PLAIN or LOGIN, whichever the server offers).
	Username, Password string
	// Timeout bounds connecting and signing in, and each command of a
	// transaction; DataTimeout bounds the wait for the reply to the end of
	// the message (0: DefaultDataTimeout).
	Timeout, DataTimeout time.Duration
	HELO                 string
	// ReturnPath is the envelope sender of mail to contacts (acks, progress,
	// alerts); "" = the desk address. Its bounces must reach the desk.
	ReturnPath string
	// NoticeReturnPath sends notices to strangers with ReturnPath too,
	// instead of the null reverse-path; for relays that refuse MAIL FROM:<>.
	NoticeReturnPath bool
	// OAuth2, when set, signs in as Username with an access token over
	// Mechanism (signin.MechXOAuth2 or MechOAuthBearer) instead of Password.
	OAuth2    Tokens
	Mechanism string
	// Connected, when set, is told the outcome of every connection and
	// sign-in attempt (health, metrics, alarms).
	Connected func(err error)
}

// Tokens hand out OAuth2 access tokens (signin.Source).
type Tokens interface {
	Token(ctx context.Context, subject string) (string, error)
	// Refused: the server refused the token for subject; the next is new.
	Refused(subject string)
}

// Mailer sends rendered notifications over SMTP. go-mail composes the
// message and sets up the connection (TLS, AUTH); the transaction itself is
// ours (session.go), because go-mail cannot send with the null reverse-path
// RFC 3834 asks of automatic notices.
//
// Send may be called from several goroutines at once: each send has a
// connection of its own. A connection serves a burst: it stays open between
// Sends until Close, which the outbox calls when a drain ends.
type Mailer struct {
	cfg  SMTPConfig
	desk Desk
	now  func() time.Time

	mu   sync.Mutex
	idle []*session // open connections no Send is using
}

// SetSecret sets the key of the Message-IDs (Desk.Secret). Call it before
// the first Send, from the goroutine that starts the sends.
func (m *Mailer) SetSecret(secret []byte) { m.desk.Secret = secret }

// NewMailer returns a Mailer; configuration errors surface on Send, where
// they are classified as temporary so nothing is dead-lettered while the
// configuration is being fixed.
func NewMailer(cfg SMTPConfig, desk Desk) *Mailer {
	if cfg.DataTimeout <= 0 {
		cfg.DataTimeout = DefaultDataTimeout
	}
	return &Mailer{cfg: cfg, desk: desk, now: time.Now}
}

// Send renders and delivers n, on an open connection of an earlier Send
// when there is one. A non-nil error is permanent when IsPermanent says so,
// temporary otherwise; DeliveryUncertain says whether the relay may have
// accepted the message although the send failed. Each Send gets the full
// timeouts of its own.
func (m *Mailer) Send(ctx context.Context, n Notification) error {
	msg, err := m.buildMsg(n)
	if err != nil {
		return err
	}
	to, _ := netmail.ParseAddress(n.To) // validated by buildMsg
	from := m.returnPath(n.Kind)

	for {
		s, reused, err := m.take(ctx)
		if err != nil {
			return fmt.Errorf("sending notification %q: %w", n.ID, withContextErr(ctx, err))
		}
		err = s.send(ctx, from, to.Address, msg, m.cfg.Timeout, m.cfg.DataTimeout)
		if err == nil {
			m.put(s)
			return nil
		}
		var se *SMTPError
		answered := errors.As(err, &se) && se.Code != 0 && se.Code != 421
		if answered {
			m.put(s)
		} else {
			s.close()
		}
		// A kept connection the server has meanwhile dropped fails before
		// anything was accepted: one more try on a fresh one is safe.
		if reused && !answered && se != nil && se.Stage == StageMail {
			continue
		}
		if DeliveryUncertain(err) {
			return fmt.Errorf("sending notification %q to %s via %s: delivery uncertain, the relay may have accepted the message: %w",
				n.ID, to.Address, m.cfg.Address, withContextErr(ctx, err))
		}
		return fmt.Errorf("sending notification %q to %s via %s: %w", n.ID, to.Address, m.cfg.Address, withContextErr(ctx, err))
	}
}

// take returns an open connection no other Send uses, or a new one;
// reused says which.
func (m *Mailer) take(ctx context.Context) (_ *session, reused bool, _ error) {
	m.mu.Lock()
	for len(m.idle) > 0 {
		s := m.idle[len(m.idle)-1]
		m.idle = m.idle[:len(m.idle)-1]
		if !s.broken {
			m.mu.Unlock()
			return s, true, nil
		}
		s.close()
	}
	m.mu.Unlock()
	s, err := m.connect(ctx)
	return s, false, err
}

// put keeps s for the next Send, unless it is broken: a reply may still be
// on its way (a failed RSET), and only a fresh connection keeps replies and
// commands in step.
func (m *Mailer) put(s *session) {
	if s.broken {
		s.close()
		return
	}
	m.mu.Lock()
	m.idle = append(m.idle, s)
	m.mu.Unlock()
}

// Close ends the open connections no Send is using, with QUIT.
func (m *Mailer) Close() error {
	m.mu.Lock()
	idle := m.idle
	m.idle = nil
	m.mu.Unlock()
	for _, s := range idle {
		s.close()
	}
	return nil
}

// returnPath is the envelope sender for a kind of mail: null ("") for
// notices to people who are not (known to be) contacts, as RFC 3834 3.3
// asks, so that a bounce of a notice cannot start a loop or hit a forged
// sender's victim twice. Mail to contacts carries a real return path
// because the desk handles delivery failures itself (it recognises its own
// bounces, suppresses the address and never answers them), which RFC 3834
// allows, and an operator wants to learn that a contact's address is dead.
func (m *Mailer) returnPath(k Kind) string {
	if k.IsNotice() && !m.cfg.NoticeReturnPath {
		return ""
	}
	if m.cfg.ReturnPath != "" {
		return m.cfg.ReturnPath
	}
	a, _ := netmail.ParseAddress(m.desk.Address)
	if a == nil {
		return ""
	}
	return a.Address
}

// withContextErr makes a send aborted by ctx report context.Canceled or
// DeadlineExceeded rather than only the "use of closed connection" it causes.
func withContextErr(ctx context.Context, err error) error {
	if cerr := context.Cause(ctx); cerr != nil {
		return fmt.Errorf("%w (%w)", err, cerr)
	}
	return err
}

// IsPermanent reports whether err is a permanent delivery failure (SMTP 5xx
// for the recipient or the message, or a notification that cannot be
// rendered): retrying cannot help and the notification must be
// dead-lettered. Everything else (dial errors, timeouts, 4xx, 5xx to MAIL
// FROM or AUTH, which are about our configuration) is temporary.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrInvalidNotification) {
		return true
	}
	var se *SMTPError
	if !errors.As(err, &se) || se.Code < 500 || se.Code > 599 {
		return false
	}
	switch se.Stage {
	case StageRcpt:
		// RFC 5321 4.5.3.1.10: 552 (mailbox full) at RCPT is to be treated
		// as temporary.
		return se.Code != 552
	case StageData, StageDataEnd:
		return true
	default:
		return false
	}
}

// DeliveryUncertain reports whether err means that the message went out in
// full but the server never answered its end (the final dot): no reply
// within the DATA timeout, or the connection lost while waiting. The relay
// may have accepted and queued it all the same (RFC 5321 4.5.3.2.6 and
// 6.1), so sending it again may deliver it twice. It is not IsPermanent.
func DeliveryUncertain(err error) bool {
	var se *SMTPError
	return errors.As(err, &se) && se.Stage == StageDataEnd && se.Code == 0
}

// RecipientRefused reports whether err is a permanent refusal of the
// recipient address itself: the desk stops mailing that address for a while.
func RecipientRefused(err error) bool {
	var se *SMTPError
	return IsPermanent(err) && errors.As(err, &se) && se.Stage == StageRcpt
}

func (m *Mailer) buildMsg(n Notification) (*mail.Msg, error) {
	r, err := Render(m.desk, n)
	if err != nil {
		return nil, err
	}
	// Render has validated both addresses already.
	to, _ := netmail.ParseAddress(n.To)
	from, _ := netmail.ParseAddress(m.desk.Address)

	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	// Addresses go in as net/mail values, not via FromFormat/AddrFormat,
	// which build `"name" <addr>` by string formatting and break on quotes.
	msg.FromMailAddress(&netmail.Address{Name: cleanHeaderText(m.desk.Name), Address: from.Address})
	msg.ToMailAddress(&netmail.Address{Name: cleanHeaderText(n.ToName), Address: to.Address})
	if err := msg.EnvelopeFrom(from.Address); err != nil {
		return nil, fmt.Errorf("setting envelope sender %q for notification %q: %w", from.Address, n.ID, err)
	}
	msg.SetMessageIDWithValue(r.MessageID)
	msg.SetDateWithValue(m.now())
	msg.Subject(r.Subject)
	for k, v := range r.Headers {
		msg.SetGenHeader(mail.Header(k), v)
	}
	msg.SetBodyString(mail.TypeTextPlain, r.Text)
	if r.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, r.HTML)
	}
	return msg, nil
}

// connect dials and signs in. A refused OAuth2 token is replaced and tried
// once more at once: it may have expired early, or been revoked and made
// anew. The outcome is the relay's health (Health).
func (m *Mailer) connect(ctx context.Context) (*session, error) {
	s, err := m.dial(ctx)
	if err != nil && m.cfg.OAuth2 != nil && signin.IsRefused(err) {
		m.cfg.OAuth2.Refused(m.cfg.Username)
		s, err = m.dial(ctx)
	}
	if m.cfg.Connected != nil && ctx.Err() == nil {
		m.cfg.Connected(err)
	}
	return s, err
}

// Probe signs in to the relay and leaves at once, so that a broken sign-in
// is found while there is nothing to send. It uses the open connection
// when there is one.
func (m *Mailer) Probe(ctx context.Context) error {
	m.mu.Lock()
	for _, s := range m.idle {
		if !s.broken {
			m.mu.Unlock()
			return nil
		}
	}
	m.mu.Unlock()
	s, err := m.connect(ctx)
	if err != nil {
		return err
	}
	s.close()
	return nil
}

// dial opens a connection through go-mail: TCP or TLS, EHLO, STARTTLS and
// AUTH. The connection is closed unconditionally by session.close, because
// go-mail leaks it when EHLO, STARTTLS or AUTH fail. A client per
// connection is deliberate: go-mail's auth negotiation writes to the
// client's fields.
func (m *Mailer) dial(ctx context.Context) (*session, error) {
	host, port, err := splitHostPort(m.cfg.Address, m.cfg.Security)
	if err != nil {
		return nil, fmt.Errorf("configuring SMTP client for %s: %w", m.cfg.Address, err)
	}
	tlsConf := &tls.Config{
		ServerName:         host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: m.cfg.TLSSkipVerify, //nolint:gosec // explicit opt-in for relays with private certificates
	}
	opts := []mail.Option{mail.WithPort(port), mail.WithTLSConfig(tlsConf)}

	netDialer := &net.Dialer{KeepAlive: 30 * time.Second}
	dialFn := netDialer.DialContext
	switch strings.ToLower(strings.TrimSpace(m.cfg.Security)) {
	case "none":
		// go-mail defaults to TLSMandatory, which fails on plain relays.
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case "", "starttls":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case "tls":
		// With a custom dial function go-mail no longer wraps the
		// connection in TLS itself; WithSSL still makes it skip STARTTLS.
		opts = append(opts, mail.WithSSL())
		dialFn = (&tls.Dialer{NetDialer: netDialer, Config: tlsConf}).DialContext
	default:
		return nil, fmt.Errorf("unknown SMTP security %q (want none, starttls or tls)", m.cfg.Security)
	}
	s := &session{}
	opts = append(opts, mail.WithDialContextFunc(func(dctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dialFn(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		s.conn = conn
		return conn, nil
	}))
	if m.cfg.Timeout > 0 {
		opts = append(opts, mail.WithTimeout(m.cfg.Timeout))
	}
	if m.cfg.HELO != "" {
		opts = append(opts, mail.WithHELO(m.cfg.HELO))
	}
	var auth *signin.SMTPAuth
	if m.cfg.OAuth2 != nil {
		tok, err := m.cfg.OAuth2.Token(ctx, m.cfg.Username)
		if err != nil {
			return nil, fmt.Errorf("signing in to SMTP server %s as %s: %w", m.cfg.Address, m.cfg.Username, err)
		}
		auth = signin.NewSMTPAuth(m.cfg.Mechanism, m.cfg.Username, tok)
		opts = append(opts, mail.WithSMTPAuthCustom(auth))
	} else if m.cfg.Username != "" {
		// Not SMTPAuthAutoDiscover: it prefers SCRAM/CRAM-MD5 (which fail on
		// servers whose password store cannot do them) and refuses PLAIN and
		// LOGIN whenever go-mail believes the connection is unencrypted,
		// which with our own TLS dialer it always does. PLAIN and LOGIN still
		// refuse to send the password over a non-TLS, non-localhost link.
		opts = append(opts,
			mail.WithOpportunisticSMTPAuth(mail.SMTPAuthPlain, mail.SMTPAuthLogin),
			mail.WithUsername(m.cfg.Username),
			mail.WithPassword(m.cfg.Password))
	}
	client, err := mail.NewClient(host, opts...)
	if err != nil {
		return nil, fmt.Errorf("configuring SMTP client for %s: %w", m.cfg.Address, err)
	}
	s.client = client
	// go-mail honours ctx only while dialling; a stalled greeting, EHLO or
	// AUTH would otherwise hold us for Timeout per command.
	stop := context.AfterFunc(ctx, s.closeConn)
	defer stop()
	sc, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		s.close()
		if auth != nil {
			err = auth.Refused(err)
		}
		return nil, fmt.Errorf("connecting to SMTP server %s: %w", m.cfg.Address, err)
	}
	s.sc = sc
	return s, nil
}

func splitHostPort(address, security string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		// No port: use the customary one for the security mode.
		host = strings.Trim(address, "[]")
		switch strings.ToLower(strings.TrimSpace(security)) {
		case "tls":
			return host, mail.DefaultPortSSL, nil
		case "none":
			return host, mail.DefaultPort, nil
		default:
			return host, mail.DefaultPortTLS, nil
		}
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", 0, fmt.Errorf("SMTP address %q: port %q is not a number", address, portStr)
	}
	return host, port, nil
}
