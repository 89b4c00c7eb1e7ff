package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	runtimedebug "runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs"
	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/store"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// ServerConfig is what a Server runs with.
type ServerConfig struct {
	// Dirs are the agent's directories: the token file, the trust files
	// and the control socket are in them, the local CA under Config.
	Dirs Dirs
	// ControlListener is the control socket (ListenControl on
	// Dirs.ControlSocket()). Nil means NewServer opens it; a caller opens
	// it first so that a second agent fails before it asks for a
	// passphrase. The Server closes it.
	ControlListener net.Listener
	// Store holds the local CA's key and the public certificate's.
	Store store.Store
	// Public is where the public name and certificate are (certs
	// Public.Dir); nil serves loopback names only.
	Public *public.Public
	// ACMEHTTPClient talks to the ACME server when the public certificate
	// is renewed; nil means the ACME client's default.
	ACMEHTTPClient *http.Client
	// RenewCheckInterval is how often the ACME renewer looks at the
	// clock; zero means acme.DefaultRenewCheckInterval.
	RenewCheckInterval time.Duration
	// CheckDNS checks that the public name resolves to loopback only; nil
	// means public.CheckLoopbackDNS with the system's resolver.
	CheckDNS func(ctx context.Context, fqdn string) error

	// IP and Port are where the credentials endpoint listens; Port 0
	// means any free port.
	IP   net.IP
	Port int
	// RefreshMargin is the least lifetime a served credential keeps
	// (SlotsConfig.Margin).
	RefreshMargin time.Duration
	// SourceTimeout bounds one retrieval from a slot's source, a
	// credential_process run among them (SlotsConfig.SourceTimeout); zero
	// means DefaultSourceTimeout, and more than MaxSourceTimeout is
	// refused.
	SourceTimeout time.Duration

	// Version and StoreDescription are shown by status.
	Version          string
	StoreDescription string
	// Logger receives what the agent does (never a secret); nil discards
	// it.
	Logger *slog.Logger

	// SSO, if not nil, keeps the IAM Identity Center logins of SSO slots
	// fresh (sso.Keeper); status shows its sessions.
	SSO SSOLogins
}

