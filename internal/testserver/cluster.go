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
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// RedisClusterServer is a Redis Cluster of three masters without replicas,
// each a redis-server process on loopback owned by one test. The slots are
// split evenly: 0-5460, 5461-10921, 10922-16383.
type RedisClusterServer struct {
	// Addrs are the nodes' host:port, in slot order: the seed list for a
	// cluster client (any one of them is enough).
	Addrs []string

	mu    sync.Mutex
	nodes []*clusterNode
}

type clusterNode struct {
	addr     string
	port     int
	busPort  int
	dir      string
	p        *proc
	slotFrom int
	slotTo   int
}

// RedisCluster starts a three-master Redis Cluster without persistence on
// free loopback ports and waits until every node reports cluster_state:ok.
// The cluster is assembled with CLUSTER ADDSLOTSRANGE and CLUSTER MEET, so
// no redis-cli is needed. Startup takes about two seconds: a fresh master
// does not declare the cluster ok for the first two seconds after it
// started (CLUSTER_WRITABLE_DELAY in Redis), whatever the setup.
func RedisCluster(t testing.TB) *RedisClusterServer {
	t.Helper()
	bin := mustFindBinary(t, "redis-server", "redis-server")
	base := t.TempDir()
	c := &RedisClusterServer{}
	t.Cleanup(c.Stop)

	const n = 3
	type result struct {
		node *clusterNode
		err  error
	}
	results := make(chan result, n)
	for i := range n {
		from := i * clusterSlots / n
		to := (i+1)*clusterSlots/n - 1
		dir := filepath.Join(base, "node"+strconv.Itoa(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatalf("testserver: redis cluster: %v", err)
		}
		// The nodes start in parallel: Redis's writable delay runs from
		// each node's start, so the setup overlaps it.
		go func() {
			node, err := startClusterNode(bin, dir, from, to)
			results <- result{node, err}
		}()
	}
	var errs []error
	for range n {
		r := <-results
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		c.mu.Lock()
		c.nodes = append(c.nodes, r.node)
		c.mu.Unlock()
	}
	if len(errs) > 0 {
		t.Fatalf("testserver: redis cluster: %v", errors.Join(errs...))
	}
	// Slot order, so that Addrs[0] serves slot 0.
	for i := range c.nodes {
		for j := i + 1; j < len(c.nodes); j++ {
			if c.nodes[j].slotFrom < c.nodes[i].slotFrom {
				c.nodes[i], c.nodes[j] = c.nodes[j], c.nodes[i]
			}
		}
	}
	for _, nd := range c.nodes {
		c.Addrs = append(c.Addrs, nd.addr)
	}
	if err := c.assemble(); err != nil {
		t.Fatalf("testserver: redis cluster: %v\n%s", err, c.logTails())
	}
	return c
}

// startClusterNode starts one cluster-enabled redis-server on fresh ports,
// retrying when another process took a port first.
func startClusterNode(bin, dir string, from, to int) (*clusterNode, error) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		nd := &clusterNode{dir: dir, slotFrom: from, slotTo: to}
		if nd.port, err = freePort(); err != nil {
			return nil, err
		}
		if nd.busPort, err = freePort(); err != nil {
			return nil, err
		}
		if nd.busPort == nd.port {
			continue
		}
		nd.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(nd.port))
		// A failed attempt may have left its cluster config behind.
		_ = os.Remove(filepath.Join(dir, "nodes.conf"))
		args := []string{
			"--port", strconv.Itoa(nd.port),
			"--bind", "127.0.0.1",
			"--cluster-enabled", "yes",
			"--cluster-port", strconv.Itoa(nd.busPort),
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000",
			"--save", "",
			"--appendonly", "no",
			"--dir", dir,
			"--daemonize", "no",
			"--logfile", "",
		}
		p, serr := startProc("redis-server (cluster) "+nd.addr, bin, args, dir, filepath.Join(dir, "redis.log"), nil)
		if serr != nil {
			return nil, serr
		}
		if err = waitReady(p, func() error { return redisReady(nd.addr, dir) }); err != nil {
			p.stop()
			if errors.Is(err, errBindRace) {
				continue
			}
			return nil, err
		}
		nd.p = p
		return nd, nil
	}
	return nil, err
}

// assemble gives each node its slots and a distinct config epoch, makes
// them meet, and waits until all of them see a healthy cluster.
func (c *RedisClusterServer) assemble() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	clients := make([]*redis.Client, len(c.nodes))
	for i, nd := range c.nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: nd.addr, DisableIdentity: true, MaxRetries: -1})
		defer clients[i].Close()
	}
	for i, nd := range c.nodes {
		rc := clients[i]
		// Distinct epochs spare the nodes the collision handling that
		// would otherwise bump them one by one.
		if err := rc.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return fmt.Errorf("%s: CLUSTER SET-CONFIG-EPOCH: %w", nd.addr, err)
		}
		if err := rc.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", nd.slotFrom, nd.slotTo).Err(); err != nil {
			return fmt.Errorf("%s: CLUSTER ADDSLOTSRANGE %d %d: %w", nd.addr, nd.slotFrom, nd.slotTo, err)
		}
	}
	for _, nd := range c.nodes[1:] {
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", nd.port, nd.busPort).Err(); err != nil {
			return fmt.Errorf("%s: CLUSTER MEET %s: %w", c.nodes[0].addr, nd.addr, err)
		}
	}
	want := fmt.Sprintf("cluster_known_nodes:%d", len(c.nodes))
	var last error
	for {
		last = nil
		for i, rc := range clients {
			info, err := rc.ClusterInfo(ctx).Result()
			switch {
			case err != nil:
				last = fmt.Errorf("%s: CLUSTER INFO: %w", c.nodes[i].addr, err)
			case !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, want):
				last = fmt.Errorf("%s: cluster not ready yet:\n%s", c.nodes[i].addr, strings.TrimSpace(info))
			}
			if last != nil {
				break
			}
		}
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", startTimeout, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Client returns a cluster client for the test, closed at its cleanup.
func (c *RedisClusterServer) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { rc.Close() })
	return rc
}

// Stop shuts every node down; it is safe to call more than once.
func (c *RedisClusterServer) Stop() {
	c.mu.Lock()
	nodes := c.nodes
	c.nodes = nil
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, nd := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nd.p.stop()
		}()
	}
	wg.Wait()
}

func (c *RedisClusterServer) logTails() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, nd := range c.nodes {
		fmt.Fprintf(&b, "--- %s ---\n%s\n", nd.addr, nd.p.logTail())
	}
	return b.String()
}
