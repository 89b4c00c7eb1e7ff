package tunnel

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
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

// TestServeReplacesAStaleSpare: the connection dialed ahead to an agent
// that has since gone (a restart) is not the end of the next forwarded
// connection: it goes to the agent that is back over a fresh one.
func TestServeReplacesAStaleSpare(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "control.sock")
	agentL, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer agentL.Close()
	streams := make(chan string, 4)
	go func() {
		first := true
		for {
			c, err := agentL.Accept()
			if err != nil {
				return
			}
			if first { // the spare: its agent goes away
				first = false
				c.Close()
				continue
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				line, _ := br.ReadString('\n')
				streams <- line
				io.Copy(c, br) // echo what the remote client sends
			}()
		}
	}()
	remoteL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tn := &Tunnel{listener: remoteL, log: slog.New(slog.DiscardHandler),
		session: &agent.SessionHandle{Grant: agent.SessionGrant{ID: "00ff"}}}
	go tn.serve(agent.ControlClient{Path: sock})
	defer func() { remoteL.Close(); tn.wg.Wait() }()
	time.Sleep(100 * time.Millisecond) // the spare is dialed and dropped

	c, err := net.Dial("tcp", remoteL.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("forwarded connection: read %q, %v; want the agent's echo", got, err)
	}
	if line := <-streams; !strings.Contains(line, `"session-stream"`) || !strings.Contains(line, "00ff") {
		t.Errorf("stream request %q, want session-stream of 00ff", line)
	}
}
