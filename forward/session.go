package forward

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// ExitStatusConnectionError is the exit status OpenSSH's ssh uses for its
// own failures (connection, authentication, forward refused).
const ExitStatusConnectionError = 255

// ExitStatus maps what a session's Run or Wait returned to the exit status
// `ssh` would give: the remote command's own status, or 255 when there is
// none (the connection failed, or the command died by a signal without
// the server reporting a status).
func ExitStatus(err error) int {
	if err == nil {
		return 0
	}
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		if exit.Signal() != "" {
			// Killed by a signal: the server sends exit-signal, not
			// exit-status, and OpenSSH's ssh exits 255 (x/crypto would
			// report 128+signal, the shell's convention).
			return ExitStatusConnectionError
		}
		return exit.ExitStatus()
	}
	return ExitStatusConnectionError
}

// ForwardAgent serves the ssh-agent at socket to the remote host (ssh -A):
// sessions that then call agent.RequestAgentForwarding see it as
// $SSH_AUTH_SOCK. The agent socket is dialed anew for every remote use.
// Only forward an agent to hosts you trust: whoever is root there can use
// (not copy) its keys while the session lasts.
func ForwardAgent(client *ssh.Client, socket string) error {
	if socket == "" {
		return errors.New("forward: forward agent: no ssh-agent (SSH_AUTH_SOCK or IdentityAgent unset)")
	}
	if err := agent.ForwardToRemote(client, socket); err != nil {
		return fmt.Errorf("forward: forward agent %s: %w", socket, err)
	}
	return nil
}
