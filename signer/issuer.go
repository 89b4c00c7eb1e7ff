package signer

import (
	"context"
	"crypto/x509"
	"errors"
	"time"
)

// Issuer gets a CSR signed by the ACME CA. The API calls it only with a
// CSR it has checked (CheckCSR): one DNS name, under the zone, owned by
// the caller's key, with an acceptable key and signature.
type Issuer interface {
	// Issue orders a certificate for csr and returns the chain in PEM,
	// leaf first. It solves DNS-01 through the service's Challenges.
	Issue(ctx context.Context, csr *x509.CertificateRequest) (chainPEM []byte, err error)
	// Revoke revokes a certificate the issuer issued, given its DER.
	Revoke(ctx context.Context, certDER []byte) error
}

// ErrValidationFailed is what Issue wraps when the CA refused the
// DNS-01 validation of a name: the caller backs off that name for a while
// (Let's Encrypt allows 5 failed validations per name per account per
// hour).
var ErrValidationFailed = errors.New("signer: dns-01 validation failed")

// ErrRateLimited is what Issue wraps when the CA answered with a rate
// limit; RetryAfter says when to try again, when the CA said.
var ErrRateLimited = errors.New("signer: rate limited by the ca")

// RateLimitError carries the CA's Retry-After. It matches ErrRateLimited
// with errors.Is.
type RateLimitError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *RateLimitError) Error() string {
	if e.Err == nil {
		return ErrRateLimited.Error()
	}
	return ErrRateLimited.Error() + ": " + e.Err.Error()
}

func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }
func (e *RateLimitError) Unwrap() error        { return e.Err }

// Challenges holds the TXT records of DNS-01 validations in progress, in
// the database, so every instance's DNS server answers them. Names are
// absolute, lowercase and end with a dot: "_acme-challenge.name.zone.".
type Challenges interface {
	// SetTXT adds value to the TXT records of fqdn until it is cleared or
	// until ttl has passed, whichever comes first.
	SetTXT(ctx context.Context, fqdn, value string, ttl time.Duration) error
	// ClearTXT removes value from the TXT records of fqdn.
	ClearTXT(ctx context.Context, fqdn, value string) error
}

// Zone is the DNS server's view of the zone: everything it answers from
// memory. It is loaded whole from a ZoneSource.
type Zone struct {
	// Version changes whenever any record below changes.
	Version int64
	// Hostnames are the registered labels (lowercase, no dots): each
	// answers A 127.0.0.1 and AAAA ::1 as LABEL.ZONE.
	Hostnames []string
	// TXT maps absolute lowercase names ("_acme-challenge.name.zone.") to
	// their current values.
	TXT map[string][]string
	// Expires is when the first TXT record above expires (zero if there
	// is none): the DNS server loads the Zone again then, even if the
	// version has not moved.
	Expires time.Time
}

// ZoneSource is where the DNS server loads its view from. It polls
// ZoneVersion, which is one cheap query, and loads the Zone again only
// when the version moved; instances sharing one database see each
// other's changes that way.
type ZoneSource interface {
	ZoneVersion(ctx context.Context) (int64, error)
	LoadZone(ctx context.Context) (Zone, error)
}
