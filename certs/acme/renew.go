package acme

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
)

// Renewal timing.
//
// A certificate is renewed when a third of its lifetime remains: Let's
// Encrypt's own advice for its 90-day certificates is to renew at 60 days
// (its integration guide), which leaves 30 days — time to notice and fix a
// broken DNS setup from the logs or `certs status` before clients see an
// expired certificate. The same fraction scales to the CA's short-lived
// profiles (about 2 of 6 days).
//
// Each certificate's renewal time is moved earlier by a random part of up
// to a thirtieth of its lifetime (3 days of 90), so that many agents that
// got their certificates at the same moment do not all renew at once
// (Let's Encrypt asks clients to spread renewals).
//
// After a failure the next attempt waits 10 minutes, doubling to at most 6
// hours: Let's Encrypt allows 5 failed validations per account and
// hostname per hour, and most failures (DNS credentials, a zone moved) need
// a person, who has weeks.
const (
	DefaultRenewCheckInterval = time.Minute
	renewRetryMin             = 10 * time.Minute
	renewRetryMax             = 6 * time.Hour
	// DefaultRenewTimeout bounds one renewal: the order, a DNS propagation
	// wait and the CA's validation.
	DefaultRenewTimeout = 10 * time.Minute
)

// RenewerConfig configures a Renewer.
type RenewerConfig struct {
	// ACME says how to get the certificate; see Obtain. Its Now and
	// Logger are the Renewer's clock and log too (nil: time.Now,
	// discard).
	ACME Config
	// Public keeps the certificate: the Renewer starts from its Current
	// and Installs each renewed one.
	Public *public.Public
	// OnRenew, if set, is called with each renewed certificate once it is
	// installed and served.
	OnRenew func(*public.Cert)
	// CheckInterval is how often Run looks at the clock; zero means
	// DefaultRenewCheckInterval. Polling, as the local CA's LeafRotator does, keeps the
	// schedule on the wall clock across a machine's sleep.
	CheckInterval time.Duration
	// Timeout bounds one renewal; zero means DefaultRenewTimeout.
	Timeout time.Duration
	// Obtain, if set, gets each renewed certificate in place of
	// Obtain(ctx, ACME), whose FQDN, Now and Logger still apply: a
	// certificate from the signing service (certs/signer) renews on the
	// same schedule through the service.
	Obtain func(ctx context.Context) (*public.Cert, error)
}

// RenewalStatus is what `certs status` shows about renewals.
type RenewalStatus struct {
	FQDN        string
	NotAfter    time.Time // of the certificate served now
	RenewAt     time.Time // when it is due for renewal
	NextAttempt time.Time // RenewAt, or later after a failure
	LastAttempt time.Time // zero if none yet
	LastError   string    // of the last attempt; "" if it succeeded or none was made
	Failures    int       // consecutive failed attempts
}

// Renewer keeps a public certificate from an ACME CA fresh in the running
// agent: Run renews it when it is due and swaps the served certificate
// without a restart. Handshakes call Current (or TLSCertificate) and get
// whatever certificate is current; connections already made keep theirs.
// Failures are logged, retried with a backoff, and reported by Status. A
// Renewer is safe for concurrent use.
type Renewer struct {
	cfg      RenewerConfig
	now      func() time.Time
	log      *slog.Logger
	interval time.Duration
	timeout  time.Duration

	renewMu sync.Mutex // one renewal at a time
	cur     atomic.Pointer[renewedCert]

	mu     sync.Mutex // guards status
	status RenewalStatus
}

// renewedCert is a certificate with its serving form and renewal time.
type renewedCert struct {
	pc      *public.Cert
	tls     *tls.Certificate
	renewAt time.Time
}

// NewRenewer starts from cfg.Public's current certificate; it returns an
// error wrapping public.ErrNoCert if there is none.
func NewRenewer(cfg RenewerConfig) (*Renewer, error) {
	if cfg.Public == nil {
		return nil, errors.New("certs: renewer: no Public")
	}
	if _, err := acmeFQDN(cfg.ACME.FQDN); err != nil {
		return nil, err
	}
	r := &Renewer{
		cfg:      cfg,
		now:      cfg.ACME.Now,
		log:      cfg.ACME.Logger,
		interval: cmpOr(cfg.CheckInterval, DefaultRenewCheckInterval),
		timeout:  cmpOr(cfg.Timeout, DefaultRenewTimeout),
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	pc, err := cfg.Public.Current()
	if err != nil {
		return nil, fmt.Errorf("certs: renewer: %w", err)
	}
	if want, _ := acmeFQDN(cfg.ACME.FQDN); pc.FQDN != want {
		// Another certificate replaced the one from ACME (`certs load`,
		// `certs save`): renewing it by ACME would change its name.
		return nil, fmt.Errorf("certs: renewer: the installed certificate is for %s, the ACME settings for %s", pc.FQDN, want)
	}
	r.set(pc)
	return r, nil
}

func (r *Renewer) set(pc *public.Cert) {
	rc := &renewedCert{pc: pc, tls: pc.TLSCertificate(), renewAt: renewTime(pc)}
	r.cur.Store(rc)
	r.mu.Lock()
	r.status.FQDN = pc.FQDN
	r.status.NotAfter = pc.NotAfter()
	r.status.RenewAt = rc.renewAt
	r.status.NextAttempt = rc.renewAt
	r.status.Failures = 0
	r.mu.Unlock()
}

// RenewalDue is when c is due for renewal before the random spread: when a
// third of its lifetime is left (see the constants above). A Renewer
// renews it somewhat earlier than that, by up to a thirtieth of the
// lifetime.
func RenewalDue(c *public.Cert) time.Time {
	leaf := c.Chain[0]
	return leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore) / 3)
}

