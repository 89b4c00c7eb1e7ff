package localca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"time"
)

// DefaultLeafValidity is how long a leaf certificate is valid when no
// other validity is asked for. Seven days: short, so a leaked leaf key is
// worth little and soon worth nothing; long enough that a laptop asleep
// over a long weekend wakes up to a leaf that still verifies (the rotator
// replaces it at two thirds of its life, after about 4.7 days).
const DefaultLeafValidity = 7 * 24 * time.Hour

// leafDNSNames and leafIPs return the names every leaf certificate is
// valid for: the loopback names clients are given for the endpoint.
func leafDNSNames() []string { return []string{"localhost"} }
func leafIPs() []net.IP      { return []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback} }

// IssueLeaf returns a new server certificate for localhost, 127.0.0.1 and
// ::1, valid from now for validity (DefaultLeafValidity if zero), but never
// beyond the intermediate. Its ECDSA P-256 key exists only in the returned
// value. The chain is the leaf followed by the intermediate; the root is
// left out, as clients must already have it.
func (ca *CA) IssueLeaf(now time.Time, validity time.Duration) (*tls.Certificate, error) {
	if validity == 0 {
		validity = DefaultLeafValidity
	}
	if validity < 0 {
		return nil, fmt.Errorf("certs: issue leaf: negative validity %v", validity)
	}
	if !now.Before(ca.inter.NotAfter) {
		return nil, fmt.Errorf("certs: issue leaf: local CA expired on %s", ca.inter.NotAfter.UTC().Format(time.RFC3339))
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.inter.NotAfter) {
		notAfter = ca.inter.NotAfter
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: issue leaf: generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject: pkix.Name{
			Organization: []string{"aws-sso-agent"},
			CommonName:   "localhost",
		},
		NotBefore: now.Add(-backdate),
		NotAfter:  notAfter,
		// ECDSA keys only sign (no key encipherment, RFC 5480 section 3).
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              leafDNSNames(),
		IPAddresses:           leafIPs(),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.inter, key.Public(), ca.interKey)
	if err != nil {
		return nil, fmt.Errorf("certs: issue leaf: sign: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: issue leaf: parse: %w", err)
	}
	return &tls.Certificate{
		Certificate: [][]byte{der, ca.inter.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}
