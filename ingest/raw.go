package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildesk/maildesk/ticket"
)

// ErrRawNotFound: the original mail is in none of the desk's folders (it
// was deleted or moved elsewhere by a person).
var ErrRawNotFound = errors.New("original mail not found in the desk's folders")

// Raw copies the original of a mail to out, as the server has it. Redis
// keeps no mail, so this is how a ticket's original is looked at. The mail
// is found by its Message-ID in the folders it can have been filed to (UIDs
// change when mail moves); a mail without Message-ID by its recorded UID.
func (mb *Mailbox) Raw(ctx context.Context, src ticket.Source, messageID string, out io.Writer) error {
	c, err := mb.connect(ctx, make(chan struct{}, 1))
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	folders := []string{mb.cfg.Processed, mb.cfg.Mailbox, mb.cfg.Rejected, mb.cfg.Quarantine}
	for _, f := range folders {
		var sel *imap.SelectData
		if err := mb.guarded(c, "examine "+f, func() (err error) {
			sel, err = c.Select(f, &imap.SelectOptions{ReadOnly: true}).Wait()
			return err
		}); err != nil {
			var ierr *imap.Error
			if errors.As(err, &ierr) {
				continue // folder missing
			}
			return err
		}
		var uids []imap.UID
		switch {
		case messageID != "":
			if err := mb.guarded(c, "search "+f, func() error {
				data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: messageID}}}, nil).Wait()
				if err != nil {
					return err
				}
				uids = data.AllUIDs()
				return nil
			}); err != nil {
				return err
			}
		case f == src.Mailbox && sel.UIDValidity == src.UIDValidity && src.UID != 0:
			uids = []imap.UID{imap.UID(src.UID)}
		}
		if len(uids) == 0 {
			continue
		}
		found, err := mb.copyRaw(c, uids[0], out)
		if err != nil {
			return fmt.Errorf("read original from %s: %w", f, err)
		}
		if found {
			return nil
		}
	}
	return ErrRawNotFound
}

func (mb *Mailbox) copyRaw(c *imapclient.Client, uid imap.UID, out io.Writer) (bool, error) {
	wd := newWatchdog(c, mb.cfg.CommandTimeout)
	defer wd.stop()
	cmd := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	found := false
	var werr error
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		for item := msg.Next(); item != nil; item = msg.Next() {
			if b, ok := item.(imapclient.FetchItemDataBodySection); ok && b.Literal != nil && !found {
				found = true
				wd.extend(1 + b.Literal.Size()/(8<<20))
				_, werr = io.Copy(out, b.Literal)
			}
		}
	}
	if err := cmd.Close(); err != nil {
		return false, err
	}
	return found, werr
}
