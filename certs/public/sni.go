package public

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Timing of Server's checks.
const (
	// DefaultCheckInterval is how often the public name's DNS is
	// checked again and the certificate files looked at. Five minutes is a
	// common TTL for such records (Route 53's console default is 300 s), so
	// a record changed to a non-loopback address stops being served within
	// about one TTL of when clients start to see it.
	DefaultCheckInterval = 5 * time.Minute
	// publicRetryInterval is the wait after a lookup that got no answer
	// (offline, resolver down): short, so a laptop that starts offline
	// serves its name soon after the network comes up.
	publicRetryInterval = 30 * time.Second
	// publicDNSTimeout bounds one DNS check.
	publicDNSTimeout = 10 * time.Second
)

// ServerConfig configures a Server.
type ServerConfig struct {
	// Public is where the public name and certificate are kept, usually
	// a *Public. Required.
	Public Source
	// Dir is watched for changes to the certificate (usually Public.Dir):
	// Run reloads the certificate only when a file there changed. "":
	// reload at every check.
	Dir string
	// Local serves every handshake that is not for the public name:
	// usually (*localca.LeafRotator).GetCertificate. Required.
	Local func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// CheckDNS checks that a name resolves to loopback only; nil means
	// CheckLoopbackDNS with net.DefaultResolver. Tests inject a resolver
	// here.
	CheckDNS func(ctx context.Context, fqdn string) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives a line whenever what is served changes; nil discards.
	Logger *slog.Logger
	// Interval is how often Run checks again; zero means
	// DefaultCheckInterval.
	Interval time.Duration
	// Accept, if set, is asked before a name is served; its error is
	// the reason shown when it is not (the endpoint's allowed Host names
	// are fixed when it starts, say).
	Accept func(fqdn string) error
	// OnChange, if set, is called with the new status whenever it changes
	// (the name starts or stops being served, a new certificate, another
	// DNS verdict). It must not block.
	OnChange func(Status)
}

// Source is what a Server reads the public name and
// certificate from; *Public is one.
type Source interface {
	FQDN() (string, error)
	Current() (*Cert, error)
}

// Status is what a Server serves, for `status`.
type Status struct {
	// FQDN is the configured public name; "" if none.
	FQDN string
	// Serving reports whether handshakes for FQDN get the public
	// certificate now.
	Serving bool
	// NotAfter is the expiry of the loaded public certificate; zero if none.
	NotAfter time.Time
	// DNSChecked is when DNS was last checked; zero if never.
	DNSChecked time.Time
	// DNSError is the last check's failure; "" if it passed.
	DNSError string
	// Reason says why FQDN is not served, when it is set and Serving is
	// false.
	Reason string
}

// Server picks the certificate for each TLS handshake of the
// endpoint: the public certificate when the client asks for the public
// name (SNI, ClientHello.ServerName), the local leaf otherwise (localhost
// and the loopback addresses, for which clients send no SNI or
// "localhost").
//
// It serves the public name only while the name resolves to loopback
// addresses only (docs/threat-model.md): a client given the name would otherwise send
// its token wherever the name points. A DNS answer with a non-loopback
// address stops the serving at once; a lookup that got no answer at all
// (offline) changes nothing, since it says nothing about poisoning, and is
// retried soon. A certificate renewed or loaded while the agent runs is
// picked up without a restart, through Renewed or by Run noticing the
// files change. Handshakes already made keep their certificate, so
// connected clients never see the swap.
//
// A Server is safe for concurrent use.
type Server struct {
	cfg      ServerConfig
	log      *slog.Logger
	now      func() time.Time
	checkDNS func(ctx context.Context, fqdn string) error
	interval time.Duration

	st atomic.Pointer[publicState]

	mu    sync.Mutex // serialises Reload and Renewed
	stamp string     // the public directory's file stamp at the last load
	// dnsOK is the verdict of the last check that got an answer.
	dnsOK    bool
	dnsErr   string
	dnsAt    time.Time
	noAnswer bool // the last lookup got no answer: retry soon
	started  bool // reload has run
	loaded   *Cert
	noted    string // the last load error logged, so it is logged once
}

