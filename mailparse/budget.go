package mailparse

// The work budget. Every parser path is meant to be linear in the mail's
// size (linear_test.go doubles a hostile input per path and checks the
// count), but one overlooked path costing minutes of CPU would hold up
// every mail behind it in the mailbox. So Parse meters what it does and
// gives up on a mail that costs more than its size allows: the mail is
// quarantined with the reason and the next one is read.
//
// A unit is about one byte handled by one pass: a line read, a byte
// decoded, a byte given to a regular expression or library call (weighted
// where those are markedly slower than a copy), one item of a list walked.
// The counts are deterministic, so the limit is a property of the input,
// never of how loaded the machine is.

import (
	"errors"
	"math"
)

// ErrTooComplex is returned by Parse for a mail whose parsing would take
// more work than Limits.WorkPerByte per byte allows.
var ErrTooComplex = errors.New("mailparse: mail too costly to parse")

const (
	// defaultWorkPerByte leaves room above every path: the 483 mails of
	// the test corpus cost 7 units per byte on average and 36 at most (a
	// deeply nested multipart), the hostile but linear inputs of
	// linear_test.go at most 47 (a header of one-letter lines), and
	// that test holds every case under half of this. A unit takes 0.3 to
	// 11 ns here (3 on average over the corpus), so a 1 MB mail is
	// stopped after at most about a second, where a quadratic path would
	// have taken minutes.
	defaultWorkPerByte = 128
	// workBase is what any mail may cost besides its bytes: small mails
	// still decode a header, walk a few parts and render their text.
	workBase = 1 << 20
)

// work counts units. A zero work counts without limit (the tests' meter);
// Parse's own has a limit that grows with the bytes read so far.
type work struct {
	used    int64
	perByte int64  // 0: no limit
	read    *int64 // raw bytes read so far, the base of the limit
	// room is the limit when last computed: the limit only grows, so
	// add need not compute it again until used passes room.
	room int64
}

// overBudget is the panic that unwinds a parse over its budget; Parse
// recovers it. A panic, because the loops that notice are deep inside
// decoders and library callbacks with no error path of their own.
type overBudget struct{}

// add counts n units and stops the parse when they exceed the budget.
// A nil work counts nothing (helpers called outside a parse).
func (w *work) add(n int) {
	if w == nil {
		return
	}
	w.used += int64(n)
	if w.used > w.room {
		w.recheck()
	}
}

func (w *work) recheck() {
	if w.perByte <= 0 {
		w.room = math.MaxInt64
		return
	}
	if w.room = w.limit(); w.used > w.room {
		panic(overBudget{})
	}
}

func (w *work) limit() int64 {
	var read int64
	if w.read != nil {
		read = *w.read
	}
	return w.perByte*read + workBase
}
