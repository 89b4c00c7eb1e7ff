package forward

import (
	"errors"
	"io"
	"sync"

	"golang.org/x/crypto/ssh"
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
	// agent.ForwardToRemote dials unix sockets only; dialAgent also knows
	// Windows' named pipe.
	channels := client.HandleChannelOpen(agentChannelType)
	if channels == nil {
		return errors.New("forward: forward agent: already forwarding")
	}
	go func() {
		for ch := range channels {
			channel, reqs, err := ch.Accept()
			if err != nil {
				continue
			}
			go ssh.DiscardRequests(reqs)
			go serveAgentChannel(channel, socket)
		}
	}()
	return nil
}

// agentChannelType is OpenSSH's channel for agent forwarding (PROTOCOL).
const agentChannelType = "auth-agent@openssh.com"

func serveAgentChannel(channel ssh.Channel, socket string) {
	defer channel.Close()
	conn, err := dialAgent(socket)
	if err != nil {
		return // the remote sees the agent vanish, as with OpenSSH
	}
	defer conn.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(conn, channel)
		// The remote is done asking: pass the half-close on where the
		// transport has one (unix sockets); a Windows pipe has none, so
		// close it, or the copy below would wait forever.
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			conn.Close()
		}
	}()
	go func() {
		defer wg.Done()
		io.Copy(channel, conn)
		channel.CloseWrite()
	}()
	wg.Wait()
}
