package ingest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/charset"

	"github.com/maildesk/maildesk/signin"
	"github.com/maildesk/maildesk/ticket"
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
	PollInterval                    time.Duration // used when the server has no IDLE
	CommandTimeout                  time.Duration // no IMAP command may take longer
	IdleRestart                     time.Duration // IDLE is renewed this often
	CheckInterval                   time.Duration // a waiting session is checked this often (checkMailbox)
	BatchSize                       int
	MaxMessageSize                  int64
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

// Watcher keeps one mailbox drained: it processes the mail waiting at start,
// then waits for new mail with IDLE (or polls), and re-establishes a dropped
// connection with exponential backoff and jitter.
type Watcher struct {
	// Checkpoints, when set, keep next across restarts.
	Checkpoints Checkpoints
	// Observer, when set, is told every mail's outcome (metrics).
	Observer Observer
	// Gate, when set, holds the intake while Redis is not known to be in
	// step with the mailbox journal (Journal).
	Gate Gate

	cfg  WatcherConfig
	pipe *Pipeline
	log  *slog.Logger
	// refusedWarned is when the last warning that Redis refuses commits
	// was logged (unix ns): near its memory limit Redis takes a probe or a
	// commit and refuses the next, again and again; one warning a minute
	// tells the operator, the rest goes to the debug log.
	refusedWarned atomic.Int64
	// loaded: the checkpoint has been read once.
	loaded bool

	mu     sync.Mutex
	status Status

	// next is the lowest UID not yet dealt with. Mail normally leaves the
	// inbox once committed; next only matters on servers where it cannot
	// (no MOVE and no UIDPLUS), and for skipping a batch already handled.
	next        imap.UID
	uidValidity uint32
	// keywords: the mailbox keeps keywords, so filed mail is stamped with
	// its outcome (journal.go).
	keywords bool

	// slots bounds the mails parsed at once to the CPUs; buffered is the
	// bytes of mail read into memory and not yet parsed; inflight the bytes
	// of mail fetched and not yet finished.
	slots    chan struct{}
	buffered atomic.Int64
	inflight atomic.Int64

	// waiting are the mails known to be in the mailbox and not yet handled.
	waiting waitingMail
}

// Observer is told the outcome of each mail and how long it took from
// fetch to commit.
type Observer interface {
	Observe(r Result, took time.Duration)
	Reconnected()
}

// Checkpoints persist how far the watcher got in a mailbox. Without them a
// restart fetches again whatever is still in the mailbox, which is safe
// (commits are idempotent) but, on servers where handled mail stays (no
// MOVE, no UIDPLUS), copies it to the folders a second time.
type Checkpoints interface {
	LoadCheckpoint(ctx context.Context, mailbox string) (ticket.Checkpoint, error)
	SaveCheckpoint(ctx context.Context, mailbox string, cp ticket.Checkpoint) error
}

// Status is the watcher's connection state, for health checks and logs.
type Status struct {
	Mailbox string    `json:"mailbox"`
	State   string    `json:"state"` // connecting | connected | idle | polling | disconnected | stopped
	Since   time.Time `json:"since"`
	// Up is when the mailbox was last connected (or the watcher started):
	// how long an outage has lasted, across reconnect attempts.
	Up         time.Time `json:"up"`
	LastError  string    `json:"last_error,omitempty"`
	Reconnects int       `json:"reconnects"`
	Processed  int64     `json:"processed"`
	// Answered is when the server last answered a command (or the watcher
	// started): a session that looks fine but whose server went silent
	// shows here, within imap.check_interval.
	Answered time.Time `json:"answered"`
	// Waiting is how many mails were found in the mailbox and are not yet
	// handled, OldestWaiting when the oldest of them was first found (zero
	// when none): intake that stalls with the connection up shows here.
	Waiting       int       `json:"waiting"`
	OldestWaiting time.Time `json:"oldest_waiting,omitzero"`
}

// NewWatcher returns a watcher of cfg.Mailbox that hands each mail to pipe.
func NewWatcher(cfg WatcherConfig, pipe *Pipeline, log *slog.Logger) *Watcher {
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
	if log == nil {
		log = slog.Default()
	}
	w := &Watcher{cfg: cfg, pipe: pipe, log: log.With("mailbox", cfg.Mailbox), next: 1,
		slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
	now := time.Now()
	w.status = Status{Mailbox: cfg.Mailbox, State: "connecting", Since: now, Answered: now}
	return w
}

// Status returns a snapshot of the connection state.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	st := w.status
	w.mu.Unlock()
	st.OldestWaiting, st.Waiting = w.waiting.oldest()
	return st
}

// answered notes that the server just answered a command.
func (w *Watcher) answered() {
	w.mu.Lock()
	w.status.Answered = time.Now()
	w.mu.Unlock()
}