// renewTime is when pc is due: RenewalDue, less a random part of up to a
// thirtieth of its lifetime (see the constants above).
func renewTime(pc *public.Cert) time.Time {
	leaf := pc.Chain[0]
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	jitter := time.Duration(0)
	if n := int64(life / 30); n > 0 {
		jitter = time.Duration(rand.Int64N(n))
	}
	return RenewalDue(pc).Add(-jitter)
}

// Current returns the certificate served now. The caller must not modify
// it.
func (r *Renewer) Current() *public.Cert { return r.cur.Load().pc }

// TLSCertificate returns the current certificate for serving, built once
// per certificate.
func (r *Renewer) TLSCertificate() *tls.Certificate { return r.cur.Load().tls }

// Status returns the renewal state for `certs status`.
func (r *Renewer) Status() RenewalStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// RenewIfDue renews the certificate if it is due and no failed attempt
// asks to wait, and reports whether it did. On success the new certificate
// is installed, served, and passed to OnRenew; on failure the old one is
// served on and the error is logged and kept for Status.
func (r *Renewer) RenewIfDue(ctx context.Context) (renewed bool, err error) {
	if !r.due() {
		return false, nil
	}
	r.renewMu.Lock()
	defer r.renewMu.Unlock()
	if !r.due() { // renewed by another caller meanwhile
		return false, nil
	}
	// A later `certs acme` may have installed a newer certificate since
	// this one was loaded: adopt it rather than renew early.
	if pc, err := r.cfg.Public.Current(); err == nil && pc.NotAfter().After(r.Current().NotAfter()) {
		r.log.Info("certs: a newer public certificate was installed; renewing that one when it is due", "not_after", pc.NotAfter())
		r.set(pc)
		if r.cfg.OnRenew != nil {
			r.cfg.OnRenew(pc)
		}
		if !r.due() {
			return false, nil
		}
	}
	return true, r.renew(ctx)
}

// Renew renews the certificate now, whether due or not.
func (r *Renewer) Renew(ctx context.Context) error {
	r.renewMu.Lock()
	defer r.renewMu.Unlock()
	return r.renew(ctx)
}

func (r *Renewer) due() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.now().Before(r.status.NextAttempt)
}

func (r *Renewer) renew(ctx context.Context) error {
	start := r.now()
	old := r.cur.Load().pc
	r.log.Info("certs: renewing the public certificate", "fqdn", r.cfg.ACME.FQDN, "not_after", old.NotAfter())
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	obtain := r.cfg.Obtain
	if obtain == nil {
		obtain = func(ctx context.Context) (*public.Cert, error) { return Obtain(ctx, r.cfg.ACME) }
	}
	pc, err := obtain(ctx)
	if err == nil {
		err = r.cfg.Public.Install(pc)
	}
	if err != nil {
		r.mu.Lock()
		r.status.LastAttempt = start
		r.status.LastError = err.Error()
		r.status.Failures++
		wait := min(renewRetryMin<<min(r.status.Failures-1, 10), renewRetryMax)
		wait += time.Duration(rand.Int64N(int64(wait / 10))) // spread retries
		r.status.NextAttempt = r.now().Add(wait)
		next := r.status.NextAttempt
		r.mu.Unlock()
		r.log.Error("certs: renewing the public certificate failed; serving the old one",
			"fqdn", r.cfg.ACME.FQDN, "err", err, "not_after", old.NotAfter(), "next_attempt", next)
		return err
	}
	r.set(pc)
	r.mu.Lock()
	r.status.LastAttempt = start
	r.status.LastError = ""
	r.mu.Unlock()
	r.log.Info("certs: public certificate renewed", "fqdn", pc.FQDN, "not_after", pc.NotAfter())
	if r.cfg.OnRenew != nil {
		r.cfg.OnRenew(pc)
	}
	return nil
}

// Run renews the certificate whenever it is due, checking every
// CheckInterval, until ctx is done; then it returns nil. Failures are
// logged, kept for Status, and retried later.
func (r *Renewer) Run(ctx context.Context) error {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		// The error is logged and kept by renew.
		_, _ = r.RenewIfDue(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
