//go:build !linux

package testserver

import "syscall"

// sysProcAttr: outside Linux only Redis and the in-process servers are
// expected to work; a leaked server is not killed with the test binary.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	if cred == nil {
		return nil
	}
	return &syscall.SysProcAttr{Credential: cred}
}
