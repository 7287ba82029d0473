package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildesk/maildesk/mailparse"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// Repair compares Redis with the mailbox journal and restores what Redis
// lost, in this order, so that nothing is sent twice:
//
//  1. the ticket sequence is raised above every number the journal (and
//     this process) knows was given;
//  2. the delivery records of the mail the trace folder shows as sent are
//     put back, with the notice records of strangers noticed and the
//     Message-IDs replies thread by: a notification queued again below
//     is then finished without being sent;
//  3. each ticket mail Redis lacks is replayed through the pipeline as of
//     its arrival and re-creates its ticket under its recorded number, as
//     does a mail still in the inbox whose acknowledgement the trace shows
//     as sent (its number is known to its contact);
//  4. refusals and follow-ups are replayed in the order they arrived;
//  5. tickets whose acknowledgement was sent are marked acknowledged.

// RepairPlan is what Redis lacks of the journal, and what a repair does.
type RepairPlan struct {
	// Sequence is Redis's ticket sequence; Highest the highest number found
	// in the journal (or given by this process); RaiseTo what the sequence
	// is raised to (0: it is high enough).
	Sequence, Highest, RaiseTo int64
	// What Redis lacks: mails that made tickets, follow-ups, refusals,
	// delivery records of mail sent, and tickets whose acknowledgement
	// went out while their mail is still in the inbox (Orphans).
	Tickets, FollowUps, Rejections, Sent, Orphans []entry
	// Conflicts are journal entries Redis has otherwise (a mail under
	// another number): not repaired, for an operator to look at.
	Conflicts []string
	// Scanned is how many journal entries were compared.
	Scanned int
	prefix  string
}

// Behind reports whether Redis lacks anything of the journal.
func (p *RepairPlan) Behind() bool {
	return p.RaiseTo > 0 || p.Missing() > 0
}

// Missing is the number of journal entries Redis lacks.
func (p *RepairPlan) Missing() int {
	return len(p.Tickets) + len(p.FollowUps) + len(p.Rejections) + len(p.Sent) + len(p.Orphans)
}

// Summary is one line about the plan.
func (p *RepairPlan) Summary() string {
	if !p.Behind() {
		return fmt.Sprintf("Redis is in step with the mailbox journal (sequence %d, highest number in the mailbox %d, %d entries compared)",
			p.Sequence, p.Highest, p.Scanned)
	}
	return fmt.Sprintf("Redis is behind the mailbox journal: sequence %d, highest number given %d; missing %d tickets, %d follow-ups, %d refusals, %d delivery records, %d tickets of acknowledged mail in the inbox (%d entries compared)",
		p.Sequence, p.Highest, len(p.Tickets), len(p.FollowUps), len(p.Rejections), len(p.Sent), len(p.Orphans), p.Scanned)
}

// Steps lists the plan's actions, one line each, in the order Run takes them.
func (p *RepairPlan) Steps() []string {
	var out []string
	if p.RaiseTo > 0 {
		out = append(out, fmt.Sprintf("raise the ticket sequence from %d to %d", p.Sequence, p.RaiseTo))
	}
	for _, e := range p.Sent {
		what := "restore the delivery record: "
		if e.Uncertain {
			what = "restore the uncertain delivery (not sent again by itself): "
		}
		out = append(out, what+e.describe(p.prefix))
	}
	for _, e := range p.Tickets {
		out = append(out, "re-create the ticket: "+e.describe(p.prefix))
	}
	for _, e := range p.Orphans {
		out = append(out, fmt.Sprintf("re-create %s from its mail <%s> in the inbox (its acknowledgement was sent)",
			e.Sent.Ticket, notify.SafeLine(e.Sent.InReplyTo)))
	}
	for _, e := range p.replayOrder() {
		out = append(out, "replay: "+e.describe(p.prefix))
	}
	for _, c := range p.Conflicts {
		out = append(out, "NOT repaired (conflict): "+c)
	}
	return out
}

// replayOrder are the refusals and follow-ups in the order they arrived.
func (p *RepairPlan) replayOrder() []entry {
	out := append(slices.Clone(p.Rejections), p.FollowUps...)
	slices.SortStableFunc(out, func(a, b entry) int {
		return cmp.Or(a.Arrived.Compare(b.Arrived), cmp.Compare(a.UID, b.UID))
	})
	return out
}

// RepairResult is what Run did.
type RepairResult struct {
	Tickets, FollowUps, Rejections, Sent int
	// NotReplayed are the mails left as they are, and why.
	NotReplayed []string
}

func (r RepairResult) String() string {
	return fmt.Sprintf("re-created %d tickets, %d follow-ups, %d refusals; restored %d delivery records; %d not replayed",
		r.Tickets, r.FollowUps, r.Rejections, r.Sent, len(r.NotReplayed))
}

