package issuer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

// ServiceCertBlob is the name under which the store keeps the service's
// own certificate: its PKCS#8 key and its chain, in PEM. Every instance
// serves the same one.
const ServiceCertBlob = "service/certificate"

// serviceCertLease is the lease an instance holds while it orders the
// service's certificate, so that several instances do not all order it
// (Let's Encrypt allows 5 duplicate certificates a week).
const serviceCertLease = "service-certificate"

// ErrPending is Ensure's answer when there is no certificate yet and
// another instance is ordering it: try again in a few seconds.
var ErrPending = errors.New("signer: service certificate: another instance is ordering it")

// Leases coordinates instances through the store: a lease is held by one
// holder until it is released or its ttl passes. The service's store
// implements it.
type Leases interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// ServiceCert keeps the certificate of the service's own name (the API's)
// through the same issuer as the users': it orders one when the store has
// none, renews it when a third of its lifetime is left, and picks up a
// renewal another instance made. GetCertificate serves it to TLS.
type ServiceCert struct {
	issuer *Issuer
	fqdn   string
	state  State
	leases Leases
	holder string
	log    *slog.Logger
	now    func() time.Time
	cur    atomic.Pointer[tls.Certificate]
}

// NewServiceCert returns the keeper of fqdn's certificate. leases may be
// nil for a single instance.
func NewServiceCert(is *Issuer, fqdn string, leases Leases, now func() time.Time) (*ServiceCert, error) {
	if is == nil || fqdn == "" {
		return nil, errors.New("signer: service certificate: no issuer or no name")
	}
	if now == nil {
		now = time.Now
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &ServiceCert{
		issuer: is, fqdn: strings.ToLower(strings.TrimSuffix(fqdn, ".")),
		state: is.cfg.State, leases: leases, holder: hex.EncodeToString(id),
		log: is.log, now: now,
	}, nil
}

// GetCertificate returns the current certificate; it fits
// tls.Config.GetCertificate.
func (s *ServiceCert) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := s.cur.Load()
	if c == nil {
		return nil, errors.New("signer: service certificate: not obtained yet")
	}
	return c, nil
}

// Ensure loads the certificate from the store, and orders a new one if
// there is none or a third of its lifetime is left. A renewal that fails
// keeps a still valid certificate in service and returns the error.
func (s *ServiceCert) Ensure(ctx context.Context) error {
	c, err := s.load(ctx)
	if err != nil {
		return err
	}
	if c != nil {
		s.cur.Store(c)
		if !renewalDue(c.Leaf, s.now()) {
			return nil
		}
	}
	if s.leases != nil {
		ok, err := s.leases.AcquireLease(ctx, serviceCertLease, s.holder, s.issuer.cfg.Timeout+time.Minute)
		if err != nil {
			return fmt.Errorf("signer: service certificate: %w", err)
		}
		if !ok {
			if s.cur.Load() == nil {
				return ErrPending
			}
			return nil // another instance is renewing it; a later Ensure loads it
		}
		defer func() {
			_ = s.leases.ReleaseLease(context.WithoutCancel(ctx), serviceCertLease, s.holder) // it expires anyway
		}()
		// That instance may have finished between the load and the lease.
		if c, err := s.load(ctx); err == nil && c != nil && !renewalDue(c.Leaf, s.now()) {
			s.cur.Store(c)
			return nil
		}
	}
	c, blob, err := s.order(ctx)
	if err != nil {
		return fmt.Errorf("signer: service certificate for %s: %w", s.fqdn, err)
	}
	if err := s.state.PutBlob(ctx, ServiceCertBlob, blob); err != nil {
		return fmt.Errorf("signer: service certificate: store: %w", err)
	}
	s.cur.Store(c)
	return nil
}

// Run calls Ensure every interval, and when the certificate is due for
// renewal if that is sooner, until ctx is done, reporting failures to
// report (which may be nil).
func (s *ServiceCert) Run(ctx context.Context, interval time.Duration, report func(error)) {
	for {
		wait := interval
		if c := s.cur.Load(); c != nil {
			// Short-lived certificates (Let's Encrypt's six-day profile,
			// a test CA's minutes) are renewed on time, not at the next
			// tick; a second at least, so a failing renewal does not spin.
			wait = max(min(wait, time.Until(renewalTime(c.Leaf))), time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if err := s.Ensure(ctx); err != nil && report != nil && ctx.Err() == nil {
			report(err)
		}
	}
}

// renewalDue reports whether a third or less of leaf's lifetime is left,
// the rule Let's Encrypt recommends and the agent's renewers follow.
func renewalDue(leaf *x509.Certificate, now time.Time) bool {
	return now.After(renewalTime(leaf))
}

func renewalTime(leaf *x509.Certificate) time.Time {
	return leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore) / 3)
}

func (s *ServiceCert) load(ctx context.Context) (*tls.Certificate, error) {
	b, err := s.state.Blob(ctx, ServiceCertBlob)
	if errors.Is(err, s.issuer.cfg.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("signer: service certificate: read: %w", err)
	}
	c, err := tls.X509KeyPair(b, b)
	if err != nil {
		return nil, fmt.Errorf("signer: service certificate in the store: %w", err)
	}
	if c.Leaf.VerifyHostname(s.fqdn) != nil || s.now().After(c.Leaf.NotAfter) {
		return nil, nil // for another name or expired: order anew
	}
	return &c, nil
}

// order makes a key and a CSR for the service's name and has it signed.
func (s *ServiceCert) order(ctx context.Context) (*tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{s.fqdn}}, key)
	if err != nil {
		return nil, nil, err
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, nil, err
	}
	chain, err := s.issuer.Issue(ctx, csr)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	blob := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), chain...)
	c, err := tls.X509KeyPair(blob, blob)
	if err != nil {
		return nil, nil, err
	}
	return &c, blob, nil
}
