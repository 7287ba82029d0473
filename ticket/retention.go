package ticket

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Retention (GDPR storage limitation): done tickets lose their personal
// data after a while and later their anonymous record too, the Message-IDs
// the desk remembers age out, rejection records and refused mails go after
// their own period, and the original mails go from the IMAP folders with
// the tickets. The work is driven by sorted sets (idx:closed, idx:anon,
// purge:mail), so a run that stops half-way (a crash, a deploy) leaves
// nothing half-done and the next run goes on where it stopped.

//go:embed purge.lua
var purgeSrc string

//go:embed anonymise.lua
var anonymiseSrc string

//go:embed delete.lua
var deleteSrc string

//go:embed rotate_seen.lua
var rotateSeenSrc string

var (
	anonymiseScript  = redis.NewScript(indexSrc + purgeSrc + anonymiseSrc)
	deleteScript     = redis.NewScript(indexSrc + purgeSrc + deleteSrc)
	rotateSeenScript = redis.NewScript(rotateSeenSrc)
)

// Keys of retention's state, under the desk's prefix.
const (
	seenPrev  = "seen:prev"
	seenGen   = "seen:gen"
	purgeMail = "purge:mail"
)

// RetentionPolicy says how long things are kept; 0 keeps them for ever.
type RetentionPolicy struct {
	// ClosedAfter: a ticket done (resolved or closed) and unchanged this
	// long is anonymised; Keep: its record is deleted.
	ClosedAfter, Keep time.Duration
	// Seen: Message-IDs are remembered at least this long.
	Seen time.Duration
	// Rejections: rejection records and refused mails are kept this long.
	Rejections time.Duration
	// Quarantine: mails in the quarantine folder are kept this long.
	Quarantine time.Duration
	// Sent: the desk's copies of the mail it sent are kept this long.
	Sent time.Duration
	// Records: the outbox's dead letters and skipped entries are kept
	// this long, trimmed by Outbox (notify.Outbox; nil: not trimmed here).
	Records time.Duration
	Outbox  RecordTrimmer
	// Batch is the most tickets one run handles; it deletes the mails of
	// up to ten times as many Message-IDs.
	Batch int
}

// MailPurger deletes original mails from the desk's IMAP folders
// (ingest.Mailbox).
type MailPurger interface {
	// PurgeMessageIDs deletes the mails with these Message-IDs and
	// returns how many it deleted.
	PurgeMessageIDs(ctx context.Context, ids []string) (int, error)
	// PurgeRejectedBefore deletes (dry: counts) the refused mails that
	// arrived before t.
	PurgeRejectedBefore(ctx context.Context, t time.Time, dry bool) (int, error)
	// PurgeQuarantinedBefore deletes (dry: counts) the quarantined mails
	// that arrived before t.
	PurgeQuarantinedBefore(ctx context.Context, t time.Time, dry bool) (int, error)
	// PurgeSentBefore deletes (dry: counts) the copies of sent mail that
	// were filed before t.
	PurgeSentBefore(ctx context.Context, t time.Time, dry bool) (int, error)
}

// RecordTrimmer removes the outbox's records of mail given up on or
// skipped (notify.Outbox).
type RecordTrimmer interface {
	// TrimRecords removes (dry: counts) the dead letters and skipped
	// entries recorded before t.
	TrimRecords(ctx context.Context, t time.Time, dry bool) (dead, skipped int64, err error)
}

// Retired is a ticket a retention run anonymised or deleted (or, dry,
// would).
type Retired struct {
	Number   string    `json:"number"`
	Customer string    `json:"customer,omitempty"`
	Status   string    `json:"status,omitempty"`
	Done     time.Time `json:"done"` // resolved or closed, unchanged since
	Action   string    `json:"action"`
}

// Actions of a retention run on a ticket.
const (
	ActionAnonymise = "anonymise"
	ActionDelete    = "delete"
)

