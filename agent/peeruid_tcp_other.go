//go:build !linux

package agent

import "net"

// tcpPeerUID: only Linux tells the owner of a TCP peer's socket cheaply;
// elsewhere every TCP peer shares one bucket.
func tcpPeerUID(net.Conn) (int, bool) { return 0, false }

// tcpPeerUIDs: no uids, so no bound per uid either (it would halve the
// listener's).
const tcpPeerUIDs = false
