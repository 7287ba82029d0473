package main

// The end-to-end tests against a Redis Cluster and Redis Sentinel instead
// of one redis-server. newEnvWith takes its Redis from testRedis, which
// MAILDESK_TEST_REDIS selects: unset (or "single") one server, "cluster"
// a three-master Redis Cluster, "sentinel" a primary behind Sentinel. So
//
//	MAILDESK_TEST_REDIS=cluster go test ./cmd/maildesk
//
// runs the whole suite on a cluster; the tests below run the important
// ones there on every run.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/configload"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// testRedisEnv selects the Redis the end-to-end tests run on.
const testRedisEnv = "MAILDESK_TEST_REDIS"

// testRedis starts the Redis that MAILDESK_TEST_REDIS asks for and returns
// the lines of the config's redis section (indented, without "redis:").
// The server is nil unless it is a single redis-server.
func testRedis(t *testing.T) (*testserver.RedisServer, string) {
	t.Helper()
	switch mode := os.Getenv(testRedisEnv); mode {
	case "", "single":
		rs := testserver.Redis(t)
		return rs, "  url: " + rs.URL
	case "cluster":
		c := testserver.RedisCluster(t)
		return nil, "  cluster: [" + strings.Join(c.Addrs, ", ") + "]"
	case "sentinel":
		s := testserver.RedisSentinel(t, testserver.RedisSentinelOptions{})
		return nil, fmt.Sprintf("  sentinel:\n    master: %s\n    addresses: [%s]", s.MasterName, strings.Join(s.Addrs, ", "))
	default:
		t.Fatalf("%s=%q: want single, cluster or sentinel", testRedisEnv, mode)
		return nil, ""
	}
}

// TestEndToEndOnCluster runs the main end-to-end tests with the desk's
// state on a three-master Redis Cluster: every script, transaction and
// pipeline must keep to one hash slot (the desk's tag) or Redis refuses it
// with CROSSSLOT.
func TestEndToEndOnCluster(t *testing.T) {
	t.Setenv(testRedisEnv, "cluster")
	t.Run("EndToEnd", TestEndToEnd)
	t.Run("SLAEscalation", TestSLAEscalationEndToEnd)
	t.Run("WorkingTickets", TestWorkingTicketsEndToEnd)
	t.Run("OutgoingFailures", TestOutgoingFailuresEndToEnd)
	t.Run("Retention", TestRetentionEndToEnd)
	t.Run("ContactsErase", TestContactsEraseEndToEnd)
}

// TestEndToEndOnSentinel runs the main end-to-end test with the desk's
// state on a primary found through Redis Sentinel.
func TestEndToEndOnSentinel(t *testing.T) {
	t.Setenv(testRedisEnv, "sentinel")
	t.Run("EndToEnd", TestEndToEnd)
}

