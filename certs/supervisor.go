package certs

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
)

// reloadWait is how long Supervisor.Reload waits for the renewer it
// replaces to stop before it answers anyway: a renewal under way (DNS
// propagation, ACME polling) can take minutes to give up, and the CLI
// asking for the reload should not hang on it.
const reloadWait = 5 * time.Second

// SupervisorConfig configures a Supervisor.
type SupervisorConfig struct {
	// Public holds the public name, the certificate and, for a
	// certificate from `certs acme`, its ACME settings (in Public.Dir).
	Public *public.Public
	// Local serves every name but the public one (the local CA's leaf).
	Local func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// HTTPClient talks to the ACME server; nil means the ACME client's
	// default.
	HTTPClient *http.Client
	// RenewCheckInterval is how often the renewer looks at the clock;
	// zero means acme.DefaultRenewCheckInterval.
	RenewCheckInterval time.Duration
	// CheckDNS is the DNS check of the public name; nil means
	// public.CheckLoopbackDNS with the system's resolver.
	CheckDNS func(ctx context.Context, fqdn string) error
	// Now is the clock of the DNS re-checks; nil means time.Now.
	Now func() time.Time
	// Interval is how often the name, the certificate and DNS are looked
	// at again; zero means public.DefaultCheckInterval.
	Interval time.Duration
	// Logger receives what happens (never a secret); nil discards it.
	Logger *slog.Logger
	// OnChange, if not nil, is called with the public name whenever the
	// served state changes: the name while its certificate is served
	// (DNS checked), "" while only loopback names are.
	OnChange func(servedFQDN string)
}

// SupervisorStatus is the public certificate's state as the agent shows
// it.
type SupervisorStatus struct {
	public.Status
	// RenewAt is the next renewal attempt of a certificate from ACME
	// (zero when nothing renews it automatically), RenewError the last
	// attempt's failure ("" if none).
	RenewAt    time.Time
	RenewError string
}

// supervisedRenewer is what a Supervisor needs of a Renewer. Tests put
// a fake behind it: the supervisor's job is when renewers start and
// stop, which an ACME server in the loop would only make slow (the
// Renewer itself is tested against an ACME server in acme_test.go and
// against Pebble in e2e/public_test.go).
type supervisedRenewer interface {
	Run(ctx context.Context) error
	Status() acme.RenewalStatus
}

// Supervisor serves the agent's public certificate through its lifecycle
// (docs/tls.md): it chooses per TLS handshake between the
// public certificate and the local leaf (public.Server), re-reads the name,
// the certificate and DNS on a schedule and on Reload, and runs the ACME
// renewer for a certificate from `certs acme`.
//
// Two locks keep Status from ever waiting for a renewer to stop: restart
// serialises restarts and the shutdown wait, mu guards the renewer fields.
type Supervisor struct {
	cfg    SupervisorConfig
	log    *slog.Logger
	server *public.Server

	// base bounds every renewer; Run cancels it when its context ends.
	base   context.Context
	cancel context.CancelFunc

	// newRenewer makes a renewer from the settings (a test hook; nil
	// means acme.Settings.Renewer).
	newRenewer func(ctx context.Context, s *acme.Settings, pub *public.Public, cfg acme.RenewerConfig) (supervisedRenewer, error)
	// reloadWait is how long Reload waits for a renewer restart (zero
	// means reloadWait; a test hook).
	reloadWait time.Duration

	restart sync.Mutex
	mu      sync.Mutex
	// renewer renews a certificate from `certs acme`; nil for one loaded
	// by hand (the user renews it) or none. stop ends its Run, which
	// closes done.
	renewer supervisedRenewer
	stop    context.CancelFunc
	done    chan struct{}
	// key is what renewer was made from (renewerKey).
	key string
}

// NewSupervisor reads the configured public name and prepares to serve
// its certificate. Nothing is served for the name until Run has loaded
// the certificate and checked DNS.
func NewSupervisor(cfg SupervisorConfig) (*Supervisor, error) {
	if cfg.Public == nil {
		return nil, errors.New("certs: supervisor: no public certificate store")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name, err := cfg.Public.FQDN()
	if err != nil {
		// A damaged name file must not stop the agent: it serves its
		// loopback URLs, and status shows why the name is not used.
		log.Warn("cannot read the public name; serving loopback names only", "err", err)
	} else if name != "" {
		log.Debug("public name configured", "fqdn", name)
	}
	s := &Supervisor{cfg: cfg, log: log}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.server, err = public.NewServer(public.ServerConfig{
		Public:   cfg.Public,
		Dir:      cfg.Public.Dir,
		Local:    cfg.Local,
		Logger:   log,
		CheckDNS: cfg.CheckDNS,
		Now:      cfg.Now,
		Interval: cfg.Interval,
		OnChange: func(st public.Status) {
			if cfg.OnChange == nil {
				return
			}
			if st.Serving {
				cfg.OnChange(st.FQDN)
			} else {
				cfg.OnChange("")
			}
		},
	})
	if err != nil {
		s.cancel()
		return nil, err
	}
	return s, nil
}

// GetCertificate is the tls.Config hook: the public certificate for the
// served public name, the local leaf for every other name.
func (s *Supervisor) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.server.GetCertificate(hello)
}

