package acme

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-acme/lego/v4/certcrypto"
	"github.com/go-acme/lego/v4/certificate"
	"github.com/go-acme/lego/v4/challenge/dns01"
	"github.com/go-acme/lego/v4/lego"
	legolog "github.com/go-acme/lego/v4/log"
	"github.com/go-acme/lego/v4/registration"

	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// ACME directories of Let's Encrypt. Production issues publicly trusted
// certificates under strict rate limits (5 failed validations per account,
// hostname and hour); staging issues untrusted ones under generous limits,
// for trying a DNS setup out first.
const (
	LetsEncryptDirectory        = lego.LEDirectoryProduction
	LetsEncryptStagingDirectory = lego.LEDirectoryStaging
)

// userAgent is sent to the ACME server with every request.
const userAgent = "aws-sso-agent"

// AccountKeyName is the secure store key holding the ACME account key,
// PKCS#8 DER. It is part of the on-disk format: changing it makes the next
// run register a new account.
const AccountKeyName = "certs/acme-account-key"

// Defaults of the DNS propagation wait: how long the record may take to
// appear on the nameservers checked before the CA is asked to look, and how
// often they are asked. Two minutes is lego's default for Route 53, whose
// changes reach all its nameservers within 60 seconds (Route 53's
// ChangeResourceRecordSets documentation); an RFC 2136 primary has it at
// once and its secondaries usually within seconds of the NOTIFY.
const (
	DefaultPropagationTimeout = 2 * time.Minute
	DefaultPollingInterval    = 2 * time.Second
)

// DNSProvider publishes and removes the TXT record that answers an ACME
// DNS-01 challenge for domain. It is lego's challenge.Provider, so any of
// lego's DNS providers fits; NewRFC2136Provider and NewRoute53Provider make
// the two this program offers.
type DNSProvider interface {
	Present(domain, token, keyAuth string) error
	CleanUp(domain, token, keyAuth string) error
}

// Config says where and how Obtain gets a certificate.
type Config struct {
	// Directory is the ACME server's directory URL; "" means
	// LetsEncryptDirectory.
	Directory string
	// Email is the contact address of the ACME account (optional): Let's
	// Encrypt no longer mails expiry notices, but a CA may need to reach
	// the account's owner about a revocation.
	Email string
	// FQDN is the one name the certificate is for.
	FQDN string
	// DNS publishes the challenge records in the zone of FQDN.
	DNS DNSProvider
	// Store keeps the ACME account key (AccountKeyName), made on first
	// use and reused after, so renewals use the same account.
	Store store.Store
	// HTTPClient talks to the ACME server; nil means one trusting the
	// system's roots. Tests pass one trusting their own ACME server.
	HTTPClient *http.Client
	// Nameservers ("host:port", port 53 if none) are asked for the
	// challenge record before the CA is told to look, until each serves
	// it. Empty means lego's check: every authoritative nameserver of the
	// zone, found through the system's resolver.
	Nameservers []string
	// PropagationTimeout and PollingInterval bound that wait; zero means
	// DefaultPropagationTimeout and DefaultPollingInterval.
	PropagationTimeout time.Duration
	PollingInterval    time.Duration
	// Now is the clock that checks the issued certificate; nil means
	// time.Now.
	Now func() time.Time
	// Logger gets a line per step; nil discards.
	Logger *slog.Logger
}

