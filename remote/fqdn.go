package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// A session may carry the agent's public name (session.json "fqdn"): a DNS
// name that resolves to 127.0.0.1 and for which the agent serves a
// publicly trusted certificate, so every SDK verifies TLS to
// https://FQDN:PORT/ with its own roots (docs/tls.md). The helper uses it
// only after checking, on this host, that the name resolves to loopback
// addresses only: DNS here can be poisoned, and an SDK given the name
// would send its token wherever the name points.

// Resolver looks up a host's addresses; *net.Resolver is one. Tests
// inject their own answers.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DNSError is returned by CheckLoopbackDNS when a public name must not be
// used: the lookup failed, found nothing, or found an address that is not
// loopback.
type DNSError struct {
	FQDN string
	// Addrs is every address the lookup returned.
	Addrs []netip.Addr
	// Err is the resolver's error, if the lookup failed.
	Err error
}

func (e *DNSError) Error() string {
	switch {
	case e.Err != nil:
		return fmt.Sprintf("%s does not resolve here: %v", e.FQDN, e.Err)
	case len(e.Addrs) == 0:
		return fmt.Sprintf("%s resolves to no address here", e.FQDN)
	}
	s := make([]string, len(e.Addrs))
	for i, a := range e.Addrs {
		s[i] = a.String()
	}
	return fmt.Sprintf("%s resolves to %s here, not only loopback (misconfigured or poisoned DNS)", e.FQDN, strings.Join(s, ", "))
}

func (e *DNSError) Unwrap() error { return e.Err }

// CheckLoopbackDNS looks fqdn up with r (nil: net.DefaultResolver, which
// also reads /etc/hosts) and returns a *DNSError unless there is at least
// one answer and every A and AAAA answer is loopback (127.0.0.0/8, ::1).
// One non-loopback answer fails the name: a client may pick any address.
func CheckLoopbackDNS(ctx context.Context, r Resolver, fqdn string) error {
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", fqdn)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			err = errors.New("no such host")
		}
		return &DNSError{FQDN: fqdn, Err: err}
	}
	e := &DNSError{FQDN: fqdn}
	bad := len(addrs) == 0
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		e.Addrs = append(e.Addrs, a)
		if !a.IsLoopback() {
			bad = true
		}
	}
	if bad {
		return e
	}
	return nil
}

// CheckPublicCert connects to the session's port as an SDK given the
// public URL would, with the name as SNI, and verifies the certificate
// against roots (nil: the system's roots), so the helper never exports a
// URL on which SDKs would fail (the agent may have stopped serving the
// name since the session began). It sends nothing but the handshake.
func CheckPublicCert(ctx context.Context, s *wire.Session, roots *x509.CertPool) error {
	d := &tls.Dialer{Config: &tls.Config{
		ServerName: s.FQDN,
		RootCAs:    roots,
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
	}}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)))
	if err != nil {
		return fmt.Errorf("the agent's certificate for %s is not trusted here: %w", s.FQDN, err)
	}
	return c.Close()
}
