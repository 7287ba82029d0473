package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildesk/maildesk/mailparse"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// The mailbox is the journal (issue 16): a filed mail carries its outcome
// in IMAP keywords, set before it is moved out of the inbox (MOVE keeps a
// message's flags), so that a mail in Processed or Rejected always says
// what became of it, whatever Redis later forgets.
//
//   - $MDTicket: the mail made a ticket; $MDFollowUp: it was recorded on
//     one (a reply, a bounce of the desk's mail, an agent's mail);
//     $MDRejected: it was refused and its refusal recorded (also a mail
//     quarantined as too large whose sender was told).
//   - The ticket's place in the sequence (675 for SD-675) in binary: $MDn<i>
//     for every bit i that is set. A keyword per number would be readable,
//     but Dovecot keeps a bitmap of all of a folder's keywords in every
//     message's index record (measured: 3,000 numbered keywords made the
//     index 290 bytes a message, growing with each ticket) and Maildir
//     stores only 26 keywords per folder in the file names, the rest in the
//     index alone; the bits need at most 22 keywords below four million
//     tickets, plus the three above.
//
// The prefix (SD) is the desk's and is not stored: renaming it keeps the
// journal valid.
const (
	KeywordTicket   = imap.Flag("$MDTicket")
	KeywordFollowUp = imap.Flag("$MDFollowUp")
	KeywordRejected = imap.Flag("$MDRejected")
	keywordBitStem  = "$MDn"
)

// maxSeqBits bounds the sequence a keyword can carry.
const maxSeqBits = 40

func keywordBit(i int) imap.Flag { return imap.Flag(keywordBitStem + strconv.Itoa(i)) }

// seqKeywords are the bit keywords of seq.
func seqKeywords(seq int64) []imap.Flag {
	var out []imap.Flag
	for v := uint64(seq); v != 0; v &= v - 1 {
		out = append(out, keywordBit(bits.TrailingZeros64(v)))
	}
	return out
}

// entryKind is what a journal entry records.
type entryKind int

const (
	entryNone     entryKind = iota
	entryTicket             // the mail made ticket seq
	entryFollowUp           // the mail was recorded on ticket seq
	entryRejected           // the mail was refused
	entrySent               // a mail the desk sent (the trace folder)
)

func (k entryKind) String() string {
	return [...]string{"none", "ticket", "follow-up", "rejected", "sent"}[k]
}

// readKeywords is what the flags of a mail say: its kind and the sequence
// number (0 when none is set).
func readKeywords(flags []imap.Flag) (entryKind, int64) {
	kind, seq := entryNone, int64(0)
	for _, f := range flags {
		switch {
		case strings.EqualFold(string(f), string(KeywordTicket)):
			kind = entryTicket
		case strings.EqualFold(string(f), string(KeywordFollowUp)):
			if kind != entryTicket {
				kind = entryFollowUp
			}
		case strings.EqualFold(string(f), string(KeywordRejected)):
			if kind == entryNone {
				kind = entryRejected
			}
		case len(f) > len(keywordBitStem) && strings.EqualFold(string(f[:len(keywordBitStem)]), keywordBitStem):
			if i, err := strconv.Atoi(string(f[len(keywordBitStem):])); err == nil && i >= 0 && i < maxSeqBits {
				seq |= 1 << i
			}
		}
	}
	if kind == entryRejected {
		seq = 0
	}
	return kind, seq
}

// keepsKeywords reports whether a selected mailbox stores keywords the
// client makes up (\* in PERMANENTFLAGS): without, the journal cannot be
// kept there.
func keepsKeywords(sel *imap.SelectData) bool {
	return slices.Contains(sel.PermanentFlags, imap.FlagWildcard)
}

// outcomeKeywords are the keywords that record res on its mail, stamped
// before it moves (imapSession.stamp). unreject: a mail that made or
// joined a ticket loses a $MDRejected from an earlier refusal (an operator
// moved it back after authorising its sender).
func outcomeKeywords(prefix string, res Result) (kws []imap.Flag, unreject bool) {
	switch res.Outcome {
	case Processed:
		seq, ok := ticket.SeqOf(prefix, res.Ticket)
		if !ok {
			return nil, false
		}
		kind := KeywordTicket
		if res.FollowUp || res.Agent {
			kind = KeywordFollowUp
		}
		return append(seqKeywords(seq), kind), true
	case Rejected:
		return []imap.Flag{KeywordRejected}, false
	case Quarantined:
		if res.Recorded {
			return []imap.Flag{KeywordRejected}, false
		}
	}
	return nil, false
}

