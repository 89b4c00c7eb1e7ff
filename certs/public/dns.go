package public

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ValidateFQDN checks that name can be the agent's public name and returns
// it in canonical form: lowercase, without a final dot. The name must be a
// DNS host name of at least two labels (RFC 1123 section 2.1: letters,
// digits and hyphens, no hyphen at either end of a label, labels of 1 to 63
// and names of at most 253 characters), not a wildcard, not an IP address,
// and not localhost or a name under it (RFC 6761 section 6.3 reserves
// those for loopback, and the local CA's leaf already covers localhost).
// Internationalised names are taken in their A-label form (xn--...).
func ValidateFQDN(name string) (string, error) {
	n := strings.ToLower(strings.TrimSuffix(name, "."))
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidFQDN, name, why)
	}
	switch {
	case n == "":
		return bad("empty")
	case len(n) > 253:
		return bad("longer than 253 characters")
	case strings.HasPrefix(n, "*"):
		return bad("a wildcard cannot be served; use the one name the endpoint is reached at")
	case n == "localhost" || strings.HasSuffix(n, ".localhost"):
		return bad("localhost is the local CA's name; a public name is one under a DNS zone you control")
	}
	if _, err := netip.ParseAddr(strings.Trim(n, "[]")); err == nil {
		return bad("an IP address, not a DNS name")
	}
	labels := strings.Split(n, ".")
	if len(labels) < 2 {
		return bad("a single label; use a fully qualified name such as agent.example.com")
	}
	for _, l := range labels {
		if l == "" {
			return bad("empty label")
		}
		if len(l) > 63 {
			return bad("a label longer than 63 characters")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return bad("a label starts or ends with a hyphen")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return bad("only letters, digits, hyphens and dots are allowed (write internationalised names as xn--)")
			}
		}
	}
	// A numeric top-level label is never a host name (RFC 3696 section 2)
	// and would let "1.2.3.4"-like strings through in other notations.
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return bad("the last label is numeric")
	}
	return n, nil
}

// DNSError is returned by CheckLoopbackDNS when the public name must not
// be used: it did not resolve, resolved to nothing, or resolved to an
// address that is not loopback. A client given such a name would send its
// token to whoever the name points at (a poisoned resolver, a hijacked
// zone), so the agent falls back to its loopback URL.
type DNSError struct {
	// FQDN is the name that was looked up.
	FQDN string
	// Addrs is every address the lookup returned (empty if none).
	Addrs []netip.Addr
	// NotLoopback is the subset of Addrs that is not loopback.
	NotLoopback []netip.Addr
	// Err is the resolver's error, if the lookup failed (a *net.DNSError
	// with IsNotFound for a name without A or AAAA records).
	Err error
}

func (e *DNSError) Error() string {
	var dnsErr *net.DNSError
	notFound := errors.As(e.Err, &dnsErr) && dnsErr.IsNotFound
	switch {
	case e.Err != nil && !notFound:
		return fmt.Sprintf("certs: public name %s does not resolve: %v", e.FQDN, e.Err)
	case len(e.Addrs) == 0:
		return fmt.Sprintf("certs: public name %s resolves to no address; it must resolve to 127.0.0.1 (or ::1)", e.FQDN)
	default:
		return fmt.Sprintf("certs: public name %s resolves to %s; %s not loopback, so it is not used (misconfigured or poisoned DNS)",
			e.FQDN, joinAddrs(e.Addrs), plural(e.NotLoopback))
	}
}

func (e *DNSError) Unwrap() error { return e.Err }

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

func plural(as []netip.Addr) string {
	if len(as) == 1 {
		return as[0].String() + " is"
	}
	return joinAddrs(as) + " are"
}

// CheckLoopbackDNS looks fqdn up with r (nil means net.DefaultResolver,
// which also reads /etc/hosts) and returns a *DNSError unless every A and
// AAAA answer is a loopback address (127.0.0.0/8 or ::1, including
// IPv4-mapped forms) and there is at least one. Any non-loopback answer
// fails the whole name: a client may pick any of the addresses.
func CheckLoopbackDNS(ctx context.Context, r *net.Resolver, fqdn string) error {
	name, err := ValidateFQDN(fqdn)
	if err != nil {
		return err
	}
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", name)
	if err != nil {
		// Go reports both NXDOMAIN and an empty answer as IsNotFound;
		// Error says "no address" for both.
		return &DNSError{FQDN: name, Err: err}
	}
	e := &DNSError{FQDN: name}
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		e.Addrs = append(e.Addrs, a)
		if !a.IsLoopback() {
			e.NotLoopback = append(e.NotLoopback, a)
		}
	}
	if len(e.Addrs) == 0 || len(e.NotLoopback) > 0 {
		return e
	}
	return nil
}
