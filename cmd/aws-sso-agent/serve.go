package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	runtimedebug "runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
)

func (c *cli) serve(args []string) error {
	fs := c.flags("serve")
	bindIP := fs.String("bind-ip", "127.0.0.1", "address the credentials endpoint listens on")
	port := fs.Int("port", 4144, "port of the credentials endpoint (0: any free port)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	debug := fs.Bool("debug", false, "log debug detail")
	margin := fs.Duration("refresh-margin", agent.DefaultSlotMargin, "least lifetime a served credential keeps; refresh happens before (botocore refetches below 15m)")
	renewCheck := fs.Duration("test-renew-check-interval", 0, "test hook: how often the ACME renewer looks at the clock")
	_ = fs.MarkHidden("test-renew-check-interval")
	var sf storeFlags
	sf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	ip := net.ParseIP(*bindIP)
	if ip == nil {
		return usageError{fmt.Errorf("--bind-ip %q is not an IP address", *bindIP)}
	}
	if *port < 0 || *port > 65535 {
		return usageError{fmt.Errorf("--port %d is out of range", *port)}
	}
	if *margin <= 0 {
		return usageError{errors.New("--refresh-margin must be positive")}
	}
	log, err := c.logger(*logFormat, *debug)
	if err != nil {
		return err
	}

	d, err := c.dirs()
	if err != nil {
		return err
	}
	if err := agent.EnsurePrivateDir(d.Runtime); err != nil {
		return err
	}
	if err := agent.EnsurePrivateDir(d.Config); err != nil {
		return err
	}
	// The control socket first: it fails fast when an agent already runs.
	controlL, err := agent.ListenControl(d.ControlSocket())
	if err != nil {
		return withHint(err, "stop the other agent, or give this one its own directories with "+agent.HomeEnv)
	}
	defer controlL.Close()

	st, err := c.openStore(&sf, d)
	if err != nil {
		return storeHint(err)
	}
	ca, err := localca.LoadOrCreate(st, filepath.Join(d.Config, "ca"), nil)
	if err != nil {
		if errors.Is(err, localca.ErrIncomplete) || errors.Is(err, localca.ErrMismatched) {
			return withHint(storeHint(err), "if the keyring was reset, remove "+filepath.Join(d.Config, "ca")+" to make a new local CA")
		}
		return storeHint(err)
	}
	rotator, err := localca.NewLeafRotator(ca, localca.RotatorConfig{Logger: log})
	if err != nil {
		return err
	}
	if err := writeTrustFiles(d, ca.RootPEM()); err != nil {
		return err
	}

	tokens := agent.NewTokens()
	token, err := agent.NewToken()
	if err != nil {
		return err
	}
	tokens.Add(token, agent.Grant{})
	// No trailing newline: every SDK sends the file's bytes as the header
	// and rejects one (SPEC 4).
	if err := agent.WritePrivateFile(d.TokenFile(), []byte(token)); err != nil {
		return err
	}
	defer os.Remove(d.TokenFile())

	slots := agent.NewSlots(agent.SlotsConfig{Margin: *margin, Logger: log})
	defer slots.Close()
	sessions := agent.NewSessions(tokens, ca.RootPEM(), log)
	pub, err := c.publicFor(d, st)
	if err != nil {
		return err
	}
	public, err := newPublicServing(pub, rotator, sessions, log, nil)
	if err != nil {
		return err
	}
	endpoint, err := agent.NewEndpoint(agent.EndpointConfig{
		Source:      slots,
		Tokens:      tokens,
		Sessions:    sessions,
		TLSConfig:   localca.ServerTLSConfig(public.server.GetCertificate),
		HostAllowed: public.hostAllowed,
		Logger:      log,
	})
	if err != nil {
		return err
	}
	tcpL, err := net.Listen("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(*port)))
	if err != nil {
		return withHint(fmt.Errorf("listen on %s port %d: %w", ip, *port, err), "another program holds the port: pick another with --port")
	}
	if !ip.IsLoopback() {
		log.Warn("the endpoint listens beyond loopback: only TLS is served to other hosts, and every request still needs the token", "addr", tcpL.Addr().String())
	}
	actualPort := tcpL.Addr().(*net.TCPAddr).Port
	host := "127.0.0.1"
	if ip.IsLoopback() && ip.To4() == nil {
		host = "[::1]"
	}
	started := time.Now()
	handler := &agentControl{
		slots: slots,
		status: agent.AgentStatus{
			Version:       version,
			PID:           os.Getpid(),
			Started:       started,
			Addr:          tcpL.Addr().String(),
			URL:           fmt.Sprintf("http://%s:%d/", host, actualPort),
			TLSURL:        fmt.Sprintf("https://%s:%d/", host, actualPort),
			TokenFile:     d.TokenFile(),
			CAFingerprint: ca.Fingerprint(),
			Store:         sf.describe(d),
		},
		leafExpires: func() time.Time { return rotator.Current().Leaf.NotAfter },
		public:      public,
		port:        actualPort,
	}
	control := &agent.ControlServer{Handler: handler, Logger: log, Sessions: sessions, Endpoint: endpoint}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Set before the control socket serves: `certs` commands ask the
	// running agent to reload once they change the public certificate.
	handler.reloadCerts = func(rctx context.Context) error {
		err := public.server.Reload(rctx)
		// Replacing a renewer waits for the old one to stop, which a
		// renewal under way may make long: answer after a short wait,
		// and let it finish in the background.
		restarted := make(chan struct{})
		go func() {
			defer close(restarted)
			public.runRenewer(ctx, log, *renewCheck)
		}()
		select {
		case <-restarted:
		case <-time.After(5 * time.Second):
			log.Info("the ACME renewer restarts once its renewal under way stops")
		case <-rctx.Done():
		}
		return err
	}
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	wg.Add(4)
	go func() { defer wg.Done(); errc <- ignoreClosed(endpoint.Serve(tcpL)) }()
	go func() { defer wg.Done(); errc <- control.Serve(controlL) }()
	go func() { defer wg.Done(); errc <- ignoreCanceled(rotator.Run(ctx)) }()
	go func() { defer wg.Done(); errc <- ignoreCanceled(public.server.Run(ctx)) }()
	public.runRenewer(ctx, log, *renewCheck)
	// Start-up garbage, above all the file store's scrypt (age's default,
	// N=2^18, r=8: 256 MiB for a moment), goes back to the OS now rather
	// than idle in the heap: idle RSS 270 MB before, under 20 MB after.
	runtimedebug.FreeOSMemory()
	log.Info("serving credentials", "url", handler.status.URL, "tls_url", handler.status.TLSURL,
		"token_file", d.TokenFile(), "control", d.ControlSocket(), "ca", ca.Fingerprint())

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case serveErr = <-errc:
	}
	stop()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// No new sessions or loads, then end the sessions, then the endpoint.
	controlL.Close()
	sessions.CloseAll()
	endpoint.Shutdown(shutdownCtx)
	wg.Wait()
	public.wait()
	return serveErr
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

func (c *cli) logger(format string, debug bool) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if debug {
		opts.Level = slog.LevelDebug
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(c.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(c.stderr, opts)), nil
	default:
		return nil, usageError{fmt.Errorf("unknown --log-format %q: use text or json", format)}
	}
}

// agentControl carries out control requests on the running agent.
type agentControl struct {
	slots       *agent.Slots
	status      agent.AgentStatus
	leafExpires func() time.Time
	public      *publicServing
	port        int // the endpoint's port, for the public URL
	// reloadCerts reads the public name and certificate again (set once
	// the agent's context exists).
	reloadCerts func(context.Context) error
}

func (a *agentControl) Load(ctx context.Context, req agent.LoadRequest) (agent.SlotInfo, error) {
	spec := agent.SourceSpec{
		Profile:         req.Profile,
		SSOSession:      req.SSOSession,
		AccountID:       req.AccountID,
		RoleName:        req.RoleName,
		ConfigFile:      req.ConfigFile,
		CredentialsFile: req.CredentialsFile,
	}
	p, info, err := agent.ResolveSource(ctx, spec)
	if err != nil {
		return agent.SlotInfo{}, err
	}
	st, err := a.slots.Load(ctx, req.Slot, spec, p, info)
	if err != nil {
		return agent.SlotInfo{}, err
	}
	return slotInfo(st), nil
}

func (a *agentControl) Unload(req agent.UnloadRequest) error {
	if req.All {
		a.slots.UnloadAll()
		return nil
	}
	err := a.slots.Unload(req.Slot)
	if errors.Is(err, agent.ErrNoSlot) {
		return withHint(err, "see what is loaded with: aws-sso-agent list")
	}
	return err
}

func (a *agentControl) ReloadCerts(ctx context.Context) error {
	if a.reloadCerts == nil {
		return errors.New("this agent serves no public certificate")
	}
	return a.reloadCerts(ctx)
}

func (a *agentControl) Status() agent.AgentStatus {
	st := a.status
	st.LeafExpires = a.leafExpires()
	if a.public != nil {
		a.public.fillStatus(&st, a.port)
	}
	for _, s := range a.slots.List() {
		st.Slots = append(st.Slots, slotInfo(s))
	}
	return st
}

// writeTrustFiles writes what `env --tls` points the runtimes at: the
// agent's root alone (NODE_EXTRA_CA_CERTS adds it to Node's roots) and the
// system's roots plus ours (SSL_CERT_FILE replaces Go's and OpenSSL's
// roots, so it must keep the public ones or every AWS call would fail).
func writeTrustFiles(d agent.Dirs, root []byte) error {
	if err := agent.WritePrivateFile(d.CARoot(), root); err != nil {
		return err
	}
	bundle := append(systemRootsPEM(), '\n')
	bundle = append(bundle, root...)
	return agent.WritePrivateFile(d.CABundle(), bundle)
}

// systemRootFiles are where Linux distributions and macOS keep their
// bundle of public roots (the list crypto/x509 searches, root_linux.go).
var systemRootFiles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Gentoo, Arch
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL 6
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
	"/etc/ssl/cert.pem",                                 // Alpine, macOS
}

func systemRootsPEM() []byte {
	for _, f := range systemRootFiles {
		if b, err := os.ReadFile(f); err == nil && len(b) > 0 {
			return b
		}
	}
	return nil
}

func slotInfo(s agent.SlotStatus) agent.SlotInfo {
	return agent.SlotInfo{
		Name:        s.Name,
		Profile:     s.Spec.Profile,
		Source:      s.Description,
		AccountID:   s.AccountID,
		RoleARN:     s.RoleARN,
		Expires:     s.Expires,
		LastRefresh: s.LastRefresh,
		LastError:   s.LastError,
		Servable:    s.Servable,
	}
}
