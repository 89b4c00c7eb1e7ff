package sshd

import (
	"strings"
	"testing"
)

// TestHarness checks the harness with the system ssh client: login with
// the key file works and the log records it.
func TestHarness(t *testing.T) {
	s := Start(t, Options{})
	out, err := s.Run(t, s.ClientKeyFile, "id", "-un")
	if err != nil {
		t.Fatalf("ssh: %v: %s\nlog:\n%s", err, out, s.Log())
	}
	if got := strings.TrimSpace(out); got != s.User {
		t.Errorf("remote id -un: got %q, want %q", got, s.User)
	}
	if !s.WaitLog("Accepted publickey for "+s.User, 0) {
		t.Errorf("log lacks the accepted login:\n%s", s.Log())
	}
}

func TestAgent(t *testing.T) {
	Require(t)
	dir := t.TempDir()
	key := dir + "/k"
	GenerateKey(t, key, "")
	sock := StartAgent(t, key)
	if sock == "" {
		t.Fatal("empty socket path")
	}
}

func TestRestart(t *testing.T) {
	s := Start(t, Options{})
	port, pid := s.Port, s.PID()
	s.Restart(t)
	if s.Port != port || s.PID() == pid {
		t.Fatalf("after Restart: port %d pid %d, want port %d and a new pid than %d", s.Port, s.PID(), port, pid)
	}
	if out, err := s.Run(t, s.ClientKeyFile, "true"); err != nil {
		t.Fatalf("ssh after restart: %v: %s", err, out)
	}
}
