//go:build !linux

package agent

import "net"

// tcpPeerUID: only Linux tells the owner of a TCP peer's socket cheaply;
// elsewhere every TCP peer shares one bucket.
func tcpPeerUID(net.Conn) (int, bool) { return 0, false }
