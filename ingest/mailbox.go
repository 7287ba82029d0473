package ingest

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/charset"

	"github.com/maildesk/maildesk/signin"
)

// WatcherConfig is the IMAP side of one desk mailbox.
type WatcherConfig struct {
	Address       string
	Security      string // none | starttls | tls
	TLSSkipVerify bool
	Username      string
	Password      string
	Mailbox       string
	// Folders the mail is moved to once its outcome is committed.
	Processed, Rejected, Quarantine string
	// Sent is where the desk keeps a copy of each mail it sent
	// (imap.sent_mailbox): an erasure deletes the person's copies there.
	Sent           string
	PollInterval   time.Duration // used when the server has no IDLE
	CommandTimeout time.Duration // no IMAP command may take longer
	IdleRestart    time.Duration // IDLE is renewed this often
	CheckInterval  time.Duration // a waiting session is checked this often (checkMailbox)
	BatchSize      int
	MaxMessageSize int64
	// OAuth2, when set, signs in as Username with an access token over
	// Mechanism (signin.MechXOAuth2 or MechOAuthBearer) instead of Password.
	OAuth2    Tokens
	Mechanism string
	// Connected, when set, is told the outcome of every attempt to connect
	// and sign in (health, metrics, alarms).
	Connected func(err error)
}

// Tokens hand out OAuth2 access tokens (signin.Source).
type Tokens interface {
	Token(ctx context.Context, subject string) (string, error)
	// Refused: the server refused the token for subject; the next is new.
	Refused(subject string)
}

// Mailbox is the IMAP client of one desk mailbox: it signs in (password
// or OAuth2), runs every command under a watchdog, and does what the
// watcher, the journal, `maildesk tickets raw`, the ticket page and
// retention need of the mailbox: sessions on the inbox (mailbox_session.go),
// the original of a mail (raw.go), deleting filed mail (purge.go). It
// decides nothing about tickets.
type Mailbox struct {
	cfg WatcherConfig
	log *slog.Logger
	// answered, when set, is told every time the server answers a command
	// (the watcher's Status.Answered).
	answered func()
}

// NewMailbox returns the client of cfg.Mailbox; log nil: slog.Default().
func NewMailbox(cfg WatcherConfig, log *slog.Logger) *Mailbox {
	return newMailbox(cfg.withDefaults(), cmp.Or(log, slog.Default()), nil)
}

// newMailbox is NewMailbox of a cfg with its defaults and a log (the
// watcher's, which has applied them already).
func newMailbox(cfg WatcherConfig, log *slog.Logger, answered func()) *Mailbox {
	return &Mailbox{cfg: cfg, log: log.With("mailbox", cfg.Mailbox), answered: answered}
}

// withDefaults fills in what cfg leaves unset.
func (cfg WatcherConfig) withDefaults() WatcherConfig {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 30 * time.Second
	}
	if cfg.IdleRestart <= 0 {
		cfg.IdleRestart = 25 * time.Minute
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = 30 * time.Second
	}
	return cfg
}

// watchdog closes the client when a command outlives its deadline: go-imap
// has no response timeout, and a silent server would block Wait forever.
// Closing makes every pending Wait return an error.
type watchdog struct {
	t *time.Timer
	d time.Duration
}

func newWatchdog(c *imapclient.Client, d time.Duration) *watchdog {
	return &watchdog{t: time.AfterFunc(d, func() { c.Close() }), d: d}
}

func (wd *watchdog) reset()         { wd.t.Reset(wd.d) }
func (wd *watchdog) stop()          { wd.t.Stop() }
func (wd *watchdog) extend(n int64) { wd.t.Reset(wd.d * time.Duration(n)) }

// guarded runs one IMAP command under a watchdog.
func (mb *Mailbox) guarded(c *imapclient.Client, what string, f func() error) error {
	return mb.guardedFor(c, mb.cfg.CommandTimeout, what, f)
}

