//go:build !unix

package sshd

import "testing"

// FreezeSessions needs SIGSTOP; elsewhere it skips the test.
func (s *Server) FreezeSessions(t testing.TB) []int {
	t.Skip("sshd: freezing sessions needs SIGSTOP (unix only)")
	return nil
}