// Obtain gets a certificate for cfg.FQDN from an ACME server by the
// DNS-01 challenge. Its P-256 key is made here, in this process, and is
// returned only inside the public.Cert: the caller stores it (Public.Install)
// and nothing else ever sees it. The account key comes from the store and
// is made and stored on first use. The returned chain is checked to be for
// that key and name and valid now; whether it chains to a trusted root is
// Public.Install's check.
//
// The lego library does the protocol; ctx cancels its requests to the ACME
// server and the wait for the DNS record.
func Obtain(ctx context.Context, cfg Config) (*public.Cert, error) {
	fqdn, err := acmeFQDN(cfg.FQDN)
	if err != nil {
		return nil, err
	}
	if cfg.DNS == nil {
		return nil, errors.New("certs: acme: no DNS provider")
	}
	if cfg.Store == nil {
		return nil, errors.New("certs: acme: no secure store")
	}
	dir := cfg.Directory
	if dir == "" {
		dir = LetsEncryptDirectory
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	silenceLego()

	accountKey, err := acmeAccountKey(cfg.Store, log)
	if err != nil {
		return nil, err
	}
	user := &User{Email: cfg.Email, Key: accountKey}
	lc := lego.NewConfig(user)
	lc.CADirURL = dir
	lc.UserAgent = userAgent
	lc.HTTPClient = contextClient(ctx, cfg.HTTPClient)
	lc.Certificate.KeyType = certcrypto.EC256
	client, err := lego.NewClient(lc)
	if err != nil {
		if u := unreachable(ctx, dir, err); u != nil {
			return nil, u
		}
		return nil, fmt.Errorf("certs: acme: directory %s: %w", dir, err)
	}

	provider := &challengeProvider{
		ctx: ctx, dns: cfg.DNS, log: log,
		timeout:  cmpOr(cfg.PropagationTimeout, DefaultPropagationTimeout),
		interval: cmpOr(cfg.PollingInterval, DefaultPollingInterval),
	}
	var opts []dns01.ChallengeOption
	if len(cfg.Nameservers) > 0 {
		servers := slices.Clone(cfg.Nameservers)
		for i, ns := range servers {
			if _, _, err := net.SplitHostPort(ns); err != nil {
				servers[i] = net.JoinHostPort(ns, "53")
			}
		}
		opts = append(opts, dns01.WrapPreCheck(func(_, fqdn, value string, _ dns01.PreCheckFunc) (bool, error) {
			return txtServed(ctx, servers, fqdn, value)
		}))
	}
	if err := client.Challenge.SetDNS01Provider(provider, opts...); err != nil {
		return nil, fmt.Errorf("certs: acme: %w", err)
	}

	// Registering an account key the server already knows returns that
	// account (RFC 8555 section 7.3.1), so this is also how a reused key
	// finds its account.
	reg, err := client.Registration.Register(registration.RegisterOptions{TermsOfServiceAgreed: true})
	if err != nil {
		if u := unreachable(ctx, dir, err); u != nil {
			return nil, u
		}
		return nil, fmt.Errorf("certs: acme: account at %s: %w", dir, ctxErr(ctx, err))
	}
	user.Registration = reg
	log.Debug("acme account", "directory", dir, "account", reg.URI)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: acme: make key: %w", err)
	}
	log.Info("acme: ordering a certificate", "fqdn", fqdn, "directory", dir)
	res, err := client.Certificate.Obtain(certificate.ObtainRequest{
		Domains:    []string{fqdn},
		PrivateKey: key,
		Bundle:     true,
	})
	if err != nil {
		if u := unreachable(ctx, dir, err); u != nil {
			return nil, fmt.Errorf("certs: acme: obtain a certificate for %s: %w", fqdn, u)
		}
		return nil, fmt.Errorf("certs: acme: obtain a certificate for %s: %w", fqdn, ctxErr(ctx, err))
	}
	chain, err := public.ParseChainPEM(res.Certificate)
	if err != nil {
		return nil, fmt.Errorf("certs: acme: certificate from %s: %w", dir, err)
	}
	c := &public.Cert{FQDN: fqdn, Chain: chain, Key: key}
	if err := checkIssued(c, now()); err != nil {
		return nil, fmt.Errorf("certs: acme: certificate from %s: %w", dir, err)
	}
	log.Info("acme: certificate issued", "fqdn", fqdn, "issuer", chain[0].Issuer.CommonName, "not_after", chain[0].NotAfter)
	return c, nil
}

// acmeFQDN checks that name is one DNS name a CA can issue for and the
// agent can serve (public.ValidateFQDN): no wildcard, which a DNS-01 order could
// get but would cover names the agent never serves.
func acmeFQDN(name string) (string, error) {
	fqdn, err := public.ValidateFQDN(name)
	if err != nil {
		return "", fmt.Errorf("certs: acme: %w", err)
	}
	return fqdn, nil
}

// acmeAccountKey returns the ACME account key from the store, making and
// storing one on first use. PKCS#8 DER, as the CA's key.
func acmeAccountKey(st store.Store, log *slog.Logger) (*ecdsa.PrivateKey, error) {
	der, err := st.Get(AccountKeyName)
	switch {
	case err == nil:
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("certs: acme: account key in the store: %w", err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("certs: acme: account key in the store: %T, want ECDSA", k)
		}
		return ek, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("certs: acme: read account key: %w", err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: acme: make account key: %w", err)
	}
	der, err = x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("certs: acme: encode account key: %w", err)
	}
	if err := st.Set(AccountKeyName, der); err != nil {
		return nil, fmt.Errorf("certs: acme: store account key: %w", err)
	}
	log.Info("acme: made a new account key", "store_key", AccountKeyName)
	return k, nil
}

