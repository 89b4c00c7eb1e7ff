package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// A session may carry the agent's public name (session.json "fqdn"): a DNS
// name that resolves to 127.0.0.1 and for which the agent serves a
// publicly trusted certificate, so every SDK verifies TLS to
// https://FQDN:PORT/ with its own roots (SPEC 4 and 5). The helper uses it
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
func CheckPublicCert(ctx context.Context, s *Session, roots *x509.CertPool) error {
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

// PublicURL is the endpoint URL of slot under the session's public name:
// https://FQDN:PORT/, /slot/NAME for a named slot. "" if the session has
// no public name.
func (s *Session) PublicURL(slot string) string {
	if s.FQDN == "" {
		return ""
	}
	u := "https://" + s.FQDN + ":" + strconv.Itoa(s.Port) + "/"
	if slot != "" {
		u += "slot/" + url.PathEscape(slot)
	}
	return u
}

// validateFQDN checks session.json's fqdn: a DNS host name of at least two
// labels (RFC 1123: letters, digits, hyphens; labels of 1 to 63, at most
// 253 in all), lowercase, no final dot, not an IP address, not localhost.
// It is restated from the agent's certs.ValidateFQDN because the helper
// must not import the agent; it also keeps a damaged file from putting
// anything but a host name into the exported URL.
func validateFQDN(n string) error {
	bad := func(why string) error { return fmt.Errorf("session fqdn %q: %s", sanitize(n, 80), why) }
	switch {
	case len(n) > 253:
		return bad("longer than 253 characters")
	case n == "localhost" || strings.HasSuffix(n, ".localhost"):
		return bad("localhost is not a public name")
	}
	if _, err := netip.ParseAddr(n); err == nil {
		return bad("an IP address, not a name")
	}
	labels := strings.Split(n, ".")
	if len(labels) < 2 {
		return bad("not a fully qualified name")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return bad("a label is empty, too long, or starts or ends with a hyphen")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return bad("only lowercase letters, digits, hyphens and dots are allowed")
			}
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return bad("the last label is numeric")
	}
	return nil
}
