package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/ssh"
	sshagent "golang.org/x/crypto/ssh/agent"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/forward"
)

// SessionEndedError reports that the agent ended the session while the
// tunnel was up. It matches agent.ErrSessionRevoked when the user revoked
// the session; otherwise the agent stopped or died.
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
	// Credentials, with no Command, runs the login shell through
	// `aws-sso-remote shell` (ShellCommand), so its SDK variables are set
	// from the start.
	Credentials bool
	Stdin       io.Reader
	Stdout      io.Writer
	Stderr      io.Writer
	// AgentSocket, when set, is the ssh-agent to forward to the remote
	// host (ssh -A).
	AgentSocket string
	// Terminal, when set, asks for a terminal on s before the command
	// starts, and returns what undoes its changes to the local terminal
	// once the command is done. The caller owns the terminal: its size,
	// its type, raw mode.
	Terminal func(s *ssh.Session) (restore func(), err error)
	// SessionLost, when set, is told that the agent ended the session
	// without revoking it (it stopped or died), and why. The command
	// keeps running, without credentials, while Run waits for an agent
	// to open a new session with.
	SessionLost func(err error)
	// SessionRenewed, when set, is told the id of the new session that
	// took the lost one's place: the same remote port, a new token,
	// installed anew on the remote host.
	SessionRenewed func(id string)
}

// Revoked reports whether err says the user revoked the session
// (aws-sso-agent sessions revoke): a tunnel must not open another in its
// place.
func Revoked(err error) bool { return errors.Is(err, agent.ErrSessionRevoked) }

// Run runs r over the tunnel and waits for it. It returns the remote
// command's exit status as OpenSSH's ssh reports it (forward.ExitStatus),
// or forward.ExitStatusConnectionError with the error when there is no
// status: the user revoked the session (*SessionEndedError), keepalives
// timed out (*forward.KeepaliveTimeoutError), or the connection closed.
// The agent stopping or dying does not end the command: Run tells
// r.SessionLost, and puts a new session in the old one's place once an
// agent answers again (r.SessionRenewed).
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
	switch {
	case r.Command != "":
		err = s.Start(r.Command)
	case r.Credentials:
		err = s.Start(ShellCommand(t.current().Grant.ID))
	default:
		err = s.Shell()
	}
	if err != nil {
		return failed, err
	}

	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	// The agent stopping or dying costs the command its credentials, not
	// its life: it keeps running, and a new session takes the lost one's
	// place once an agent answers again. A revocation by the user ends the
	// connection, as `aws-sso-agent sessions revoke` promises (docs/ssh.md):
	// unlike OpenSSH's `ssh -O cancel`, which the user runs to drop one
	// forward of a multiplexed connection and keep the rest, revoke is how
	// the user cuts a host off, often one they no longer trust.
	renewCtx, cancelRenew := context.WithCancel(context.Background())
	defer cancelRenew()
	renewed := make(chan *agent.SessionHandle, 1)
	sessionDone := t.current().Done()
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-sessionDone:
			h := t.current()
			if Revoked(h.Err()) {
				t.client.Close()
				<-done
				return failed, &SessionEndedError{Err: h.Err()}
			}
			t.log.Info("the agent ended the session", "session", h.Grant.ID, "why", h.Err())
			if r.SessionLost != nil {
				r.SessionLost(h.Err())
			}
			sessionDone = nil
			t.wg.Add(1)
			go func() {
				defer t.wg.Done()
				if h, err := t.renew(renewCtx, h); err == nil {
					renewed <- h
				}
			}()
		case h := <-renewed:
			sessionDone = h.Done()
			t.log.Info("session renewed", "session", h.Grant.ID, "remote_port", t.port)
			if r.SessionRenewed != nil {
				r.SessionRenewed(h.Grant.ID)
			}
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
			break wait
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
	case <-t.current().Done():
		return &SessionEndedError{Err: t.current().Err()}
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
