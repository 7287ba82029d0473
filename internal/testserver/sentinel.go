package testserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the name the test sentinel monitors its primary under.
const SentinelMaster = "maildesk"

// RedisSentinelOptions configures RedisSentinel.
type RedisSentinelOptions struct {
	// Replica adds a replica of the primary, which Sentinel can promote
	// (Failover).
	Replica bool
}

// RedisSentinelServer is a primary redis-server watched by one Redis
// Sentinel (quorum 1), optionally with a replica, all on loopback and owned
// by one test.
type RedisSentinelServer struct {
	// Addrs are the sentinels' host:port (one).
	Addrs []string
	// MasterName is what the sentinel calls the primary (SentinelMaster).
	MasterName string
	// Master is the primary at start, Replica its replica (nil without
	// RedisSentinelOptions.Replica). After Failover they have swapped roles.
	Master, Replica *RedisServer

	p *proc
}

// RedisSentinel starts a primary, optionally a replica, and a sentinel
// (redis-server --sentinel) that knows them, and waits until the sentinel
// names the primary (and has found the replica).
func RedisSentinel(t testing.TB, opts RedisSentinelOptions) *RedisSentinelServer {
	t.Helper()
	// Without the diskless sync delay (5 s by default) a replica links up
	// in about a second.
	fast := []string{"--repl-diskless-sync-delay", "0"}
	s := &RedisSentinelServer{MasterName: SentinelMaster, Master: RedisWithOptions(t, RedisOptions{Args: fast})}
	host, port, _ := net.SplitHostPort(s.Master.Addr)
	if opts.Replica {
		s.Replica = RedisWithOptions(t, RedisOptions{Args: append(fast, "--replicaof", host, port)})
	}
	bin := mustFindBinary(t, "redis-server", "redis-server")
	dir := t.TempDir()
	// The sentinel learns of replicas from the primary's INFO, which it
	// asks at once and then every ten seconds: a replica linked up before
	// the sentinel starts is known within a second.
	if opts.Replica {
		if err := waitLinked(s.Replica.Addr); err != nil {
			t.Fatalf("testserver: redis sentinel: %v", err)
		}
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = s.start(bin, dir, host, port); err == nil || !errors.Is(err, errBindRace) {
			break
		}
	}
	if err != nil {
		t.Fatalf("testserver: redis sentinel: %v", err)
	}
	t.Cleanup(s.Stop)
	if opts.Replica {
		if err := s.waitReplica(); err != nil {
			t.Fatalf("testserver: redis sentinel: %v\n%s", err, s.p.logTail())
		}
	}
	return s
}

func (s *RedisSentinelServer) start(bin, dir, masterHost, masterPort string) error {
	sport, err := freePort()
	if err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sport))
	// Short timeouts so that a test failover is quick; the sentinel
	// rewrites this file, so it is written fresh for each attempt.
	conf := fmt.Sprintf(`port %d
bind 127.0.0.1
daemonize no
dir %s
logfile ""
sentinel monitor %s %s %s 1
sentinel down-after-milliseconds %[3]s 2000
sentinel failover-timeout %[3]s 10000
`, sport, dir, s.MasterName, masterHost, masterPort)
	confPath := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return err
	}
	p, err := startProc("redis-sentinel "+addr, bin, []string{confPath, "--sentinel"}, dir, filepath.Join(dir, "sentinel.log"), nil)
	if err != nil {
		return err
	}
	want := net.JoinHostPort(masterHost, masterPort)
	err = waitReady(p, func() error {
		got, err := s.masterAddr(addr)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("port %s is another sentinel's (it names %s as primary)", addr, got)
		}
		return nil
	})
	if err != nil {
		p.stop()
		return err
	}
	s.p, s.Addrs = p, []string{addr}
	return nil
}

// masterAddr asks the sentinel at addr for the primary's host:port.
func (s *RedisSentinelServer) masterAddr(addr string) (string, error) {
	sc := redis.NewSentinelClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1, DisableIdentity: true})
	defer sc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hp, err := sc.GetMasterAddrByName(ctx, s.MasterName).Result()
	if err != nil {
		return "", err
	}
	if len(hp) != 2 {
		return "", fmt.Errorf("SENTINEL GET-MASTER-ADDR-BY-NAME answered %v", hp)
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// MasterAddr is the primary's host:port as the sentinel names it now.
func (s *RedisSentinelServer) MasterAddr() (string, error) { return s.masterAddr(s.Addrs[0]) }

// waitLinked waits until the replica at addr has synced with its primary.
func waitLinked(addr string) error {
	rc := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		info, err := rc.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica %s not linked to its primary after %s", addr, startTimeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitReplica waits until the sentinel knows the replica, so that a
// failover has somewhere to go.
func (s *RedisSentinelServer) waitReplica() error {
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addrs[0], DisableIdentity: true})
	defer sc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		reps, err := sc.Replicas(ctx, s.MasterName).Result()
		// SENTINEL FAILOVER refuses (NOGOODSLAVE) a replica the sentinel
		// has not connected to and read INFO from yet.
		if err == nil && len(reps) > 0 {
			r := reps[0]
			refresh, _ := strconv.ParseInt(r["info-refresh"], 10, 64)
			if r["flags"] == "slave" && r["master-link-status"] == "ok" && r["info-refresh"] != "" && refresh < 5000 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the sentinel does not know replica %s after %s", s.Replica.Addr, startTimeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Failover makes the sentinel promote the replica (SENTINEL FAILOVER) and
// waits until it names the replica as primary, the replica says it is one
// and the old primary has become its replica (until then the old primary
// still takes writes, which are lost: the split-brain window of every
// asynchronous failover). Master and Replica then swap.
func (s *RedisSentinelServer) Failover(t testing.TB) {
	t.Helper()
	if s.Replica == nil {
		t.Fatal("testserver: redis sentinel: Failover needs RedisSentinelOptions.Replica")
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addrs[0], DisableIdentity: true})
	defer sc.Close()
	rc := redis.NewClient(&redis.Options{Addr: s.Replica.Addr, DisableIdentity: true})
	defer rc.Close()
	oc := redis.NewClient(&redis.Options{Addr: s.Master.Addr, DisableIdentity: true})
	defer oc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := sc.Failover(ctx, s.MasterName).Err(); err != nil {
		t.Fatalf("testserver: SENTINEL FAILOVER: %v", err)
	}
	role := func(c *redis.Client) string {
		r, err := c.Do(ctx, "ROLE").Slice()
		if err != nil || len(r) == 0 {
			return ""
		}
		s, _ := r[0].(string)
		return s
	}
	newHost, newPort, _ := net.SplitHostPort(s.Replica.Addr)
	for {
		addr, err := s.MasterAddr()
		if err == nil && addr == s.Replica.Addr && role(rc) == "master" {
			// The sentinel turns the old primary into a replica when it
			// next reads its INFO, up to ten seconds later; do now what it
			// will do then.
			if role(oc) != "slave" {
				if err := oc.Do(ctx, "REPLICAOF", newHost, newPort).Err(); err != nil {
					t.Fatalf("testserver: REPLICAOF on the old primary %s: %v", s.Master.Addr, err)
				}
			}
			s.Master, s.Replica = s.Replica, s.Master
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("testserver: failover to %s not done after %s (sentinel names %s, %v)\n%s", s.Replica.Addr, startTimeout, addr, err, s.p.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops the sentinel (the servers stop at the test's cleanup); it is
// safe to call more than once.
func (s *RedisSentinelServer) Stop() {
	if s.p != nil {
		s.p.stop()
	}
}
