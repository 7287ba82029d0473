package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// imapSession is one signed-in connection of a Mailbox with the inbox
// selected: the watcher's session.
type imapSession struct {
	mb   *Mailbox
	c    *imapclient.Client
	caps imap.CapSet
	// uidValidity is the inbox's UIDVALIDITY when it was last selected.
	uidValidity uint32
	keywords    bool
}

func (s *imapSession) validity() uint32        { return s.uidValidity }
func (s *imapSession) keepsKeywords() bool     { return s.keywords }
func (s *imapSession) closed() <-chan struct{} { return s.c.Closed() }
func (s *imapSession) close()                  { s.c.Close() }

// removesFiled: filing a mail takes it out of the inbox (MOVE, or COPY and
// UID EXPUNGE). Without, handled mail stays there, marked \Seen, and only
// the checkpoint says it is done.
func (s *imapSession) removesFiled() bool {
	return s.caps.Has(imap.CapMove) || s.caps.Has(imap.CapUIDPlus)
}

// checkTimeout is how long the server has to answer a liveness check
// (ending IDLE, NOOP, the mailbox check): a silent server is noticed within
// CheckInterval and this.
func (mb *Mailbox) checkTimeout() time.Duration {
	return min(mb.cfg.CommandTimeout, mb.cfg.CheckInterval)
}

// noop is a liveness check: the server must answer within the check
// timeout, and may report new mail meanwhile.
func (s *imapSession) noop() error {
	return s.mb.guardedFor(s.c, s.mb.checkTimeout(), "noop", func() error { return s.c.Noop().Wait() })
}

// check selects the inbox again, which the server must answer within the
// check timeout, and which shows a mailbox rebuilt under the session (a new
// UIDVALIDITY, UIDs from 1) that the server did not report.
func (s *imapSession) check() (uint32, error) {
	var sel *imap.SelectData
	if err := s.mb.guardedFor(s.c, s.mb.checkTimeout(), "check: select "+s.mb.cfg.Mailbox, func() (err error) {
		sel, err = s.c.Select(s.mb.cfg.Mailbox, nil).Wait()
		return err
	}); err != nil {
		return 0, err
	}
	s.uidValidity = sel.UIDValidity
	return sel.UIDValidity, nil
}

// wait waits for new mail until due (the next check) at the latest: with
// IDLE where the server has it, else by polling. waiting is told which
// once the wait began. It returns nil to drain again.
func (s *imapSession) wait(ctx context.Context, wake <-chan struct{}, due time.Time, waiting func(state string)) error {
	if s.caps.Has(imap.CapIdle) {
		return s.idle(ctx, wake, due, waiting)
	}
	return s.poll(ctx, wake, due, waiting)
}

// idle waits with IDLE. Ending IDLE is itself a check: the server must
// answer it within the check timeout.
func (s *imapSession) idle(ctx context.Context, wake <-chan struct{}, due time.Time, waiting func(string)) error {
	c := s.c
	var cmd *imapclient.IdleCommand
	if err := s.mb.guarded(c, "idle", func() (err error) { cmd, err = c.Idle(); return err }); err != nil {
		return err
	}
	waiting("idle")
	renew := time.NewTimer(min(time.Until(due), s.mb.cfg.IdleRestart))
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
	return s.mb.guardedFor(c, s.mb.checkTimeout(), "end idle", func() error {
		if err := cmd.Close(); err != nil {
			return err
		}
		return cmd.Wait()
	})
}

// poll waits for the poll interval on servers without IDLE, or until due.
// A NOOP keeps the connection checked and lets the server report new mail.
func (s *imapSession) poll(ctx context.Context, wake <-chan struct{}, due time.Time, waiting func(string)) error {
	waiting("polling")
	t := time.NewTimer(min(s.mb.cfg.PollInterval, time.Until(due)))
	defer t.Stop()
	select {
	case <-wake:
	case <-t.C:
	case <-ctx.Done():
		return nil
	case <-s.c.Closed():
		return errors.New("imap connection closed while polling")
	}
	return s.noop()
}

