package forward

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"golang.org/x/crypto/ssh"
)

// ForwardDeniedError reports a remote forward the server refused. The
// session must end (OpenSSH's ExitOnForwardFailure=yes; the CLI exits
// 255): a forward that silently failed would leave the port to whoever
// holds it.
type ForwardDeniedError struct {
	Addr string // the address asked for, "127.0.0.1:PORT"
	Err  error
}

func (e *ForwardDeniedError) Error() string {
	cause := "the port is already taken on the remote host, or the server forbids remote forwarding " +
		"(sshd AllowTcpForwarding, PermitListen/GatewayPorts, or restrict/permitlisten in authorized_keys)"
	if e.Addr != "" {
		if _, port, _ := net.SplitHostPort(e.Addr); port == "0" {
			cause = "the server forbids remote forwarding " +
				"(sshd AllowTcpForwarding, PermitListen, or restrict/permitlisten in authorized_keys)"
		}
	}
	return fmt.Sprintf("forward: the server refused to listen on remote %s: %v; likely cause: %s", e.Addr, e.Err, cause)
}

func (e *ForwardDeniedError) Unwrap() error { return e.Err }

// ListenRemote asks the server to listen on 127.0.0.1:port of the remote
// host (0: the server chooses; the chosen port is in Addr()) and forward
// connections back over client. It asks for 127.0.0.1, never "localhost":
// that binds ::1 too and can succeed half-way when 127.0.0.1 is taken.
// The listener must be serviced (Accept in a loop) or the connection
// stalls; Close cancels the forward.
func ListenRemote(client *ssh.Client, port int) (net.Listener, error) {
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("forward: listen on remote: bad port %d", port)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	l, err := client.Listen("tcp", addr)
	if err != nil {
		// x/crypto says only "ssh: tcpip-forward request denied by peer";
		// the reason is in the server's log.
		if isDenied(err) {
			return nil, &ForwardDeniedError{Addr: addr, Err: err}
		}
		return nil, fmt.Errorf("forward: listen on remote %s: %w", addr, err)
	}
	return l, nil
}

func isDenied(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "ssh: tcpip-forward request denied by peer" {
			return true
		}
	}
	return false
}
