package ticket

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/address"
)

// What the store offers the mailbox journal (ingest's journal and repair):
// the mailbox, not Redis, is the record of which mail got which outcome,
// and these read and restore Redis against it.

// ErrBehind is a commit refused because the ticket sequence is below the
// highest number the desk knows it gave (Commit.Floor): Redis has lost
// writes, and a new number might be one a filed mail already carries.
var ErrBehind = errors.New("redis is behind the mailbox journal")

// ErrNumberTaken is a ticket re-created under a number (New.Number) that
// another mail's ticket holds.
var ErrNumberTaken = errors.New("ticket number taken")

// keyLen is the length of a ticket key in hex digits: 48 bits, so that two
// tickets that ever share a number practically never share a key.
const keyLen = 12

// KeyOf is the key of the ticket made from the mail with dedupe key dedupe
// (its Message-ID or content hash): the same mail always gives the same
// key, so a ticket re-created from it keeps the Message-IDs it had; another
// mail under the same number gives another.
func KeyOf(dedupe string) string {
	sum := sha256.Sum256([]byte(dedupe))
	return hex.EncodeToString(sum[:keyLen/2])
}

// Seq parses a ticket number of this desk ("SD-675" with prefix "SD"): its
// place in the sequence; ok is false for any other string.
func (s *Store) Seq(number string) (int64, bool) { return SeqOf(s.prefix, number) }

// SeqOf is Store.Seq for the desk with ticket prefix prefix.
func SeqOf(prefix, number string) (int64, bool) {
	rest, ok := strings.CutPrefix(strings.ToUpper(number), strings.ToUpper(prefix)+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// Number is the ticket number at place seq of the sequence.
func (s *Store) Number(seq int64) string { return s.prefix + "-" + strconv.FormatInt(seq, 10) }

// Sequence is the last number given, as Redis has it.
func (s *Store) Sequence(ctx context.Context) (int64, error) {
	v, err := s.rdb.Get(ctx, s.key("seq")).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read ticket sequence: %w", err)
	}
	return v, nil
}

var raiseScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0`)

// RaiseSequence makes the sequence at least seq, so that the next number
// is above every number found in the mailbox. It never lowers it.
func (s *Store) RaiseSequence(ctx context.Context, seq int64) (bool, error) {
	n, err := raiseScript.Run(ctx, s.rdb, []string{s.key("seq")}, seq).Int()
	if err != nil {
		return false, fmt.Errorf("raise ticket sequence to %d: %w", seq, err)
	}
	return n == 1, nil
}

// Recorded is what Redis knows of one mail's outcome.
type Recorded struct {
	// Number is the ticket the mail made or was recorded on, "" for none.
	Number string
	// Rejected: the mail's refusal is remembered.
	Rejected bool
}

// Lookup returns what Redis knows of the mails with the given dedupe keys
// (Message-ID or content hash; a refused mail's key as it was committed),
// in one round trip.
func (s *Store) Lookup(ctx context.Context, dedupes []string) ([]Recorded, error) {
	out := make([]Recorded, len(dedupes))
	if len(dedupes) == 0 {
		return out, nil
	}
	// seen and the generation before it (retention rotates them).
	var seen, prev *redis.SliceCmd
	rej := make([]*redis.IntCmd, len(dedupes))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		seen = p.HMGet(ctx, s.key("seen"), dedupes...)
		prev = p.HMGet(ctx, s.key(seenPrev), dedupes...)
		for i, d := range dedupes {
			rej[i] = p.Exists(ctx, s.key("rejected:"+d))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look up %d mails' outcomes: %w", len(dedupes), err)
	}
	for i, v := range seen.Val() {
		if n, ok := v.(string); !ok || n == "" {
			v = prev.Val()[i]
		}
		if n, ok := v.(string); ok && n != "" {
			if n == "rejected" {
				out[i].Rejected = true
			} else {
				out[i].Number = n
			}
		}
		if rej[i].Val() == 1 {
			out[i].Rejected = true
		}
	}
	return out, nil
}

// RestoreNotice remembers that sender was sent a rejection notice at at, so
// that no second one goes to them before the notice interval from at has
// passed. It keeps a later notice's record.
func (s *Store) RestoreNotice(ctx context.Context, sender string, at time.Time) error {
	left := at.Add(s.o.NoticeInterval).Sub(s.o.Now())
	if left <= 0 {
		return nil
	}
	if err := s.rdb.SetNX(ctx, s.key("notice:"+address.Key(sender)), "1", left).Err(); err != nil {
		return fmt.Errorf("restore notice record of %s: %w", sender, err)
	}
	return nil
}

// Exist reports, for each ticket number, whether Redis has the ticket.
func (s *Store) Exist(ctx context.Context, numbers []string) ([]bool, error) {
	out := make([]bool, len(numbers))
	if len(numbers) == 0 {
		return out, nil
	}
	cmds := make([]*redis.IntCmd, len(numbers))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range numbers {
			cmds[i] = p.Exists(ctx, s.key("t:"+strings.ToUpper(n)))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("check %d tickets: %w", len(numbers), err)
	}
	for i, c := range cmds {
		out[i] = c.Val() == 1
	}
	return out, nil
}

// Lock takes the desk's repair lock for ttl: one repair at a time, across
// the daemon's replicas and `maildesk repair`. It returns false when
// another holds it, and a release function when taken.
func (s *Store) Lock(ctx context.Context, name, owner string, ttl time.Duration) (bool, func(), error) {
	key := s.key("lock:" + name)
	ok, err := s.rdb.SetNX(ctx, key, owner, ttl).Result()
	if err != nil || !ok {
		return false, func() {}, err
	}
	return true, func() {
		_ = unlockScript.Run(context.WithoutCancel(ctx), s.rdb, []string{key}, owner).Err()
	}, nil
}

var unlockScript = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

// ServerID is the run id of the Redis server c is connected to (INFO
// server): it changes with every start of a server, and so after a crash,
// a restore or a failover, when Redis may have lost writes. "" when the
// server does not say (INFO refused by an ACL).
func ServerID(ctx context.Context, c redis.Cmdable) string {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			return v
		}
	}
	return ""
}

// journalBehindKey marks Redis as behind the mailbox journal, with why:
// set by the daemon's journal when it finds Redis behind, removed when
// Redis is in step again.
func (s *Store) journalBehindKey() string { return s.key("journal:behind") }

// MarkBehind records that Redis is behind the mailbox journal (why says
// how), or with why "" that it is in step again. Processes without a
// journal of their own (the CLI opening a ticket for a call) read it
// (Behind): while Redis is behind, a new number may be one a filed mail
// already carries.
func (s *Store) MarkBehind(ctx context.Context, why string) error {
	var err error
	if why == "" {
		err = s.rdb.Del(ctx, s.journalBehindKey()).Err()
	} else {
		err = s.rdb.Set(ctx, s.journalBehindKey(), why, 0).Err()
	}
	if err != nil {
		return fmt.Errorf("record whether Redis is behind the mailbox journal: %w", err)
	}
	return nil
}

// Behind is what MarkBehind recorded: "" when Redis is not known to be
// behind the mailbox journal.
func (s *Store) Behind(ctx context.Context) (string, error) {
	why, err := s.rdb.Get(ctx, s.journalBehindKey()).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read whether Redis is behind the mailbox journal: %w", err)
	}
	return why, nil
}
