package certs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// ACMESettingsFile is the file, in Public's Dir, where `certs acme` saves
// how it got the certificate, so that the running agent renews it the same
// way. It holds no secret: the TSIG secret is in the secure store
// (ACMETSIGSecretName) and Route 53 credentials come from the AWS profile.
const ACMESettingsFile = "acme.json"

// DNS provider names of ACMESettings.DNS, as on the command line.
const (
	DNSRFC2136 = "rfc2136"
	DNSRoute53 = "route53"
)

// ACMESettings are the choices of `certs acme`.
type ACMESettings struct {
	Directory string           `json:"directory"`
	Email     string           `json:"email,omitempty"`
	FQDN      string           `json:"fqdn"`
	DNS       string           `json:"dns"` // DNSRFC2136 or DNSRoute53
	RFC2136   *RFC2136Settings `json:"rfc2136,omitempty"`
	Route53   *Route53Settings `json:"route53,omitempty"`
	// Nameservers are ACMEConfig.Nameservers: where to wait for the
	// challenge record; empty means the zone's authoritative servers.
	Nameservers []string `json:"check_nameservers,omitempty"`
}

// RFC2136Settings are RFC2136Config without the secret.
type RFC2136Settings struct {
	Nameserver    string `json:"nameserver"`
	Zone          string `json:"zone,omitempty"`
	TSIGKey       string `json:"tsig_key"`
	TSIGAlgorithm string `json:"tsig_algorithm"`
}

// Route53Settings are Route53Config's settings.
type Route53Settings struct {
	Profile      string `json:"profile,omitempty"`
	HostedZoneID string `json:"hosted_zone_id,omitempty"`
}

// SaveACMESettings writes s to dir/ACMESettingsFile, atomically.
func SaveACMESettings(dir string, s *ACMESettings) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("certs: save acme settings: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("certs: save acme settings: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+ACMESettingsFile+".tmp*")
	if err != nil {
		return fmt.Errorf("certs: save acme settings: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, ACMESettingsFile))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("certs: save acme settings: %w", err)
	}
	return nil
}

// LoadACMESettings reads dir/ACMESettingsFile. If there is none (the
// certificate did not come from `certs acme`), the error wraps
// os.ErrNotExist.
func LoadACMESettings(dir string) (*ACMESettings, error) {
	data, err := readFile(filepath.Join(dir, ACMESettingsFile))
	if err != nil {
		return nil, fmt.Errorf("certs: acme settings: %w", err)
	}
	var s ACMESettings
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("certs: acme settings %s: %w", filepath.Join(dir, ACMESettingsFile), err)
	}
	return &s, nil
}

// Provider makes the DNS provider s names. The RFC 2136 secret comes from
// st (ACMETSIGSecretName).
func (s *ACMESettings) Provider(ctx context.Context, st store.Store) (DNSProvider, error) {
	switch s.DNS {
	case DNSRFC2136:
		if s.RFC2136 == nil {
			return nil, errors.New("certs: acme settings: rfc2136 without its settings")
		}
		secret, err := st.Get(ACMETSIGSecretName)
		if err != nil {
			return nil, fmt.Errorf("certs: rfc2136: TSIG secret: %w", err)
		}
		return NewRFC2136Provider(RFC2136Config{
			Nameserver:    s.RFC2136.Nameserver,
			Zone:          s.RFC2136.Zone,
			TSIGKey:       s.RFC2136.TSIGKey,
			TSIGAlgorithm: s.RFC2136.TSIGAlgorithm,
			TSIGSecret:    string(secret),
		})
	case DNSRoute53:
		var r Route53Settings
		if s.Route53 != nil {
			r = *s.Route53
		}
		return NewRoute53Provider(ctx, Route53Config{Profile: r.Profile, HostedZoneID: r.HostedZoneID})
	default:
		return nil, fmt.Errorf("certs: acme settings: unknown DNS provider %q", s.DNS)
	}
}

// ACMEConfig makes the ACMEConfig for s, with its DNS provider; the
// caller may then set the clock, logger and HTTP client.
func (s *ACMESettings) ACMEConfig(ctx context.Context, st store.Store) (ACMEConfig, error) {
	p, err := s.Provider(ctx, st)
	if err != nil {
		return ACMEConfig{}, err
	}
	return ACMEConfig{Directory: s.Directory, Email: s.Email, FQDN: s.FQDN, DNS: p, Store: st, Nameservers: s.Nameservers}, nil
}

// ACMERenewer is how the running agent renews a certificate from `certs
// acme`: it reads the settings in pub.Dir and returns a Renewer for the
// certificate pub has, logging to log and calling onRenew (may be nil)
// after each renewal. If the certificate did not come from `certs acme`
// the error wraps os.ErrNotExist; if there is no certificate, it wraps
// ErrNoPublicCert.
func ACMERenewer(ctx context.Context, pub *Public, log *slog.Logger, onRenew func(*PublicCert)) (*Renewer, error) {
	s, err := LoadACMESettings(pub.Dir)
	if err != nil {
		return nil, err
	}
	return s.Renewer(ctx, pub, RenewerConfig{ACME: ACMEConfig{Logger: log}, OnRenew: onRenew})
}

// Renewer returns a Renewer for the certificate pub has, renewing as s
// says. From opts it takes OnRenew, CheckInterval, Timeout and, of
// opts.ACME, HTTPClient, the propagation wait, Now (default pub.Now) and
// Logger, and Nameservers if set; the rest comes from s.
func (s *ACMESettings) Renewer(ctx context.Context, pub *Public, opts RenewerConfig) (*Renewer, error) {
	cfg, err := s.ACMEConfig(ctx, pub.Store)
	if err != nil {
		return nil, err
	}
	o := opts.ACME
	cfg.HTTPClient, cfg.Now, cfg.Logger = o.HTTPClient, o.Now, o.Logger
	cfg.PropagationTimeout, cfg.PollingInterval = o.PropagationTimeout, o.PollingInterval
	if len(o.Nameservers) > 0 {
		cfg.Nameservers = o.Nameservers
	}
	if cfg.Now == nil {
		cfg.Now = pub.Now
	}
	opts.ACME = cfg
	opts.Public = pub
	return NewRenewer(opts)
}