// search returns the UIDs at or above from, ascending.
func (s *imapSession) search(from imap.UID) ([]imap.UID, error) {
	c := s.c
	var uids []imap.UID
	err := s.mb.guarded(c, "search", func() error {
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

// fetch UID FETCHes uids and hands each message to take as it arrives;
// take returns nil to skip it (the rest of the response is discarded).
// A body is handed over as it starts to arrive, straight off the
// connection: the go-imap reader waits while it is read, so the target
// must not wait for anything that waits for this session. The error is
// the command's, as the server (or a broken connection) ended it.
func (s *imapSession) fetch(uids []imap.UID, take func() fetchTarget) error {
	c := s.c
	var set imap.UIDSet
	set.AddNum(uids...)
	wd := newWatchdog(c, s.mb.cfg.CommandTimeout)
	defer wd.stop()
	cmd := c.Fetch(set, &imap.FetchOptions{
		UID: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		wd.reset()
		s.answer()
		t := take()
		if t == nil {
			continue
		}
		var seen bool
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			var body imap.LiteralReader
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				t.uid(it.UID)
			case imapclient.FetchItemDataBodySection:
				body = it.Literal
			}
			if body != nil && !seen {
				seen = true
				// A large literal may legitimately take longer than one command.
				wd.extend(1 + body.Size()/(8<<20))
				if err := t.body(body); err != nil {
					s.awaitBroken()
				}
			}
		}
		t.end(!seen)
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	s.answer()
	return nil
}

func (s *imapSession) answer() {
	if s.mb.answered != nil {
		s.mb.answered()
	}
}

// awaitBroken waits, after a body broke off, until the client's reader has
// stopped: go-imap lets its reader go on once a literal ends, early or not,
// and the rest of an early-ended literal that it discards is then read from
// the same buffer at the same time. The connection is broken, so the reader
// stops soon; the watchdog's time is the backstop.
func (s *imapSession) awaitBroken() {
	t := time.NewTimer(s.mb.cfg.CommandTimeout)
	defer t.Stop()
	select {
	case <-s.c.Closed():
	case <-t.C:
	}
}

// filing is one committed mail to file: the folder of its outcome, and the
// keywords that record the outcome (journal.go).
type filing struct {
	uid    imap.UID
	folder string
	// keywords to set; unreject: drop a $MDRejected of an earlier refusal.
	keywords []imap.Flag
	unreject bool
}

// file files committed mail into the folders of their outcomes, one command
// per folder, having stamped their outcomes first: a crash between the two
// leaves a stamped mail in the inbox (handled again, changing nothing),
// never a filed mail without its outcome. filed are the UIDs it filed;
// left those it could not because someone else removed mail from the
// mailbox at the same time (moveSet): they stay in the mailbox, and the
// next check files those still there.
func (s *imapSession) file(fs []filing) (filed, left []imap.UID, err error) {
	if err := s.stamp(fs); err != nil {
		return nil, nil, err
	}
	byFolder := map[string][]imap.UID{}
	var order []string
	for _, f := range fs {
		if _, ok := byFolder[f.folder]; !ok {
			order = append(order, f.folder)
		}
		byFolder[f.folder] = append(byFolder[f.folder], f.uid)
	}
	for _, f := range order {
		var set imap.UIDSet
		set.AddNum(byFolder[f]...)
		moved, err := s.moveSet(set, f)
		if err != nil {
			return filed, left, err
		}
		if !moved {
			left = append(left, byFolder[f]...)
			continue
		}
		filed = append(filed, byFolder[f]...)
	}
	return filed, left, nil
}

// stamp sets the outcome keywords of committed mail before it moves: one
// STORE per keyword in use (at most the three kinds and the bits), not one
// per mail, where the mailbox keeps keywords.
func (s *imapSession) stamp(fs []filing) error {
	if !s.keywords || len(fs) == 0 {
		return nil
	}
	sets := map[imap.Flag][]imap.UID{}
	var unreject []imap.UID
	for _, f := range fs {
		if f.unreject {
			unreject = append(unreject, f.uid)
		}
		for _, k := range f.keywords {
			sets[k] = append(sets[k], f.uid)
		}
	}
	keys := make([]imap.Flag, 0, len(sets))
	for k := range sets {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	type store struct {
		uids []imap.UID
		op   imap.StoreFlagsOp
		flag imap.Flag
	}
	var stores []store
	if len(unreject) > 0 {
		stores = append(stores, store{unreject, imap.StoreFlagsDel, KeywordRejected})
	}
	for _, k := range keys {
		stores = append(stores, store{sets[k], imap.StoreFlagsAdd, k})
	}
	c := s.c
	// Pipelined: sent together, then each answer awaited, so that the
	// stamps cost about one round trip, not one per keyword.
	return s.mb.guarded(c, "store outcome keywords", func() error {
		cmds := make([]*imapclient.FetchCommand, len(stores))
		for i, st := range stores {
			var set imap.UIDSet
			set.AddNum(st.uids...)
			cmds[i] = c.Store(set, &imap.StoreFlags{Op: st.op, Silent: true, Flags: []imap.Flag{st.flag}}, nil)
		}
		var first error
		for i, cmd := range cmds {
			if err := cmd.Close(); err != nil && first == nil {
				first = fmt.Errorf("%s: %w", stores[i].flag, err)
			}
		}
		return first
	})
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
func (s *imapSession) moveSet(set imap.UIDSet, folder string) (bool, error) {
	c := s.c
	for attempt := 1; ; attempt++ {
		err := s.moveOnce(set, folder)
		if !expungeIssued(err) {
			return err == nil, err
		}
		if attempt == expungeRetries {
			s.mb.log.Warn("mail was removed from the mailbox while it was being filed, again and again: left in the mailbox for the next check",
				"folder", folder, "uids", set.String(), "attempts", attempt, "err", err)
			return false, nil
		}
		s.mb.log.Info("someone else removed mail from the mailbox while it was being filed: filing the rest",
			"folder", folder, "uids", set.String(), "err", err)
		if err := s.mb.guarded(c, "noop", func() error { return c.Noop().Wait() }); err != nil {
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
func (s *imapSession) moveOnce(set imap.UIDSet, folder string) error {
	c, mb := s.c, s.mb
	caps := c.Caps()
	if caps.Has(imap.CapMove) {
		return mb.guarded(c, "move to "+folder, func() error { _, err := c.Move(set, folder).Wait(); return err })
	}
	if err := mb.guarded(c, "copy to "+folder, func() error { _, err := c.Copy(set, folder).Wait(); return err }); err != nil {
		return err
	}
	if !caps.Has(imap.CapUIDPlus) {
		return mb.guarded(c, "flag seen", func() error {
			return c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
		})
	}
	if err := mb.guarded(c, "flag deleted", func() error {
		return c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	}); err != nil {
		return err
	}
	return mb.guarded(c, "expunge", func() error { return c.UIDExpunge(set).Close() })
}
