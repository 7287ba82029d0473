package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/maildesk/maildesk/address"
	"github.com/maildesk/maildesk/notify"
)

// Retention and erasure delete original mails from the desk's archive
// folders. Only the mails meant go: they are found by search, checked
// against their envelope (a header search matches substrings), flagged
// \Deleted and expunged by UID (UIDPLUS), so that nobody else's \Deleted
// mail goes with them. The inbox is never touched: what waits there has
// not been handled yet.

// ErrNoUIDPlus: the server cannot expunge single mails, so nothing is
// deleted (EXPUNGE would take every \Deleted mail of the folder).
var ErrNoUIDPlus = errors.New("the IMAP server lacks UIDPLUS (UID EXPUNGE): no mail deleted")

// purgeBatch is how many Message-IDs one search asks for.
const purgeBatch = 16

// PurgeMessageIDs deletes the mails with these Message-IDs (without
// brackets) from the processed and rejected folders and reports how many
// it deleted. A Message-ID no folder has is no error: it was deleted
// before, or never filed.
func (mb *Mailbox) PurgeMessageIDs(ctx context.Context, ids []string) (int, error) {
	want := map[string]bool{}
	for _, id := range ids {
		if id = strings.Trim(strings.TrimSpace(id), "<>"); id != "" {
			want[id] = true
		}
	}
	if len(want) == 0 {
		return 0, nil
	}
	list := make([]string, 0, len(want))
	for id := range want {
		list = append(list, id)
	}
	slices.Sort(list)
	var searches []*imap.SearchCriteria
	for b := range slices.Chunk(list, purgeBatch) {
		cs := make([]imap.SearchCriteria, len(b))
		for i, id := range b {
			cs[i] = imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: id}}}
		}
		searches = append(searches, anyOf(cs))
	}
	match := func(e *imap.Envelope) bool { return e != nil && want[e.MessageID] }
	return mb.purge(ctx, []string{mb.cfg.Processed, mb.cfg.Rejected}, searches, match, false)
}

// PurgeFrom deletes the mails from addr in the processed, rejected and
// quarantine folders, and the desk's copies of the mail it sent them in
// the sent folder (erasure of a person); dry only counts them. The copies
// go too because they hold the person's data, and because the erasure
// removes their delivery records: a copy left behind would make the
// mailbox journal find Redis behind and write those records back.
func (mb *Mailbox) PurgeFrom(ctx context.Context, addr string, dry bool) (int, error) {
	want, err := address.Normalise(addr)
	if err != nil {
		return 0, fmt.Errorf("delete mails from %q: %w", addr, err)
	}
	is := func(as []imap.Address) bool {
		for _, a := range as {
			if got, err := address.Normalise(a.Addr()); err == nil && got == want {
				return true
			}
		}
		return false
	}
	// The header says the address as the sender wrote it: an
	// international domain in ASCII or in Unicode (address.Spellings).
	search := func(header string) *imap.SearchCriteria {
		var cs []imap.SearchCriteria
		for _, s := range address.Spellings(want) {
			cs = append(cs, imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: header, Value: s}}})
		}
		return anyOf(cs)
	}
	n, err := mb.purge(ctx, []string{mb.cfg.Processed, mb.cfg.Rejected, mb.cfg.Quarantine}, []*imap.SearchCriteria{search("From")},
		func(e *imap.Envelope) bool { return e != nil && is(e.From) }, dry)
	if err != nil || mb.cfg.Sent == "" {
		return n, err
	}
	sent, err := mb.purge(ctx, []string{mb.cfg.Sent}, []*imap.SearchCriteria{search("To")},
		func(e *imap.Envelope) bool { return e != nil && is(e.To) }, dry)
	return n + sent, err
}

// PurgeRejectedBefore deletes the refused mails that reached the server
// before t from the rejected folder: they go with their rejection records
// (authz.rejection_retention). dry only counts them.
func (mb *Mailbox) PurgeRejectedBefore(ctx context.Context, t time.Time, dry bool) (int, error) {
	// SEARCH BEFORE has day precision (the server's dates): the day of t
	// itself is left for the next run.
	search := &imap.SearchCriteria{Before: t}
	return mb.purge(ctx, []string{mb.cfg.Rejected}, []*imap.SearchCriteria{search}, func(e *imap.Envelope) bool { return e != nil }, dry)
}

// PurgeQuarantinedBefore deletes the mails that reached the server before
// t from the quarantine folder (retention.quarantine): mail the desk could
// not read, which an operator had that long to look at. dry only counts
// them.
func (mb *Mailbox) PurgeQuarantinedBefore(ctx context.Context, t time.Time, dry bool) (int, error) {
	search := &imap.SearchCriteria{Before: t}
	return mb.purge(ctx, []string{mb.cfg.Quarantine}, []*imap.SearchCriteria{search}, func(e *imap.Envelope) bool { return e != nil }, dry)
}

