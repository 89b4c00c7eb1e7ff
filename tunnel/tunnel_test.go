package tunnel

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func TestSpareStream(t *testing.T) {
	var s spareStream
	a, b := net.Pipe()
	defer b.Close()
	s.put(a)
	c, d := net.Pipe()
	defer d.Close()
	s.put(c) // one spare at most: the second is closed
	if !pipeClosed(c) {
		t.Error("a second spare was kept")
	}
	if got := s.take(); got != a {
		t.Errorf("take: got %v, want the spare", got)
	}
	if s.take() != nil {
		t.Error("take twice returned a connection")
	}
	// A stale spare is closed, not used.
	e, f := net.Pipe()
	defer f.Close()
	s.put(e)
	s.at = time.Now().Add(-2 * spareTTL)
	if s.take() != nil {
		t.Error("a stale spare was used")
	}
	// After close, a late dial's connection is closed at once.
	s.close()
	g, h := net.Pipe()
	defer h.Close()
	s.put(g)
	if !pipeClosed(g) {
		t.Error("a spare handed over after close stayed open")
	}
}

// pipeClosed reports whether c (a net.Pipe end) was closed.
func pipeClosed(c net.Conn) bool {
	c.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := c.Write([]byte("x"))
	return errors.Is(err, io.ErrClosedPipe)
}
