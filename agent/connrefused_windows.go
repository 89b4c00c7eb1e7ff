package agent

import (
	"errors"
	"syscall"
)

// WSAECONNREFUSED: a socket file left behind with nobody listening.
func isConnRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.Errno(10061))
}