// User is the ACME account as lego wants it (registration.User): its
// contact, its key and, once registered, its registration.
type User struct {
	Email        string
	Key          crypto.PrivateKey
	Registration *registration.Resource
}

func (u *User) GetEmail() string                        { return u.Email }
func (u *User) GetRegistration() *registration.Resource { return u.Registration }
func (u *User) GetPrivateKey() crypto.PrivateKey        { return u.Key }

// challengeProvider adapts a DNSProvider for lego: it logs, stops when ctx
// is done, and sets the propagation wait.
type challengeProvider struct {
	ctx               context.Context
	dns               DNSProvider
	log               *slog.Logger
	timeout, interval time.Duration
}

func (p *challengeProvider) Present(domain, token, keyAuth string) error {
	if err := p.ctx.Err(); err != nil {
		return err
	}
	p.log.Info("acme: publishing the challenge record", "name", "_acme-challenge."+domain)
	return p.dns.Present(domain, token, keyAuth)
}

func (p *challengeProvider) CleanUp(domain, token, keyAuth string) error {
	p.log.Debug("acme: removing the challenge record", "name", "_acme-challenge."+domain)
	if err := p.dns.CleanUp(domain, token, keyAuth); err != nil {
		// The certificate may well be issued; a stale TXT record harms
		// nothing but tidiness, so this is a warning, not a failure.
		p.log.Warn("acme: could not remove the challenge record", "name", "_acme-challenge."+domain, "err", err)
	}
	return nil
}

func (p *challengeProvider) Timeout() (timeout, interval time.Duration) {
	return p.timeout, p.interval
}

// txtServed reports whether every server answers fqdn's TXT query with
// value. A server that does not (yet) is an error kept by lego's wait as
// its last one, so a timeout says what went wrong.
func txtServed(ctx context.Context, servers []string, fqdn, value string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return true, err // true: stop waiting
	}
	for _, ns := range servers {
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, ns)
		}}
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		txts, err := r.LookupTXT(qctx, fqdn)
		cancel()
		if err != nil {
			return false, fmt.Errorf("nameserver %s: TXT %s: %w", ns, fqdn, err)
		}
		if !slices.Contains(txts, value) {
			return false, fmt.Errorf("nameserver %s: TXT %s does not have the challenge value yet", ns, fqdn)
		}
	}
	return true, nil
}

// contextClient returns a copy of c (nil: a default one) whose requests
// are cancelled with ctx: lego's API takes no context.
func contextClient(ctx context.Context, c *http.Client) *http.Client {
	var cc http.Client
	if c != nil {
		cc = *c
	} else {
		// lego's default: two minutes covers the slowest ACME finalize.
		cc.Timeout = 2 * time.Minute
	}
	base := cc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cc.Transport = ctxTransport{ctx: ctx, base: base}
	return &cc
}

type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(t.ctx, cancel)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil || resp == nil {
		stop()
		cancel()
		if err != nil {
			err = &transportError{err}
		}
		return resp, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, done: func() { stop(); cancel() }}
	return resp, nil
}

// cancelBody releases the request's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	done func()
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.done()
	return err
}

// ctxErr prefers ctx's error: lego wraps a cancelled request in its own.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// checkIssued checks that c's leaf is for its key and name and valid at
// now.
func checkIssued(c *public.Cert, now time.Time) error {
	leaf := c.Chain[0]
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(c.Key.Public()) {
		return errors.New("the certificate is not for the key sent")
	}
	if err := leaf.VerifyHostname(c.FQDN); err != nil {
		return err
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return fmt.Errorf("valid from %s to %s, not now (%s)", leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

var silenceLegoOnce sync.Once

// silenceLego stops lego's package-level logger, which writes to stderr: a
// library does not print. Obtain logs the steps itself.
func silenceLego() {
	silenceLegoOnce.Do(func() { legolog.Logger = stdlog.New(io.Discard, "", 0) })
}
