package mailparse

import (
	"errors"
	"fmt"
	"io"
)

// ErrNoSuchPart: the mail has no attachment at the part asked for (the
// mail is not the one the part was recorded from, or the part is its text).
var ErrNoSuchPart = errors.New("the mail has no such attachment")

// extraction is an ExtractPart in progress.
type extraction struct {
	part int
	out  io.Writer
	node *node // the leaf, once met
	err  error // out's first write error
}

// ExtractPart streams the decoded content of the attachment at part
// (Attachment.Part) of the mail read from r to out, while parsing the mail
// as Parse does: it holds no more of it in memory than Parse, whatever the
// attachment's size. Parsed with the Limits the mail was first parsed with,
// the parts are the same ones.
//
// It returns the attachment as Parse lists it. The content has gone to
// out by then: ErrNoSuchPart says that part was no attachment after all
// (the mail's text, or no such part), so a caller streaming to a reader
// checks the part against the list it recorded before, and the returned
// SHA256 against the recorded one after.
func ExtractPart(r io.Reader, lim Limits, part int, out io.Writer) (Attachment, error) {
	if part < 1 {
		return Attachment{}, fmt.Errorf("extract part %d: %w", part, ErrNoSuchPart)
	}
	x := &extraction{part: part, out: out}
	m, err := parseExtract(r, lim, x)
	if err != nil {
		return Attachment{}, fmt.Errorf("extract part %d: %w", part, err)
	}
	if x.err != nil {
		return Attachment{}, fmt.Errorf("extract part %d: writing it: %w", part, x.err)
	}
	for _, a := range m.Attachments {
		if a.Part == part {
			return a, nil
		}
	}
	return Attachment{}, fmt.Errorf("extract part %d: %w", part, ErrNoSuchPart)
}
