package ingest

import (
	"fmt"
	"io"
)

// notReadError is a mail whose body did not arrive whole: the connection
// broke or was closed in the middle of it. Nothing is decided about it; it
// stays in the mailbox and is fetched again.
type notReadError struct{ err error }

func (e *notReadError) Error() string { return "mail not read whole from the server: " + e.err.Error() }
func (e *notReadError) Unwrap() error { return e.err }

// literal reads a mail's body off the connection and tells whether all of
// it came: the library's literal reader ends early, without an error, when
// the server closes the connection in the middle of it. After the first
// error or end it reads no more (see awaitBroken).
type literal struct {
	r    io.Reader
	size int64
	n    int64
	end  error // the first error, io.EOF included
}

func (l *literal) Read(p []byte) (int, error) {
	if l.end != nil {
		return 0, l.end
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if err != nil {
		l.end = err
	}
	return n, err
}

// finish reads what the parser left of the body (the library would), and
// returns an error when the body did not come whole.
func (l *literal) finish() error {
	_, _ = io.Copy(io.Discard, l)
	switch {
	case l.end != nil && l.end != io.EOF:
		return l.end
	case l.n < l.size:
		return fmt.Errorf("%d of %d bytes: %w", l.n, l.size, io.ErrUnexpectedEOF)
	}
	return nil
}
