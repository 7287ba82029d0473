package ticket

import (
	"errors"

	"github.com/maildesk/maildesk/internal/rediserr"
)

// The codes ticket's scripts answer with, as redis.error_reply('CODE
// detail'): the first word, as Redis words its own (rediserr). A script
// always gives a detail, for Redis takes a lone word for a message and
// makes it "ERR word".
const (
	codeNoTicket = "NOTICKET" // detail: the number; the ticket does not exist
	codeNoRecord = "NORECORD" // detail: the record's id (timevoid.lua)
	codeConflict = "CONFLICT" // detail: the status the ticket has now (change.lua)
	codeBehind   = "BEHIND"   // detail: the sequence and the floor (commit.lua)
	codeTaken    = "TAKEN"    // detail: the number and whose it is (commit.lua)
)

// scriptCodes are the typed errors the codes stand for.
var scriptCodes = map[string]error{
	codeNoTicket: ErrNotFound,
	codeNoRecord: ErrNoRecord,
	codeConflict: ErrConflict,
	codeBehind:   ErrBehind,
	codeTaken:    ErrNumberTaken,
}

// scriptError is a ticket script's error reply decoded: errors.Is finds
// the typed error of its code.
type scriptError struct {
	err    error  // ErrNotFound, ErrConflict, ...
	detail string // what the script said after the code
}

func (e *scriptError) Error() string { return e.err.Error() + ": " + e.detail }
func (e *scriptError) Unwrap() error { return e.err }

// scriptErr decodes the error of a script run: a reply with one of the
// codes above becomes its typed error (with the detail), anything else (a
// network failure, Redis's own replies) is returned as it is.
func scriptErr(err error) error {
	code, detail, ok := rediserr.Code(err)
	if typed, known := scriptCodes[code]; ok && known {
		return &scriptError{err: typed, detail: detail}
	}
	return err
}

// scriptDetail is what the script said after its code, "" for an error
// that is no script's reply.
func scriptDetail(err error) string {
	var e *scriptError
	if errors.As(err, &e) {
		return e.detail
	}
	return ""
}
