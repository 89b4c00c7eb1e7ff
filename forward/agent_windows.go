//go:build windows

package forward

import (
	"io"
	"net"
	"os"
	"strings"
)

// defaultAgent is the named pipe of OpenSSH for Windows' ssh-agent
// service, used when SSH_AUTH_SOCK is unset (as Windows' ssh does).
const defaultAgent = `\\.\pipe\openssh-ssh-agent`

// dialAgent connects to a named pipe (opened as a file: the agent protocol
// is request-response, synchronous I/O is enough) or a unix socket.
func dialAgent(path string) (io.ReadWriteCloser, error) {
	if strings.HasPrefix(path, `\\.\pipe\`) {
		return os.OpenFile(path, os.O_RDWR, 0)
	}
	return net.Dial("unix", path)
}
