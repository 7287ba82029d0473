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
	"time"

	"github.com/wneessen/go-mail"
)

// SMTPConfig says how to reach the outgoing relay.
type SMTPConfig struct {
	Address       string // host:port
	Security      string // none | starttls | tls
	TLSSkipVerify bool
	// Username enables SMTP AUTH (PLAIN or LOGIN, whichever the server offers).
	Username, Password string
	Timeout            time.Duration
	HELO               string
}

// Mailer sends rendered notifications over SMTP with go-mail.
type Mailer struct {
	cfg  SMTPConfig
	desk Desk
	now  func() time.Time
}

// SetSecret sets the key of the Message-IDs (Desk.Secret). Call it before
// the first Send, from the goroutine that sends.
func (m *Mailer) SetSecret(secret []byte) { m.desk.Secret = secret }

// NewMailer returns a Mailer; configuration errors surface on Send, where
// they are classified as temporary so nothing is dead-lettered while the
// configuration is being fixed.
func NewMailer(cfg SMTPConfig, desk Desk) *Mailer {
	return &Mailer{cfg: cfg, desk: desk, now: time.Now}
}

// Send renders and delivers n. A non-nil error is permanent when
// IsPermanent says so, temporary otherwise.
func (m *Mailer) Send(ctx context.Context, n Notification) error {
	return m.SendBatch(ctx, []Notification{n})[0]
}

// SendBatch delivers ns over one connection and returns one error per
// notification, in order. Each message gets the full Timeout of its own.
func (m *Mailer) SendBatch(ctx context.Context, ns []Notification) []error {
	errs := make([]error, len(ns))
	msgs := make([]*mail.Msg, len(ns))
	pending := 0
	for i, n := range ns {
		msg, err := m.buildMsg(n)
		if err != nil {
			errs[i] = err
			continue
		}
		msgs[i] = msg
		pending++
	}
	if pending == 0 {
		return errs
	}
	failAll := func(err error) []error {
		for i, msg := range msgs {
			if msg != nil {
				errs[i] = fmt.Errorf("sending notification %q: %w", ns[i].ID, err)
			}
		}
		return errs
	}

	var cleanups []func()
	defer func() {
		for _, c := range cleanups {
			c()
		}
	}()
	client, err := m.newClient(ctx, &cleanups)
	if err != nil {
		return failAll(fmt.Errorf("configuring SMTP client for %s: %w", m.cfg.Address, err))
	}
	sc, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return failAll(withContextErr(ctx, fmt.Errorf("connecting to SMTP server %s: %w", m.cfg.Address, err)))
	}
	// QUIT failing after every message's fate is known changes nothing.
	defer func() { _ = client.CloseWithSMTPClient(sc) }()

	for i, msg := range msgs {
		if msg == nil {
			continue
		}
		if ctx.Err() != nil {
			errs[i] = fmt.Errorf("sending notification %q: %w", ns[i].ID, context.Cause(ctx))
			continue
		}
		// One SendWithSMTPClient per message rather than DialAndSend with all
		// of them: go-mail extends the connection deadline only once per call,
		// so a batch would have to fit in a single Timeout.
		err := client.SendWithSMTPClient(sc, msg)
		if err == nil || msg.IsDelivered() {
			// IsDelivered with an error means the server accepted the DATA
			// and only the following RSET failed: retrying would duplicate.
			continue
		}
		errs[i] = withContextErr(ctx, fmt.Errorf("sending notification %q to %s via %s: %w",
			ns[i].ID, ns[i].To, m.cfg.Address, err))
	}
	return errs
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
	var se *mail.SendError
	if !errors.As(err, &se) || se.IsTemp() {
		return false
	}
	code := se.ErrorCode()
	switch se.Reason {
	case mail.ErrSMTPRcptTo:
		// RFC 5321 4.5.3.1.10: 552 (mailbox full) at RCPT is to be treated
		// as temporary.
		return code >= 500 && code < 600 && code != 552
	case mail.ErrSMTPData, mail.ErrSMTPDataClose:
		return code >= 500 && code < 600
	default:
		return false
	}
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
	return msg, nil
}

// newClient builds a go-mail client for one send. A client per send is
// deliberate: go-mail's auth negotiation writes to the client's fields, so
// sharing one between concurrent sends would race.
//
// The dialer arranges for every connection to be closed when ctx ends:
// go-mail only honours ctx while dialling, after which a stalled server would
// hold the send for Timeout per command regardless of ctx. It also records a
// cleanup that closes the connection unconditionally, because go-mail leaks
// it when EHLO, STARTTLS or AUTH fail.
func (m *Mailer) newClient(ctx context.Context, cleanups *[]func()) (*mail.Client, error) {
	host, port, err := splitHostPort(m.cfg.Address, m.cfg.Security)
	if err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{
		ServerName:         host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: m.cfg.TLSSkipVerify, //nolint:gosec // explicit opt-in for relays with private certificates
	}
	opts := []mail.Option{mail.WithPort(port), mail.WithTLSConfig(tlsConf)}

	netDialer := &net.Dialer{}
	dial := netDialer.DialContext
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
		dial = (&tls.Dialer{NetDialer: netDialer, Config: tlsConf}).DialContext
	default:
		return nil, fmt.Errorf("unknown SMTP security %q (want none, starttls or tls)", m.cfg.Security)
	}
	opts = append(opts, mail.WithDialContextFunc(func(dctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
		*cleanups = append(*cleanups, func() {
			stop()
			_ = conn.Close()
		})
		return conn, nil
	}))

	if m.cfg.Timeout > 0 {
		opts = append(opts, mail.WithTimeout(m.cfg.Timeout))
	}
	if m.cfg.HELO != "" {
		opts = append(opts, mail.WithHELO(m.cfg.HELO))
	}
	if m.cfg.Username != "" {
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
	return mail.NewClient(host, opts...)
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
