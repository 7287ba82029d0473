package scheduler

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/internal/testserver"
)

// Three replicas run the same jobs: a Once job runs once per tick across
// them, a plain job in each.
func TestOncePerTickAcrossReplicas(t *testing.T) {
	rs := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	var once, every atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 3)
	for range 3 {
		s := New(time.UTC, rdb, "md:{t}:", slog.New(slog.DiscardHandler))
		if err := s.Add(Job{Name: "sweep", Spec: "* * * * * *", Once: true, Run: func(context.Context) error { once.Add(1); return nil }}); err != nil {
			t.Fatal(err)
		}
		if err := s.Add(Job{Name: "outbox", Spec: "@every 1s", Run: func(context.Context) error { every.Add(1); return nil }}); err != nil {
			t.Fatal(err)
		}
		go func() { s.Run(ctx); done <- struct{}{} }()
	}
	// Start mid-second so that the three replicas see the same ticks.
	time.Sleep(3200 * time.Millisecond)
	cancel()
	for range 3 {
		<-done
	}
	ticks, err := rdb.Keys(context.Background(), "md:{t}:tick:sweep:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if int(once.Load()) != len(ticks) || len(ticks) < 2 {
		t.Fatalf("once job ran %d times for %d claimed ticks; want one run per tick", once.Load(), len(ticks))
	}
	if every.Load() < 6 {
		t.Fatalf("plain job ran %d times in 3 replicas over 3s; want it in every replica", every.Load())
	}
}

func TestBadSpecNamesJob(t *testing.T) {
	s := New(time.UTC, nil, "", nil)
	err := s.Add(Job{Name: "digest", Spec: "61 * * * *"})
	if err == nil || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("err = %v, want it to name the job", err)
	}
}

// A daily job between 02:00 and 03:00 would be skipped or run twice on the
// daylight-saving weekends; jobs that run every hour are not affected.
func TestNoDailyJobInDSTHour(t *testing.T) {
	s := New(time.UTC, nil, "", nil)
	for spec, ok := range map[string]bool{
		"0 30 2 * * *":    false,
		"0 0 1-3 * * *":   false,
		"0 30 7 * * 1-5":  true,
		"0 */5 * * * *":   true,
		"@every 30s":      true,
		"0 0 */1 * * *":   true,
		"0 0 0,12 * * *":  true,
		"0 15 2,14 * * *": false,
	} {
		err := s.Add(Job{Name: "digest", Spec: spec, Run: func(context.Context) error { return nil }})
		if (err == nil) != ok {
			t.Errorf("Add(%q) = %v, want ok=%v", spec, err, ok)
		}
	}
}
