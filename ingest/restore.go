package ingest

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/maildesk/maildesk/ticket"
)

// Replaying a mail of the journal (repair.go): the mail goes through the
// pipeline again, as of when it arrived, to re-create in Redis what it had
// made: its ticket under the number its keywords record, its follow-up, or
// its refusal. What it would do differently now (a sender no longer
// authorised, a reply that would start a new ticket) is not done: the
// replay reports it instead (NotReplayedError).

// restore is what the journal recorded of a replayed mail.
type restore struct {
	kind    entryKind
	seq     int64
	arrival time.Time
}

// number is the ticket number to re-create the ticket under; 0 for new mail.
func (r *restore) number() int64 {
	if r == nil || r.kind != entryTicket {
		return 0
	}
	return r.seq
}

// mayThread: new mail is threaded; of replayed mail only a recorded
// follow-up, so that a mail that made a ticket (or was refused) makes it
// again rather than join one.
func (r *restore) mayThread() bool { return r == nil || r.kind == entryFollowUp }

// NotReplayedError is a journal mail that the pipeline would now judge
// otherwise than it was: nothing of it is committed.
type NotReplayedError struct{ Reason string }

func (e *NotReplayedError) Error() string { return "not replayed: " + e.Reason }

func notReplayed(reason string) error { return &NotReplayedError{Reason: reason} }

// IsNotReplayed reports whether err is a NotReplayedError.
func IsNotReplayed(err error) bool {
	var nr *NotReplayedError
	return errors.As(err, &nr)
}

// replay commits again the outcome recorded for the mail raw. A mail over
// the size limit is read as the watcher reads it: its head only.
func (p *Pipeline) replay(ctx context.Context, raw []byte, src ticket.Source, rec restore) (Result, error) {
	var rm *ReadMail
	if size := int64(len(raw)); p.Limits.MaxSize > 0 && size > p.Limits.MaxSize {
		rm = p.ReadHead(bytes.NewReader(raw), size, p.Limits.MaxSize, src)
	} else {
		rm = p.Read(bytes.NewReader(raw), src)
	}
	rm.restore = &rec
	return p.Decide(ctx, rm, nil)
}