// journalFolders are the folders of the journal, in the order scanned.
func (j *Journal) journalFolders() []string {
	return []string{j.cfg.Mailbox.Mailbox, j.cfg.Mailbox.Processed, j.cfg.Mailbox.Rejected, j.cfg.Mailbox.Quarantine, j.cfg.Sent}
}

// plan scans the journal (the newest Window mails of each folder, or with
// since those that arrived since) and compares it with Redis. A folder whose
// oldest scanned entry Redis lacks too is scanned whole: the loss may reach
// further back than the window.
func (j *Journal) plan(ctx context.Context, c *imapclient.Client, since time.Time) (*RepairPlan, error) {
	p := &RepairPlan{prefix: j.pipe.TicketPrefix}
	var have []*imap.ListData
	if err := j.mb.guarded(c, "list folders", func() (err error) {
		have, err = c.List("", "*", nil).Collect()
		return err
	}); err != nil {
		return nil, err
	}
	var all []entry
	for _, f := range j.journalFolders() {
		// A folder not made yet (the watcher makes them) has no entries.
		if !slices.ContainsFunc(have, func(l *imap.ListData) bool { return strings.EqualFold(l.Mailbox, f) }) {
			continue
		}
		es, validity, err := j.scan(c, f, j.cfg.Window, since)
		if err != nil {
			return nil, err
		}
		if since.IsZero() && j.cfg.Window > 0 && len(es) > 0 {
			known, err := j.known(ctx, es[:1])
			if err != nil {
				return nil, err
			}
			if !known[0] {
				if es, validity, err = j.scan(c, f, 0, time.Time{}); err != nil {
					return nil, err
				}
			}
		}
		for i := range es {
			es[i].validity = validity
		}
		all = append(all, es...)
	}
	p.Scanned = len(all)
	known, err := j.known(ctx, all)
	if err != nil {
		return nil, err
	}
	seqs := map[int64]bool{}
	for i, e := range all {
		p.Highest = max(p.Highest, e.Seq)
		if e.Kind == entryTicket {
			seqs[e.Seq] = true
		}
		if known[i] {
			continue
		}
		if e.Kind != entrySent && j.wasReplayed(e) {
			// Replayed before and still not known (a mail the pipeline
			// now judges otherwise): reported then, not held for.
			continue
		}
		if e.conflict != "" {
			p.Conflicts = append(p.Conflicts, e.conflict)
			continue
		}
		switch e.Kind {
		case entryTicket:
			p.Tickets = append(p.Tickets, e)
		case entryFollowUp:
			p.FollowUps = append(p.FollowUps, e)
		case entryRejected:
			p.Rejections = append(p.Rejections, e)
		case entrySent:
			p.Sent = append(p.Sent, e)
		}
	}
	// An acknowledgement sent for a ticket Redis lacks and no filed mail
	// carries: its mail was committed and answered, not yet filed.
	var acked []entry
	for _, e := range all {
		if e.Kind == entrySent && e.Sent.Kind == notify.Ack && e.Seq > 0 && !seqs[e.Seq] && e.Sent.InReplyTo != "" {
			acked = append(acked, e)
		}
	}
	if len(acked) > 0 {
		numbers := make([]string, len(acked))
		for i, e := range acked {
			numbers[i] = j.store.Number(e.Seq)
		}
		exist, err := j.store.Exist(ctx, numbers)
		if err != nil {
			return nil, err
		}
		for i, e := range acked {
			if !exist[i] {
				p.Orphans = append(p.Orphans, e)
				seqs[e.Seq] = true
			}
		}
	}
	slices.SortFunc(p.Tickets, func(a, b entry) int { return cmp.Compare(a.Seq, b.Seq) })
	if p.Sequence, err = j.store.Sequence(ctx); err != nil {
		return nil, err
	}
	if want := max(p.Highest, j.Floor()); p.Sequence < want {
		p.Highest, p.RaiseTo = want, want
	}
	return p, nil
}