// RetentionReport is what a run did (or, dry, would do).
type RetentionReport struct {
	DryRun  bool      `json:"dry_run"`
	Tickets []Retired `json:"tickets"`
	// More: there was more due than Batch; the next run goes on.
	More        bool `json:"more,omitempty"`
	SeenRotated bool `json:"seen_rotated,omitempty"`
	// SeenExpired are the Message-IDs forgotten by that rotation.
	SeenExpired int64 `json:"seen_expired"`
	// Compacted closed tickets had their text packed (CompactClosed).
	Compacted int `json:"compacted,omitempty"`
	// Rejections are the rejection records removed; RejectedMails the
	// refused mails deleted from the rejected folder.
	Rejections    int64 `json:"rejections"`
	RejectedMails int   `json:"rejected_mails"`
	// QuarantinedMails were deleted from the quarantine folder.
	QuarantinedMails int `json:"quarantined_mails"`
	// SentMails were deleted from the sent folder (copies of sent mail).
	SentMails int `json:"sent_mails"`
	// DeadLetters and SkippedEntries are the outbox's records removed.
	DeadLetters    int64 `json:"dead_letters"`
	SkippedEntries int64 `json:"skipped_entries"`
	// Mails were deleted from the IMAP folders; MailsQueued wait for the
	// next run (the mailbox did not answer, or more than Batch).
	Mails       int   `json:"mails"`
	MailsQueued int64 `json:"mails_queued"`
}

