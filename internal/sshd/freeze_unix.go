//go:build unix

package sshd

import (
	"syscall"
	"testing"
)

// FreezeSessions stops (SIGSTOP) every per-connection sshd process, so
// the client sees a server that is alive at the TCP level but answers
// nothing, and resumes them when the test ends. It returns the PIDs.
func (s *Server) FreezeSessions(t testing.TB) []int {
	t.Helper()
	pids := s.SessionPIDs()
	if len(pids) == 0 {
		t.Fatal("sshd: no per-connection sshd process to freeze")
	}
	t.Cleanup(func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatalf("sshd: SIGSTOP %d: %v", pid, err)
		}
	}
	return pids
}