func (w *Watcher) setState(state string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if w.status.State != state {
		w.status.State, w.status.Since = state, now
	}
	switch state {
	case "connected", "idle", "polling":
		w.status.Up = now
	}
	if w.status.Up.IsZero() {
		w.status.Up = now
	}
	if err != nil {
		w.status.LastError = err.Error()
	}
	if state == "disconnected" {
		w.status.Reconnects++
	}
}

// Run watches the mailbox until ctx ends. The mail in hand when ctx ends is
// finished (committed and moved) before Run returns.
func (w *Watcher) Run(ctx context.Context) error {
	const minBackoff, maxBackoff = time.Second, 5 * time.Minute
	backoff := minBackoff
	for {
		start := time.Now()
		good, err := w.session(ctx)
		if ctx.Err() != nil {
			w.setState("stopped", nil)
			return nil
		}
		// A session that got its mailbox drained, or ran a while, was
		// healthy: start backing off afresh, so that a server back after
		// an outage is found within seconds, not after the longest wait.
		if good || time.Since(start) > maxBackoff {
			backoff = minBackoff
		}
		// Full jitter keeps several replicas from reconnecting in lockstep.
		wait := backoff/2 + rand.N(backoff/2+1)
		w.setState("disconnected", err)
		if w.Observer != nil {
			w.Observer.Reconnected()
		}
		w.log.Warn("imap session ended, reconnecting", "err", err, "retry_in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			w.setState("stopped", nil)
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, maxBackoff)
	}
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
func (w *Watcher) guarded(c *imapclient.Client, what string, f func() error) error {
	return w.guardedFor(c, w.cfg.CommandTimeout, what, f)
}

// guardedFor runs one IMAP command under a watchdog of d.
func (w *Watcher) guardedFor(c *imapclient.Client, d time.Duration, what string, f func() error) error {
	wd := newWatchdog(c, d)
	defer wd.stop()
	if err := f(); err != nil {
		if isClosed(c.Closed()) && !wd.t.Stop() {
			// The watchdog fired: say so, not only "use of closed connection".
			return fmt.Errorf("imap %s: no answer within %s: %w", what, d, err)
		}
		return fmt.Errorf("imap %s: %w", what, err)
	}
	w.answered()
	return nil
}

// checkTimeout is how long the server has to answer a liveness check
// (ending IDLE, NOOP, the mailbox check): a silent server is noticed within
// CheckInterval and this.
func (w *Watcher) checkTimeout() time.Duration {
	return min(w.cfg.CommandTimeout, w.cfg.CheckInterval)
}

// dial connects, under a timer and ctx that close the raw connection: the
// library's STARTTLS exchange and TLS handshake have no deadline of their
// own, and a server that greets and then goes silent would block here.
func (w *Watcher) dial(ctx context.Context, wake chan<- struct{}) (*imapclient.Client, error) {
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
	host, _, _ := net.SplitHostPort(w.cfg.Address)
	opts.TLSConfig = &tls.Config{ServerName: host, InsecureSkipVerify: w.cfg.TLSSkipVerify, MinVersion: tls.VersionTLS12}
	// TCP keep-alive finds a peer that vanished (a host down, a blackholed
	// route) even in the middle of a long command, within about twice the
	// check interval.
	probe := max(w.cfg.CheckInterval/3, time.Second)
	d := &net.Dialer{Timeout: w.cfg.CommandTimeout,
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: w.cfg.CheckInterval, Interval: probe, Count: 3}}
	conn, err := d.DialContext(ctx, "tcp", w.cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("connect to imap %s: %w", w.cfg.Address, err)
	}
	timer := time.AfterFunc(w.cfg.CommandTimeout, func() { conn.Close() })
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer timer.Stop()
	var c *imapclient.Client
	switch w.cfg.Security {
	case "tls":
		tc := tls.Client(conn, opts.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("tls handshake with imap %s: %w", w.cfg.Address, err)
		}
		c = imapclient.New(tc, opts)
	case "starttls":
		c, err = imapclient.NewStartTLS(conn, opts)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("starttls with imap %s: %w", w.cfg.Address, err)
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
func (w *Watcher) connect(ctx context.Context, wake chan<- struct{}) (*imapclient.Client, error) {
	c, err := w.signIn(ctx, wake)
	if err != nil && w.cfg.OAuth2 != nil && refused(err) {
		w.cfg.OAuth2.Refused(w.cfg.Username)
		c, err = w.signIn(ctx, wake)
	}
	if err != nil {
		w.connected(ctx, err)
	}
	return c, err
}

// connected tells Connected the outcome of an attempt, unless ctx ended it.
func (w *Watcher) connected(ctx context.Context, err error) {
	if w.cfg.Connected != nil && ctx.Err() == nil {
		w.cfg.Connected(err)
	}
}

func (w *Watcher) signIn(ctx context.Context, wake chan<- struct{}) (*imapclient.Client, error) {
	// The token first: a refresh may take a while, and a server waiting
	// for the login that long may drop the connection.
	var tok string
	if w.cfg.OAuth2 != nil {
		var err error
		if tok, err = w.cfg.OAuth2.Token(ctx, w.cfg.Username); err != nil {
			return nil, fmt.Errorf("signing in to imap %s as %s: %w", w.cfg.Address, w.cfg.Username, err)
		}
	}
	c, err := w.dial(ctx, wake)
	if err != nil {
		return nil, err
	}
	if err := w.guarded(c, "greeting", c.WaitGreeting); err != nil {
		c.Close()
		return nil, err
	}
	if w.cfg.OAuth2 == nil {
		err = w.guarded(c, "login as "+w.cfg.Username, func() error { return c.Login(w.cfg.Username, w.cfg.Password).Wait() })
	} else {
		err = w.authenticate(c, tok)
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
func (w *Watcher) authenticate(c *imapclient.Client, tok string) error {
	mech := strings.ToUpper(w.cfg.Mechanism)
	return w.guarded(c, "authenticate "+mech+" as "+w.cfg.Username, func() error {
		// Caps may ask the server, hence under the watchdog too.
		if !c.Caps().Has(imap.Cap("AUTH=" + mech)) {
			return fmt.Errorf("the server does not offer %s (oauth2.mechanism)", mech)
		}
		err := c.Authenticate(signin.NewIMAPClient(w.cfg.Mechanism, w.cfg.Username, tok))
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo {
			return fmt.Errorf("%w: %w", err, &signin.RefusedError{Mechanism: w.cfg.Mechanism, Detail: ie.Text})
		}
		return err
	})
}

// refused reports whether err is the server refusing the credentials.
func refused(err error) bool {
	var ie *imap.Error
	return signin.IsRefused(err) || errors.As(err, &ie) && ie.Code == imap.ResponseCodeAuthenticationFailed
}

// session is one connection's life: connect, prepare folders, then drain
// and wait until the connection fails or ctx ends. good reports whether the
// session got as far as draining the mailbox once.
func (w *Watcher) session(ctx context.Context) (good bool, err error) {
	w.setState("connecting", nil)
	wake := make(chan struct{}, 1)
	c, err := w.connect(ctx, wake)
	if err != nil {
		return false, err
	}
	defer c.Close()
	// Signed in but unable to open the mailbox ("User is authenticated but
	// not connected": the mailbox permission is missing) is as deaf as not
	// signed in: it counts as a failed attempt.
	if err := w.ensureFolders(c); err != nil {
		w.connected(ctx, err)
		return false, err
	}
	var sel *imap.SelectData
	if err := w.guarded(c, "select "+w.cfg.Mailbox, func() (err error) {
		sel, err = c.Select(w.cfg.Mailbox, nil).Wait()
		return err
	}); err != nil {
		w.connected(ctx, err)
		return false, err
	}
	w.connected(ctx, nil)
	if !w.loaded && w.Checkpoints != nil {
		cp, err := w.Checkpoints.LoadCheckpoint(ctx, w.cfg.Mailbox)
		if err != nil {
			return false, err
		}
		w.uidValidity, w.next, w.loaded = cp.Validity, max(imap.UID(cp.Next), 1), true
	}
	if err := w.validity(ctx, sel.UIDValidity); err != nil {
		return false, err
	}
	if w.keywords = keepsKeywords(sel); !w.keywords {
		w.log.Warn("the mailbox keeps no keywords: filed mail does not carry its outcome, and a Redis that lost writes cannot be repaired from it")
	}
	caps := c.Caps()
	w.setState("connected", nil)
	w.log.Info("imap connected", "address", w.cfg.Address, "messages", sel.NumMessages,
		"idle", caps.Has(imap.CapIdle), "move", caps.Has(imap.CapMove), "uidplus", caps.Has(imap.CapUIDPlus))

	// The first drain, and the first after each check, searches the whole
	// mailbox (the safety net); the others only for UIDs above those known.
	full, checked := true, time.Now()
	for {
		err := w.drain(ctx, c, full)
		if err != nil && w.heldBack(ctx, err) {
			// Redis lost writes: the journal repairs it; the session waits
			// at the gate in the next drain.
			continue
		}
		if se := storeError(err); se != nil && ctx.Err() == nil {
			// Redis refuses writes or is away: the IMAP session is fine.
			// Wait for Redis, then drain again from the first mail not
			// committed (the commits are idempotent).
			if err := w.waitStore(ctx, c, se); err != nil {
				return good, err
			}
			continue
		}
		if err != nil {
			return good, err
		}
		good = true
		if ctx.Err() != nil {
			return good, ctx.Err()
		}
		// After a drain longer than the check interval the check is due.
		due := checked.Add(w.cfg.CheckInterval)
		switch {
		case !time.Now().Before(due):
		case caps.Has(imap.CapIdle):
			err = w.idle(ctx, c, wake, due)
		default:
			err = w.poll(ctx, c, wake, due)
		}
		if err != nil {
			return good, err
		}
		full = false
		if ctx.Err() == nil && !time.Now().Before(due) {
			if err := w.checkMailbox(ctx, c); err != nil {
				return good, err
			}
			full, checked = true, time.Now()
		}
	}
}

// validity takes the UIDVALIDITY the mailbox was just selected with: UIDs
// of another validity mean nothing, so the mailbox is scanned from the
// start. Commits are idempotent: mail seen before is not made a ticket
// twice.
func (w *Watcher) validity(ctx context.Context, v uint32) error {
	if v == w.uidValidity {
		return nil
	}
	if w.uidValidity != 0 {
		w.log.Warn("mailbox UIDVALIDITY changed, rescanning", "old", w.uidValidity, "new", v)
	}
	w.uidValidity, w.next = v, 1
	w.waiting.reset()
	return w.saveCheckpoint(ctx)
}

// checkMailbox is the periodic look at a session that seems idle: the
// mailbox is selected again, which the server must answer within the
// check timeout, and which shows a mailbox rebuilt under the session (a
// new UIDVALIDITY, UIDs from 1) that the server did not report; the drain
// after it searches the whole mailbox, which catches mail that arrived
// without a word from the server, or that an earlier drain left behind.
// Whatever is in the mailbox is work, so the search is cheap.
func (w *Watcher) checkMailbox(ctx context.Context, c *imapclient.Client) error {
	var sel *imap.SelectData
	if err := w.guardedFor(c, w.checkTimeout(), "check: select "+w.cfg.Mailbox, func() (err error) {
		sel, err = c.Select(w.cfg.Mailbox, nil).Wait()
		return err
	}); err != nil {
		return err
	}
	return w.validity(ctx, sel.UIDValidity)
}

func (w *Watcher) ensureFolders(c *imapclient.Client) error {
	var have []*imap.ListData
	if err := w.guarded(c, "list folders", func() (err error) {
		have, err = c.List("", "*", nil).Collect()
		return err
	}); err != nil {
		return err
	}
	for _, f := range []string{w.cfg.Processed, w.cfg.Rejected, w.cfg.Quarantine} {
		if slices.ContainsFunc(have, func(l *imap.ListData) bool { return l.Mailbox == f }) {
			continue
		}
		err := w.guarded(c, "create folder "+f, func() error { return c.Create(f, nil).Wait() })
		var ierr *imap.Error
		if errors.As(err, &ierr) && ierr.Code == imap.ResponseCodeAlreadyExists {
			continue
		}
		if err != nil {
			return err
		}
		w.log.Info("created imap folder", "folder", f)
	}
	return nil
}

// idle waits for new mail with IDLE until due (the next check) at the
// latest. It returns nil to drain again. Ending IDLE is itself a check: the
// server must answer it within the check timeout.
func (w *Watcher) idle(ctx context.Context, c *imapclient.Client, wake <-chan struct{}, due time.Time) error {
	var cmd *imapclient.IdleCommand
	if err := w.guarded(c, "idle", func() (err error) { cmd, err = c.Idle(); return err }); err != nil {
		return err
	}
	w.setState("idle", nil)
	renew := time.NewTimer(min(time.Until(due), w.cfg.IdleRestart))
	defer renew.Stop()
	var closed bool
	select {
	case <-wake:
	case <-renew.C:
	case <-ctx.Done():
	case <-c.Closed():
		closed = true
	}
	if closed {
		return errors.New("imap connection closed while idling")
	}
	return w.guardedFor(c, w.checkTimeout(), "end idle", func() error {
		if err := cmd.Close(); err != nil {
			return err
		}
		return cmd.Wait()
	})
}

// poll waits for the poll interval on servers without IDLE, or until due
// (the next check). A NOOP keeps the connection checked and lets the server
// report new mail.
func (w *Watcher) poll(ctx context.Context, c *imapclient.Client, wake <-chan struct{}, due time.Time) error {
	w.setState("polling", nil)
	t := time.NewTimer(min(w.cfg.PollInterval, time.Until(due)))
	defer t.Stop()
	select {
	case <-wake:
	case <-t.C:
	case <-ctx.Done():
		return nil
	case <-c.Closed():
		return errors.New("imap connection closed while polling")
	}
	return w.guardedFor(c, w.checkTimeout(), "noop", func() error { return c.Noop().Wait() })
}

// drain processes every mail in the mailbox at or above next, in batches,
// until nothing is left. Each round searches only for UIDs above the
// highest one known (UIDs only grow), so a backlog costs one full search,
// not one per batch; mail that arrived meanwhile goes ahead of the rest of
// the backlog, so a long backlog never keeps new mail waiting.
//
// The work overlaps: up to aheadMails mails are fetched (and are being
// parsed, judged and committed, see fetch and committer) before the oldest
// batch's outcomes are collected, and committed mail is moved in sets of
// up to moveMails, once the outcomes of all of them are committed. A MOVE
// costs the server about as much per command (an fsync, index updates) as
// for a thousand mails, so a backlog is moved in large sets; mail that
// arrives on its own is moved at once, as soon as nothing else is waiting.
//
// A full drain searches the whole mailbox first, not only above the UIDs
// known, except on servers where handled mail stays in it (no MOVE, no
// UIDPLUS).
func (w *Watcher) drain(ctx context.Context, c *imapclient.Client, full bool) error {
	if err := w.hold(ctx); err != nil {
		return err
	}
	cm := newCommitter(ctx, w.pipe.Store, w.cfg.BatchSize, w.log, w.logResult)
	defer cm.close()
	d := &drainer{w: w, c: c, cm: cm, known: w.next - 1}
	if caps := c.Caps(); full && (caps.Has(imap.CapMove) || caps.Has(imap.CapUIDPlus)) {
		d.known = 0
	}
	return d.run(ctx)
}

const (
	aheadMails      = 500
	maxAheadBatches = 8
	moveMails       = 1000
)

// drainer is one drain's state.
type drainer struct {
	w  *Watcher
	c  *imapclient.Client
	cm *committer

	queue    []imap.UID // known, not yet fetched
	known    imap.UID   // highest UID searched for
	inflight []*batchRun
	unmoved  []handled // committed, not yet moved
	// floor is the lowest UID of this drain found unhandled (0: none): the
	// checkpoint stays at or below it.
	floor imap.UID
	// searched: the drain's first search is done.
	searched bool
	// failed is the lowest UID whose commit failed (0: none). Mail above
	// it is not moved even when committed (commits after a failure in the
	// same round trip were sent): the next session replays it, which
	// changes nothing but moving it, so that on a server where handled mail
	// stays in the inbox (and only the checkpoint says how far the desk
	// got) it is copied to its folder exactly once.
	failed imap.UID
}

func (d *drainer) run(ctx context.Context) error {
	w := d.w
	// Several batches, but not so many small ones that new mail waits for
	// a long queue fetched ahead of it.
	ahead := min(max(2, aheadMails/w.cfg.BatchSize), maxAheadBatches)
	for ctx.Err() == nil {
		// After a failed commit nothing more is fetched: the batches in
		// flight are collected, and the drain ends with the failure.
		failed := d.cm.hasFailed()
		// New mail is looked for before each batch is fetched (it goes
		// first), and before deciding there is nothing to do; not while
		// waiting for batches in flight, as a SEARCH costs the server time.
		if !failed && (len(d.queue) == 0 || len(d.inflight) < ahead && w.inflight.Load() < inflightBudget) {
			from := d.known + 1
			fresh, err := w.search(d.c, from)
			if err != nil {
				return d.abandon(ctx, err)
			}
			now := time.Now()
			if !d.searched {
				// What is gone from the mailbox is no longer waiting: a
				// person moved or deleted it.
				w.waiting.only(fresh, from)
				d.searched = true
			}
			w.waiting.seen(fresh, now)
			if len(fresh) > 0 {
				d.known = fresh[len(fresh)-1]
				d.queue = append(fresh, d.queue...)
			}
		}
		// Large mails in the batches in flight keep the next batch back: what
		// waits for its commit (the parsed text, a buffered body) stays bounded.
		if !failed && len(d.queue) > 0 && len(d.inflight) < ahead && (len(d.inflight) == 0 || w.inflight.Load() < inflightBudget) {
			n := min(len(d.queue), w.cfg.BatchSize)
			batch := slices.Clone(d.queue[:n])
			slices.Sort(batch)
			d.queue = d.queue[n:]
			run, err := w.fetch(ctx, d.c, d.cm, batch)
			d.inflight = append(d.inflight, run)
			if err != nil {
				return d.abandon(ctx, err)
			}
			continue
		}
		if len(d.inflight) == 0 {
			if len(d.unmoved) == 0 {
				return nil
			}
			// Search again after the move: mail may have come meanwhile.
			if err := d.move(ctx); err != nil {
				return d.abandon(ctx, err)
			}
			continue
		}
		if err := d.collect(ctx); err != nil {
			return d.abandon(ctx, err)
		}
		if len(d.unmoved) >= moveMails || len(d.queue) == 0 && len(d.inflight) == 0 {
			if err := d.move(ctx); err != nil {
				return d.abandon(ctx, err)
			}
		}
	}
	return d.abandon(ctx, ctx.Err())
}

// collect waits for the outcomes of the oldest batch in flight.
func (d *drainer) collect(ctx context.Context) error {
	run := d.inflight[0]
	d.inflight = d.inflight[1:]
	r := <-run.result
	for _, u := range run.uids {
		if !slices.ContainsFunc(r.done, func(h handled) bool { return h.uid == u }) {
			if d.floor == 0 || u < d.floor {
				d.floor = u
			}
			// Mail the fetch skipped (shutdown, or a commit failed before
			// it) or that failed is accounted for by the batch's error.
			if r.err == nil && !run.skipped && !slices.Contains(run.returned, u) && ctx.Err() == nil {
				d.w.log.Warn("server returned no mail for a UID (deleted or moved meanwhile?): it is looked at again at the next check", "uid", u)
			}
		}
	}
	if r.failed != 0 && (d.failed == 0 || r.failed < d.failed) {
		d.failed = r.failed
	}
	d.unmoved = append(d.unmoved, r.done...)
	return r.err
}

// move moves the committed mails and advances the checkpoint to the lowest
// UID not yet handled: below the rest of the queue, the batches in flight
// and any UID of this drain that was not handled.
func (d *drainer) move(ctx context.Context) error {
	if d.failed != 0 {
		d.unmoved = slices.DeleteFunc(d.unmoved, func(h handled) bool { return h.uid > d.failed })
	}
	left, err := d.w.move(d.c, d.unmoved)
	if err != nil {
		return err
	}
	d.unmoved = d.unmoved[:0]
	// Mail left in the mailbox keeps the checkpoint below it: on a server
	// where handled mail stays (no MOVE, no UIDPLUS) only the checkpoint
	// says it is not filed yet.
	if len(left) > 0 && (d.floor == 0 || slices.Min(left) < d.floor) {
		d.floor = slices.Min(left)
	}
	// With new mail served first, the lowest unhandled UID can be below
	// what was just handled. A UID the server did not return is not
	// handled either: the next session looks again (and if it is gone,
	// the search skips it).
	next := d.known + 1
	if len(d.queue) > 0 {
		next = min(next, slices.Min(d.queue))
	}
	for _, run := range d.inflight {
		if len(run.uids) > 0 {
			next = min(next, run.uids[0])
		}
	}
	if d.floor != 0 {
		next = min(next, d.floor)
	}
	d.w.next = max(d.w.next, next)
	return d.w.saveCheckpoint(ctx)
}

// abandon ends a drain on err (nil or ctx's error on shutdown): the mails
// in flight are finished as far as they go, what was committed is moved,
// then err is returned.
func (d *drainer) abandon(ctx context.Context, err error) error {
	for len(d.inflight) > 0 {
		// Their errors are consequences of err, or the same; without err
		// (a failed commit stopped the fetching), the first is the cause.
		if cerr := d.collect(ctx); err == nil {
			err = cerr
		}
	}
	if merr := d.move(ctx); err == nil {
		err = merr
	}
	return err
}

// search returns the UIDs at or above from, ascending.
func (w *Watcher) search(c *imapclient.Client, from imap.UID) ([]imap.UID, error) {
	var uids []imap.UID
	err := w.guarded(c, "search", func() error {
		data, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: from, Stop: 0}}}}, nil).Wait()
		if err != nil {
			return err
		}
		// "UID n:*" matches the last message even when all UIDs are < n.
		for _, u := range data.AllUIDs() {
			if u >= from {
				uids = append(uids, u)
			}
		}
		return nil
	})
	slices.Sort(uids)
	return uids, err
}

