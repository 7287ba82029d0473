package alarm

import (
	"context"
	"testing"
	"time"
)

// keepLatest keeps the latest successful sign-in any replica saw: an
// earlier one (a replica that is behind) and a replay change nothing, and
// "none seen" reads what is kept.
func TestKeepLatestScript(t *testing.T) {
	m := &Monitor{cfg: Config{Redis: newRedis(t), KeyPrefix: "md:{d}:"}}
	ctx := context.Background()
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		ok   time.Time
		want time.Time
	}{
		{"nothing seen yet", time.Time{}, time.Time{}},
		{"the first", t0, t0},
		{"its replay", t0, t0},
		{"an earlier one from a replica behind", t0.Add(-time.Minute), t0},
		{"a later one, by a nanosecond", t0.Add(time.Nanosecond), t0.Add(time.Nanosecond)},
		{"none seen by this replica", time.Time{}, t0.Add(time.Nanosecond)},
		{"a day later", t0.Add(24 * time.Hour), t0.Add(24 * time.Hour)},
	} {
		got, err := m.recordOK(ctx, "imap", tc.ok)
		if err != nil || !got.Equal(tc.want) {
			t.Fatalf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}