// scan is scanFolder with the dedupe keys of the entries filled in: a mail
// without a Message-ID is keyed by the hash of its content, for which it is
// read whole. A folder that does not exist yet has no entries.
func (j *Journal) scan(c *imapclient.Client, folder string, window int, since time.Time) ([]entry, uint32, error) {
	es, validity, err := scanFolder(c, j.mb, folder, window, since, j.pipe.TicketPrefix)
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Code == imap.ResponseCodeNonExistent {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	for i := range es {
		e := &es[i]
		switch {
		case e.Kind == entrySent:
		case e.MessageID != "":
			e.dedupe = e.MessageID
		case folder == j.cfg.Mailbox.Quarantine:
			// A mail too large to read is keyed by its head alone: without
			// a Message-ID it is not compared.
			e.Kind = entryNone
		default:
			raw, err := j.fetchRaw(c, e.UID)
			if err != nil {
				return nil, 0, err
			}
			msg, err := mailparse.Parse(strings.NewReader(string(raw)), j.pipe.Limits)
			if err != nil {
				// Unreadable mail is never committed (quarantined): a person
				// stamped it, or it changed; nothing to compare.
				e.Kind = entryNone
				continue
			}
			e.dedupe = "sha256:" + msg.ContentHash
		}
	}
	es = slices.DeleteFunc(es, func(e entry) bool { return e.Kind == entryNone })
	return es, validity, nil
}

// known reports, for each entry, whether Redis has it. An entry Redis has
// otherwise gets its conflict set.
func (j *Journal) known(ctx context.Context, es []entry) ([]bool, error) {
	out := make([]bool, len(es))
	var keys, ids []string
	var keyAt, idAt []int
	var uncertain []bool
	horizon := time.Now().Add(-notify.DeliveryRecordAge + time.Hour)
	retention := time.Now().Add(-j.cfg.RejectionRetention + time.Hour)
	for i, e := range es {
		switch e.Kind {
		case entrySent:
			if e.SentAt.Before(horizon) {
				out[i] = true // the record would have expired by now
				continue
			}
			ids, idAt, uncertain = append(ids, e.Sent.ID), append(idAt, i), append(uncertain, e.Uncertain)
		case entryRejected:
			if j.cfg.RejectionRetention > 0 && e.Arrived.Before(retention) {
				out[i] = true
				continue
			}
			keys, keyAt = append(keys, rejectionKey(e.dedupe)), append(keyAt, i)
		default:
			keys, keyAt = append(keys, e.dedupe), append(keyAt, i)
		}
	}
	recs, err := j.store.Lookup(ctx, keys)
	if err != nil {
		return nil, err
	}
	for k, r := range recs {
		i := keyAt[k]
		e := &es[i]
		switch e.Kind {
		case entryRejected:
			// A refused mail that later made a ticket is known too.
			out[i] = r.Rejected || r.Number != ""
		default:
			want := j.store.Number(e.Seq)
			switch {
			case strings.EqualFold(r.Number, want):
				out[i] = true
			case r.Number != "":
				e.conflict = fmt.Sprintf("%s: Redis has it as %s", e.describe(j.pipe.TicketPrefix), r.Number)
			}
		}
	}
	sent, err := j.outbox.Delivered(ctx, ids, uncertain)
	if err != nil {
		return nil, err
	}
	for k, ok := range sent {
		out[idAt[k]] = ok
	}
	return out, nil
}

// fetchRaw reads one mail of the selected folder whole.
func (j *Journal) fetchRaw(c *imapclient.Client, uid imap.UID) ([]byte, error) {
	var raw []byte
	err := j.mb.guarded(c, fmt.Sprintf("fetch uid %d", uid), func() error {
		msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
			UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
		}).Collect()
		if err != nil {
			return err
		}
		for _, m := range msgs {
			for _, b := range m.BodySection {
				raw = b.Bytes
			}
		}
		return nil
	})
	if err == nil && raw == nil {
		err = fmt.Errorf("mail uid %d is gone", uid)
	}
	return raw, err
}

