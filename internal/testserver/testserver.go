// Package testserver starts real servers (redis-server, Dovecot) and
// in-process mail servers (go-smtp, go-imap memserver) on free loopback
// ports for tests. Every helper stops its server at test cleanup and fails
// the test with a readable message when a server cannot be started.
//
// The external binaries are installed by ./scripts/test on Debian/Ubuntu.
package testserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout is generous because CI machines running -race under load
// start Dovecot far slower than the ~0.1 s seen on a developer laptop.
const startTimeout = 20 * time.Second

// stopTimeout bounds how long a graceful SIGTERM may take before SIGKILL.
const stopTimeout = 10 * time.Second

// findBinary looks in PATH and then in the sbin directories, because Debian
// installs dovecot into /usr/sbin, which is not in a non-root user's PATH.
func findBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH nor in /usr/sbin", name)
}

func mustFindBinary(t testing.TB, name, debPackages string) string {
	t.Helper()
	p, err := findBinary(name)
	if err != nil {
		t.Fatalf("testserver: %s not found in PATH (nor /usr/sbin): run ./scripts/test, which installs it "+
			"(or: apt-get install %s)", name, debPackages)
	}
	return p
}

// freePort asks the kernel for an unused loopback port. The port is released
// before the server binds it, so callers must retry when the bind races with
// another process.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	return port, nil
}

// errBindRace marks a start failure that a retry on new ports may fix.
var errBindRace = errors.New("address already in use")

// proc is an external server process whose output goes to a log file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error // valid after done is closed
	logs    []string
	offsets []int64 // sizes of logs at start: older lines are not ours
}

// startProc starts bin with its stdout and stderr appended to stdoutLog.
// extraLogs are files the server writes itself; all of them are shown by
// logTail.
func startProc(name, bin string, args []string, dir, stdoutLog string, cred *syscall.Credential, extraLogs ...string) (*proc, error) {
	f, err := os.OpenFile(stdoutLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: open log: %w", name, err)
	}
	// The child holds its own copy of the descriptor.
	defer f.Close()
	if cred != nil {
		if err := os.Chown(stdoutLog, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("%s: chown log: %w", name, err)
		}
	}

	logs := append([]string{stdoutLog}, extraLogs...)
	offsets := make([]int64, len(logs))
	for i, path := range logs {
		if fi, err := os.Stat(path); err == nil {
			offsets[i] = fi.Size()
		}
	}

	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = f
	cmd.Stderr = f
	// HOME of root is not readable by the dovecot user; keep servers inside
	// their temp dir.
	cmd.Env = append(os.Environ(), "HOME="+dir)
	cmd.SysProcAttr = sysProcAttr(cred)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, bin, err)
	}
	p := &proc{
		name:    name,
		cmd:     cmd,
		done:    make(chan struct{}),
		logs:    logs,
		offsets: offsets,
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM so servers shut down cleanly (Redis writes its AOF,
// Dovecot reaps its children) and falls back to SIGKILL.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// failure describes why a start failed, with the exit status and log tail,
// and wraps errBindRace when the log shows a port collision.
func (p *proc) failure(what error) error {
	status := "still running"
	if p.exited() {
		status = fmt.Sprintf("exited: %v", p.waitErr)
	}
	err := fmt.Errorf("%s: %w (process %s)\n--- log tail ---\n%s", p.name, what, status, p.logTail())
	return &startError{err: err, bindRace: strings.Contains(p.newOutput(), "Address already in use")}
}

// startError lets callers retry on new ports (errors.Is(err, errBindRace))
// without adding noise to the message.
type startError struct {
	err      error
	bindRace bool
}

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }
func (e *startError) Is(target error) bool {
	return e.bindRace && target == errBindRace
}

func (p *proc) logTail() string {
	var b strings.Builder
	for _, path := range p.logs {
		tail, err := fileTail(path, 25)
		if err != nil || tail == "" {
			continue
		}
		fmt.Fprintf(&b, "[%s]\n%s\n", filepath.Base(path), tail)
	}
	if b.Len() == 0 {
		return "(no log output)"
	}
	return b.String()
}

// newOutput returns what this process wrote to its logs (the logs of a
// restarted server also hold the lines of its previous runs).
func (p *proc) newOutput() string {
	var b strings.Builder
	for i, path := range p.logs {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		if _, err := f.Seek(p.offsets[i], io.SeekStart); err == nil {
			_, _ = io.Copy(&b, io.LimitReader(f, 1<<20))
		}
		f.Close()
	}
	return b.String()
}

// fileTail returns the last n lines of the file.
func fileTail(path string, n int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	const maxBytes = 8 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > maxBytes {
		if _, err := f.Seek(-maxBytes, io.SeekEnd); err != nil {
			return "", err
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n"), nil
}

// waitReady polls check until it succeeds, the process dies or the start
// timeout passes.
func waitReady(p *proc, check func() error) error {
	deadline := time.Now().Add(startTimeout)
	var last error
	for {
		if p.exited() {
			if last == nil {
				last = errors.New("process exited during start")
			}
			return p.failure(last)
		}
		if last = check(); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return p.failure(fmt.Errorf("not ready after %s: %w", startTimeout, last))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readGreeting dials addr and returns the first line the server sends.
func readGreeting(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	var buf [512]byte
	var line []byte
	for !bytes.Contains(line, []byte("\n")) {
		n, err := conn.Read(buf[:])
		line = append(line, buf[:n]...)
		if err != nil {
			return string(line), err
		}
	}
	return strings.TrimRight(string(line[:bytes.IndexByte(line, '\n')]), "\r"), nil
}

// tbLogger forwards server log lines to the test log until the test ends:
// t.Logf after the test has finished panics, and server goroutines can log
// while they wind down.
type tbLogger struct {
	mu     sync.Mutex
	t      testing.TB
	prefix string
	closed bool
}

func newTBLogger(t testing.TB, prefix string) *tbLogger {
	return &tbLogger{t: t, prefix: prefix}
}

func (l *tbLogger) Printf(format string, args ...any) {
	l.log(fmt.Sprintf(format, args...))
}

func (l *tbLogger) Println(args ...any) {
	l.log(fmt.Sprintln(args...))
}

func (l *tbLogger) log(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.t.Logf("%s%s", l.prefix, strings.TrimRight(s, "\n"))
	}
}

func (l *tbLogger) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
}
