package testserver

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Losing Redis's recent writes, as the fault tests of issue 16 need: a
// backup restored (Snapshot, then RestoreSnapshot) and a host crash with
// appendfsync everysec (AOFSize, then KillAndTruncateAOF).

// Snapshot saves the dataset now (SAVE) and returns a copy of the RDB file:
// an operator's backup.
func (s *RedisServer) Snapshot(t testing.TB) string {
	t.Helper()
	if err := s.command("SAVE"); err != nil {
		t.Fatalf("testserver: redis SAVE: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(s.dir, "dump.rdb"))
	if err != nil {
		t.Fatalf("testserver: redis snapshot: %v", err)
	}
	f, err := os.CreateTemp(s.dir, "backup-*.rdb")
	if err != nil {
		t.Fatalf("testserver: redis snapshot: %v", err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatalf("testserver: redis snapshot: %v", err)
	}
	return f.Name()
}

// RestoreSnapshot stops the server, replaces its data by the backup made
// by Snapshot and starts it again on the same port. With AppendOnly it does
// what operations.md says an operator does: the append-only file goes, the
// server starts without it (with it on, Redis would ignore the RDB file and
// start empty) and turns it on again with CONFIG SET, writing a new one
// from the restored data.
func (s *RedisServer) RestoreSnapshot(t testing.TB, backup string) {
	t.Helper()
	s.Stop()
	aof := s.opts.AppendOnly
	s.opts.AppendOnly = false
	defer func() { s.opts.AppendOnly = aof }()
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatalf("testserver: redis restore: %v", err)
	}
	if err := os.RemoveAll(filepath.Join(s.dir, "appendonlydir")); err != nil {
		t.Fatalf("testserver: redis restore: %v", err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "dump.rdb"), data, 0o600); err != nil {
		t.Fatalf("testserver: redis restore: %v", err)
	}
	s.Restart(t)
	if aof {
		if err := s.command("CONFIG SET appendonly yes"); err != nil {
			t.Fatalf("testserver: redis restore: %v", err)
		}
	}
}

// AOFSize is the size of the append-only file's incremental part now:
// what a host crash would keep if the rest was not yet on disk.
func (s *RedisServer) AOFSize(t testing.TB) int64 {
	t.Helper()
	f, err := s.incrAOF()
	if err != nil {
		t.Fatalf("testserver: redis aof: %v", err)
	}
	st, err := os.Stat(f)
	if err != nil {
		t.Fatalf("testserver: redis aof: %v", err)
	}
	return st.Size()
}

// KillAndTruncateAOF kills the server (SIGKILL) and cuts its append-only
// file back to size (from AOFSize): the writes of the last second that a
// host crash with appendfsync everysec loses (a process kill alone loses
// nothing, the kernel still has them). Start it again with Restart.
func (s *RedisServer) KillAndTruncateAOF(t testing.TB, size int64) {
	t.Helper()
	s.Kill()
	f, err := s.incrAOF()
	if err != nil {
		t.Fatalf("testserver: redis aof: %v", err)
	}
	if err := os.Truncate(f, size); err != nil {
		t.Fatalf("testserver: redis aof: %v", err)
	}
}

// incrAOF is the current incremental AOF file (Redis 7 multi-part AOF).
func (s *RedisServer) incrAOF() (string, error) {
	files, err := filepath.Glob(filepath.Join(s.dir, "appendonlydir", "*.incr.aof"))
	if err != nil || len(files) == 0 {
		return "", fmt.Errorf("no incremental AOF in %s (AppendOnly off?): %v", s.dir, err)
	}
	// One per rewrite; the manifest's last is the newest, and so the
	// highest sequence number sorts last.
	latest := files[0]
	for _, f := range files[1:] {
		if seqOfAOF(f) > seqOfAOF(latest) {
			latest = f
		}
	}
	return latest, nil
}

func seqOfAOF(name string) int {
	var n int
	base := strings.TrimSuffix(filepath.Base(name), ".incr.aof")
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		fmt.Sscan(base[i+1:], &n)
	}
	return n
}

// command sends one inline command and reads a one-line reply.
func (s *RedisServer) command(cmd string) error {
	conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write([]byte(cmd + "\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line = strings.TrimSpace(line); strings.HasPrefix(line, "-") {
		return fmt.Errorf("%s: %s", cmd, line[1:])
	}
	return nil
}
