package notify

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Dead letters and skipped entries go after retention.outbox even when no
// new record comes to push them out (MAXLEN bounds only their number);
// younger ones and the outbox itself stay, and a dry run only counts.
func TestTrimRecords(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	add := func(stream string, at time.Time, seq int) {
		t.Helper()
		id := strconv.FormatInt(at.UnixMilli(), 10) + "-" + strconv.Itoa(seq)
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, ID: id, Values: []any{"to", "jan@acme.example", "reason", "550"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	old, young := now.Add(-100*24*time.Hour), now.Add(-10*24*time.Hour)
	add(ob.dead, old, 0)
	add(ob.dead, old, 1)
	add(ob.dead, young, 0)
	add(ob.skipped, old, 0)
	add(ob.skipped, young, 0)
	add(ob.stream, old, 0)
	before := now.Add(-90 * 24 * time.Hour)
	if dead, skipped, err := ob.TrimRecords(ctx, before, true); err != nil || dead != 2 || skipped != 1 {
		t.Fatalf("dry run = %d, %d, %v", dead, skipped, err)
	}
	if n, _ := rdb.XLen(ctx, ob.dead).Result(); n != 3 {
		t.Fatalf("dry run removed dead letters: %d left", n)
	}
	if dead, skipped, err := ob.TrimRecords(ctx, before, false); err != nil || dead != 2 || skipped != 1 {
		t.Fatalf("run = %d, %d, %v", dead, skipped, err)
	}
	for stream, want := range map[string]int64{ob.dead: 1, ob.skipped: 1, ob.stream: 1} {
		if n, _ := rdb.XLen(ctx, stream).Result(); n != want {
			t.Errorf("%s: %d entries left, want %d", stream, n, want)
		}
	}
	if dead, skipped, err := ob.TrimRecords(ctx, before, false); err != nil || dead+skipped != 0 {
		t.Errorf("second run = %d, %d, %v", dead, skipped, err)
	}
}
