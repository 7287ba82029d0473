package testserver

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a program under test run as a child process (the maildesk
// binary), so that a test can crash it for real with Kill (SIGKILL: no
// deferred code, no shutdown) and start it again with Start. Its stdout
// and stderr are appended to one log file across all its runs.
type Process struct {
	Name string
	Bin  string
	Args []string
	// Env is the complete environment of the child; nil means the test's
	// own environment.
	Env []string
	// Log is the file stdout and stderr go to.
	Log string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	starts  int
}

// NewProcess describes a process without starting it; the test's cleanup
// stops it if it is still running then.
func NewProcess(t testing.TB, name, log, bin string, args ...string) *Process {
	p := &Process{Name: name, Bin: bin, Args: args, Log: log}
	t.Cleanup(p.Stop)
	return p
}

// Start runs the program; it fails the test if it cannot be started or is
// already running.
func (p *Process) Start(t testing.TB) {
	t.Helper()
	if err := p.start(); err != nil {
		t.Fatalf("testserver: %v", err)
	}
}

func (p *Process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isClosed(p.done) {
		return fmt.Errorf("%s: already running (pid %d)", p.Name, p.cmd.Process.Pid)
	}
	f, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s: open log: %w", p.Name, err)
	}
	defer f.Close() // the child has its own copy
	p.starts++
	fmt.Fprintf(f, "--- testserver: start %d of %s at %s ---\n", p.starts, p.Name, time.Now().Format("15:04:05.000"))
	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = f, f, p.Env
	cmd.SysProcAttr = sysProcAttr(nil)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: start %s: %w", p.Name, p.Bin, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.waitErr = cmd, done, nil
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		if p.cmd == cmd {
			p.waitErr = err
		}
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Running reports whether the process has been started and not exited.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !isClosed(p.done)
}

// Exited returns whether the current run has ended and how (nil: exit 0).
func (p *Process) Exited() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || !isClosed(p.done) {
		return false, nil
	}
	return true, p.waitErr
}

// Pid is the process id of the current run, 0 before the first.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Kill sends SIGKILL and waits until the process is gone.
func (p *Process) Kill() {
	p.signal(syscall.SIGKILL, 0)
}

// Stop sends SIGTERM and waits for the process to end, with SIGKILL after
// 30 s; safe to call when it is not running.
func (p *Process) Stop() {
	p.signal(syscall.SIGTERM, 30*time.Second)
}

func (p *Process) signal(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || isClosed(done) {
		return
	}
	_ = cmd.Process.Signal(sig)
	if grace <= 0 {
		<-done
		return
	}
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// LogTail returns the last n lines of the log (all runs).
func (p *Process) LogTail(n int) string {
	s, err := fileTailBytes(p.Log, n, 64<<10)
	if err != nil {
		return fmt.Sprintf("(log %s: %v)", p.Log, err)
	}
	return s
}

// fileTailBytes is fileTail reading up to maxBytes from the end.
func fileTailBytes(path string, n int, maxBytes int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
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
