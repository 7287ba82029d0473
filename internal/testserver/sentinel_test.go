package testserver

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisSentinelFailover(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := RedisSentinel(t, RedisSentinelOptions{Replica: true})
	t.Logf("primary, replica and sentinel ready in %v", time.Since(start).Round(time.Millisecond))
	if got, err := s.MasterAddr(); err != nil || got != s.Master.Addr {
		t.Fatalf("sentinel names %q (%v), want %s", got, err, s.Master.Addr)
	}
	ctx := context.Background()
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: s.Addrs})
	defer fc.Close()
	if err := fc.Set(ctx, "k", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	old := s.Master.Addr
	start = time.Now()
	s.Failover(t)
	t.Logf("failover took %v", time.Since(start).Round(time.Millisecond))
	if s.Master.Addr == old {
		t.Fatal("Failover did not swap Master and Replica")
	}
	// The client follows: the new primary has the data and takes writes.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := fc.Set(ctx, "k", "after", 0).Err()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SET through the failover client after the failover: %v", err)
		}
		t.Logf("SET after the failover: %v (retrying)", err)
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("client followed within %v", time.Since(start).Round(time.Millisecond))
	nc := redis.NewClient(&redis.Options{Addr: s.Master.Addr})
	defer nc.Close()
	if v, err := nc.Get(ctx, "k").Result(); err != nil || v != "after" {
		t.Errorf("new primary has k = %q (%v), want after", v, err)
	}
}
