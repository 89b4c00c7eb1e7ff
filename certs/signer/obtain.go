package signer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// Config says where and for which name Obtain gets a certificate.
type Config struct {
	// FQDN is the one name the certificate is for: a hostname the API
	// keys may sign for.
	FQDN string
	// Services are the service URLs, tried in order until one issues.
	Services []string
	// Store holds the API keys (APIKeyName).
	Store store.Store
	// HTTPClient talks to the services; nil means Client's default.
	HTTPClient *http.Client
	// Now checks the issued certificate; nil means time.Now.
	Now func() time.Time
	// Logger gets a line per attempt; nil discards.
	Logger *slog.Logger
}

// Obtain makes a new P-256 key here, sends a CSR for cfg.FQDN to each
// service in turn until one returns a chain, and returns the certificate
// with its key for public.Public.Install, which stores the key and checks
// that the chain verifies. A service without an API key in the store is
// skipped. The errors of every service tried are returned together.
func Obtain(ctx context.Context, cfg Config) (*public.Cert, error) {
	fqdn, err := public.ValidateFQDN(cfg.FQDN)
	if err != nil {
		return nil, fmt.Errorf("certs: signer: %w", err)
	}
	if cfg.Store == nil {
		return nil, errors.New("certs: signer: no secure store")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: signer: make key: %w", err)
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{fqdn}}, key)
	if err != nil {
		return nil, fmt.Errorf("certs: signer: make csr: %w", err)
	}
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})

	var errs []error
	tried := 0
	for _, svc := range cfg.Services {
		apiKey, err := cfg.Store.Get(APIKeyName(svc))
		if errors.Is(err, store.ErrNotFound) {
			log.Debug("signer: no API key for this service; skipped", "service", svc)
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("certs: signer: %s: read the API key: %w", svc, err))
			continue
		}
		tried++
		log.Info("signer: asking the service for a certificate", "service", svc, "fqdn", fqdn)
		c := &Client{Service: svc, APIKey: string(apiKey), HTTPClient: cfg.HTTPClient}
		issued, err := c.Sign(ctx, csrPEM)
		if err == nil {
			var chain []*x509.Certificate
			if chain, err = public.ParseChainPEM([]byte(issued.Chain)); err == nil {
				pc := &public.Cert{FQDN: fqdn, Chain: chain, Key: key}
				if err = checkIssued(pc, now()); err == nil {
					log.Info("signer: certificate issued", "service", svc, "fqdn", fqdn, "not_after", chain[0].NotAfter)
					return pc, nil
				}
			}
			err = fmt.Errorf("certs: signer: %s: certificate: %w", svc, err)
		}
		log.Warn("signer: the service did not issue", "service", svc, "err", err)
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if tried == 0 && len(errs) == 0 {
		return nil, ErrNoService
	}
	return nil, errors.Join(errs...)
}

// checkIssued checks what acme.CheckIssued checks (the leaf is for the
// key and name, and valid now), and that the leaf names nothing else: the
// service must not hand out more than the CSR asked for.
func checkIssued(c *public.Cert, now time.Time) error {
	if err := acme.CheckIssued(c, now); err != nil {
		return err
	}
	if leaf := c.Chain[0]; len(leaf.DNSNames) != 1 || len(leaf.IPAddresses) > 0 {
		return fmt.Errorf("for %v %v, want only %s", leaf.DNSNames, leaf.IPAddresses, c.FQDN)
	}
	return nil
}

// Install installs c in pub and records in pub.Dir that its renewals go
// through s's services: s.FQDN becomes c's name. An ACME settings file
// there is removed, so the running agent renews through the service, not
// by `certs acme`'s DNS provider.
func Install(pub *public.Public, s *Settings, c *public.Cert) error {
	if err := pub.Install(c); err != nil {
		return err
	}
	s.FQDN = c.FQDN
	if err := SaveSettings(pub.Dir, s); err != nil {
		return err
	}
	if err := removeIfExists(pub.Dir, acme.SettingsFile); err != nil {
		return fmt.Errorf("certs: signer: remove the acme settings: %w", err)
	}
	return nil
}

// NewRenewer returns the renewer of a certificate from the service: an
// acme.Renewer whose source is Obtain with s's services. From opts it
// takes OnRenew, CheckInterval, Timeout and, of opts.ACME, Now (default
// pub.Now) and Logger; client talks to the services. If the certificate
// did not come from the service the error wraps os.ErrNotExist; if there
// is none, public.ErrNoCert.
func NewRenewer(pub *public.Public, s *Settings, client *http.Client, opts acme.RenewerConfig) (*acme.Renewer, error) {
	if s.FQDN == "" {
		return nil, fmt.Errorf("certs: signer: no certificate from the service yet: %w", errNoFQDN)
	}
	if opts.ACME.Now == nil {
		opts.ACME.Now = pub.Now
	}
	cfg := Config{FQDN: s.FQDN, Services: s.Services, Store: pub.Store, HTTPClient: client, Now: opts.ACME.Now, Logger: opts.ACME.Logger}
	opts.ACME = acme.Config{FQDN: s.FQDN, Now: opts.ACME.Now, Logger: opts.ACME.Logger}
	opts.Public = pub
	opts.Obtain = func(ctx context.Context) (*public.Cert, error) { return Obtain(ctx, cfg) }
	return acme.NewRenewer(opts)
}
