package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
)

// SessionHandle is an open SSH session, held by the client that opened it.
// The session lives as long as the handle's connection to the agent.
type SessionHandle struct {
	Grant SessionGrant

	conn net.Conn
	mu   sync.Mutex // serialises writes
	done chan struct{}
	err  error
}

// OpenSession asks the agent for a new session for host with access to
// slots ("" is the default slot).
func (c ControlClient) OpenSession(ctx context.Context, host string, slots []string) (*SessionHandle, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	req := ControlRequest{Op: OpSessionOpen, Session: &SessionRequest{Host: host, Slots: slots}}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		conn.Close()
		return nil, fmt.Errorf("agent: open session: %w", err)
	}
	br := bufio.NewReader(conn)
	dec := json.NewDecoder(br)
	var resp ControlResponse
	if err := dec.Decode(&resp); err != nil {
		conn.Close()
		return nil, fmt.Errorf("agent: open session: %w", err)
	}
	if resp.Error != "" || resp.Session == nil {
		conn.Close()
		if err := controlError(&resp); err != nil {
			return nil, fmt.Errorf("agent: open session: %w", err)
		}
		return nil, errors.New("agent: open session: ")
	}
	conn.SetDeadline(timeZero)
	h := &SessionHandle{Grant: *resp.Session, conn: conn, done: make(chan struct{})}
	go func() {
		// The agent says nothing more until it ends the session, when it
		// says why; a connection that closes without a word is an agent
		// that stopped or died.
		var end ControlResponse
		if err := dec.Decode(&end); err == nil && end.Error != "" {
			h.err = controlError(&end)
		} else {
			h.err = errAgentGone
		}
		close(h.done)
	}()
	return h, nil
}

// SetPort tells the agent which remote port the session's forward uses.
func (h *SessionHandle) SetPort(port int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return json.NewEncoder(h.conn).Encode(ControlRequest{Op: OpSessionPort, Session: &SessionRequest{ID: h.Grant.ID, Port: port}})
}

// errAgentGone is why a session ended whose connection closed without the
// agent saying why: it stopped or died.
var errAgentGone = errors.New("the agent stopped or died")

// Done is closed when the agent ends the session (revoked, or the agent
// stopped); Err then says why.
func (h *SessionHandle) Done() <-chan struct{} { return h.done }

// Err says why the session ended, once Done is closed. It matches
// ErrSessionRevoked when the user revoked the session (aws-sso-agent
// sessions revoke): retrying would undo their decision. Any other reason
// (the agent stopping, or gone) is one a new session may follow once an
// agent runs again.
func (h *SessionHandle) Err() error {
	<-h.done
	return h.err
}

// Close ends the session: the agent revokes its token at once.
func (h *SessionHandle) Close() error { return h.conn.Close() }

// Stream opens one forwarded connection of session id to the agent's
// endpoint. Bytes written to it are what the remote client sent. The agent
// does not answer the request: if the session has ended, it closes the
// connection, which the caller sees as EOF.
func (c ControlClient) Stream(ctx context.Context, id string) (net.Conn, error) {
	conn, err := c.DialStream(ctx)
	if err != nil {
		return nil, err
	}
	if err := StartStream(conn, id); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// DialStream connects to the agent for a stream that StartStream will
// name. Dialing ahead takes the connect and the agent's peer check off the
// path of the forwarded connection that later uses it; the agent waits
// for the request up to its control timeout (2 minutes).
func (c ControlClient) DialStream(ctx context.Context) (net.Conn, error) {
	return c.dial(ctx)
}

// StartStream turns a connection from DialStream into a stream of session
// id.
func StartStream(conn net.Conn, id string) error {
	b, err := json.Marshal(ControlRequest{Op: OpSessionStream, Session: &SessionRequest{ID: id}})
	if err != nil {
		return err
	}
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("agent: stream: %w", err)
	}
	return nil
}

func (c ControlClient) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || isConnRefused(err) {
			return nil, fmt.Errorf("%w (no agent on %s)", ErrNotRunning, c.Path)
		}
		return nil, fmt.Errorf("agent: connect to %s: %w", c.Path, err)
	}
	return conn, nil
}
