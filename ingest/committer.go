package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildesk/maildesk/ticket"
)

// BatchCommitter is a Committer that commits several mails' outcomes in one
// round trip (ticket.Store.CommitBatch). The watcher uses it when the
// pipeline's Store has it; otherwise it commits them one call at a time.
type BatchCommitter interface {
	CommitBatch(ctx context.Context, cs []ticket.Commit) []ticket.CommitResult
}

// The watcher reads and parses several mails at once, but their Redis work
// happens in mail order, through the committer:
//
//   - A mail whose outcome is one commit (a new ticket, a rejection) queues
//     it; the queued commits are sent together, in order, when the batch
//     the mails came in is complete (or maxPending are queued), in one
//     round trip. Each is still its own atomic, idempotent script run.
//   - A mail that has to read Redis before it can decide (a follow-up, a
//     bounce of the desk's mail, an agent's mail) waits until every mail
//     before it is committed, and the mails after it wait for it: what it
//     reads is what it would have read had the mails been handled one by
//     one.
//
// So tickets are numbered in mail order, and a reply threads onto a ticket
// made from a mail just before it in the same batch.

// maxPending bounds how many commits are queued before they are sent.
const maxPending = 128

type gateKind int

const (
	gateCommit    gateKind = iota // a commit to queue
	gateExclusive                 // the mail needs the mails before it committed
	gateDone                      // the mail's outcome (and error)
)

type gateEvent struct {
	kind   gateKind
	commit ticket.Commit
	reply  chan gateReply // for gateCommit and gateExclusive
	res    Result
	err    error
	at     time.Time // gateDone: when the outcome was known
}

type gateReply struct {
	res ticket.Result
	err error
}

// gate is one mail's place in the committer's order: its Order (see
// Pipeline.Decide). Its methods are called from the mail's own goroutine
// only.
type gate struct {
	// store takes what comes after the mail's turn.
	store Committer
	// events go to the committer: a first event (commit, exclusive or
	// done), then done unless that was first. Two fit without blocking.
	events chan gateEvent
	// release gives back the mail's CPU slot before it waits; idempotent.
	release func()
	// direct: the mail's turn has come (exclusive), or its one queued
	// commit is done: anything more goes straight to the store.
	direct bool
}

func newGate(store Committer, release func()) *gate {
	return &gate{store: store, events: make(chan gateEvent, 2), release: release}
}

func (g *gate) Commit(ctx context.Context, c ticket.Commit) (ticket.Result, error) {
	if g.direct {
		// Not reached by the pipeline today (one commit per mail, after
		// any exclusive read); kept correct should that change.
		return commitTo(ctx, g.store, c)
	}
	g.release()
	reply := make(chan gateReply, 1)
	g.events <- gateEvent{kind: gateCommit, commit: c, reply: reply}
	r := <-reply
	g.direct = true
	return r.res, r.err
}

func (g *gate) Exclusive() error {
	if g.direct {
		return nil
	}
	g.release()
	reply := make(chan gateReply, 1)
	g.events <- gateEvent{kind: gateExclusive, reply: reply}
	r := <-reply
	g.direct = true
	return r.err
}

func (g *gate) done(res Result, err error) {
	g.release()
	g.events <- gateEvent{kind: gateDone, res: res, err: err, at: time.Now()}
}

// job is one fetched mail on its way through the committer.
type job struct {
	uid   imap.UID
	start time.Time // when its body started to arrive
	gate  *gate
	// Set by the committer.
	queued bool // its first event was a commit: its outcome comes later
	res    Result
	err    error
	at     time.Time
}

// batchRun is one UID FETCH's mails: asked for, and their outcomes once
// the committer has them all.
type batchRun struct {
	uids   []imap.UID
	result chan batchResult
	// returned are the UIDs the server sent; skipped: the fetch left some
	// of them unread (shutdown, or a commit had failed).
	returned []imap.UID
	skipped  bool
}

type batchResult struct {
	done []handled // committed (or needing no commit), in order
	err  error     // the first mail that failed, if any
	// failed is the lowest UID that failed (0: none).
	failed imap.UID
}

// committerItem is a mail, or the end of a batch.
type committerItem struct {
	job *job
	end *batchRun
}

type committer struct {
	ctx   context.Context // never cancelled: mail in hand is finished
	in    chan committerItem
	exit  chan struct{}
	store Committer
	batch BatchCommitter // nil: one call per commit
	log   *slog.Logger
	// handled is told each mail whose outcome is committed, in order.
	handled func(handled)

	pending []pendingCommit
	// failed is the first commit error: no commit is sent after it, so
	// that an outage does not make every later mail wait for a timeout.
	failed error
	// failedFlag is failed for the fetch loop (another goroutine).
	failedFlag chan struct{}
}

type pendingCommit struct {
	commit ticket.Commit
	reply  chan gateReply
}

