package forward

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// These run against the in-process server (server_test.go), which answers
// keepalive@openssh.com with "failure", as OpenSSH's sshd answers any
// global request it does not know.

func TestKeepaliveFailureReplyMeansAlive(t *testing.T) {
	s := startServer(t, nil)
	cfg := s.config(t)
	// Short, but wide enough that a loaded machine answers in time.
	cfg.ServerAliveInterval = 100 * time.Millisecond
	cfg.ServerAliveCountMax = 3
	c := dialOK(t, cfg)
	// Several times ServerAliveCountMax keepalives, every one answered
	// "failure": the connection must stay up.
	deadline := time.Now().Add(20 * time.Second)
	for s.keepaliveCount() < 3*cfg.ServerAliveCountMax {
		if time.Now().After(deadline) {
			t.Fatalf("%d keepalives in 20s, want %d", s.keepaliveCount(), 3*cfg.ServerAliveCountMax)
		}
		if err := c.Err(); err != nil {
			t.Fatalf("connection closed after %d keepalives answered \"failure\": %v", s.keepaliveCount(), err)
		}
		time.Sleep(cfg.ServerAliveInterval)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("connection closed: %v", err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatalf("new session after keepalives: %v", err)
	}
	defer sess.Close()
	if err := sess.Run("true"); err != nil {
		t.Errorf("run after keepalives: %v", err)
	}
}

func TestKeepaliveDetectsUnansweringServer(t *testing.T) {
	s := startServer(t, nil)
	cfg := s.config(t)
	cfg.ServerAliveInterval = 50 * time.Millisecond
	cfg.ServerAliveCountMax = 3
	c := dialOK(t, cfg)
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()

	s.freeze()
	frozen := time.Now()
	select {
	case err := <-done:
		var kt *KeepaliveTimeoutError
		if !errors.As(err, &kt) {
			t.Fatalf("Wait after the server stopped answering: got %v, want *KeepaliveTimeoutError", err)
		}
		if kt.Missed != cfg.ServerAliveCountMax || kt.Interval != cfg.ServerAliveInterval || kt.Host != s.addr {
			t.Errorf("got %+v, want %d missed at %s from %s", kt, cfg.ServerAliveCountMax, cfg.ServerAliveInterval, s.addr)
		}
		if !strings.Contains(err.Error(), "not responding") {
			t.Errorf("error %q lacks OpenSSH's wording", err)
		}
		if !errors.Is(c.Err(), err) {
			t.Errorf("Err: got %v, want %v", c.Err(), err)
		}
		// OpenSSH gives up after ServerAliveCountMax unanswered
		// intervals, not at the first one.
		if min := time.Duration(cfg.ServerAliveCountMax) * cfg.ServerAliveInterval; time.Since(frozen) < min {
			t.Errorf("gave up after %s, before %s", time.Since(frozen), min)
		}
	case <-time.After(20 * time.Second): // a hang guard, far above interval*count
		t.Fatal("keepalive never gave up on a server that stopped answering")
	}
}

func TestNoKeepalivesWithoutInterval(t *testing.T) {
	s := startServer(t, nil)
	cfg := s.config(t)
	cfg.ServerAliveInterval = 0
	c := dialOK(t, cfg)
	time.Sleep(100 * time.Millisecond)
	if n := s.keepaliveCount(); n != 0 {
		t.Errorf("%d keepalives sent with ServerAliveInterval 0, want none", n)
	}
	if err := c.Err(); err != nil {
		t.Errorf("connection closed: %v", err)
	}
}