// run carries out plan p on the connection c.
func (j *Journal) run(ctx context.Context, c *imapclient.Client, p *RepairPlan) (RepairResult, error) {
	var res RepairResult
	log := j.log
	if p.RaiseTo > 0 {
		if _, err := j.store.RaiseSequence(ctx, p.RaiseTo); err != nil {
			return res, err
		}
		log.Warn("journal repair: ticket sequence raised", "from", p.Sequence, "to", p.RaiseTo)
	}
	j.raise(p.Highest)
	// 2. What was sent, before anything is queued again.
	for _, e := range p.Sent {
		if e.Uncertain {
			// It may have gone out: waits for an operator (or the one
			// automatic resend) as before the loss; a notice counts as given.
			if err := j.outbox.RestoreUncertain(ctx, e.Sent, e.SentAt); err != nil {
				return res, err
			}
		} else if err := j.outbox.RestoreDelivered(ctx, e.Sent, e.SentAt); err != nil {
			return res, err
		}
		if e.Sent.Kind.IsNotice() && e.Sent.Kind != notify.TooLarge {
			if err := j.store.RestoreNotice(ctx, e.Sent.To, e.SentAt); err != nil {
				return res, err
			}
		}
		if e.Sent.Ticket != "" && e.MessageID != "" && !e.Uncertain {
			if err := j.store.RecordSent(ctx, e.MessageID, e.Sent.Ticket); err != nil {
				return res, err
			}
		}
		res.Sent++
	}
	// 3. Tickets under their numbers.
	replay := func(e entry, kind entryKind, seq int64) error {
		if err := j.selectFolder(c, e.Folder); err != nil {
			return err
		}
		raw, err := j.fetchRaw(c, e.UID)
		if err != nil {
			return err
		}
		src := ticket.Source{Mailbox: e.Folder, UIDValidity: e.validity, UID: uint32(e.UID)}
		r, err := j.pipe.replay(ctx, raw, src, restore{kind: kind, seq: seq, arrival: e.Arrived})
		// Whatever it did, it is not replayed again by this process: an
		// entry that a replay cannot make known must not hold the desk.
		j.replayed(e)
		switch {
		case IsNotReplayed(err), errors.Is(err, ticket.ErrNumberTaken):
			res.NotReplayed = append(res.NotReplayed, e.describe(j.pipe.TicketPrefix)+": "+err.Error())
			log.Warn("journal repair: mail not replayed", "folder", e.Folder, "uid", e.UID, "message_id", e.MessageID, "reason", err)
			return nil
		case err != nil:
			return err
		}
		switch kind {
		case entryTicket:
			res.Tickets++
			log.Info("journal repair: ticket re-created", "ticket", r.Ticket, "message_id", r.MessageID, "created", !r.Replay)
		case entryFollowUp:
			res.FollowUps++
		case entryRejected:
			res.Rejections++
		}
		return nil
	}
	for _, e := range p.Tickets {
		if err := replay(e, entryTicket, e.Seq); err != nil {
			return res, err
		}
	}
	for _, e := range p.Orphans {
		found, ok, err := j.findMail(c, e.Sent.InReplyTo)
		if err != nil {
			return res, err
		}
		if !ok {
			res.NotReplayed = append(res.NotReplayed, fmt.Sprintf("%s: its mail <%s> is in no folder", e.Sent.Ticket, notify.SafeLine(e.Sent.InReplyTo)))
			continue
		}
		if err := replay(found, entryTicket, e.Seq); err != nil {
			return res, err
		}
	}
	// 4. Refusals and follow-ups.
	for _, e := range p.replayOrder() {
		if err := replay(e, e.Kind, e.Seq); err != nil {
			return res, err
		}
	}
	// 5. Acknowledged as of when the acknowledgement went out.
	for _, e := range p.Sent {
		if e.Sent.Kind != notify.Ack || e.Sent.Ticket == "" || e.Uncertain {
			continue
		}
		if err := j.store.MarkAcknowledged(ctx, e.Sent.Ticket, e.SentAt); err != nil && !errors.Is(err, ticket.ErrNotFound) {
			return res, err
		}
	}
	return res, nil
}

// findMail looks for the mail with Message-ID id in the inbox, then in the
// processed folder.
func (j *Journal) findMail(c *imapclient.Client, id string) (entry, bool, error) {
	for _, f := range []string{j.cfg.Mailbox.Mailbox, j.cfg.Mailbox.Processed} {
		if err := j.selectFolder(c, f); err != nil {
			return entry{}, false, err
		}
		var uids []imap.UID
		if err := j.mb.guarded(c, "search "+f, func() error {
			data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-Id", Value: id}}}, nil).Wait()
			if err != nil {
				return err
			}
			uids = data.AllUIDs()
			return nil
		}); err != nil {
			return entry{}, false, err
		}
		for _, u := range uids {
			es, err := j.fetchEntry(c, f, u)
			if err != nil {
				return entry{}, false, err
			}
			// A substring search: check the id itself.
			if es.MessageID == id {
				return es, true, nil
			}
		}
	}
	return entry{}, false, nil
}

// fetchEntry reads one mail's journal fields from the selected folder f.
func (j *Journal) fetchEntry(c *imapclient.Client, f string, uid imap.UID) (entry, error) {
	var e entry
	err := j.mb.guarded(c, "fetch "+f, func() error {
		msgs, err := c.Fetch(imap.UIDSetNum(uid), journalFetch).Collect()
		if err != nil || len(msgs) == 0 {
			return err
		}
		m := msgs[0]
		e = entry{Folder: f, UID: m.UID, Arrived: m.InternalDate}
		for _, b := range m.BodySection {
			e.MessageID = journalMessageID(parseJournalHeader(b.Bytes).Get("Message-Id"))
		}
		return nil
	})
	return e, err
}

// selectFolder opens f read-only (the journal never changes mail).
func (j *Journal) selectFolder(c *imapclient.Client, f string) error {
	return j.mb.guarded(c, "examine "+f, func() error {
		_, err := c.Select(f, &imap.SelectOptions{ReadOnly: true}).Wait()
		return err
	})
}
