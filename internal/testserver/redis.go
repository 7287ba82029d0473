package testserver

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RedisOptions configures RedisWithOptions.
type RedisOptions struct {
	// AppendOnly enables the AOF (appendfsync always), so that data survives
	// Restart; by default nothing is persisted.
	AppendOnly bool
	// Args are extra redis-server command line arguments, e.g.
	// []string{"--maxmemory", "10mb"}.
	Args []string
}

// RedisServer is a redis-server process owned by one test.
type RedisServer struct {
	Addr string // 127.0.0.1:port
	URL  string // redis://127.0.0.1:port/0

	bin  string
	dir  string
	port int
	opts RedisOptions

	mu sync.Mutex
	p  *proc
}

// Redis starts a redis-server without persistence on a free loopback port.
func Redis(t testing.TB) *RedisServer {
	t.Helper()
	return RedisWithOptions(t, RedisOptions{})
}

// RedisWithOptions starts a redis-server with opts on a free loopback port.
func RedisWithOptions(t testing.TB, opts RedisOptions) *RedisServer {
	t.Helper()
	s := &RedisServer{
		bin:  mustFindBinary(t, "redis-server", "redis-server"),
		dir:  t.TempDir(),
		opts: opts,
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if s.port, err = freePort(); err != nil {
			t.Fatalf("testserver: redis: %v", err)
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
		s.URL = "redis://" + s.Addr + "/0"
		if err = s.start(); err == nil || !errors.Is(err, errBindRace) {
			break
		}
	}
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func (s *RedisServer) start() error {
	appendOnly := "no"
	if s.opts.AppendOnly {
		appendOnly = "yes"
	}
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", appendOnly,
		"--appendfsync", "always",
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", "",
	}
	args = append(args, s.opts.Args...)
	p, err := startProc("redis-server "+s.Addr, s.bin, args, s.dir, filepath.Join(s.dir, "redis.log"), nil)
	if err != nil {
		return err
	}
	if err := waitReady(p, func() error { return redisReady(s.Addr, s.dir) }); err != nil {
		p.stop()
		return err
	}
	s.mu.Lock()
	s.p = p
	s.mu.Unlock()
	return nil
}

// Stop shuts the server down; it is safe to call more than once.
func (s *RedisServer) Stop() {
	s.mu.Lock()
	p := s.p
	s.p = nil
	s.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

// Restart stops the server and starts it again on the same port and data
// directory, so clients see a server restart (and, with AppendOnly, keep
// their data).
func (s *RedisServer) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	var err error
	// The port can only be taken by someone else in the short gap; retrying
	// covers a slow release of the old socket.
	for attempt := 0; attempt < 10; attempt++ {
		if err = s.start(); err == nil || !errors.Is(err, errBindRace) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("testserver: restart: %v", err)
	}
}

// redisReady speaks just enough RESP to avoid a client dependency here.
// PING fails while an AOF is loading; CONFIG GET dir proves that the answer
// comes from our server and not from another one that took the port first.
func redisReady(addr, dir string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("PING\r\nCONFIG GET dir\r\n")); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("PING: %w", err)
	}
	if line = strings.TrimSpace(line); line != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	// *2, $3, dir, $N, <dir>
	var reply []string
	for range 5 {
		if line, err = r.ReadString('\n'); err != nil {
			return fmt.Errorf("CONFIG GET dir: %w", err)
		}
		reply = append(reply, strings.TrimSpace(line))
	}
	// Redis reports the directory it chdir'ed to, with symlinks resolved.
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	if reply[4] != dir {
		return fmt.Errorf("port %s is served by another redis-server (dir %q)", addr, reply[4])
	}
	return nil
}
