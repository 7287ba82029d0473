package testserver

import "syscall"

// Kill ends the server with SIGKILL, as a crash or the OOM killer would:
// no shutdown, no final AOF rewrite. With RedisOptions.AppendOnly (fsync
// always) every write it acknowledged survives; start it again with
// Restart. Safe to call when it is not running.
func (s *RedisServer) Kill() {
	s.mu.Lock()
	p := s.p
	s.p = nil
	s.mu.Unlock()
	if p == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}