// handled is one mail whose outcome is committed and which now has to move.
type handled struct {
	uid  imap.UID
	res  Result
	took time.Duration
}

func (w *Watcher) saveCheckpoint(ctx context.Context) error {
	if w.Checkpoints == nil {
		return nil
	}
	return asStoreError(w.Checkpoints.SaveCheckpoint(context.WithoutCancel(ctx), w.cfg.Mailbox, ticket.Checkpoint{Validity: w.uidValidity, Next: uint32(w.next)}))
}

// Mails up to smallMail bytes are read off the socket into memory and
// parsed on another goroutine, up to bufferBudget bytes of them at a time
// (and as many at once as there are CPUs); a larger one, or one beyond the
// budget, is parsed straight off the socket while the fetch waits, never
// held whole. Either way only its parsed text stays until it is committed;
// no further batch is fetched while inflightBudget bytes of mail are in
// flight.
const (
	smallMail      = 1 << 20
	bufferBudget   = 16 << 20
	inflightBudget = 32 << 20
)

// fetch UID FETCHes uids and hands each mail to the committer in order:
// its body is read (and parsed), and its outcome judged and committed on
// its own goroutine while the next mails arrive. The go-imap reader waits
// while a body is read, so nothing here waits for the committer or issues
// another IMAP command. The returned run gets the outcomes.
func (w *Watcher) fetch(ctx context.Context, c *imapclient.Client, cm *committer, uids []imap.UID) (*batchRun, error) {
	w.setState("connected", nil)
	run := &batchRun{uids: uids, result: make(chan batchResult, 1)}
	defer cm.end(run)
	var set imap.UIDSet
	set.AddNum(uids...)
	wd := newWatchdog(c, w.cfg.CommandTimeout)
	defer wd.stop()
	cmd := c.Fetch(set, &imap.FetchOptions{
		UID: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	// Mails that came without a body wait for the end of the command:
	// whether the server sent none, or the connection broke before it.
	var bodiless []*job
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		wd.reset()
		w.answered()
		// Stop taking new mail on shutdown or after a commit failure; Close
		// below discards the rest of the response.
		if ctx.Err() != nil || cm.hasFailed() {
			run.skipped = true
			continue
		}
		j, bodiless1 := w.take(ctx, c, msg, wd)
		if j.uid != 0 {
			run.returned = append(run.returned, j.uid)
		}
		if bodiless1 {
			bodiless = append(bodiless, j)
		}
		cm.add(j)
	}
	err := cmd.Close()
	for _, j := range bodiless {
		if err != nil {
			j.gate.events <- gateEvent{kind: gateDone, err: &notReadError{err: err}, at: time.Now()}
			continue
		}
		j.gate.events <- gateEvent{kind: gateDone, res: Result{Outcome: Quarantined, Reason: "server sent no body"}, at: time.Now()}
	}
	if err != nil {
		return run, fmt.Errorf("imap fetch: %w", err)
	}
	w.answered()
	// On shutdown part of the batch was skipped: it must be fetched again.
	return run, ctx.Err()
}

// take reads one fetched message's body and starts judging it. bodiless:
// the message came without a body; the caller decides its outcome.
func (w *Watcher) take(ctx context.Context, c *imapclient.Client, msg *imapclient.FetchMessageData, wd *watchdog) (j *job, bodiless bool) {
	j = &job{start: time.Now()}
	j.gate = newGate(w.pipe.Store, func() {})
	var body imap.LiteralReader
	var seen bool
	for {
		item := msg.Next()
		if item == nil {
			break
		}
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			j.uid = it.UID
		case imapclient.FetchItemDataBodySection:
			body = it.Literal
		}
		if body != nil && !seen {
			seen = true
			j.start = time.Now()
			// A large literal may legitimately take longer than one command.
			wd.extend(1 + body.Size()/(8<<20))
			if err := w.read(ctx, j, body); err != nil {
				w.awaitBroken(c)
			}
		}
	}
	return j, !seen
}