// RunRetention applies p at now: deletes, then anonymises, the tickets due
// (at most p.Batch), packs the text of closed tickets, ages the
// Message-IDs, trims the rejection records and the outbox's records, and
// deletes the mails that went with them and the old quarantined ones. mail may be nil (no IMAP here):
// the mails then wait in the queue. With dry it changes nothing and lists
// what would go.
func (s *Store) RunRetention(ctx context.Context, p RetentionPolicy, mail MailPurger, now time.Time, dry bool) (RetentionReport, error) {
	r := RetentionReport{DryRun: dry, Tickets: []Retired{}}
	batch := max(p.Batch, 1)
	nowMS := now.UnixMilli()
	if p.Keep > 0 {
		if !dry {
			if err := s.listRequestKeys(ctx); err != nil {
				return r, fmt.Errorf("retention: %w", err)
			}
		}
		cutoff := now.Add(-p.Keep).UnixMilli()
		for _, set := range []string{idxAnon, idxClosed} {
			if err := s.retire(ctx, &r, set, ActionDelete, cutoff, now, batch, dry); err != nil {
				return r, err
			}
		}
	}
	if p.ClosedAfter > 0 {
		if err := s.retire(ctx, &r, idxClosed, ActionAnonymise, now.Add(-p.ClosedAfter).UnixMilli(), now, batch, dry); err != nil {
			return r, err
		}
	}
	if !dry {
		// Closed for an hour: what an agent closed by mistake is reopened
		// by a new ticket anyway (closed is final), but a look at it right
		// after closing should not unpack anything.
		n, err := s.CompactClosed(ctx, now.Add(-time.Hour), 10*batch)
		if err != nil {
			return r, fmt.Errorf("retention: %w", err)
		}
		r.Compacted = n
	}
	if p.Seen > 0 {
		dryArg := "0"
		if dry {
			dryArg = "1"
		}
		res, err := rotateSeenScript.Run(ctx, s.rdb, []string{s.key("seen"), s.key(seenPrev), s.key(seenGen)},
			nowMS, p.Seen.Milliseconds(), dryArg).Int64Slice()
		if err == nil && len(res) != 2 {
			err = fmt.Errorf("unexpected script reply %v", res)
		}
		if err != nil {
			return r, fmt.Errorf("retention: age the Message-IDs: %w", err)
		}
		r.SeenRotated, r.SeenExpired = res[0] == 1, res[1]
	}
	var rejectedBefore time.Time
	if p.Rejections > 0 {
		rejectedBefore = now.Add(-p.Rejections)
		minID := strconv.FormatInt(rejectedBefore.UnixMilli(), 10)
		if dry {
			old, err := s.rdb.XRangeN(ctx, s.key("rejections"), "-", "("+minID, 100_000).Result()
			if err != nil {
				return r, fmt.Errorf("retention: read the rejection records: %w", err)
			}
			r.Rejections = int64(len(old))
		} else {
			n, err := s.rdb.XTrimMinID(ctx, s.key("rejections"), minID).Result()
			if err != nil {
				return r, fmt.Errorf("retention: trim the rejection records: %w", err)
			}
			r.Rejections = n
		}
	}
	var errs []error
	if p.Records > 0 && p.Outbox != nil {
		dead, skipped, err := p.Outbox.TrimRecords(ctx, now.Add(-p.Records), dry)
		r.DeadLetters, r.SkippedEntries = dead, skipped
		if err != nil {
			errs = append(errs, fmt.Errorf("retention: %w", err))
		}
	}
	if mail != nil {
		if !rejectedBefore.IsZero() {
			n, err := mail.PurgeRejectedBefore(ctx, rejectedBefore, dry)
			r.RejectedMails = n
			if err != nil {
				errs = append(errs, fmt.Errorf("retention: delete refused mails: %w", err))
			}
		}
		if p.Quarantine > 0 {
			n, err := mail.PurgeQuarantinedBefore(ctx, now.Add(-p.Quarantine), dry)
			r.QuarantinedMails = n
			if err != nil {
				errs = append(errs, fmt.Errorf("retention: delete quarantined mails: %w", err))
			}
		}
		if p.Sent > 0 {
			n, err := mail.PurgeSentBefore(ctx, now.Add(-p.Sent), dry)
			r.SentMails = n
			if err != nil {
				errs = append(errs, fmt.Errorf("retention: delete copies of sent mail: %w", err))
			}
		}
		if !dry {
			// A ticket comes with a few mails: its original and follow-ups.
			n, err := s.PurgeQueuedMails(ctx, mail, 10*batch)
			r.Mails = n
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	q, err := s.rdb.ZCard(ctx, s.key(purgeMail)).Result()
	if err != nil {
		errs = append(errs, fmt.Errorf("retention: count queued mails: %w", err))
	}
	r.MailsQueued = q
	return r, errors.Join(errs...)
}

// retire lists the tickets of set done at or before cutoff and anonymises
// or deletes them (dry: lists them).
func (s *Store) retire(ctx context.Context, r *RetentionReport, set, action string, cutoff int64, now time.Time, batch int, dry bool) error {
	left := batch - len(r.Tickets)
	if left <= 0 {
		r.More = r.More || s.due(ctx, set, cutoff)
		return nil
	}
	zs, err := s.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: s.key(set), Start: "-inf",
		Stop: strconv.FormatInt(cutoff, 10), ByScore: true, Count: int64(left) + 1}).Result()
	if err != nil {
		return fmt.Errorf("retention: list tickets to %s: %w", action, err)
	}
	if len(zs) > left {
		zs, r.More = zs[:left], true
	}
	numbers := make([]string, len(zs))
	for i, z := range zs {
		numbers[i], _ = z.Member.(string)
	}
	ts, err := s.read(ctx, numbers, listFields)
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	for i, n := range numbers {
		if dry && slices.ContainsFunc(r.Tickets, func(x Retired) bool { return x.Number == n }) {
			continue // listed for deletion already
		}
		rt := Retired{Number: n, Done: time.UnixMilli(int64(zs[i].Score)).UTC(), Action: action}
		if ts[i] != nil {
			rt.Customer, rt.Status = ts[i].Customer, ts[i].Status
		}
		if !dry {
			done, err := s.retireOne(ctx, action, n, cutoff, now)
			if err != nil {
				return fmt.Errorf("retention: %s %s: %w", action, n, err)
			}
			if done == 0 {
				continue // changed since it was listed
			}
		}
		r.Tickets = append(r.Tickets, rt)
	}
	return nil
}

// requestKeysListed is set once every field of timekeys and requests is
// in its ticket's set (timeKeysKey, requestKeysKey), which versions before
// it did not keep.
const requestKeysListed = "requests:listed"