// TestClusterConfigReachesEveryDesk checks the config path of a cluster
// (openRedis from a loaded config) with desks whose keys live on different
// masters, and that one desk's keys all share a slot.
func TestClusterConfigReachesEveryDesk(t *testing.T) {
	c := testserver.RedisCluster(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "contacts.yaml"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// One seed node is enough: the client learns the others from it.
	cfg, err := configload.Parse([]byte(fmt.Sprintf(`desk: {id: acme-it, address: servicedesk@desk.example}
redis:
  cluster: [%s]
imap: {address: "127.0.0.1:143", username: u, password: p}
smtp: {address: "127.0.0.1:25"}
contacts_file: contacts.yaml
`, c.Addrs[1])), dir, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	rc := cfg.Redis
	ctx := context.Background()
	rdb, err := openRedis(ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()

	slots := map[int64]bool{}
	for _, id := range []string{"acme-it", "qiqq", "oxineo", "kwikqy"} {
		ob := notify.NewOutbox(rdb, id)
		st := ticket.NewStore(rdb, ticket.Options{DeskID: id, TicketPrefix: "SD", OutboxKey: ob.Key()})
		if err := ob.Init(ctx); err != nil {
			t.Fatalf("desk %s: outbox init: %v", id, err)
		}
		res, err := st.Create(ctx, "m1@"+id, ticket.New{Subject: "Printer", Customer: "c", CreatedAt: time.Now()},
			[]string{"id", "x", "kind", "ack", "to", "a@b.example"})
		if err != nil {
			t.Fatalf("desk %s: create: %v", id, err)
		}
		if res.Number != "SD-1" || !res.Created || !res.Notified {
			t.Errorf("desk %s: create = %+v", id, res)
		}
		// Replayed: the same ticket, nothing new.
		if again, err := st.Create(ctx, "m1@"+id, ticket.New{Subject: "Printer", CreatedAt: time.Now()}, nil); err != nil || again.Created || again.Number != "SD-1" {
			t.Errorf("desk %s: replay = %+v, %v", id, again, err)
		}
		if n, err := ob.Depth(ctx); err != nil || n != 1 {
			t.Errorf("desk %s: outbox depth %d, %v; want 1", id, n, err)
		}
		slot, err := rdb.ClusterKeySlot(ctx, config.KeyPrefix(id)+"seq").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"seen", "tickets", "outbox", "t:SD-1", "directory", "sla:warn"} {
			if s, _ := rdb.ClusterKeySlot(ctx, config.KeyPrefix(id)+k).Result(); s != slot {
				t.Errorf("desk %s: key %s in slot %d, seq in %d", id, k, s, slot)
			}
		}
		slots[slot] = true
	}
	if len(slots) < 2 {
		t.Errorf("four desks share one slot: %v", slots)
	}
}

// TestStoreAcrossSentinelFailover: the desk's store through Sentinel keeps
// working when the primary fails over to its replica, and a commit
// replayed after the failover (the reply lost with the old primary) changes
// nothing twice.
func TestStoreAcrossSentinelFailover(t *testing.T) {
	s := testserver.RedisSentinel(t, testserver.RedisSentinelOptions{Replica: true})
	ctx := context.Background()
	rdb, err := openRedis(ctx, config.Redis{Sentinel: config.RedisSentinel{Master: s.MasterName, Addresses: s.Addrs}})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ob := notify.NewOutbox(rdb, "acme-it")
	st := ticket.NewStore(rdb, ticket.Options{DeskID: "acme-it", TicketPrefix: "SD", OutboxKey: ob.Key()})
	create := func(id string) (ticket.Result, error) {
		return st.Create(ctx, id, ticket.New{Subject: "about " + id, Customer: "acme", CreatedAt: time.Now()},
			[]string{"id", id + "/ack", "to", "jan@acme.example"})
	}
	if res, err := create("m1@acme.example"); err != nil || res.Number != "SD-1" || !res.Created {
		t.Fatalf("create before the failover = %+v, %v", res, err)
	}
	// Replication is asynchronous: wait until the replica has the commit,
	// as min-replicas-to-write would make the primary do.
	if n, err := rdb.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT = %d, %v", n, err)
	}

	s.Failover(t)

	// The first commands after the switch may fail while the client
	// follows; maildesk retries them with the next round.
	var res ticket.Result
	deadline := time.Now().Add(10 * time.Second)
	for {
		if res, err = create("m1@acme.example"); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || res.Number != "SD-1" || res.Created || res.Notified {
		t.Fatalf("replay after the failover = %+v, %v; want SD-1, nothing new", res, err)
	}
	if res, err := create("m2@acme.example"); err != nil || res.Number != "SD-2" || !res.Created {
		t.Fatalf("create after the failover = %+v, %v", res, err)
	}
	for _, n := range []string{"SD-1", "SD-2"} {
		if tk, err := st.Get(ctx, n); err != nil || tk.Number != n {
			t.Errorf("get %s after the failover: %+v, %v", n, tk, err)
		}
	}
	if n, err := ob.Depth(ctx); err != nil || n != 2 {
		t.Errorf("outbox depth %d, %v; want 2 (one acknowledgement per ticket)", n, err)
	}
	if addr, err := s.MasterAddr(); err != nil || addr != s.Master.Addr {
		t.Errorf("sentinel names %s (%v), the store wrote to %s", addr, err, s.Master.Addr)
	}
}
