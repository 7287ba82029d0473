package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/maildesk/maildesk/address"
	"github.com/maildesk/maildesk/ticket"
	"github.com/redis/go-redis/v9"
)

// Erasure and export of one person's data (maildesk contacts erase and
// export): the outgoing mail addressed to them, and dead letters and
// skipped mail that name them.

// aboutPerson reports whether a queued mail concerns who: addressed to
// them, or (mentions) naming their address in any field.
func aboutPerson(values map[string]any, who string, mentions bool) bool {
	to, _ := values["to"].(string)
	if a, err := address.Normalise(address.Bare(to)); err == nil && a == who {
		return true
	}
	if !mentions {
		return false
	}
	for _, v := range values {
		if s, ok := v.(string); ok && strings.Contains(strings.ToLower(s), who) {
			return true
		}
	}
	return false
}

// PersonEntries returns the mail waiting to go to addr, and the dead
// letters and skipped mail addressed to or naming them.
func (o *Outbox) PersonEntries(ctx context.Context, addr string) (waiting []Entry, dead, skipped []Record, err error) {
	who, err := address.Normalise(addr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("outbox entries of %q: not an e-mail address", addr)
	}
	all, err := o.List(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	waiting = []Entry{}
	for _, e := range all {
		if a, err := address.Normalise(address.Bare(e.Notification.To)); err == nil && a == who {
			waiting = append(waiting, e)
		}
	}
	dead, skipped = []Record{}, []Record{}
	for _, q := range []struct {
		stream string
		out    *[]Record
	}{{o.dead, &dead}, {o.skipped, &skipped}} {
		if err := o.scan(ctx, q.stream, func(m redis.XMessage) bool {
			if aboutPerson(m.Values, who, true) {
				*q.out = append(*q.out, toRecord(m))
			}
			return true
		}); err != nil {
			return nil, nil, nil, err
		}
	}
	return waiting, dead, skipped, nil
}

// PersonSuppression returns why mail to addr is suppressed (a bounce, or
// the relay refusing it) and for how much longer; "" when it is not.
func (o *Outbox) PersonSuppression(ctx context.Context, addr string) (string, time.Duration, error) {
	who, err := address.Normalise(addr)
	if err != nil {
		return "", 0, fmt.Errorf("suppression of %q: not an e-mail address", addr)
	}
	var reason *redis.StringCmd
	var ttl *redis.DurationCmd
	if _, err := o.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		reason = p.Get(ctx, o.suppressKey(who))
		ttl = p.PTTL(ctx, o.suppressKey(who))
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return "", 0, fmt.Errorf("read the suppression of a person: %w", err)
	}
	return reason.Val(), max(ttl.Val(), 0), nil
}

// ErasePerson deletes what PersonEntries returns: mail waiting to go to
// addr is never sent (it leaves the consumer group too), dead letters and
// skipped mail about them go, and so does their bounce suppression. It
// returns how many entries it deleted. The records of mail delivered to
// them go with EraseDeliveryRecords.
func (o *Outbox) ErasePerson(ctx context.Context, addr string) (int, error) {
	who, err := address.Normalise(addr)
	if err != nil {
		return 0, fmt.Errorf("erase outbox entries of %q: not an e-mail address", addr)
	}
	n := 0
	for _, stream := range []string{o.stream, o.dead, o.skipped} {
		var ids []string
		if err := o.scan(ctx, stream, func(m redis.XMessage) bool {
			if aboutPerson(m.Values, who, stream != o.stream) {
				ids = append(ids, m.ID)
			}
			return true
		}); err != nil {
			return n, err
		}
		if len(ids) == 0 {
			continue
		}
		_, err := o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			if stream == o.stream {
				p.XAck(ctx, o.stream, o.group, ids...)
				p.HDel(ctx, o.errors, ids...)
				p.HDel(ctx, o.uncertain, ids...)
			}
			p.XDel(ctx, stream, ids...)
			return nil
		})
		if err != nil && !isNoGroup(err) {
			return n, fmt.Errorf("erase outbox entries of a person from %s: %w", stream, err)
		}
		n += len(ids)
	}
	if err := o.rdb.Del(ctx, o.suppressKey(who)).Err(); err != nil {
		return n, fmt.Errorf("erase a person's suppression: %w", err)
	}
	return n, nil
}