// publicState is what GetCertificate reads, replaced whole.
type publicState struct {
	fqdn   string // lowercase, no final dot
	cert   *tls.Certificate
	status Status
}

// NewServer returns a Server that serves only the local leaf
// until Reload (or Run) has loaded the public certificate and checked DNS.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Public == nil || cfg.Local == nil {
		return nil, errors.New("certs: public server: Public and Local are required")
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("certs: public server: negative interval %v", cfg.Interval)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now, checkDNS: cfg.CheckDNS, interval: cfg.Interval}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.checkDNS == nil {
		s.checkDNS = func(ctx context.Context, fqdn string) error {
			return CheckLoopbackDNS(ctx, net.DefaultResolver, fqdn)
		}
	}
	if s.interval == 0 {
		s.interval = DefaultCheckInterval
	}
	s.st.Store(&publicState{})
	return s, nil
}

// GetCertificate is the endpoint's tls.Config.GetCertificate.
func (s *Server) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	st := s.st.Load()
	if st.cert != nil && hello.ServerName != "" &&
		strings.EqualFold(strings.TrimSuffix(hello.ServerName, "."), st.fqdn) &&
		s.now().Before(st.cert.Leaf.NotAfter) {
		return st.cert, nil
	}
	return s.cfg.Local(hello)
}

// Status returns what is served now.
func (s *Server) Status() Status {
	st := s.st.Load().status
	if st.Serving && !s.now().Before(st.NotAfter) {
		st.Serving = false
		st.Reason = "the public certificate expired on " + st.NotAfter.UTC().Format(time.RFC3339)
	}
	return st
}

// ServedFQDN returns the public name while its certificate is served, ""
// otherwise.
func (s *Server) ServedFQDN() string {
	if st := s.Status(); st.Serving {
		return st.FQDN
	}
	return ""
}

// Reload reads the public name and certificate again and checks DNS.
func (s *Server) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reload(ctx, true)
}

// Renewed makes c the served public certificate at once, for a renewer
// that has just installed it (the ACME Renewer's callback). DNS is not
// checked again: the name is the same.
func (s *Server) Renewed(c *Cert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loaded = c
	s.started = true
	s.stamp = dirStamp(s.cfg.Dir)
	s.publish(c.FQDN)
}

// Run loads the certificate and checks DNS at once unless Reload already
// did, then checks DNS every Interval (sooner after a lookup that got no
// answer) and reloads the certificate when its files change, until ctx is
// done. It returns nil then.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if !s.started {
		// Nothing loaded yet: load now rather than after a first wait.
		s.reload(ctx, true)
	}
	s.mu.Unlock()
	for {
		wait := s.interval
		s.mu.Lock()
		if s.noAnswer {
			wait = min(wait, publicRetryInterval)
		}
		s.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		s.mu.Lock()
		// A load error is logged by reload, and what was loaded before
		// stays in service.
		_ = s.reload(ctx, false)
		s.mu.Unlock()
	}
}

