package ingest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildesk/maildesk/ticket"
)

// Watcher keeps one mailbox drained: it processes the mail waiting at start,
// then waits for new mail with IDLE (or polls), and re-establishes a dropped
// connection with exponential backoff and jitter. Its optional parts
// (Checkpoints, Observer, Gate) are given at NewWatcher (WithCheckpoints,
// WithObserver, WithGate), or set before Run.
type Watcher struct {
	// Checkpoints, when set, keep next across restarts.
	Checkpoints Checkpoints
	// Observer, when set, is told every mail's outcome (metrics).
	Observer Observer
	// Gate, when set, holds the intake while Redis is not known to be in
	// step with the mailbox journal (Journal).
	Gate Gate

	cfg WatcherConfig
	// client is the mailbox's IMAP client; mb the same as the drain
	// drives it (another kind of mailbox could take its place).
	mb     mailbox
	client *Mailbox
	pipe   *Pipeline
	log    *slog.Logger
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

// NewWatcher returns a watcher of cfg.Mailbox that hands each mail to
// pipe; log nil: slog.Default().
func NewWatcher(cfg WatcherConfig, pipe *Pipeline, log *slog.Logger, opts ...WatcherOption) *Watcher {
	cfg = cfg.withDefaults()
	log = cmp.Or(log, slog.Default())
	w := &Watcher{cfg: cfg, pipe: pipe, log: log.With("mailbox", cfg.Mailbox), next: 1,
		slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
	for _, o := range opts {
		o(w)
	}
	w.client = newMailbox(cfg, log, w.answered)
	w.mb = w.client
	now := time.Now()
	w.status = Status{Mailbox: cfg.Mailbox, State: "connecting", Since: now, Answered: now}
	return w
}

// WatcherOption sets one of a Watcher's optional parts at NewWatcher.
type WatcherOption func(*Watcher)

// WithCheckpoints sets Watcher.Checkpoints.
func WithCheckpoints(c Checkpoints) WatcherOption { return func(w *Watcher) { w.Checkpoints = c } }

// WithObserver sets Watcher.Observer.
func WithObserver(o Observer) WatcherOption { return func(w *Watcher) { w.Observer = o } }

// WithGate sets Watcher.Gate.
func WithGate(g Gate) WatcherOption { return func(w *Watcher) { w.Gate = g } }

// Mailbox is the client of the watched mailbox (for the originals of mail
// the ticket page shows): what it asks of the server counts as the
// server answering, in Status.
func (w *Watcher) Mailbox() *Mailbox { return w.client }

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

// mailbox is what the watcher drives: the desk mailbox it opens sessions
// on (Mailbox, over IMAP; a Microsoft Graph mailbox could be another).
type mailbox interface {
	// open signs in and opens the inbox; new mail the server reports
	// wakes wake.
	open(ctx context.Context, wake chan<- struct{}) (session, error)
}

// session is one connection to the desk mailbox with its inbox open. Mail
// is named by UIDs that only grow within one validity.
type session interface {
	// validity is the inbox's UIDVALIDITY as last selected; keepsKeywords:
	// filed mail can carry its outcome (journal.go); removesFiled: filing
	// a mail takes it out of the inbox.
	validity() uint32
	keepsKeywords() bool
	removesFiled() bool
	// search returns the UIDs at or above from, ascending.
	search(from imap.UID) ([]imap.UID, error)
	// fetch hands each mail of uids to a target of take as it arrives.
	fetch(uids []imap.UID, take func() fetchTarget) error
	// file stamps and files committed mail (filing); left stay in the inbox.
	file(fs []filing) (filed, left []imap.UID, err error)
	// wait waits for new mail until due at the latest, telling waiting
	// how ("idle", "polling").
	wait(ctx context.Context, wake <-chan struct{}, due time.Time, waiting func(state string)) error
	// check opens the inbox again, a liveness check that returns its
	// validity; noop is a lighter liveness check.
	check() (uint32, error)
	noop() error
	closed() <-chan struct{}
	close()
}

// fetchTarget receives one mail of a fetch: its UID, its body as it starts
// to arrive (an error: it did not arrive whole), and its end (bodiless: no
// body came).
type fetchTarget interface {
	uid(imap.UID)
	body(mailBody) error
	end(bodiless bool)
}

// mailBody is a mail's body as it arrives, of a size announced first.
type mailBody interface {
	io.Reader
	Size() int64
}

// session is one connection's life: connect, prepare folders, then drain
// and wait until the connection fails or ctx ends. good reports whether the
// session got as far as draining the mailbox once.
func (w *Watcher) session(ctx context.Context) (good bool, err error) {
	w.setState("connecting", nil)
	wake := make(chan struct{}, 1)
	s, err := w.mb.open(ctx, wake)
	if err != nil {
		return false, err
	}
	defer s.close()
	if !w.loaded && w.Checkpoints != nil {
		cp, err := w.Checkpoints.LoadCheckpoint(ctx, w.cfg.Mailbox)
		if err != nil {
			return false, err
		}
		w.uidValidity, w.next, w.loaded = cp.Validity, max(imap.UID(cp.Next), 1), true
	}
	if err := w.validity(ctx, s.validity()); err != nil {
		return false, err
	}
	if !s.keepsKeywords() {
		w.log.Warn("the mailbox keeps no keywords: filed mail does not carry its outcome, and a Redis that lost writes cannot be repaired from it")
	}
	w.setState("connected", nil)

	// The first drain, and the first after each check, searches the whole
	// mailbox (the safety net); the others only for UIDs above those known.
	full, checked := true, time.Now()
	for {
		err := w.drain(ctx, s, full)
		if err != nil && w.heldBack(ctx, err) {
			// Redis lost writes: the journal repairs it; the session waits
			// at the gate in the next drain.
			continue
		}
		if se := storeError(err); se != nil && ctx.Err() == nil {
			// Redis refuses writes or is away: the IMAP session is fine.
			// Wait for Redis, then drain again from the first mail not
			// committed (the commits are idempotent).
			if err := w.waitStore(ctx, s, se); err != nil {
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
		if time.Now().Before(due) {
			err = s.wait(ctx, wake, due, func(state string) { w.setState(state, nil) })
		}
		if err != nil {
			return good, err
		}
		full = false
		if ctx.Err() == nil && !time.Now().Before(due) {
			if err := w.checkMailbox(ctx, s); err != nil {
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
func (w *Watcher) checkMailbox(ctx context.Context, s session) error {
	v, err := s.check()
	if err != nil {
		return err
	}
	return w.validity(ctx, v)
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
func (w *Watcher) drain(ctx context.Context, s session, full bool) error {
	if err := w.hold(ctx); err != nil {
		return err
	}
	cm := newCommitter(ctx, w.pipe.Store, w.cfg.BatchSize, w.log, w.logResult)
	defer cm.close()
	d := &drainer{w: w, s: s, cm: cm, known: w.next - 1}
	if full && s.removesFiled() {
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
	s  session
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
			fresh, err := d.s.search(from)
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
			run, err := w.fetch(ctx, d.s, d.cm, batch)
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
	left, err := d.w.move(d.s, d.unmoved)
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

// fetch fetches uids and hands each mail to the committer in order: its
// body is read (and parsed), and its outcome judged and committed on its
// own goroutine while the next mails arrive. The go-imap reader waits while
// a body is read, so nothing here waits for the committer or issues another
// IMAP command. The returned run gets the outcomes.
func (w *Watcher) fetch(ctx context.Context, s session, cm *committer, uids []imap.UID) (*batchRun, error) {
	w.setState("connected", nil)
	run := &batchRun{uids: uids, result: make(chan batchResult, 1)}
	defer cm.end(run)
	// Mails that came without a body wait for the end of the command:
	// whether the server sent none, or the connection broke before it.
	var bodiless []*job
	err := s.fetch(uids, func() fetchTarget {
		// Stop taking new mail on shutdown or after a commit failure; the
		// rest of the response is discarded.
		if ctx.Err() != nil || cm.hasFailed() {
			run.skipped = true
			return nil
		}
		return &taking{w: w, ctx: ctx, j: &job{start: time.Now(), gate: newGate(w.pipe.Store, func() {})},
			done: func(j *job, noBody bool) {
				if j.uid != 0 {
					run.returned = append(run.returned, j.uid)
				}
				if noBody {
					bodiless = append(bodiless, j)
				}
				cm.add(j)
			}}
	})
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
	// On shutdown part of the batch was skipped: it must be fetched again.
	return run, ctx.Err()
}

// taking is one fetched mail as it arrives: its job, handed to the
// committer once the mail's items are all read.
type taking struct {
	w    *Watcher
	ctx  context.Context
	j    *job
	done func(j *job, bodiless bool)
}

func (t *taking) uid(u imap.UID) { t.j.uid = u }

func (t *taking) body(b mailBody) error {
	t.j.start = time.Now()
	return t.w.read(t.ctx, t.j, b)
}

func (t *taking) end(bodiless bool) { t.done(t.j, bodiless) }

// read reads body for j and starts a goroutine that judges it. A body that
// does not arrive whole is not judged: j fails with a notReadError (a
// connection cut in the middle of a mail is no broken mail), which read
// returns too.
func (w *Watcher) read(ctx context.Context, j *job, body mailBody) error {
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

// move files committed mail into the folder of its outcome, stamped with
// it (journal.go). left are the UIDs it could not file because someone else
// removed mail from the mailbox at the same time; they stay in the
// mailbox, and the next check files those still there.
func (w *Watcher) move(s session, done []handled) (left []imap.UID, err error) {
	fs := make([]filing, len(done))
	for i, h := range done {
		kws, unreject := outcomeKeywords(w.pipe.TicketPrefix, h.res)
		fs[i] = filing{uid: h.uid, folder: w.folder(h.res.Outcome), keywords: kws, unreject: unreject}
	}
	filed, left, err := s.file(fs)
	w.waiting.done(filed...)
	return left, err
}
