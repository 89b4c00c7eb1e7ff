package acme

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/internal/certfile"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// SettingsFile is the file, in Public's Dir, where `certs acme` saves
// how it got the certificate, so that the running agent renews it the same
// way. It holds no secret: the TSIG secret is in the secure store
// (TSIGSecretName) and Route 53 credentials come from the AWS profile.
const SettingsFile = "acme.json"

// DNS provider names of Settings.DNS, as on the command line.
const (
	DNSRFC2136 = "rfc2136"
	DNSRoute53 = "route53"
)

// Settings are the choices of `certs acme`.
type Settings struct {
	Directory string           `json:"directory"`
	Email     string           `json:"email,omitempty"`
	FQDN      string           `json:"fqdn"`
	DNS       string           `json:"dns"` // DNSRFC2136 or DNSRoute53
	RFC2136   *RFC2136Settings `json:"rfc2136,omitempty"`
	Route53   *Route53Settings `json:"route53,omitempty"`
	// Nameservers are Config.Nameservers: where to wait for the
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

// SaveSettings writes s to dir/SettingsFile, atomically.
func SaveSettings(dir string, s *Settings) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("certs: save acme settings: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("certs: save acme settings: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+SettingsFile+".tmp*")
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
		err = os.Rename(tmp, filepath.Join(dir, SettingsFile))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("certs: save acme settings: %w", err)
	}
	return nil
}

// LoadSettings reads dir/SettingsFile. If there is none (the
// certificate did not come from `certs acme`), the error wraps
// os.ErrNotExist.
func LoadSettings(dir string) (*Settings, error) {
	data, err := certfile.Read(filepath.Join(dir, SettingsFile))
	if err != nil {
		return nil, fmt.Errorf("certs: acme settings: %w", err)
	}
	var s Settings
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("certs: acme settings %s: %w", filepath.Join(dir, SettingsFile), err)
	}
	return &s, nil
}

// Provider makes the DNS provider s names. The RFC 2136 secret comes from
// st (TSIGSecretName), where `certs acme` put it.
func (s *Settings) Provider(ctx context.Context, st store.Store) (DNSProvider, error) {
	var secret []byte
	if s.DNS == DNSRFC2136 && s.RFC2136 != nil {
		b, err := st.Get(TSIGSecretName)
		if err != nil {
			return nil, fmt.Errorf("certs: rfc2136: TSIG secret: %w", err)
		}
		secret = b
	}
	return s.ProviderWithSecret(ctx, secret)
}

