package issuer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	legoacme "github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"
	"github.com/go-acme/lego/v4/certcrypto"
	"github.com/go-acme/lego/v4/certificate"
	"github.com/go-acme/lego/v4/challenge/dns01"
	"github.com/go-acme/lego/v4/lego"
	"github.com/go-acme/lego/v4/registration"
	mdns "github.com/miekg/dns"

	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/signer"
)

// AccountKeyBlob is the name under which the store keeps the ACME account
// key, PKCS#8 DER. It is part of the store's format: a new name would
// make the service register a new account.
const AccountKeyBlob = "acme/account-key"

// Defaults of Config's durations.
const (
	// DefaultTimeout bounds one issuance: the order, the wait for the
	// zone's nameservers, the CA's validation and the finalization. Let's
	// Encrypt usually takes seconds; three minutes leaves room for its
	// slowest finalize (lego's default HTTP timeout is two).
	DefaultTimeout = 3 * time.Minute
	// DefaultPollingInterval is how often the zone's nameservers are asked
	// for the challenge record. They answer from memory and follow the
	// store every second or so.
	DefaultPollingInterval = 250 * time.Millisecond
	// challengeTTL is how long the store keeps a challenge record that was
	// never cleared (an instance died mid-order): long enough for any
	// validation, short enough that stale records do not pile up.
	challengeTTL = 10 * time.Minute
)

// State is where the issuer keeps what must outlive an instance and be
// shared by all: the ACME account key and the service's own certificate.
// The service's store implements it.
type State interface {
	Blob(ctx context.Context, name string) ([]byte, error)
	PutBlob(ctx context.Context, name string, value []byte) error
}

// History tells the issuer which certificate a new one replaces, so the
// order can say so (ARI). The service's store implements it.
type History interface {
	// Replaced returns the newest unexpired, unrevoked certificate the
	// service issued for fqdn, or nil if there is none.
	Replaced(ctx context.Context, fqdn string) (*x509.Certificate, error)
}

// Config says where and how the issuer orders.
type Config struct {
	// Directory is the ACME directory URL.
	Directory string
	// HTTPClient talks to the CA; nil means one trusting the system's
	// roots (tests pass one trusting Pebble's).
	HTTPClient *http.Client
	// Email is the ACME account's contact address (optional).
	Email string
	// State keeps the account key (AccountKeyBlob).
	State State
	// NotFound is the error State.Blob wraps when a name has no value
	// (matched with errors.Is).
	NotFound error
	// Challenges publishes the DNS-01 records in the zone.
	Challenges signer.Challenges
	// Nameservers ("host:port") are the zone's own DNS servers, each asked
	// for a challenge record until it serves it, before the CA is told to
	// look. Empty means lego's check through the system's resolver and the
	// zone's NS records, for a zone delegated on the Internet.
	Nameservers []string
	// History, if set, names the certificate a new order replaces.
	History History
	// Profile is the ACME profile to order (Let's Encrypt's "classic",
	// "tlsserver", "shortlived"); "" means the CA's default.
	Profile string
	// Timeout bounds one issuance; PollingInterval is how often the
	// nameservers are asked. Zero means the defaults.
	Timeout, PollingInterval time.Duration
	// Logger gets a line per step; nil discards.
	Logger *slog.Logger
}

// Issuer orders certificates for checked CSRs. It is safe for concurrent
// use; each Issue is its own ACME order.
type Issuer struct {
	cfg Config
	log *slog.Logger
}

var _ signer.Issuer = (*Issuer)(nil)