// ListenError is the credentials endpoint's port that could not be
// listened on.
type ListenError struct {
	IP   net.IP
	Port int
	Err  error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("listen on %s port %d: %v", e.IP, e.Port, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }

// Server is a running agent: the credentials endpoint with its slots and
// SSH sessions, the control socket, the local CA's rotating leaf and the
// public certificate. NewServer acquires what it needs; Run serves until
// its context is done, then releases everything.
type Server struct {
	cfg      ServerConfig
	log      *slog.Logger
	ca       *localca.CA
	rotator  *localca.LeafRotator
	public   *certs.Supervisor // nil without a Public
	tokens   *Tokens
	slots    *Slots
	sessions *Sessions
	endpoint *Endpoint
	control  *ControlServer
	controlL net.Listener
	tcpL     net.Listener

	closeOnce sync.Once
}

// NewServer makes the agent's parts and listens on the endpoint's port.
// It loads the local CA from cfg.Store, or makes one, and writes the
// token and the trust files. Errors of the local CA and the store are
// returned as they are (localca.ErrIncomplete, store.ErrUnavailable...);
// the port's is a *ListenError. On error nothing stays open.
func NewServer(cfg ServerConfig) (_ *Server, err error) {
	s := &Server{cfg: cfg, log: cfg.Logger, controlL: cfg.ControlListener}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.SourceTimeout < 0 || cfg.SourceTimeout > MaxSourceTimeout {
		return nil, fmt.Errorf("source timeout %s: want at most %s", cfg.SourceTimeout, MaxSourceTimeout)
	}
	if cfg.SourceTimeout == 0 {
		cfg.SourceTimeout = DefaultSourceTimeout
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	d := cfg.Dirs
	if s.controlL == nil {
		if err := EnsurePrivateDir(d.Runtime); err != nil {
			return nil, err
		}
		if s.controlL, err = ListenControl(d.ControlSocket()); err != nil {
			return nil, err
		}
	}
	if err := EnsurePrivateDir(d.Config); err != nil {
		return nil, err
	}
	if s.ca, err = localca.LoadOrCreate(cfg.Store, filepath.Join(d.Config, "ca"), nil); err != nil {
		return nil, err
	}
	if s.rotator, err = localca.NewLeafRotator(s.ca, localca.RotatorConfig{Logger: s.log}); err != nil {
		return nil, err
	}
	if err := writeTrustFiles(d, s.ca.RootPEM()); err != nil {
		return nil, err
	}

	s.tokens = NewTokens()
	token, err := NewToken()
	if err != nil {
		return nil, err
	}
	s.tokens.Add(token, Grant{})
	// No trailing newline: every SDK sends the file's bytes as the header
	// and rejects one (docs/sdk-compatibility.md).
	if err := WritePrivateFile(d.TokenFile(), []byte(token)); err != nil {
		return nil, err
	}

	s.slots = NewSlots(SlotsConfig{Margin: cfg.RefreshMargin, SourceTimeout: cfg.SourceTimeout, Logger: s.log, SSO: cfg.SSO, StateFile: d.SlotsFile()})
	s.sessions = NewSessions(s.tokens, s.ca.RootPEM(), s.log)
	getCert := s.rotator.GetCertificate
	var hostAllowed func(string) bool
	if cfg.Public != nil {
		s.public, err = certs.NewSupervisor(certs.SupervisorConfig{
			Public:             cfg.Public,
			Local:              s.rotator.GetCertificate,
			HTTPClient:         cfg.ACMEHTTPClient,
			RenewCheckInterval: cfg.RenewCheckInterval,
			CheckDNS:           cfg.CheckDNS,
			Logger:             s.log,
			// Sessions opened while the name is served carry it in
			// their grant.
			OnChange: s.sessions.SetFQDN,
		})
		if err != nil {
			return nil, err
		}
		getCert, hostAllowed = s.public.GetCertificate, s.public.HostAllowed
	}
	s.endpoint, err = NewEndpoint(EndpointConfig{
		Source:      s.slots,
		Tokens:      s.tokens,
		Sessions:    s.sessions,
		TLSConfig:   localca.ServerTLSConfig(getCert),
		HostAllowed: hostAllowed,
		Logger:      s.log,
	})
	if err != nil {
		return nil, err
	}
	ip := cfg.IP
	if ip == nil {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if s.tcpL, err = net.Listen("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(cfg.Port))); err != nil {
		return nil, &ListenError{IP: ip, Port: cfg.Port, Err: err}
	}
	if !ip.IsLoopback() {
		s.log.Warn("the endpoint listens beyond loopback: only TLS is served to other hosts, and every request still needs the token", "addr", s.tcpL.Addr().String())
	}
	port := s.tcpL.Addr().(*net.TCPAddr).Port
	host := "127.0.0.1"
	if ip.IsLoopback() && ip.To4() == nil {
		host = "[::1]"
	}
	s.control = &ControlServer{
		Info: AgentStatus{
			Version:       cfg.Version,
			PID:           os.Getpid(),
			Started:       time.Now(),
			Addr:          s.tcpL.Addr().String(),
			URL:           fmt.Sprintf("http://%s:%d/", host, port),
			TLSURL:        fmt.Sprintf("https://%s:%d/", host, port),
			TokenFile:     d.TokenFile(),
			CAFingerprint: s.ca.Fingerprint(),
			Store:         cfg.StoreDescription,
			RefreshMargin: s.slots.margin.String(),
			SourceTimeout: s.slots.sourceTimeout.String(),
		},
		Slots:    s.slots,
		SSO:      cfg.SSO,
		Leaf:     s.rotator,
		Public:   s.public,
		Certs:    cfg.Public,
		Logger:   s.log,
		Sessions: s.sessions,
		Endpoint: s.endpoint,
		// A load must be answered, its source's timeout error included,
		// before the control socket's deadline closes the connection.
		Timeout: max(2*time.Minute, LoadTimeout(cfg.SourceTimeout)),
	}
	return s, nil
}

// Status is what `status` shows now.
func (s *Server) Status() AgentStatus { return s.control.Status() }

// Run serves until ctx is done or a part fails, then stops: first the
// control socket (no new loads or sessions), then the sessions, then the
// endpoint, the leaf rotator and the public certificate's renewer. It
// returns the first part's failure, nil when ctx ended it. Call it once;
// it closes the Server.
func (s *Server) Run(ctx context.Context) error {
	defer s.Close()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	serve := func(f func() error) {
		wg.Add(1)
		go func() { defer wg.Done(); errc <- f() }()
	}
	s.restoreSlots()
	serve(func() error { return ignoreClosed(s.endpoint.Serve(s.tcpL)) })
	serve(func() error { return s.control.Serve(s.controlL) })
	serve(func() error { return ignoreCanceled(s.rotator.Run(ctx)) })
	if s.public != nil {
		serve(func() error { return s.public.Run(ctx) })
	}
	// Start-up garbage, above all the file store's scrypt (age's default,
	// N=2^18, r=8: 256 MiB for a moment), goes back to the OS now rather
	// than idle in the heap: idle RSS 270 MB before, under 20 MB after.
	runtimedebug.FreeOSMemory()
	st := s.control.Info
	s.log.Info("serving credentials", "url", st.URL, "tls_url", st.TLSURL,
		"token_file", st.TokenFile, "control", s.cfg.Dirs.ControlSocket(), "ca", st.CAFingerprint)

	var serveErr error
	select {
	case <-ctx.Done():
		s.log.Info("shutting down")
	case serveErr = <-errc:
	}
	stop()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// No new sessions or loads, then end the sessions, then the endpoint.
	s.controlL.Close()
	s.sessions.CloseAll()
	s.endpoint.Shutdown(shutdownCtx)
	wg.Wait()
	return serveErr
}

// restoreSlots loads the slots of the last run again (Slots.Restore). A
// slots file that does not parse stops nothing: it is moved aside, so
// that the next load does not overwrite what a person may want to read,
// and status says so.
func (s *Server) restoreSlots() {
	saved, err := s.slots.Restore()
	if err == nil {
		if len(saved) > 0 {
			s.log.Info("restoring the slots of the last run", "slots", len(saved), "file", s.cfg.Dirs.SlotsFile())
		}
		return
	}
	msg := err.Error()
	if errors.Is(err, ErrSlotState) {
		aside := s.cfg.Dirs.SlotsFile() + ".invalid"
		if rerr := os.Rename(s.cfg.Dirs.SlotsFile(), aside); rerr == nil {
			msg += "; moved to " + aside
		}
	}
	s.log.Warn("slots of the last run not restored", "err", msg)
	s.control.Info.SlotsFileError = msg
}

// Close releases what NewServer acquired: the listeners, the slots and
// the token file. Run calls it; call it yourself only if Run is never
// called.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.controlL != nil {
			s.controlL.Close()
		}
		if s.tcpL != nil {
			s.tcpL.Close()
		}
		if s.endpoint != nil {
			s.endpoint.Close()
		}
		if s.slots != nil {
			s.slots.Close()
		}
		if s.tokens != nil {
			os.Remove(s.cfg.Dirs.TokenFile())
		}
	})
	return nil
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// writeTrustFiles writes what `env --tls` points the runtimes at: the
// agent's root alone (NODE_EXTRA_CA_CERTS adds it to Node's roots) and the
// system's roots plus ours (SSL_CERT_FILE replaces Go's and OpenSSL's
// roots, so it must keep the public ones or every AWS call would fail).
func writeTrustFiles(d Dirs, root []byte) error {
	if err := WritePrivateFile(d.CARoot(), root); err != nil {
		return err
	}
	// The roots in SSL_CERT_FILE when it names another bundle (a corporate
	// one stays trusted), else the platform's; never our own bundle again.
	system, _, err := wire.SystemRoots(os.Getenv, d.CABundle())
	if err != nil {
		return err
	}
	bundle := append(bytes.TrimRight(system, "\n"), '\n')
	bundle = append(bundle, root...)
	return WritePrivateFile(d.CABundle(), bundle)
}