// ProviderWithSecret makes the DNS provider s names, with secret as the
// RFC 2136 TSIG secret (unused for Route 53). It is the one place a
// provider is made from settings: `certs acme` calls it with the secret
// it read (TSIGSecret) before it stores it, the running agent through
// Provider.
func (s *Settings) ProviderWithSecret(ctx context.Context, secret []byte) (DNSProvider, error) {
	switch s.DNS {
	case DNSRFC2136:
		if s.RFC2136 == nil {
			return nil, errors.New("certs: acme settings: rfc2136 without its settings")
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

// DNSDescription says, for people, how the challenge record is written:
// "RFC 2136 updates to ns.example.com", "Route 53 as profile dns".
func (s *Settings) DNSDescription() string {
	switch {
	case s.DNS == DNSRFC2136 && s.RFC2136 != nil:
		return "RFC 2136 updates to " + s.RFC2136.Nameserver
	case s.DNS == DNSRoute53 && s.Route53 != nil && s.Route53.Profile != "":
		return "Route 53 as profile " + s.Route53.Profile
	case s.DNS == DNSRoute53:
		return "Route 53"
	default:
		return s.DNS
	}
}

// Config returns the Config for s, with dns as its provider and st
// keeping the account key; the caller may then set the clock, logger and
// HTTP client.
func (s *Settings) Config(dns DNSProvider, st store.Store) Config {
	return Config{Directory: s.Directory, Email: s.Email, FQDN: s.FQDN, DNS: dns, Store: st, Nameservers: s.Nameservers}
}

// Install installs c, which Obtain got as s says, in pub, then keeps what
// the running agent needs to renew it the same way: tsigSecret (if not
// nil) in pub.Store under TSIGSecretName, and s in pub.Dir
// (SettingsFile). The renewal settings come last, so a failed run leaves
// those of an earlier one.
func (s *Settings) Install(pub *public.Public, c *public.Cert, tsigSecret []byte) error {
	if err := pub.Install(c); err != nil {
		return err
	}
	if tsigSecret != nil {
		if err := pub.Store.Set(TSIGSecretName, tsigSecret); err != nil {
			return fmt.Errorf("store the TSIG secret for renewals: %w", err)
		}
	}
	return SaveSettings(pub.Dir, s)
}

// LoadRenewer is how the running agent renews a certificate from `certs
// acme`: it reads the settings in pub.Dir and returns a Renewer for the
// certificate pub has, logging to log and calling onRenew (may be nil)
// after each renewal. If the certificate did not come from `certs acme`
// the error wraps os.ErrNotExist; if there is no certificate, it wraps
// public.ErrNoCert.
func LoadRenewer(ctx context.Context, pub *public.Public, log *slog.Logger, onRenew func(*public.Cert)) (*Renewer, error) {
	s, err := LoadSettings(pub.Dir)
	if err != nil {
		return nil, err
	}
	return s.Renewer(ctx, pub, RenewerConfig{ACME: Config{Logger: log}, OnRenew: onRenew})
}

// Renewer returns a Renewer for the certificate pub has, renewing as s
// says. From opts it takes OnRenew, CheckInterval, Timeout and, of
// opts.ACME, HTTPClient, the propagation wait, Now (default pub.Now) and
// Logger, and Nameservers if set; the rest comes from s.
func (s *Settings) Renewer(ctx context.Context, pub *public.Public, opts RenewerConfig) (*Renewer, error) {
	dns, err := s.Provider(ctx, pub.Store)
	if err != nil {
		return nil, err
	}
	cfg := s.Config(dns, pub.Store)
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

// maxSecretFile bounds the TSIG secret file: a base64 HMAC key is at most
// 88 characters (512 bits); the limit keeps a wrong path from eating memory.
const maxSecretFile = 4 << 10

// ErrNoTSIGSecret is returned by TSIGSecret when it is given no file and
// the secure store holds no secret from an earlier run.
var ErrNoTSIGSecret = errors.New("certs: rfc2136: no TSIG secret given, and none stored")

// TSIGSecret reads the RFC 2136 TSIG secret from file, or, when file is
// "", from st, where an earlier `certs acme` put it (TSIGSecretName).
// Never from a command line: process listings show every user the
// command lines of all. Like the store's passphrase file, a file that
// others can read is refused (an error wrapping store.ErrInsecure): they
// may have copied the secret already.
func TSIGSecret(file string, st store.Store) ([]byte, error) {
	if file == "" {
		b, err := st.Get(TSIGSecretName)
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNoTSIGSecret
		}
		if err != nil {
			return nil, fmt.Errorf("read the stored TSIG secret: %w", err)
		}
		return b, nil
	}
	b, err := store.PassphraseFromFile(file)
	if err != nil {
		return nil, fmt.Errorf("TSIG secret: %w", err)
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("%s: larger than %d bytes, not a TSIG secret", file, maxSecretFile)
	}
	return bytes.TrimSpace(b), nil
}

// ExtraRootsClient returns the client for the ACME server (Config's
// HTTPClient): nil, Obtain's default trusting the system's roots, unless
// the public.ExtraRootsEnv test hook names a file, whose certificates are
// then trusted besides the system's. Tests run Pebble, whose HTTPS certificate and issuing root no
// system trusts; the same file serves Public.ExtraRoots for the chain.
func ExtraRootsClient() (*http.Client, error) {
	if os.Getenv(public.ExtraRootsEnv) == "" {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if pool, err = public.ExtraRoots(pool); err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool}
	return &http.Client{Transport: t, Timeout: 2 * time.Minute}, nil
}
