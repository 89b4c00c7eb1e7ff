package agent

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// tcpPeerUID returns the uid owning the other end of c, a TCP connection
// from this host, as the kernel's socket diagnostics tell it
// (sock_diag(7), the interface of ss(8)): one exact lookup of the peer's
// socket by its address pair, a single round trip on a netlink socket the
// agent keeps open. /proc/net/tcp has the same uid but must be read whole,
// which under a flood of N connections costs O(N) per accept. ok is false
// if the peer is not on this host or the kernel did not answer (the peer
// already gone).
func tcpPeerUID(c net.Conn) (uid int, ok bool) {
	local, lok := c.LocalAddr().(*net.TCPAddr)
	remote, rok := c.RemoteAddr().(*net.TCPAddr)
	if !lok || !rok || !endpointLoopbackAddr(remote) {
		return 0, false
	}
	return sockDiag.peerUID(local.AddrPort(), remote.AddrPort())
}

var sockDiag inetDiag

// inetDiag is a NETLINK_SOCK_DIAG socket, opened on first use and kept.
type inetDiag struct {
	mu   sync.Mutex
	fd   int
	open bool
	seq  uint32
	buf  [8192]byte
}

// Layout of the request and answer, from linux/inet_diag.h and
// linux/netlink.h.
const (
	nlmsgHdrLen      = 16
	inetDiagSockID   = 48 // sport, dport, src[16], dst[16], if, cookie[2]
	inetDiagReqLen   = 8 + inetDiagSockID
	inetDiagUIDAt    = 4 + inetDiagSockID + 12 // family..retrans, id, expires, rqueue, wqueue
	inetDiagNoCookie = ^uint32(0)
)

func (d *inetDiag) peerUID(local, peer netip.AddrPort) (int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.open {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
		if err != nil {
			return 0, false // out of descriptors, say: try again next time
		}
		tv := unix.Timeval{Usec: 200000} // the kernel answers at once
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		d.fd, d.open = fd, true
	}
	d.seq++
	req := d.request(local, peer)
	if err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		d.reset()
		return 0, false
	}
	for {
		n, _, err := unix.Recvfrom(d.fd, d.buf[:], 0)
		if err != nil {
			d.reset()
			return 0, false
		}
		uid, done, ok := d.parse(d.buf[:n])
		if done {
			return uid, ok
		}
	}
}

func (d *inetDiag) reset() {
	unix.Close(d.fd)
	d.open = false
}

// request asks for the socket whose own address is peer and whose other
// end is local: the client's socket of this connection.
func (d *inetDiag) request(local, peer netip.AddrPort) []byte {
	b := make([]byte, nlmsgHdrLen+inetDiagReqLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(b[8:], d.seq)
	r := b[nlmsgHdrLen:]
	src, dst := peer.Addr().Unmap(), local.Addr().Unmap()
	if src.Is4() && dst.Is4() {
		r[0] = unix.AF_INET
	} else {
		r[0] = unix.AF_INET6
		src, dst = peer.Addr(), local.Addr()
	}
	r[1] = unix.IPPROTO_TCP
	ne.PutUint32(r[4:], ^uint32(0)) // any state
	id := r[8:]
	binary.BigEndian.PutUint16(id[0:], peer.Port())
	binary.BigEndian.PutUint16(id[2:], local.Port())
	copy(id[4:20], src.AsSlice())
	copy(id[20:36], dst.AsSlice())
	ne.PutUint32(id[40:], inetDiagNoCookie)
	ne.PutUint32(id[44:], inetDiagNoCookie)
	return b
}

// parse reads one answer: done once the answer to this request is in.
func (d *inetDiag) parse(b []byte) (uid int, done, ok bool) {
	ne := binary.NativeEndian
	for len(b) >= nlmsgHdrLen {
		l := int(ne.Uint32(b[0:]))
		if l < nlmsgHdrLen || l > len(b) {
			return 0, true, false
		}
		typ, seq := ne.Uint16(b[4:]), ne.Uint32(b[8:])
		msg := b[nlmsgHdrLen:l]
		b = b[min((l+3)&^3, len(b)):]
		if seq != d.seq {
			continue // a late answer to an earlier request
		}
		switch {
		case typ == unix.NLMSG_ERROR, typ == unix.NLMSG_DONE:
			return 0, true, false
		case typ == unix.SOCK_DIAG_BY_FAMILY && len(msg) >= inetDiagUIDAt+4:
			return int(ne.Uint32(msg[inetDiagUIDAt:])), true, true
		}
	}
	return 0, false, false
}

// tcpPeerUIDs: tcpPeerUID tells uids here, so bounds per uid apply.
const tcpPeerUIDs = true