// read reads body for j and starts a goroutine that judges it. A body that
// does not arrive whole is not judged: j fails with a notReadError (a
// connection cut in the middle of a mail is no broken mail), which read
// returns too.
func (w *Watcher) read(ctx context.Context, j *job, body imap.LiteralReader) error {
	// The mail in hand is finished even when shutdown begins now.
	pctx := context.WithoutCancel(ctx)
	src := ticket.Source{Mailbox: w.cfg.Mailbox, UIDValidity: w.uidValidity, UID: uint32(j.uid)}
	size := body.Size()
	lit := &literal{r: body, size: size}
	w.inflight.Add(size)
	decide := func(rm *ReadMail) {
		res, err := w.pipe.Decide(pctx, rm, j.gate)
		w.inflight.Add(-size)
		j.gate.done(res, err)
	}
	notRead := func(err error) error {
		w.inflight.Add(-size)
		j.gate.done(Result{}, &notReadError{err: err})
		return err
	}
	switch {
	case w.cfg.MaxMessageSize > 0 && size > w.cfg.MaxMessageSize:
		rm := w.pipe.ReadHead(lit, size, w.cfg.MaxMessageSize, src)
		if err := lit.finish(); err != nil {
			return notRead(err)
		}
		go decide(rm)
	case size <= smallMail && w.buffered.Add(size) <= bufferBudget:
		buf := make([]byte, size)
		n, err := io.ReadFull(lit, buf)
		if err != nil {
			w.buffered.Add(-size)
			return notRead(err)
		}
		go func() {
			w.slots <- struct{}{}
			release := sync.OnceFunc(func() { <-w.slots })
			j.gate.release = release
			rm := w.pipe.Read(bytes.NewReader(buf[:n]), src)
			w.buffered.Add(-size)
			decide(rm)
			release()
		}()
	default:
		if size <= smallMail {
			w.buffered.Add(-size)
		}
		rm := w.pipe.Read(lit, src)
		if err := lit.finish(); err != nil {
			return notRead(err)
		}
		go decide(rm)
	}
	return nil
}