// listRequestKeysScript puts fields of a hash of request keys (KEYS[1];
// ARGV[4...]: field, value "number" or "number id") into their tickets'
// sets (ARGV[2] .. number .. ARGV[3]); a field of a ticket deleted before
// (no hash ARGV[1] .. number) goes: numbers are never given again, and
// agents act only on tickets that exist.
var listRequestKeysScript = redis.NewScript(`
for i = 4, #ARGV - 1, 2 do
  local number = string.match(ARGV[i + 1], '^(%S+)')
  if number and redis.call('EXISTS', ARGV[1] .. number) == 1 then
    redis.call('SADD', ARGV[2] .. number .. ARGV[3], ARGV[i])
  elseif number then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return 1`)

// listRequestKeys puts the idempotency keys of agents' requests recorded
// before tickets listed their own into those tickets' sets, once, so that
// deleting a ticket finds them. Idempotent: an interrupted pass is done
// again.
func (s *Store) listRequestKeys(ctx context.Context) error {
	n, err := s.rdb.Exists(ctx, s.key(requestKeysListed)).Result()
	if err != nil || n == 1 {
		return err
	}
	for _, h := range []struct {
		hash string
		set  func(string) string
	}{{"timekeys", timeKeysKey}, {"requests", requestKeysKey}} {
		// A ticket's set is pre + number + post.
		pre, post, _ := strings.Cut(s.key(h.set("\x00")), "\x00")
		var cursor uint64
		for {
			kvs, next, err := s.rdb.HScan(ctx, s.key(h.hash), cursor, "", 1000).Result()
			if err != nil {
				return fmt.Errorf("list the request keys of %s per ticket: %w", h.hash, err)
			}
			args := []any{s.key("t:"), pre, post}
			for _, kv := range kvs {
				args = append(args, kv)
			}
			if err := listRequestKeysScript.Run(ctx, s.rdb, []string{s.key(h.hash)}, args...).Err(); err != nil {
				return fmt.Errorf("list the request keys of %s per ticket: %w", h.hash, err)
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return s.rdb.Set(ctx, s.key(requestKeysListed), "1", 0).Err()
}

// retireOne anonymises or deletes ticket n when it is done at or before
// cutoff (ms) and reports 1, else 0.
func (s *Store) retireOne(ctx context.Context, action, n string, cutoff int64, now time.Time) (int, error) {
	keys := []string{s.key("t:" + n), s.key("t:" + n + ":events")}
	links := []any{s.key(StatusLinkPrefix), s.key(ContactLinksPrefix)}
	if action == ActionDelete {
		keys = append(keys, s.key("tickets"), s.key("t:"+n+":time"), s.key("t:"+n+":timesum"),
			s.key(StatusLinksKey(n)), s.key(timeKeysKey(n)), s.key("timekeys"), s.key(requestKeysKey(n)), s.key("requests"))
		return deleteScript.Run(ctx, s.rdb, keys, append([]any{s.kp, n, cutoff, now.UnixMilli()}, links...)...).Int()
	}
	keys = append(keys, s.key(StatusLinksKey(n)), s.key("t:"+n+":time"))
	return anonymiseScript.Run(ctx, s.rdb, keys,
		append([]any{s.kp, n, cutoff, now.UTC().Format(time.RFC3339Nano), now.UnixMilli()}, links...)...).Int()
}

func (s *Store) due(ctx context.Context, set string, cutoff int64) bool {
	n, err := s.rdb.ZCount(ctx, s.key(set), "-inf", strconv.FormatInt(cutoff, 10)).Result()
	return err == nil && n > 0
}

// PurgeQueuedMails deletes up to limit of the mails queued by retention
// and erasure from the IMAP folders; those it could not reach stay queued.
func (s *Store) PurgeQueuedMails(ctx context.Context, mail MailPurger, limit int) (int, error) {
	ids, err := s.rdb.ZRange(ctx, s.key(purgeMail), 0, int64(limit)-1).Result()
	if err != nil {
		return 0, fmt.Errorf("read the mails to delete: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	n, err := mail.PurgeMessageIDs(ctx, ids)
	if err != nil {
		return n, fmt.Errorf("delete %d mails from the IMAP folders: %w", len(ids), err)
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	if err := s.rdb.ZRem(ctx, s.key(purgeMail), members...).Err(); err != nil {
		return n, fmt.Errorf("mark mails deleted: %w", err)
	}
	return n, nil
}