// newCommitter starts the committer of one drain, which fetches in
// batches of batchSize and commits to store.
func newCommitter(ctx context.Context, store Committer, batchSize int, log *slog.Logger, handled func(handled)) *committer {
	cm := &committer{
		ctx: context.WithoutCancel(ctx), in: make(chan committerItem, 2*batchSize+4),
		exit: make(chan struct{}), failedFlag: make(chan struct{}),
		store: store, log: log, handled: handled,
	}
	cm.batch, _ = store.(BatchCommitter)
	go cm.run()
	return cm
}

// close waits until every mail handed over is finished.
func (cm *committer) close() {
	close(cm.in)
	<-cm.exit
}

func (cm *committer) add(j *job)        { cm.in <- committerItem{job: j} }
func (cm *committer) end(run *batchRun) { cm.in <- committerItem{end: run} }
func (cm *committer) hasFailed() bool   { return isClosed(cm.failedFlag) }
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (cm *committer) run() {
	defer close(cm.exit)
	var cur []*job // the jobs of the batch not yet ended
	for it := range cm.in {
		if it.end != nil {
			cm.flush()
			it.end.result <- cm.collect(cur)
			cur = nil
			continue
		}
		cur = append(cur, it.job)
		cm.first(it.job)
	}
	// The fetch loop ends every batch it starts; this is for safety only.
	cm.flush()
	cm.collect(cur)
}

// first takes a job's first event.
func (cm *committer) first(j *job) {
	ev := <-j.gate.events
	switch ev.kind {
	case gateDone:
		cm.record(j, ev)
	case gateCommit:
		j.queued = true
		if cm.failed != nil {
			ev.reply <- gateReply{err: cm.abort()}
			return
		}
		cm.pending = append(cm.pending, pendingCommit{commit: ev.commit, reply: ev.reply})
		if len(cm.pending) >= maxPending {
			cm.flush()
		}
	case gateExclusive:
		cm.flush()
		if cm.failed != nil {
			ev.reply <- gateReply{err: cm.abort()}
		} else {
			ev.reply <- gateReply{}
		}
		// The mails after it wait until it is done.
		cm.record(j, <-j.gate.events)
	}
}

func (cm *committer) record(j *job, ev gateEvent) {
	j.res, j.err, j.at = ev.res, ev.err, ev.at
	if ev.err != nil {
		cm.fail(ev.err)
	}
}

func (cm *committer) fail(err error) {
	if cm.failed == nil {
		cm.failed = err
		close(cm.failedFlag)
	}
}

func (cm *committer) abort() error {
	return fmt.Errorf("not committed after an earlier commit failed: %w", cm.failed)
}

// flush sends the queued commits, in order, and answers each mail.
func (cm *committer) flush() {
	if len(cm.pending) == 0 {
		return
	}
	cs := make([]ticket.Commit, len(cm.pending))
	for i, pc := range cm.pending {
		cs[i] = pc.commit
	}
	var rs []ticket.CommitResult
	if cm.batch != nil {
		rs = cm.batch.CommitBatch(cm.ctx, cs)
	} else {
		rs = make([]ticket.CommitResult, len(cs))
		for i, c := range cs {
			if cm.failed != nil {
				rs[i].Err = cm.abort()
				continue
			}
			rs[i].Result, rs[i].Err = commitTo(cm.ctx, cm.store, c)
			if rs[i].Err != nil {
				cm.fail(rs[i].Err)
			}
		}
	}
	for i, pc := range cm.pending {
		if rs[i].Err != nil {
			cm.fail(rs[i].Err)
		}
		pc.reply <- gateReply{res: rs[i].Result, err: rs[i].Err}
	}
	clear(cm.pending)
	cm.pending = cm.pending[:0]
}

// collect waits for the outcomes of a batch's jobs (all their commits are
// answered by now), logs them in order and returns them.
func (cm *committer) collect(jobs []*job) batchResult {
	var out batchResult
	for _, j := range jobs {
		if j.queued {
			cm.record(j, <-j.gate.events)
		}
		if j.err != nil {
			// Its own read failed, not an earlier mail's.
			if nr, ok := j.err.(*notReadError); ok {
				cm.log.Warn("mail not read whole: the connection broke in the middle of it; it stays in the inbox and is fetched again",
					"uid", j.uid, "err", nr.err)
				if out.err == nil {
					out.err = fmt.Errorf("mail uid %d: %w", j.uid, j.err)
				}
			}
			if out.err == nil {
				out.err = asStoreError(fmt.Errorf("commit mail uid %d: %w", j.uid, j.err))
			}
			if j.uid != 0 && (out.failed == 0 || j.uid < out.failed) {
				out.failed = j.uid
			}
			continue
		}
		h := handled{uid: j.uid, res: j.res, took: j.at.Sub(j.start)}
		cm.handled(h)
		if h.uid != 0 {
			out.done = append(out.done, h)
		}
	}
	return out
}
