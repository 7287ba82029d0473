package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// JournalConfig configures the mailbox journal of one desk.
type JournalConfig struct {
	// Mailbox is the desk's mailbox (address, sign-in, the inbox and the
	// Processed and Rejected folders).
	Mailbox WatcherConfig
	// Sent is the folder the trace of sent mail is kept in.
	Sent string
	// Window is how many of the newest mails of each folder a check
	// compares with Redis (default 500).
	Window int
	// Interval is how often Redis is compared with the journal (default 1
	// minute); also after every change of Redis server and every commit
	// refused as behind.
	Interval time.Duration
	// RejectionRetention is how long Redis keeps a refusal (older ones are
	// not missing).
	RejectionRetention time.Duration
	// Log is where the journal logs; nil: slog.Default().
	Log *slog.Logger
	// Changed, when set, is told every new status (metrics, the alarm).
	Changed func(JournalStatus)
}

// withDefaults is cfg with its unset fields at the defaults above.
func (cfg JournalConfig) withDefaults() JournalConfig {
	if cfg.Window <= 0 {
		cfg.Window = 500
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	cfg.Log = cmp.Or(cfg.Log, slog.Default())
	return cfg
}

// JournalStatus is how Redis compares with the mailbox journal.
type JournalStatus struct {
	// State: "unchecked" (not compared since start or since Redis's server
	// changed), "ok", "behind" (Redis lacks what the journal shows; intake
	// and mail to customers are held while it is repaired).
	State string    `json:"state"`
	Since time.Time `json:"since"`
	// Sequence is Redis's ticket sequence, Highest the highest number the
	// journal shows as given, Missing the entries Redis lacked at the last
	// check.
	Sequence  int64     `json:"sequence"`
	Highest   int64     `json:"highest"`
	Missing   int       `json:"missing"`
	LastCheck time.Time `json:"last_check,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// LastRepair is what the last repair did, and when.
	LastRepair   string    `json:"last_repair,omitempty"`
	LastRepairAt time.Time `json:"last_repair_at,omitzero"`
	Repairs      int       `json:"repairs"`
	Conflicts    []string  `json:"conflicts,omitempty"`
}

// Journal keeps Redis in step with the mailbox journal: it compares the two
// on start, periodically and whenever Redis may have changed under it (a
// new server behind the connection, a commit refused as behind), holds the
// intake and mail to customers while Redis is not known to be in step, and
// repairs Redis from the journal by itself. It also keeps the trace of
// sent mail (Trace), and is the pipeline's Store: every commit carries the
// highest number the desk knows it gave, below which Redis refuses it.
type Journal struct {
	cfg    JournalConfig
	store  *ticket.Store
	outbox *notify.Outbox
	pipe   *Pipeline
	mb     *Mailbox // its sign-in and command watchdog
	log    *slog.Logger
	owner  string

	// conn is the journal's own IMAP connection (checks, repairs, traces).
	connMu sync.Mutex
	conn   *imapclient.Client

	mu      sync.Mutex
	status  JournalStatus
	floor   int64
	changed chan struct{} // closed and replaced on every status change
	trigger chan struct{}
	// servers are the Redis servers (run ids) compared with the journal;
	// fresh those connected to since the last comparison began.
	servers, fresh map[string]bool
	// done are the journal entries this process replayed: compared as
	// known afterwards, whatever the replay could make of them.
	done map[entryRef]bool
}

// entryRef names a mail of the journal.
type entryRef struct {
	folder   string
	validity uint32
	uid      imap.UID
}

func (j *Journal) replayed(e entry) {
	j.mu.Lock()
	j.done[entryRef{e.Folder, e.validity, e.UID}] = true
	j.mu.Unlock()
}

func (j *Journal) wasReplayed(e entry) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.done[entryRef{e.Folder, e.validity, e.UID}]
}

// NewJournal returns the journal of the desk whose Redis is store (and
// outbox) and whose mail pipe judges; it becomes pipe's Store.
func NewJournal(cfg JournalConfig, store *ticket.Store, outbox *notify.Outbox, pipe *Pipeline) *Journal {
	cfg = cfg.withDefaults()
	host, _ := os.Hostname()
	j := &Journal{
		cfg: cfg, store: store, outbox: outbox, pipe: pipe, log: cfg.Log.With("part", "journal"),
		owner:   fmt.Sprintf("%s-%d-%d", host, os.Getpid(), time.Now().UnixNano()),
		changed: make(chan struct{}), trigger: make(chan struct{}, 1),
		servers: map[string]bool{}, fresh: map[string]bool{}, done: map[entryRef]bool{},
	}
	j.status = JournalStatus{State: "unchecked", Since: time.Now()}
	j.mb = NewMailbox(cfg.Mailbox, cfg.Log)
	pipe.Store = j
	return j
}

// Status returns the journal's status.
func (j *Journal) Status() JournalStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.status
}

// setStatus changes the status under j.mu and tells the waiters.
func (j *Journal) setStatus(f func(*JournalStatus)) {
	j.mu.Lock()
	old := j.status.State
	f(&j.status)
	if j.status.State != old {
		j.status.Since = time.Now()
	}
	st := j.status
	close(j.changed)
	j.changed = make(chan struct{})
	j.mu.Unlock()
	if j.cfg.Changed != nil {
		j.cfg.Changed(st)
	}
}

// Wait returns once Redis is known to be in step with the journal (Gate).
func (j *Journal) Wait(ctx context.Context) error {
	for {
		j.mu.Lock()
		ok, ch := j.status.State == "ok", j.changed
		j.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Holding reports whether mail to customers is held: Redis may have lost
// the records of what was sent, and sending now could send it twice.
func (j *Journal) Holding() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.status.State != "ok"
}

// ObserveServer is told the run id of every Redis server a new connection
// reaches (go-redis's OnConnect): a server not compared with the journal
// yet (a restart, a failover, a restored backup) holds the intake and the
// outbox until it is.
func (j *Journal) ObserveServer(runID string) {
	if runID == "" {
		return
	}
	j.mu.Lock()
	if j.servers[runID] || j.fresh[runID] {
		j.mu.Unlock()
		return
	}
	j.fresh[runID] = true
	held := j.status.State == "ok"
	j.mu.Unlock()
	if held {
		j.log.Warn("connected to another Redis server: holding intake and mail until it is compared with the mailbox journal", "run_id", runID)
		j.setStatus(func(s *JournalStatus) {
			if s.State == "ok" {
				s.State = "unchecked"
			}
		})
	}
	j.Trigger()
}

// Trigger asks for a comparison now.
func (j *Journal) Trigger() {
	select {
	case j.trigger <- struct{}{}:
	default:
	}
}

// Floor is the highest ticket number this process knows was given.
func (j *Journal) Floor() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.floor
}

func (j *Journal) raise(seq int64) {
	j.mu.Lock()
	j.floor = max(j.floor, seq)
	j.mu.Unlock()
}

// CommitBatch commits through the store with the floor; a commit refused as
// behind starts a comparison (BatchCommitter).
func (j *Journal) CommitBatch(ctx context.Context, cs []ticket.Commit) []ticket.CommitResult {
	floor := j.Floor()
	for i := range cs {
		if cs[i].Ticket == nil || cs[i].Ticket.Number == 0 {
			cs[i].Floor = floor
		}
	}
	rs := j.store.CommitBatch(ctx, cs)
	for _, r := range rs {
		j.observe(r.Result, r.Err)
	}
	return rs
}

// Create is ticket.Store.Create with the floor (Committer).
func (j *Journal) Create(ctx context.Context, dedupe string, t ticket.New, note []string) (ticket.Result, error) {
	rs := j.CommitBatch(ctx, []ticket.Commit{{Dedupe: dedupe, Ticket: &t, Note: note}})
	return rs[0].Result, rs[0].Err
}

// Reject is ticket.Store.Reject with the floor (Committer).
func (j *Journal) Reject(ctx context.Context, dedupe string, r ticket.Rejection, note []string) (ticket.Result, error) {
	rs := j.CommitBatch(ctx, []ticket.Commit{{Dedupe: dedupe, Rejection: &r, Note: note}})
	return rs[0].Result, rs[0].Err
}

func (j *Journal) observe(r ticket.Result, err error) {
	if errors.Is(err, ticket.ErrBehind) {
		j.setStatus(func(s *JournalStatus) {
			if s.State == "ok" {
				s.State, s.LastError = "behind", err.Error()
			}
		})
		j.log.Error("a commit was refused: Redis is behind the mailbox journal (it lost writes); holding intake and mail until it is repaired", "err", err)
		j.Trigger()
		return
	}
	if seq, ok := j.store.Seq(r.Number); ok && err == nil {
		j.raise(seq)
	}
}

// Run compares Redis with the journal until ctx ends: at once, every
// Interval, and when triggered; whenever Redis is behind it repairs it.
func (j *Journal) Run(ctx context.Context) {
	defer j.closeConn()
	for ctx.Err() == nil {
		wait := j.cfg.Interval
		again, err := j.check(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			j.log.Warn("comparing Redis with the mailbox journal failed; trying again", "err", err)
			j.setStatus(func(s *JournalStatus) { s.LastError = err.Error() })
			wait = min(wait, 5*time.Second)
		case again:
			wait = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-j.trigger:
		}
		t.Stop()
	}
}

// check compares once, and repairs when Redis is behind; again: compare
// once more at once (after a repair, or a server seen meanwhile).
func (j *Journal) check(ctx context.Context) (again bool, _ error) {
	j.mu.Lock()
	compared := make([]string, 0, len(j.fresh))
	for id := range j.fresh {
		compared = append(compared, id)
	}
	j.mu.Unlock()
	p, err := j.withConn(ctx, func(c *imapclient.Client) (*RepairPlan, error) { return j.plan(ctx, c, time.Time{}) })
	if err != nil {
		return false, err
	}
	now := time.Now()
	if !p.Behind() {
		j.raise(p.Highest)
		j.mu.Lock()
		for _, id := range compared {
			j.servers[id] = true
			delete(j.fresh, id)
		}
		pending := len(j.fresh) > 0
		j.mu.Unlock()
		if !pending {
			j.markBehind(ctx, "")
		}
		j.setStatus(func(s *JournalStatus) {
			if !pending {
				if s.State != "ok" {
					j.log.Info("Redis is in step with the mailbox journal", "sequence", p.Sequence, "highest", p.Highest, "compared", p.Scanned)
				}
				s.State = "ok"
			}
			s.Sequence, s.Highest, s.Missing, s.LastCheck, s.LastError, s.Conflicts = p.Sequence, p.Highest, 0, now, "", p.Conflicts
		})
		return pending, nil
	}
	j.log.Error("Redis is behind the mailbox journal (it lost writes): holding intake and mail to customers, repairing",
		"summary", p.Summary())
	j.markBehind(ctx, p.Summary())
	j.setStatus(func(s *JournalStatus) {
		s.State = "behind"
		s.Sequence, s.Highest, s.Missing, s.LastCheck, s.LastError, s.Conflicts = p.Sequence, p.Highest, p.Missing(), now, p.Summary(), p.Conflicts
	})
	res, err := j.Repair(ctx, p)
	if err != nil {
		return false, err
	}
	j.log.Warn("journal repair done", "result", res.String(), "not_replayed", res.NotReplayed)
	j.setStatus(func(s *JournalStatus) {
		s.LastRepair, s.LastRepairAt = res.String(), time.Now()
		s.Repairs++
	})
	return true, nil
}

// Plan compares Redis with the journal: the newest mails of each folder,
// or with since set every mail that arrived since (`maildesk repair
// --since`).
func (j *Journal) Plan(ctx context.Context, since time.Time) (*RepairPlan, error) {
	return j.withConn(ctx, func(c *imapclient.Client) (*RepairPlan, error) { return j.plan(ctx, c, since) })
}

// ErrRepairRunning is a repair refused because another one (another replica,
// or `maildesk repair`) is running.
var ErrRepairRunning = errors.New("another repair is running")

// Repair carries out plan p, under the desk's repair lock.
func (j *Journal) Repair(ctx context.Context, p *RepairPlan) (RepairResult, error) {
	ok, release, err := j.store.Lock(ctx, "repair", j.owner, 10*time.Minute)
	if err != nil {
		return RepairResult{}, err
	}
	if !ok {
		return RepairResult{}, ErrRepairRunning
	}
	defer release()
	var res RepairResult
	_, err = j.withConn(ctx, func(c *imapclient.Client) (*RepairPlan, error) {
		res, err = j.run(ctx, c, p)
		return nil, err
	})
	return res, err
}

// Trace keeps the copy raw of the sent notification n (of its uncertain
// delivery: uncertain) in the trace folder, once: a delivery finished
// again keeps no second copy.
func (j *Journal) Trace(ctx context.Context, n notify.Notification, raw []byte, sentAt time.Time, uncertain bool) error {
	// Without Redis's answer the copy is kept anyway: a second copy is
	// harmless, a missing one is not.
	if done, err := j.outbox.Traced(ctx, n.ID, uncertain); err == nil && done {
		return nil
	}
	_, err := j.withConn(ctx, func(c *imapclient.Client) (*RepairPlan, error) {
		return nil, j.mb.guarded(c, "append to "+j.cfg.Sent, func() error {
			cmd := c.Append(j.cfg.Sent, int64(len(raw)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: sentAt})
			if _, err := cmd.Write(raw); err != nil {
				cmd.Close()
				return err
			}
			if err := cmd.Close(); err != nil {
				return err
			}
			_, err := cmd.Wait()
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("keeping the trace of %s in %s: %w", n.ID, j.cfg.Sent, err)
	}
	return j.outbox.MarkTraced(ctx, n.ID, uncertain)
}

// withConn runs f on the journal's IMAP connection, connecting (and
// creating the trace folder) when there is none; on an IMAP error the
// connection is dropped, and the next call connects anew.
func (j *Journal) withConn(ctx context.Context, f func(*imapclient.Client) (*RepairPlan, error)) (*RepairPlan, error) {
	j.connMu.Lock()
	defer j.connMu.Unlock()
	if j.conn != nil {
		select {
		case <-j.conn.Closed():
			j.conn = nil
		default:
		}
	}
	reused := j.conn != nil
	for {
		if j.conn == nil {
			c, err := j.mb.connect(ctx, make(chan struct{}, 1))
			if err != nil {
				return nil, err
			}
			if err := j.ensureSent(c); err != nil {
				c.Close()
				return nil, err
			}
			j.conn = c
		}
		p, err := f(j.conn)
		var ie *imap.Error
		if err == nil || errors.As(err, &ie) || ctx.Err() != nil {
			return p, err
		}
		// Not the server's answer: the connection is broken. One kept
		// from before may have been dropped by the server while idle
		// (autologout): once more on a new one.
		j.conn.Close()
		j.conn = nil
		if !reused {
			return p, err
		}
		reused = false
	}
}

func (j *Journal) ensureSent(c *imapclient.Client) error {
	var have []*imap.ListData
	if err := j.mb.guarded(c, "list folders", func() (err error) {
		have, err = c.List("", j.cfg.Sent, nil).Collect()
		return err
	}); err != nil {
		return err
	}
	if len(have) > 0 {
		return nil
	}
	err := j.mb.guarded(c, "create folder "+j.cfg.Sent, func() error { return c.Create(j.cfg.Sent, nil).Wait() })
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
		return nil
	}
	return err
}

func (j *Journal) closeConn() {
	j.connMu.Lock()
	defer j.connMu.Unlock()
	if j.conn != nil {
		j.conn.Close()
		j.conn = nil
	}
}