// HostAllowed is the endpoint's Host check for names beyond loopback:
// the public name, while its certificate is served (DNS checked).
func (s *Supervisor) HostAllowed(name string) bool {
	served := s.server.ServedFQDN()
	return served != "" && strings.EqualFold(strings.TrimSuffix(name, "."), served)
}

// Run serves until ctx is done: it starts the renewer, if the
// certificate came from `certs acme`, and re-reads the name, the
// certificate and DNS on schedule. It returns nil once ctx is done and
// the renewer has stopped. Call it once.
func (s *Supervisor) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.server.Run(s.base) // returns nil once base is done
	}()
	s.restartRenewer()
	<-served
	s.wait()
	return nil
}

// Reload reads the name and the certificate again and checks DNS now,
// after `certs` changed them, and follows the ACME settings as they now
// are. It answers once the renewer has been restarted, or after a short
// wait while the old one finishes a renewal under way (the restart then
// completes in the background). The error is the public.Server's.
func (s *Supervisor) Reload(ctx context.Context) error {
	err := s.server.Reload(ctx)
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		s.restartRenewer()
	}()
	wait := s.reloadWait
	if wait == 0 {
		wait = reloadWait
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-restarted:
	case <-t.C:
		s.log.Info("the ACME renewer restarts once its renewal under way stops")
	case <-ctx.Done():
	}
	return err
}

// Status says what is served for the public name and when the renewer,
// if any, tries next. It never waits for a renewer being restarted.
func (s *Supervisor) Status() SupervisorStatus {
	st := SupervisorStatus{Status: s.server.Status()}
	s.mu.Lock()
	r := s.renewer
	s.mu.Unlock()
	if r != nil {
		rs := r.Status()
		st.RenewAt = rs.NextAttempt
		st.RenewError = rs.LastError
	}
	return st
}

// restartRenewer makes the renewer follow the settings and certificate as
// they now are: it stops the one running and starts one for them. When
// they have not changed it keeps the renewer running, with its schedule
// and its backoff after failures: each restart would try again at once,
// and Let's Encrypt allows five failed validations per account, hostname
// and hour (https://letsencrypt.org/docs/rate-limits/). Each renewed
// certificate is served at once (public.Server.Renewed), with no restart.
func (s *Supervisor) restartRenewer() {
	s.restart.Lock()
	defer s.restart.Unlock()
	key, keyErr := s.renewerKey()
	s.mu.Lock()
	if s.renewer != nil && keyErr == nil && key == s.key && s.base.Err() == nil {
		s.mu.Unlock()
		return
	}
	stop, done := s.stop, s.done
	s.renewer, s.stop, s.done, s.key = nil, nil, nil, ""
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-done // a renewal under way may take a while to give up
	}
	if s.base.Err() != nil {
		return // shutting down: no new renewer
	}
	if keyErr == nil && key == "" {
		return // not from ACME (the user renews it), or no certificate
	}
	var r supervisedRenewer
	err := keyErr
	if err == nil {
		var settings *acme.Settings
		if settings, err = acme.LoadSettings(s.cfg.Public.Dir); err == nil {
			newRenewer := s.newRenewer
			if newRenewer == nil {
				newRenewer = acmeRenewer
			}
			r, err = newRenewer(s.base, settings, s.cfg.Public, acme.RenewerConfig{
				ACME:          acme.Config{HTTPClient: s.cfg.HTTPClient, Logger: s.log},
				OnRenew:       s.server.Renewed,
				CheckInterval: s.cfg.RenewCheckInterval,
			})
		} else if errors.Is(err, os.ErrNotExist) {
			r, err = s.signerRenewer()
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, public.ErrNoCert):
		return // nothing to renew
	default:
		s.log.Warn("cannot renew the public certificate automatically", "err", err)
		return
	}
	rctx, cancel := context.WithCancel(s.base)
	done = make(chan struct{})
	go func() {
		defer close(done)
		r.Run(rctx)
	}()
	s.mu.Lock()
	s.renewer, s.stop, s.done, s.key = r, cancel, done, key
	s.mu.Unlock()
}

func acmeRenewer(ctx context.Context, s *acme.Settings, pub *public.Public, cfg acme.RenewerConfig) (supervisedRenewer, error) {
	return s.Renewer(ctx, pub, cfg)
}

// renewerKey identifies what a renewer is made from: the ACME settings
// and the installed certificate. "" when there is nothing to renew (no
// settings: not from ACME; or no certificate).
func (s *Supervisor) renewerKey() (string, error) {
	settings, err := acme.LoadSettings(s.cfg.Public.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return s.signerRenewerKey()
	}
	if err != nil {
		return "", err
	}
	return s.settingsKey(settings)
}

// settingsKey is renewerKey for settings: them and the installed
// certificate; "" when there is no certificate.
func (s *Supervisor) settingsKey(settings any) (string, error) {
	_, chain, err := s.cfg.Public.CurrentChain()
	if errors.Is(err, public.ErrNoCert) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	js, err := json.Marshal(settings)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(chain[0].Raw)
	return string(js) + " " + hex.EncodeToString(sum[:]), nil
}

// wait returns once the renewer, if any, has stopped (base done).
func (s *Supervisor) wait() {
	s.restart.Lock()
	defer s.restart.Unlock()
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done != nil {
		<-done
	}
}