// EraseDeliveryRecords deletes the records of mail delivered to addr
// (eraseMarkers). Erasure calls it once the desk's copies of that mail are
// gone from imap.sent_mailbox, not before: the mailbox journal takes a copy
// without its record for Redis having lost writes, holds intake and writes
// the record back.
func (o *Outbox) EraseDeliveryRecords(ctx context.Context, addr string) error {
	who, err := address.Normalise(addr)
	if err != nil {
		return fmt.Errorf("erase delivery records of %q: not an e-mail address", addr)
	}
	return o.eraseMarkers(ctx, who)
}

// markerPrefixes are the per-notification records whose key is named by
// the notification id, which ends in its recipient's address (ids.go):
// delivered, being sent, traced, uncertain.
var markerPrefixes = []string{"sent:", "sending:", "traced:", "traced-uncertain:", "uncertain:", "uncertain-restored:"}

// recordOf reports whether key k (without the desk's prefix) is a
// delivery record of mail to who: a marker whose notification id ends in
// their address, or their rate window. The address is compared in its
// canonical form: ids keep it as given (TimeBudgetID keeps its case, an
// international domain stays as written), and rate windows written before
// rateKey was canonical kept the recipient's name.
func recordOf(k, who string) bool {
	if rest, ok := strings.CutPrefix(k, "rate:"); ok {
		a, err := address.Normalise(address.Bare(rest))
		return err == nil && a == who
	}
	for _, pre := range markerPrefixes {
		if id, ok := strings.CutPrefix(k, pre); ok {
			return recipientOf(id) == who
		}
	}
	return false
}

// eraseMarkers deletes the delivery records that name who: the markers
// whose notification id ends in their address, the records kept for
// bounces (sentMailKey) of mail sent to them, and their counts in the rate
// windows. They would expire within weeks; an erasure removes them now.
// The scan walks the desk's keys, as an erasure is rare and these records
// have no index by person; the match is done here, as the address may be
// spelled in the key otherwise than who (recordOf).
func (o *Outbox) eraseMarkers(ctx context.Context, who string) error {
	node := ticket.SlotNode(ctx, o.rdb, o.stream)
	doomed := []string{o.rateKey(who)}
	iter := node.Scan(ctx, 0, o.kp+"*@*", 1000).Iterator()
	for iter.Next(ctx) {
		if k := iter.Val(); recordOf(strings.TrimPrefix(k, o.kp), who) {
			doomed = append(doomed, k)
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("erase a person's delivery records: list them: %w", err)
	}
	var records []string
	iter = node.Scan(ctx, 0, o.kp+"sentmail:*", 1000).Iterator()
	for iter.Next(ctx) {
		records = append(records, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("erase a person's delivery records: list the bounce records: %w", err)
	}
	for chunk := range slices.Chunk(records, 500) {
		cmds, err := o.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range chunk {
				p.HGet(ctx, k, "to")
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("erase a person's delivery records: read the bounce records: %w", err)
		}
		for i, c := range cmds {
			to, _ := c.(*redis.StringCmd).Result()
			if a, err := address.Normalise(to); err == nil && a == who {
				doomed = append(doomed, chunk[i])
			}
		}
	}
	// The desk's rate window counts ids that end in their address (as
	// long as its longest window).
	desk, err := o.rdb.ZRange(ctx, o.kp+"rate:desk", 0, -1).Result()
	if err != nil {
		return fmt.Errorf("erase a person's delivery records: read the desk's rate window: %w", err)
	}
	var counted []any
	for _, id := range desk {
		if recipientOf(id) == who {
			counted = append(counted, id)
		}
	}
	if len(counted) > 0 {
		if err := o.rdb.ZRem(ctx, o.kp+"rate:desk", counted...).Err(); err != nil {
			return fmt.Errorf("erase a person's delivery records: the desk's rate window: %w", err)
		}
	}
	for chunk := range slices.Chunk(doomed, 500) {
		// One key per command: on a cluster a multi-key DEL must stay in
		// one slot, and these do, but a pipeline of single DELs also
		// works where the prefix is not a hash tag.
		if _, err := o.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range chunk {
				p.Del(ctx, k)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("erase a person's delivery records: %w", err)
		}
	}
	return nil
}