// entry is one mail of the journal: a filed (or stamped) mail with its
// recorded outcome, or the trace of a mail the desk sent.
type entry struct {
	Folder  string
	UID     imap.UID
	Arrived time.Time // INTERNALDATE: when the mail reached the mailbox
	Kind    entryKind
	Seq     int64 // the ticket's place in the sequence; 0 for none
	// MessageID is the mail's Message-ID as the pipeline reads it ("" when
	// it has none: then Dedupe needs the whole mail).
	MessageID string
	// Sent: the trace's notification. Uncertain: the relay took it without
	// answering (notify.TraceUncertain); SentAt is then when that was.
	Sent      notify.Notification
	SentAt    time.Time
	Uncertain bool

	// Filled in by the journal's scan and comparison.
	dedupe   string // the key the mail was committed under
	validity uint32 // the folder's UIDVALIDITY
	conflict string // Redis has the mail otherwise
}

// journalFetch is what the journal reads of each mail: flags, arrival and
// the header fields that identify it. No body.
var journalFetch = &imap.FetchOptions{
	UID: true, Flags: true, InternalDate: true,
	BodySection: []*imap.FetchItemBodySection{{
		Specifier: imap.PartSpecifierHeader, Peek: true,
		HeaderFields: []string{"Message-Id", "In-Reply-To", "To", notify.TraceHeaderID, notify.TraceHeaderKind,
			notify.TraceHeaderTicket, notify.TraceHeaderTicketKey, notify.TraceHeaderTo, notify.TraceHeaderSentAt,
			notify.TraceHeaderDelivery},
	}},
}