// reload loads the certificate if its files changed (or always, if
// force), checks DNS and publishes the result. s.mu is held.
func (s *Server) reload(ctx context.Context, force bool) error {
	s.started = true
	var loadErr error
	if stamp := dirStamp(s.cfg.Dir); force || stamp != s.stamp || s.cfg.Dir == "" {
		s.stamp = stamp
		c, err := s.cfg.Public.Current()
		switch {
		case err == nil:
			s.loaded = c
		case errors.Is(err, ErrNoCert):
			s.loaded = nil
		default:
			// Keep serving what was loaded: a locked keyring or a file
			// being replaced is no reason to drop a good certificate.
			loadErr = err
			if msg := err.Error(); msg != s.noted {
				s.noted = msg
				s.log.Warn("certs: cannot load the public certificate", "err", err)
			}
		}
	}
	name, err := s.cfg.Public.FQDN()
	if err != nil {
		loadErr = errors.Join(loadErr, err)
	}
	if name == "" && s.loaded != nil {
		name = s.loaded.FQDN
	}
	if name != "" {
		dctx, cancel := context.WithTimeout(ctx, publicDNSTimeout)
		err := s.checkDNS(dctx, name)
		cancel()
		s.dnsAt = s.now()
		var de *DNSError
		s.noAnswer = errors.As(err, &de) && de.Err != nil && ctx.Err() == nil
		switch {
		case err == nil:
			s.dnsOK, s.dnsErr = true, ""
		case s.noAnswer:
			// No answer: keep the last verdict, but say why.
			s.dnsErr = strings.TrimPrefix(err.Error(), "certs: ")
		default:
			s.dnsOK, s.dnsErr = false, strings.TrimPrefix(err.Error(), "certs: ")
		}
	}
	s.publish(name)
	return loadErr
}

// publish computes the status from what is loaded and the DNS verdict,
// stores it for GetCertificate and reports a change. s.mu is held.
func (s *Server) publish(name string) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	old := s.st.Load()
	next := &publicState{fqdn: name}
	st := &next.status
	st.FQDN = name
	st.DNSChecked = s.dnsAt
	st.DNSError = s.dnsErr
	c := s.loaded
	if c != nil {
		st.NotAfter = c.NotAfter()
	}
	var refused error
	if s.cfg.Accept != nil && name != "" {
		refused = s.cfg.Accept(name)
	}
	switch {
	case name == "":
	case c == nil:
		st.Reason = "no public certificate for " + name + " yet"
	case len(c.Chain) == 0 || c.Chain[0].VerifyHostname(name) != nil:
		st.Reason = "the public certificate is for " + c.FQDN + ", not " + name
	case !s.now().Before(c.NotAfter()):
		st.Reason = "the public certificate expired on " + c.NotAfter().UTC().Format(time.RFC3339)
	case refused != nil:
		st.Reason = refused.Error()
	case !s.dnsOK && s.dnsAt.IsZero():
		st.Reason = "DNS not checked yet"
	case !s.dnsOK:
		st.Reason = "DNS check failed: " + s.dnsErr
	default:
		st.Serving = true
		next.cert = c.TLSCertificate()
	}
	s.st.Store(next)

	was := old.status
	switch {
	case st.Serving && (!was.Serving || was.FQDN != st.FQDN):
		s.log.Info("serving the public certificate", "fqdn", name, "not_after", st.NotAfter.UTC())
	case st.Serving && !was.NotAfter.Equal(st.NotAfter):
		s.log.Info("serving a new public certificate", "fqdn", name, "not_after", st.NotAfter.UTC())
	case !st.Serving && was.Serving:
		s.log.Warn("stopped serving the public certificate: clients get the loopback URL", "fqdn", name, "why", st.Reason)
	case !st.Serving && name != "" && st.Reason != was.Reason && !s.dnsOK && s.dnsErr != "":
		s.log.Warn("not serving the public certificate", "fqdn", name, "why", st.Reason)
	case !st.Serving && name != "" && st.Reason != was.Reason:
		s.log.Info("not serving the public certificate", "fqdn", name, "why", st.Reason)
	}
	if s.cfg.OnChange != nil && (st.Serving != was.Serving || st.FQDN != was.FQDN ||
		!st.NotAfter.Equal(was.NotAfter) || st.DNSError != was.DNSError || st.Reason != was.Reason) {
		s.cfg.OnChange(*st)
	}
}

// dirStamp summarises the names, sizes and modification times of the
// files in dir, so Run reads the certificate (and the secure store) only
// when something there changed: with the file store each read costs an
// scrypt derivation.
func dirStamp(dir string) string {
	if dir == "" {
		return ""
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "error: " + err.Error()
	}
	var parts []string
	for _, e := range entries {
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s:%d:%d", e.Name(), fi.Size(), fi.ModTime().UnixNano()))
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n")
}
