package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/ssh"
	sshagent "golang.org/x/crypto/ssh/agent"

	"github.com/aws-sso-agent/aws-sso-agent/forward"
)

// SessionEndedError reports that the agent ended the session (revoked, or
// the agent stopped) while the tunnel was up.
type SessionEndedError struct{ Err error }

func (e *SessionEndedError) Error() string { return "session ended by the agent: " + e.Err.Error() }
func (e *SessionEndedError) Unwrap() error { return e.Err }

// ErrConnectionClosed reports an SSH connection that ended without saying
// why: the server or the network closed it.
var ErrConnectionClosed = errors.New("connection closed")

// Remote is what Run runs on the remote host.
type Remote struct {
	// Command is the remote command, parsed by the remote user's shell;
	// "" runs the login shell.
	Command string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	// AgentSocket, when set, is the ssh-agent to forward to the remote
	// host (ssh -A).
	AgentSocket string
	// Terminal, when set, asks for a terminal on s before the command
	// starts, and returns what undoes its changes to the local terminal
	// once the command is done. The caller owns the terminal: its size,
	// its type, raw mode.
	Terminal func(s *ssh.Session) (restore func(), err error)
}

// Run runs r over the tunnel and waits for it. It returns the remote
// command's exit status as OpenSSH's ssh reports it (forward.ExitStatus),
// or forward.ExitStatusConnectionError with the error when there is no
// status: the agent ended the session (*SessionEndedError), keepalives
// timed out (*forward.KeepaliveTimeoutError), or the connection closed.
func (t *Tunnel) Run(r Remote) (int, error) {
	const failed = forward.ExitStatusConnectionError
	s, err := t.client.NewSession()
	if err != nil {
		return failed, err
	}
	defer s.Close()
	if r.AgentSocket != "" {
		if err := forward.ForwardAgent(t.client.Client, r.AgentSocket); err != nil {
			return failed, err
		}
		if err := sshagent.RequestAgentForwarding(s); err != nil {
			return failed, fmt.Errorf("agent forwarding refused: %w", err)
		}
	}
	s.Stdin, s.Stdout, s.Stderr = r.Stdin, r.Stdout, r.Stderr
	if r.Terminal != nil {
		restore, err := r.Terminal(s)
		if err != nil {
			return failed, err
		}
		defer restore()
	}
	if r.Command == "" {
		err = s.Shell()
	} else {
		err = s.Start(r.Command)
	}
	if err != nil {
		return failed, err
	}

	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-t.session.Done():
		t.client.Close()
		<-done
		return failed, &SessionEndedError{Err: t.session.Err()}
	case <-t.ended:
		// The connection died (keepalive timeout, network); the session
		// cannot report a status any more.
		select {
		case err = <-done:
		case <-time.After(time.Second):
		}
		if kerr := t.client.Err(); kerr != nil {
			return failed, kerr
		}
		if err == nil {
			return failed, ErrConnectionClosed
		}
	}
	var exitErr *ssh.ExitError
	if err == nil || errors.As(err, &exitErr) {
		return forward.ExitStatus(err), nil
	}
	if kerr := t.client.Err(); kerr != nil {
		return failed, kerr
	}
	return failed, fmt.Errorf("connection to %s closed: %w", t.host, err)
}

// Wait blocks until the tunnel ends or ctx does, and says why: ctx's
// error, *SessionEndedError, *forward.KeepaliveTimeoutError, another
// connection error, or ErrConnectionClosed.
func (t *Tunnel) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.session.Done():
		return &SessionEndedError{Err: t.session.Err()}
	case <-t.ended:
		err := t.connErr
		if kerr := t.client.Err(); kerr != nil {
			err = kerr
		}
		if err == nil {
			return ErrConnectionClosed
		}
		return err
	}
}
