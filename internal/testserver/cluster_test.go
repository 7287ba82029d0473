package testserver

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := RedisCluster(t)
	t.Logf("three-master cluster ready in %v", time.Since(start).Round(time.Millisecond))
	if len(c.Addrs) != 3 {
		t.Fatalf("Addrs = %v, want three nodes", c.Addrs)
	}
	ctx := context.Background()

	// Every node owns its third of the slots and sees a healthy cluster.
	for i, addr := range c.Addrs {
		info := redisCmdAll(t, addr, "CLUSTER INFO")
		for _, want := range []string{"cluster_state:ok", "cluster_slots_assigned:16384", "cluster_known_nodes:3", "cluster_size:3"} {
			if !strings.Contains(info, want) {
				t.Errorf("node %d (%s): CLUSTER INFO lacks %s:\n%s", i, addr, want, info)
			}
		}
	}

	rc := c.Client(t)
	// Keys spread over all three masters; one desk's keys (one hash tag)
	// stay on one.
	owners := map[string]bool{}
	for i := range 30 {
		key := fmt.Sprintf("spread:%d", i)
		if err := rc.Set(ctx, key, "v", 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
		owner, err := ownerOf(ctx, rc, key)
		if err != nil {
			t.Fatal(err)
		}
		owners[owner] = true
	}
	if len(owners) != 3 {
		t.Errorf("30 keys landed on %d masters, want all 3", len(owners))
	}
	tagged := []string{"md:{acme}:seen", "md:{acme}:seq", "md:{acme}:outbox"}
	if err := rc.Eval(ctx, `for _, k in ipairs(KEYS) do redis.call('SET', k, '1') end return #KEYS`, tagged).Err(); err != nil {
		t.Errorf("script over one desk's keys: %v", err)
	}
	// Keys of different slots in one command are refused: the property the
	// desk key layout exists for.
	slotA, _ := rc.ClusterKeySlot(ctx, "md:{acme}:seen").Result()
	slotB, _ := rc.ClusterKeySlot(ctx, "md:{other}:seen").Result()
	if slotA == slotB {
		t.Fatalf("test keys share slot %d", slotA)
	}
	node := redis.NewClient(&redis.Options{Addr: c.Addrs[0]})
	defer node.Close()
	err := node.Eval(ctx, `return 1`, []string{"md:{acme}:seen", "md:{other}:seen"}).Err()
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Errorf("script over two desks' keys: err = %v, want CROSSSLOT", err)
	}

	c.Stop()
	c.Stop() // idempotent
	for _, addr := range c.Addrs {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after Stop", addr)
		}
	}
}

// ownerOf returns the id of the node serving key.
func ownerOf(ctx context.Context, rc *redis.ClusterClient, key string) (string, error) {
	slot, err := rc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return "", err
	}
	shards, err := rc.ClusterShards(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if r.Start <= slot && slot <= r.End && len(sh.Nodes) > 0 {
				return sh.Nodes[0].ID, nil
			}
		}
	}
	return "", fmt.Errorf("no node serves slot %d of %s", slot, key)
}

// redisCmdAll is redisCmd for a bulk reply of several lines.
func redisCmdAll(t *testing.T, addr, cmd string) string {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	args := []any{}
	for _, f := range strings.Fields(cmd) {
		args = append(args, f)
	}
	s, err := rc.Do(context.Background(), args...).Text()
	if err != nil {
		t.Fatalf("%s %s: %v", addr, cmd, err)
	}
	return s
}