func (w *Watcher) logResult(h handled) {
	log := w.log.With("uid", h.uid, "message_id", h.res.MessageID, "outcome", h.res.Outcome.String())
	switch {
	case h.res.Outcome == Quarantined:
		log.Error("mail quarantined", "reason", h.res.Reason)
	case h.res.Replay:
		log.Info("mail was committed before, moving it only", "ticket", h.res.Ticket)
	case h.res.FollowUp:
		log.Info("follow-up recorded on ticket", "ticket", h.res.Ticket)
	case h.res.Outcome == Processed:
		log.Info("ticket created", "ticket", h.res.Ticket, "acknowledge", h.res.Notified)
	default:
		log.Info("mail rejected", "reason", h.res.Reason, "notice", h.res.Notified)
	}
	w.mu.Lock()
	w.status.Processed++
	w.mu.Unlock()
	if w.Observer != nil {
		w.Observer.Observe(h.res, h.took)
	}
}

func (w *Watcher) folder(o Outcome) string {
	switch o {
	case Processed:
		return w.cfg.Processed
	case Rejected:
		return w.cfg.Rejected
	}
	return w.cfg.Quarantine
}

// move files committed mail into the folder of its outcome, one command per
// folder. left are the UIDs it could not file because someone else removed
// mail from the mailbox at the same time (moveSet); they stay in the
// mailbox, and the next check files those still there.
func (w *Watcher) move(c *imapclient.Client, done []handled) (left []imap.UID, err error) {
	// The outcome first: a crash between the two leaves a stamped mail in
	// the inbox (handled again, changing nothing), never a filed mail
	// without its outcome.
	if err := w.stamp(c, done); err != nil {
		return nil, err
	}
	byFolder := map[string][]imap.UID{}
	var order []string
	for _, h := range done {
		f := w.folder(h.res.Outcome)
		if _, ok := byFolder[f]; !ok {
			order = append(order, f)
		}
		byFolder[f] = append(byFolder[f], h.uid)
	}
	for _, f := range order {
		var set imap.UIDSet
		set.AddNum(byFolder[f]...)
		moved, err := w.moveSet(c, set, f)
		if err != nil {
			return left, err
		}
		if !moved {
			left = append(left, byFolder[f]...)
			continue
		}
		w.waiting.done(byFolder[f]...)
	}
	return left, nil
}