// New checks cfg and returns the issuer. It does not talk to the CA yet.
func New(cfg Config) (*Issuer, error) {
	switch {
	case cfg.Directory == "":
		return nil, errors.New("signer: issuer: no ACME directory")
	case cfg.State == nil || cfg.NotFound == nil:
		return nil, errors.New("signer: issuer: no state store")
	case cfg.Challenges == nil:
		return nil, errors.New("signer: issuer: no challenge records")
	}
	for _, ns := range cfg.Nameservers {
		if _, _, err := net.SplitHostPort(ns); err != nil {
			return nil, fmt.Errorf("signer: issuer: nameserver %q: want host:port", ns)
		}
	}
	cfg.Nameservers = slices.Clone(cfg.Nameservers)
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.PollingInterval <= 0 {
		cfg.PollingInterval = DefaultPollingInterval
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	acme.SilenceLego()
	return &Issuer{cfg: cfg, log: log}, nil
}

// Issue orders a certificate for csr's one DNS name and returns the chain
// in PEM, leaf first. csr has been checked by the API (signer.CheckCSR);
// Issue still refuses one without exactly one DNS name, as a CA would.
func (is *Issuer) Issue(ctx context.Context, csr *x509.CertificateRequest) ([]byte, error) {
	if csr == nil || len(csr.DNSNames) != 1 {
		return nil, errors.New("signer: issuer: the csr must have exactly one dns name")
	}
	fqdn := strings.ToLower(csr.DNSNames[0])
	ctx, cancel := context.WithTimeout(ctx, is.cfg.Timeout)
	defer cancel()
	client, err := is.client(ctx)
	if err != nil {
		return nil, err
	}
	req := certificate.ObtainForCSRRequest{CSR: csr, Bundle: true, Profile: is.cfg.Profile}
	if is.cfg.History != nil {
		prev, err := is.cfg.History.Replaced(ctx, fqdn)
		if err != nil {
			return nil, fmt.Errorf("signer: issuer: the certificate %s replaces: %w", fqdn, err)
		}
		if prev != nil {
			// lego sends it only to a CA whose directory has renewalInfo,
			// and orders again without it if the CA says it was replaced.
			if id, err := certificate.MakeARICertID(prev); err == nil {
				req.ReplacesCertID = id
			}
		}
	}
	is.log.Info("issuer: ordering", "fqdn", fqdn, "ari_replaces", req.ReplacesCertID != "")
	res, err := client.Certificate.ObtainForCSR(req)
	if err != nil {
		return nil, classify(fmt.Errorf("signer: issuer: obtain a certificate for %s: %w", fqdn, acme.ContextError(ctx, err)))
	}
	chain, err := parseChain(res.Certificate)
	if err != nil {
		return nil, fmt.Errorf("signer: issuer: certificate for %s: %w", fqdn, err)
	}
	if err := checkIssued(chain, csr, fqdn, time.Now()); err != nil {
		return nil, fmt.Errorf("signer: issuer: certificate for %s: %w", fqdn, err)
	}
	is.log.Info("issuer: issued", "fqdn", fqdn, "serial", chain[0].SerialNumber.Text(16), "not_after", chain[0].NotAfter)
	return res.Certificate, nil
}

// Revoke revokes the certificate certDER at the CA, with the service's
// account, which ordered it.
func (is *Issuer) Revoke(ctx context.Context, certDER []byte) error {
	ctx, cancel := context.WithTimeout(ctx, is.cfg.Timeout)
	defer cancel()
	client, err := is.client(ctx)
	if err != nil {
		return err
	}
	if err := client.Certificate.Revoke(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})); err != nil {
		return fmt.Errorf("signer: issuer: revoke: %w", acme.ContextError(ctx, err))
	}
	return nil
}

// client returns a lego client for the service's account whose requests
// end with ctx, registering the account on first use.
func (is *Issuer) client(ctx context.Context) (*lego.Client, error) {
	key, err := is.accountKey(ctx)
	if err != nil {
		return nil, err
	}
	user := &acme.User{Email: is.cfg.Email, Key: key}
	lc := lego.NewConfig(user)
	lc.CADirURL = is.cfg.Directory
	lc.UserAgent = "aws-sso-signer"
	lc.HTTPClient = acme.ContextClient(ctx, is.cfg.HTTPClient)
	lc.Certificate.KeyType = certcrypto.EC256
	lc.Certificate.Timeout = is.cfg.Timeout
	client, err := lego.NewClient(lc)
	if err != nil {
		return nil, fmt.Errorf("signer: issuer: directory %s: %w", is.cfg.Directory, acme.ContextError(ctx, err))
	}
	p := &provider{ctx: ctx, ch: is.cfg.Challenges, log: is.log, timeout: is.cfg.Timeout, interval: is.cfg.PollingInterval}
	var opts []dns01.ChallengeOption
	if len(is.cfg.Nameservers) > 0 {
		opts = append(opts, dns01.WrapPreCheck(func(_, fqdn, value string, _ dns01.PreCheckFunc) (bool, error) {
			return txtServed(ctx, is.cfg.Nameservers, fqdn, value)
		}))
	}
	if err := client.Challenge.SetDNS01Provider(p, opts...); err != nil {
		return nil, fmt.Errorf("signer: issuer: %w", err)
	}
	// Registering a key the CA knows returns its account (RFC 8555
	// section 7.3.1): this is also how a stored key finds its account.
	reg, err := client.Registration.Register(registration.RegisterOptions{TermsOfServiceAgreed: true})
	if err != nil {
		return nil, fmt.Errorf("signer: issuer: account at %s: %w", is.cfg.Directory, acme.ContextError(ctx, err))
	}
	user.Registration = reg
	return client, nil
}

// accountKey reads the account key from the store, making one on first
// use. Two instances starting at once may both make one; each then reads
// back what the store kept, so they order with the same account from
// their next issuance on at the latest.
func (is *Issuer) accountKey(ctx context.Context) (*ecdsa.PrivateKey, error) {
	der, err := is.cfg.State.Blob(ctx, AccountKeyBlob)
	if errors.Is(err, is.cfg.NotFound) {
		if err := is.newAccountKey(ctx); err != nil {
			return nil, err
		}
		der, err = is.cfg.State.Blob(ctx, AccountKeyBlob)
	}
	if err != nil {
		return nil, fmt.Errorf("signer: issuer: read account key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signer: issuer: account key in the store: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signer: issuer: account key in the store: %T, want ECDSA", k)
	}
	return ek, nil
}

