package notify

import (
	"context"
	"fmt"
	"strings"

	"github.com/maildesk/maildesk/address"
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

// ErasePerson deletes what PersonEntries returns: mail waiting to go to
// addr is never sent (it leaves the consumer group too), dead letters and
// skipped mail about them go, and so does their bounce suppression. It
// returns how many entries it deleted.
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
