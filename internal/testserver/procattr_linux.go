//go:build linux

package testserver

import "syscall"

// sysProcAttr makes a server die with the test binary (Pdeathsig), so a test
// killed by -timeout or Ctrl-C does not leave servers holding ports. Go sets
// Pdeathsig after switching credentials, where the kernel would otherwise
// clear it. (Pdeathsig fires when the forking OS thread exits; the Go runtime
// only ends threads of goroutines that exit while locked to their thread.)
// Setpgid keeps a terminal's Ctrl-C away from the servers, so that the test
// cleanup, not the signal, decides when they stop.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Credential: cred,
		Pdeathsig:  syscall.SIGTERM,
		Setpgid:    true,
	}
}