// PurgeSentBefore deletes the desk's copies of the mail it sent that
// reached the sent folder before t (retention.sent); dry only counts them.
// Only the desk's copies go: a copy carries its outbox id.
func (mb *Mailbox) PurgeSentBefore(ctx context.Context, t time.Time, dry bool) (int, error) {
	if mb.cfg.Sent == "" {
		return 0, nil
	}
	// SEARCH BEFORE counts whole days in the server's time zone: a day
	// earlier keeps every copy younger than t, whatever the zone.
	search := &imap.SearchCriteria{Before: t.Add(-24 * time.Hour), Header: []imap.SearchCriteriaHeaderField{{Key: notify.TraceHeaderID, Value: ""}}}
	// The folder may be shared with people's own sent mail, and a server
	// that ignored the HEADER criterion would find all of it: each mail's
	// field is read back before it goes.
	return mb.purgeWith(ctx, []string{mb.cfg.Sent}, []*imap.SearchCriteria{search}, notify.TraceHeaderID,
		func(e *imap.Envelope, field []byte) bool { return e != nil && len(bytes.TrimSpace(field)) > 0 }, dry)
}

// anyOf is an OR of cs as a balanced tree: servers limit the nesting.
func anyOf(cs []imap.SearchCriteria) *imap.SearchCriteria {
	if len(cs) == 1 {
		return &cs[0]
	}
	half := len(cs) / 2
	return &imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{*anyOf(cs[:half]), *anyOf(cs[half:])}}}
}

// purge deletes (or with dry counts) the mails of folders that a search
// finds and whose envelope match accepts.
func (mb *Mailbox) purge(ctx context.Context, folders []string, searches []*imap.SearchCriteria, match func(*imap.Envelope) bool, dry bool) (int, error) {
	return mb.purgeWith(ctx, folders, searches, "", func(e *imap.Envelope, _ []byte) bool { return match(e) }, dry)
}

// purgeWith is purge whose match also sees the header field named field
// ("": none), as the server returns it (name and value; empty when the
// mail has none).
func (mb *Mailbox) purgeWith(ctx context.Context, folders []string, searches []*imap.SearchCriteria, field string, match func(*imap.Envelope, []byte) bool, dry bool) (int, error) {
	c, err := mb.connect(ctx, make(chan struct{}, 1))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if !dry && !c.Caps().Has(imap.CapUIDPlus) && !c.Caps().Has(imap.CapIMAP4rev2) {
		return 0, ErrNoUIDPlus
	}
	n := 0
	seen := map[string]bool{}
	for _, f := range folders {
		if f == "" || seen[f] || f == mb.cfg.Mailbox {
			continue
		}
		seen[f] = true
		if err := mb.guarded(c, "select "+f, func() error {
			_, err := c.Select(f, &imap.SelectOptions{ReadOnly: dry}).Wait()
			return err
		}); err != nil {
			var ierr *imap.Error
			if errors.As(err, &ierr) {
				continue // folder missing: nothing filed there
			}
			return n, err
		}
		for _, sc := range searches {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			var uids []imap.UID
			if err := mb.guarded(c, "search "+f, func() error {
				data, err := c.UIDSearch(sc, nil).Wait()
				if err != nil {
					return err
				}
				uids = data.AllUIDs()
				return nil
			}); err != nil {
				return n, err
			}
			if len(uids) == 0 {
				continue
			}
			hits, err := mb.matching(c, f, uids, field, match)
			if err != nil {
				return n, err
			}
			if len(hits) == 0 {
				continue
			}
			if !dry {
				var set imap.UIDSet
				set.AddNum(hits...)
				if err := mb.guarded(c, "flag deleted in "+f, func() error {
					return c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
				}); err != nil {
					return n, err
				}
				if err := mb.guarded(c, "expunge in "+f, func() error { return c.UIDExpunge(set).Close() }); err != nil {
					return n, err
				}
			}
			n += len(hits)
		}
	}
	return n, nil
}

// matching returns the uids whose envelope (and header field, when
// field is not "") match accepts.
func (mb *Mailbox) matching(c *imapclient.Client, folder string, uids []imap.UID, field string, match func(*imap.Envelope, []byte) bool) ([]imap.UID, error) {
	var hits []imap.UID
	opts := &imap.FetchOptions{UID: true, Envelope: true}
	var section *imap.FetchItemBodySection
	if field != "" {
		section = &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{field}, Peek: true}
		opts.BodySection = []*imap.FetchItemBodySection{section}
	}
	for chunk := range slices.Chunk(uids, 500) {
		var set imap.UIDSet
		set.AddNum(chunk...)
		if err := mb.guarded(c, "fetch envelopes in "+folder, func() error {
			msgs, err := c.Fetch(set, opts).Collect()
			if err != nil {
				return err
			}
			for _, m := range msgs {
				var value []byte
				if section != nil {
					// The server sends the field's line (or nothing) and a
					// blank line: what follows the colon is the value.
					if _, v, ok := bytes.Cut(m.FindBodySection(section), []byte(":")); ok {
						value = v
					}
				}
				if match(m.Envelope, value) {
					hits = append(hits, m.UID)
				}
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return hits, nil
}