// scanFolder reads the journal entries of folder: the newest window mails,
// or with since set those that arrived on or after since's day. Mail
// without an outcome keyword (quarantined, or put there by a person) is
// no entry. The folder is examined read-only.
func scanFolder(c *imapclient.Client, mb *Mailbox, folder string, window int, since time.Time, prefix string) ([]entry, uint32, error) {
	var sel *imap.SelectData
	if err := mb.guarded(c, "examine "+folder, func() (err error) {
		sel, err = c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
		return err
	}); err != nil {
		return nil, 0, err
	}
	if sel.NumMessages == 0 {
		return nil, sel.UIDValidity, nil
	}
	var msgs []*imapclient.FetchMessageBuffer
	err := mb.guarded(c, "fetch journal of "+folder, func() error {
		var err error
		if since.IsZero() {
			first := uint32(1)
			if window > 0 && sel.NumMessages > uint32(window) {
				first = sel.NumMessages - uint32(window) + 1
			}
			var set imap.SeqSet
			set.AddRange(first, sel.NumMessages)
			msgs, err = c.Fetch(set, journalFetch).Collect()
			return err
		}
		data, err := c.UIDSearch(&imap.SearchCriteria{Since: since}, nil).Wait()
		if err != nil {
			return err
		}
		uids := data.AllUIDs()
		if len(uids) == 0 {
			return nil
		}
		msgs, err = c.Fetch(imap.UIDSetNum(uids...), journalFetch).Collect()
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	var out []entry
	for _, m := range msgs {
		e := entry{Folder: folder, UID: m.UID, Arrived: m.InternalDate}
		var hdr []byte
		for _, b := range m.BodySection {
			hdr = b.Bytes
		}
		h := parseJournalHeader(hdr)
		if id := h.Get(notify.TraceHeaderID); id != "" {
			e.Kind = entrySent
			e.Sent = notify.Notification{
				ID: id, Kind: notify.Kind(h.Get(notify.TraceHeaderKind)), To: h.Get(notify.TraceHeaderTo),
				Ticket: h.Get(notify.TraceHeaderTicket), TicketKey: h.Get(notify.TraceHeaderTicketKey),
				InReplyTo: strings.Trim(strings.TrimSpace(h.Get("In-Reply-To")), "<>"),
			}
			e.Uncertain = strings.EqualFold(strings.TrimSpace(h.Get(notify.TraceHeaderDelivery)), notify.TraceUncertain)
			e.SentAt, _ = time.Parse(time.RFC3339, h.Get(notify.TraceHeaderSentAt))
			if e.SentAt.IsZero() {
				e.SentAt = e.Arrived
			}
			e.Seq, _ = ticket.SeqOf(prefix, e.Sent.Ticket)
			e.MessageID = journalMessageID(h.Get("Message-Id"))
			out = append(out, e)
			continue
		}
		if e.Kind, e.Seq = readKeywords(m.Flags); e.Kind == entryNone {
			continue
		}
		e.MessageID = journalMessageID(h.Get("Message-Id"))
		out = append(out, e)
	}
	return out, sel.UIDValidity, nil
}

// parseJournalHeader reads header fields leniently: a broken one is left out.
func parseJournalHeader(b []byte) mail.Header {
	if len(b) == 0 {
		return mail.Header{}
	}
	if !bytes.HasSuffix(b, []byte("\r\n\r\n")) && !bytes.HasSuffix(b, []byte("\n\n")) {
		b = append(slices.Clone(b), "\r\n"...)
	}
	m, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return mail.Header{}
	}
	return m.Header
}

// journalMessageID is the Message-ID as the pipeline keys a mail by it:
// parsed as Parse does, cut as boundHeader does.
func journalMessageID(raw string) string {
	if raw == "" {
		return ""
	}
	msg, err := mailparse.Parse(strings.NewReader("Message-ID: "+raw+"\r\n\r\n"), mailparse.Limits{})
	if err != nil {
		return ""
	}
	id, _ := capID(msg.MessageID)
	return id
}

// describe is one line about e for logs and the repair plan.
func (e entry) describe(prefix string) string {
	switch e.Kind {
	case entrySent:
		sent := "sent"
		if e.Uncertain {
			sent = "delivery uncertain since"
		}
		return fmt.Sprintf("%s uid %d: %s %s to %s, %s %s", e.Folder, e.UID, e.Sent.Kind, e.Sent.ID,
			notify.SafeLine(e.Sent.To), sent, e.SentAt.UTC().Format(time.RFC3339))
	case entryRejected:
		return fmt.Sprintf("%s uid %d: refused mail <%s>, arrived %s", e.Folder, e.UID, notify.SafeLine(e.MessageID),
			e.Arrived.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s uid %d: %s %s-%d, mail <%s>, arrived %s", e.Folder, e.UID, e.Kind, prefix, e.Seq,
		notify.SafeLine(e.MessageID), e.Arrived.UTC().Format(time.RFC3339))
}

// Gate holds the intake (Journal.Wait).
type Gate interface {
	// Wait returns once new mail may be committed, or with ctx's error.
	Wait(ctx context.Context) error
}

// hold waits at the gate before a drain.
func (w *Watcher) hold(ctx context.Context) error {
	if w.Gate == nil {
		return nil
	}
	if err := w.Gate.Wait(ctx); err != nil {
		return err
	}
	w.setState("connected", nil)
	return nil
}

// heldBack reports whether a drain ended because Redis is behind the
// journal (a commit refused with ticket.ErrBehind): the session is kept and
// the next drain waits at the gate until the journal has repaired Redis.
func (w *Watcher) heldBack(ctx context.Context, err error) bool {
	if w.Gate == nil || !errors.Is(err, ticket.ErrBehind) || ctx.Err() != nil {
		return false
	}
	w.log.Warn("intake held: Redis is behind the mailbox journal", "err", err)
	w.setState("held", err)
	return true
}

// RecordedOutcome reads the outcome a filed mail's keywords record: "ticket"
// (it made ticket number seq of the sequence), "follow-up" (it was recorded
// on it), "rejected", or "" when they record none. For audits of the
// mailbox (the fault tests, an operator's script).
func RecordedOutcome(flags []string) (kind string, seq int64) {
	fs := make([]imap.Flag, len(flags))
	for i, f := range flags {
		fs[i] = imap.Flag(f)
	}
	k, seq := readKeywords(fs)
	if k == entryNone {
		return "", 0
	}
	return k.String(), seq
}
