package certs

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// Secure store keys of the public certificate. They are part of the
// on-disk format.
const (
	PublicKeyName        = "certs/public-key"
	PublicPendingKeyName = "certs/public-pending-key"
	ACMEAccountKeyName   = "certs/acme-account-key"
)

// ErrNoPublicCert is returned by (*Public).Current when no public
// certificate is configured.
var ErrNoPublicCert = errors.New("certs: no public certificate")

var errNotYet = errors.New("certs: public certificates: not implemented yet")

// PublicCert is a certificate for a public name and its key.
type PublicCert struct {
	FQDN  string
	Chain []*x509.Certificate
	Key   crypto.Signer
}

// TLSCertificate returns c for serving.
func (c *PublicCert) TLSCertificate() *tls.Certificate {
	tc := &tls.Certificate{PrivateKey: c.Key}
	for _, x := range c.Chain {
		tc.Certificate = append(tc.Certificate, x.Raw)
	}
	if len(c.Chain) > 0 {
		tc.Leaf = c.Chain[0]
	}
	return tc
}

// NotAfter is when the leaf expires.
func (c *PublicCert) NotAfter() time.Time {
	if len(c.Chain) == 0 {
		return time.Time{}
	}
	return c.Chain[0].NotAfter
}

// Public manages the public certificate.
type Public struct {
	Store      store.Store
	Dir        string
	Now        func() time.Time
	ExtraRoots *x509.CertPool
}

func (p *Public) SetFQDN(name string) error                          { return errNotYet }
func (p *Public) FQDN() (string, error)                              { return "", nil }
func (p *Public) ExportCSR(fqdn string) ([]byte, error)              { return nil, errNotYet }
func (p *Public) LoadChain(chainPEM []byte) (*PublicCert, error)     { return nil, errNotYet }
func (p *Public) Import(certPEM, keyPEM []byte) (*PublicCert, error) { return nil, errNotYet }
func (p *Public) Install(c *PublicCert) error                        { return errNotYet }
func (p *Public) Current() (*PublicCert, error)                      { return nil, ErrNoPublicCert }
func (p *Public) Delete() error                                      { return nil }

// DNSError says what a public name resolved to when it was not loopback.
type DNSError struct {
	FQDN  string
	Addrs []net.IP
	Err   error
}

func (e *DNSError) Error() string { return "certs: " + e.FQDN + ": not loopback" }
func (e *DNSError) Unwrap() error { return e.Err }

// CheckLoopbackDNS checks that every A/AAAA answer for fqdn is loopback.
func CheckLoopbackDNS(ctx context.Context, r *net.Resolver, fqdn string) error { return errNotYet }