func (is *Issuer) newAccountKey(ctx context.Context) error {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("signer: issuer: make account key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return fmt.Errorf("signer: issuer: encode account key: %w", err)
	}
	if err := is.cfg.State.PutBlob(ctx, AccountKeyBlob, der); err != nil {
		return fmt.Errorf("signer: issuer: store account key: %w", err)
	}
	is.log.Info("issuer: made a new ACME account key")
	return nil
}

// provider publishes lego's DNS-01 records through signer.Challenges.
type provider struct {
	ctx               context.Context
	ch                signer.Challenges
	log               *slog.Logger
	timeout, interval time.Duration
}

// ChallengeRecord returns the owner name and the value of the TXT record
// that answers a DNS-01 challenge for domain with keyAuth (RFC 8555
// section 8.4): _acme-challenge.DOMAIN. and base64url(SHA-256(keyAuth)).
// It never follows a CNAME: the service publishes only in its own zone.
func ChallengeRecord(domain, keyAuth string) (fqdn, value string) {
	sum := sha256.Sum256([]byte(keyAuth))
	return "_acme-challenge." + mdns.CanonicalName(domain), base64.RawURLEncoding.EncodeToString(sum[:])
}

func (p *provider) Present(domain, _, keyAuth string) error {
	fqdn, value := ChallengeRecord(domain, keyAuth)
	p.log.Debug("issuer: publishing the challenge record", "name", fqdn)
	return p.ch.SetTXT(p.ctx, fqdn, value, challengeTTL)
}

func (p *provider) CleanUp(domain, _, keyAuth string) error {
	fqdn, value := ChallengeRecord(domain, keyAuth)
	// The order's own context may be done; the record goes regardless.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 10*time.Second)
	defer cancel()
	if err := p.ch.ClearTXT(ctx, fqdn, value); err != nil {
		// The store drops it after challengeTTL anyway.
		p.log.Warn("issuer: could not remove the challenge record", "name", fqdn, "err", err)
	}
	return nil
}

func (p *provider) Timeout() (timeout, interval time.Duration) { return p.timeout, p.interval }

// txtServed reports whether every server answers fqdn's TXT query with
// value, authoritatively. A server that does not (yet) is lego's last
// error, so a timeout says which.
func txtServed(ctx context.Context, servers []string, fqdn, value string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return true, err // true: stop waiting
	}
	c := &mdns.Client{Net: "udp", Timeout: 5 * time.Second}
	q := new(mdns.Msg)
	q.SetQuestion(mdns.Fqdn(fqdn), mdns.TypeTXT)
	q.RecursionDesired = false
	for _, ns := range servers {
		r, _, err := c.ExchangeContext(ctx, q, ns)
		if err == nil && r.Truncated {
			r, _, err = (&mdns.Client{Net: "tcp", Timeout: 5 * time.Second}).ExchangeContext(ctx, q, ns)
		}
		if err != nil {
			return false, fmt.Errorf("nameserver %s: TXT %s: %w", ns, fqdn, err)
		}
		if !slices.ContainsFunc(r.Answer, func(rr mdns.RR) bool {
			t, ok := rr.(*mdns.TXT)
			return ok && strings.Join(t.Txt, "") == value
		}) {
			return false, fmt.Errorf("nameserver %s: TXT %s does not have the challenge value yet (%s)", ns, fqdn, mdns.RcodeToString[r.Rcode])
		}
	}
	return true, nil
}

// validationProblems are the ACME problem types of a failed validation
// (RFC 8555 section 6.7, RFC 8659 for caa).
var validationProblems = []string{"unauthorized", "dns", "incorrectResponse", "caa", "connection"}

// classify marks err as a failed validation or a CA rate limit, the two
// refusals the API backs off from.
func classify(err error) error {
	var rl *legoacme.RateLimitedError
	if errors.As(err, &rl) {
		after, _ := api.ParseRetryAfter(rl.RetryAfter)
		return &signer.RateLimitError{RetryAfter: after, Err: err}
	}
	var pd *legoacme.ProblemDetails
	if errors.As(err, &pd) {
		kind, _ := strings.CutPrefix(pd.Type, "urn:ietf:params:acme:error:")
		if slices.Contains(validationProblems, kind) {
			return fmt.Errorf("%w: %w", signer.ErrValidationFailed, err)
		}
	}
	return err
}

func parseChain(chainPEM []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	for rest := chainPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, errors.New("no certificate in the answer")
	}
	return chain, nil
}

// checkIssued checks that the leaf is for csr's key and name and valid
// at now: a CA that answered with something else is not passed on.
func checkIssued(chain []*x509.Certificate, csr *x509.CertificateRequest, fqdn string, now time.Time) error {
	leaf := chain[0]
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(csr.PublicKey) {
		return errors.New("the certificate is not for the csr's key")
	}
	if len(leaf.DNSNames) != 1 || !strings.EqualFold(leaf.DNSNames[0], fqdn) || len(leaf.IPAddresses) > 0 {
		return fmt.Errorf("the certificate is for %v %v, want only %s", leaf.DNSNames, leaf.IPAddresses, fqdn)
	}
	if now.Before(leaf.NotBefore.Add(-5*time.Minute)) || now.After(leaf.NotAfter) {
		return fmt.Errorf("valid from %s to %s, not now", leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}
