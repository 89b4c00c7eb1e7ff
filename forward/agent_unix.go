//go:build !windows

package forward

import (
	"io"
	"net"
)

// defaultAgent is where the agent lives when SSH_AUTH_SOCK is unset:
// nowhere, on unix.
const defaultAgent = ""

// dialAgent connects to the ssh-agent's unix socket.
func dialAgent(path string) (io.ReadWriteCloser, error) {
	return net.Dial("unix", path)
}