// expungeRetries is how often a move is tried when someone else removes
// mail from the mailbox at the same time.
const expungeRetries = 3

// moveSet moves set to folder and reports whether it did. A person working
// in the mailbox may delete or move one of the mails after it was fetched:
// the server then refuses the whole command with NO [EXPUNGEISSUED] and
// reports the expunge. The command is repeated after a NOOP (the server
// has told the session what is gone by then); UID commands skip UIDs that
// no longer exist, so the rest is moved. After expungeRetries refusals the
// set is left where it is, and the session goes on.
func (w *Watcher) moveSet(c *imapclient.Client, set imap.UIDSet, folder string) (bool, error) {
	for attempt := 1; ; attempt++ {
		err := w.moveOnce(c, set, folder)
		if !expungeIssued(err) {
			return err == nil, err
		}
		if attempt == expungeRetries {
			w.log.Warn("mail was removed from the mailbox while it was being filed, again and again: left in the mailbox for the next check",
				"folder", folder, "uids", set.String(), "attempts", attempt, "err", err)
			return false, nil
		}
		w.log.Info("someone else removed mail from the mailbox while it was being filed: filing the rest",
			"folder", folder, "uids", set.String(), "err", err)
		if err := w.guarded(c, "noop", func() error { return c.Noop().Wait() }); err != nil {
			return false, err
		}
	}
}