// guardedFor runs one IMAP command under a watchdog of d.
func (mb *Mailbox) guardedFor(c *imapclient.Client, d time.Duration, what string, f func() error) error {
	wd := newWatchdog(c, d)
	defer wd.stop()
	if err := f(); err != nil {
		if isClosed(c.Closed()) && !wd.t.Stop() {
			// The watchdog fired: say so, not only "use of closed connection".
			return fmt.Errorf("imap %s: no answer within %s: %w", what, d, err)
		}
		return fmt.Errorf("imap %s: %w", what, err)
	}
	if mb.answered != nil {
		mb.answered()
	}
	return nil
}

// dial connects, under a timer and ctx that close the raw connection: the
// library's STARTTLS exchange and TLS handshake have no deadline of their
// own, and a server that greets and then goes silent would block here.
func (mb *Mailbox) dial(ctx context.Context, wake chan<- struct{}) (*imapclient.Client, error) {
	opts := &imapclient.Options{
		WordDecoder: &mime.WordDecoder{CharsetReader: charset.Reader},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			// Runs on the client's reader goroutine: never block here.
			Mailbox: func(data *imapclient.UnilateralDataMailbox) {
				if data.NumMessages != nil {
					select {
					case wake <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	host, _, _ := net.SplitHostPort(mb.cfg.Address)
	opts.TLSConfig = &tls.Config{ServerName: host, InsecureSkipVerify: mb.cfg.TLSSkipVerify, MinVersion: tls.VersionTLS12}
	// TCP keep-alive finds a peer that vanished (a host down, a blackholed
	// route) even in the middle of a long command, within about twice the
	// check interval.
	probe := max(mb.cfg.CheckInterval/3, time.Second)
	d := &net.Dialer{Timeout: mb.cfg.CommandTimeout,
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: mb.cfg.CheckInterval, Interval: probe, Count: 3}}
	conn, err := d.DialContext(ctx, "tcp", mb.cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("connect to imap %s: %w", mb.cfg.Address, err)
	}
	timer := time.AfterFunc(mb.cfg.CommandTimeout, func() { conn.Close() })
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer timer.Stop()
	var c *imapclient.Client
	switch mb.cfg.Security {
	case "tls":
		tc := tls.Client(conn, opts.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("tls handshake with imap %s: %w", mb.cfg.Address, err)
		}
		c = imapclient.New(tc, opts)
	case "starttls":
		c, err = imapclient.NewStartTLS(conn, opts)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("starttls with imap %s: %w", mb.cfg.Address, err)
		}
	default:
		c = imapclient.New(conn, opts)
	}
	return c, nil
}

// connect dials and signs in. New mail the server reports wakes wake. A
// refused OAuth2 token is replaced and tried once more on a new connection
// at once: it may have expired early (Exchange Online ends a session whose
// token expired), or been revoked and made anew. A failure is reported to
// Connected here; success only once the mailbox is selected (session).
func (mb *Mailbox) connect(ctx context.Context, wake chan<- struct{}) (*imapclient.Client, error) {
	c, err := mb.signIn(ctx, wake)
	if err != nil && mb.cfg.OAuth2 != nil && refused(err) {
		mb.cfg.OAuth2.Refused(mb.cfg.Username)
		c, err = mb.signIn(ctx, wake)
	}
	if err != nil {
		mb.connected(ctx, err)
	}
	return c, err
}

// connected tells Connected the outcome of an attempt, unless ctx ended it.
func (mb *Mailbox) connected(ctx context.Context, err error) {
	if mb.cfg.Connected != nil && ctx.Err() == nil {
		mb.cfg.Connected(err)
	}
}

func (mb *Mailbox) signIn(ctx context.Context, wake chan<- struct{}) (*imapclient.Client, error) {
	// The token first: a refresh may take a while, and a server waiting
	// for the login that long may drop the connection.
	var tok string
	if mb.cfg.OAuth2 != nil {
		var err error
		if tok, err = mb.cfg.OAuth2.Token(ctx, mb.cfg.Username); err != nil {
			return nil, fmt.Errorf("signing in to imap %s as %s: %w", mb.cfg.Address, mb.cfg.Username, err)
		}
	}
	c, err := mb.dial(ctx, wake)
	if err != nil {
		return nil, err
	}
	if err := mb.guarded(c, "greeting", c.WaitGreeting); err != nil {
		c.Close()
		return nil, err
	}
	if mb.cfg.OAuth2 == nil {
		err = mb.guarded(c, "login as "+mb.cfg.Username, func() error { return c.Login(mb.cfg.Username, mb.cfg.Password).Wait() })
	} else {
		err = mb.authenticate(c, tok)
	}
	if err != nil {
		// After a failed SASL exchange the connection's state is unknown.
		c.Close()
		return nil, err
	}
	return c, nil
}

// authenticate signs in with an OAuth2 access token. Any NO to
// AUTHENTICATE is a refusal of the token: Exchange Online answers a bad one
// with a bare "NO AUTHENTICATE failed.", without AUTHENTICATIONFAILED.
func (mb *Mailbox) authenticate(c *imapclient.Client, tok string) error {
	mech := strings.ToUpper(mb.cfg.Mechanism)
	return mb.guarded(c, "authenticate "+mech+" as "+mb.cfg.Username, func() error {
		// Caps may ask the server, hence under the watchdog too.
		if !c.Caps().Has(imap.Cap("AUTH=" + mech)) {
			return fmt.Errorf("the server does not offer %s (oauth2.mechanism)", mech)
		}
		err := c.Authenticate(signin.NewIMAPClient(mb.cfg.Mechanism, mb.cfg.Username, tok))
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo {
			return fmt.Errorf("%w: %w", err, &signin.RefusedError{Mechanism: mb.cfg.Mechanism, Detail: ie.Text})
		}
		return err
	})
}

// refused reports whether err is the server refusing the credentials.
func refused(err error) bool {
	var ie *imap.Error
	return signin.IsRefused(err) || errors.As(err, &ie) && ie.Code == imap.ResponseCodeAuthenticationFailed
}

// open starts a session on the inbox: it signs in, makes the folders mail
// is filed to, and selects the inbox. New mail the server reports wakes
// wake. Signed in but unable to open the mailbox ("User is authenticated
// but not connected": the mailbox permission is missing) is as deaf as not
// signed in: it counts as a failed attempt for Connected.
func (mb *Mailbox) open(ctx context.Context, wake chan<- struct{}) (session, error) {
	c, err := mb.connect(ctx, wake)
	if err != nil {
		return nil, err
	}
	if err := mb.ensureFolders(c); err != nil {
		c.Close()
		mb.connected(ctx, err)
		return nil, err
	}
	var sel *imap.SelectData
	if err := mb.guarded(c, "select "+mb.cfg.Mailbox, func() (err error) {
		sel, err = c.Select(mb.cfg.Mailbox, nil).Wait()
		return err
	}); err != nil {
		c.Close()
		mb.connected(ctx, err)
		return nil, err
	}
	mb.connected(ctx, nil)
	caps := c.Caps()
	s := &imapSession{mb: mb, c: c, caps: caps, uidValidity: sel.UIDValidity, keywords: keepsKeywords(sel)}
	mb.log.Info("imap connected", "address", mb.cfg.Address, "messages", sel.NumMessages,
		"idle", caps.Has(imap.CapIdle), "move", caps.Has(imap.CapMove), "uidplus", caps.Has(imap.CapUIDPlus))
	return s, nil
}

func (mb *Mailbox) ensureFolders(c *imapclient.Client) error {
	var have []*imap.ListData
	if err := mb.guarded(c, "list folders", func() (err error) {
		have, err = c.List("", "*", nil).Collect()
		return err
	}); err != nil {
		return err
	}
	for _, f := range []string{mb.cfg.Processed, mb.cfg.Rejected, mb.cfg.Quarantine} {
		if slices.ContainsFunc(have, func(l *imap.ListData) bool { return l.Mailbox == f }) {
			continue
		}
		err := mb.guarded(c, "create folder "+f, func() error { return c.Create(f, nil).Wait() })
		var ierr *imap.Error
		if errors.As(err, &ierr) && ierr.Code == imap.ResponseCodeAlreadyExists {
			continue
		}
		if err != nil {
			return err
		}
		mb.log.Info("created imap folder", "folder", f)
	}
	return nil
}
