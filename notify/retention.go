package notify

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// TrimRecords removes the dead letters and skipped entries recorded before
// t (retention.outbox): they hold recipients, subjects and texts, and an
// operator who did not retry a dead letter in that time will not. The
// streams' MAXLEN only bounds them in number. dry counts and removes
// nothing.
func (o *Outbox) TrimRecords(ctx context.Context, t time.Time, dry bool) (dead, skipped int64, err error) {
	// A record's stream id is the time it was recorded.
	minID := strconv.FormatInt(t.UnixMilli(), 10)
	n := [2]int64{}
	for i, stream := range []string{o.dead, o.skipped} {
		if dry {
			// Counted a page at a time: the records are whole mails.
			for start := "-"; ; {
				page, err := o.rdb.XRangeN(ctx, stream, start, "("+minID, 1000).Result()
				if err != nil {
					return n[0], n[1], fmt.Errorf("read the outbox records %s: %w", stream, err)
				}
				n[i] += int64(len(page))
				if len(page) < 1000 {
					break
				}
				start = "(" + page[len(page)-1].ID
			}
			continue
		}
		if n[i], err = o.rdb.XTrimMinID(ctx, stream, minID).Result(); err != nil {
			return n[0], n[1], fmt.Errorf("trim the outbox records %s: %w", stream, err)
		}
	}
	return n[0], n[1], nil
}