// expungeIssued reports whether err is the server refusing a command
// because some of its messages were expunged meanwhile (RFC 5530).
func expungeIssued(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie) && ie.Code == "EXPUNGEISSUED"
}

// moveOnce moves set to folder. Without MOVE it does not use go-imap's
// fallback, which pipelines COPY, STORE \Deleted and EXPUNGE without waiting
// for COPY: a failed COPY would still delete the mail. Here the mail is
// flagged deleted only after the copy succeeded, and expunged by UID only
// (UIDPLUS) so that nobody else's \Deleted mail goes with it. Without
// UIDPLUS the original stays, marked \Seen, and next skips it.
func (w *Watcher) moveOnce(c *imapclient.Client, set imap.UIDSet, folder string) error {
	caps := c.Caps()
	if caps.Has(imap.CapMove) {
		return w.guarded(c, "move to "+folder, func() error { _, err := c.Move(set, folder).Wait(); return err })
	}
	if err := w.guarded(c, "copy to "+folder, func() error { _, err := c.Copy(set, folder).Wait(); return err }); err != nil {
		return err
	}
	if !caps.Has(imap.CapUIDPlus) {
		return w.guarded(c, "flag seen", func() error {
			return c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
		})
	}
	if err := w.guarded(c, "flag deleted", func() error {
		return c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	}); err != nil {
		return err
	}
	return w.guarded(c, "expunge", func() error { return c.UIDExpunge(set).Close() })
}
