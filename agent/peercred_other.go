//go:build !linux && !darwin

package agent

import (
	"net"
	"os"
)

// peerUID on systems without peer credentials (Windows) trusts the
// socket's directory: it lives under the user's profile, whose ACL admits
// only the user, so whoever connects is the user.
func peerUID(net.Conn) (int, error) { return os.Getuid(), nil }
