package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
)

func (c *cli) serve(args []string) error {
	fs := c.flags("serve")
	bindIP := fs.String("bind-ip", "127.0.0.1", "address the credentials endpoint listens on")
	port := fs.Int("port", 4144, "port of the credentials endpoint (0: any free port)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	debug := fs.Bool("debug", false, "log debug detail")
	margin := fs.Duration("refresh-margin", agent.DefaultSlotMargin, "least lifetime a served credential keeps; refresh happens before (botocore refetches below 15m)")
	sourceTimeout := fs.Duration("source-timeout", agent.DefaultSourceTimeout, fmt.Sprintf("longest a credential_process (killed then, with its children) or an SSO or STS refresh may take; at most %s", agent.MaxSourceTimeout))
	autoLogin := fs.Bool("auto-login", false, "when an IAM Identity Center session needs a new login, start one in this machine's browser (docs/sso.md)")
	renewCheck := fs.Duration("test-renew-check-interval", 0, "test hook: how often the ACME renewer looks at the clock")
	_ = fs.MarkHidden("test-renew-check-interval")
	var sf storeFlags
	sf.register(fs)
	// The certs commands write through this agent's store
	// (agent.OpCerts): each write's scrypt is done ahead, not while they
	// wait.
	sf.preparedWrites = true
	err := parse(fs, args)
	c.jsonErrors = *logFormat == "json"
	if err != nil {
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
	if *sourceTimeout <= 0 || *sourceTimeout > agent.MaxSourceTimeout {
		return usageError{fmt.Errorf("--source-timeout %s: want more than 0 and at most %s", *sourceTimeout, agent.MaxSourceTimeout)}
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
	// The control socket first: it fails fast when an agent already runs,
	// before the file store asks for its passphrase.
	controlL, err := agent.ListenControl(d.ControlSocket())
	if err != nil {
		return withHint(err, "stop the other agent, or give this one its own directories with "+agent.HomeEnv)
	}
	defer controlL.Close()

	st, err := c.openStore(&sf, d)
	if err != nil {
		return storeError(err)
	}
	pub, err := c.publicFor(d, st)
	if err != nil {
		return err
	}
	acmeClient, err := acme.ExtraRootsClient()
	if err != nil {
		return err
	}
	keeper := ssoKeeper(log, *autoLogin)
	defer keeper.Close()
	srv, err := agent.NewServer(agent.ServerConfig{
		Dirs:               d,
		ControlListener:    controlL,
		Store:              st,
		Public:             pub,
		ACMEHTTPClient:     acmeClient,
		RenewCheckInterval: *renewCheck,
		IP:                 ip,
		Port:               *port,
		RefreshMargin:      *margin,
		SourceTimeout:      *sourceTimeout,
		Version:            version,
		StoreDescription:   sf.describe(d),
		Logger:             log,
		SSO:                keeper,
	})
	var listenErr *agent.ListenError
	switch {
	case err == nil:
	case errors.As(err, &listenErr):
		return withHint(err, "another program holds the port: pick another with --port")
	case errors.Is(err, localca.ErrIncomplete) || errors.Is(err, localca.ErrMismatched):
		return withHint(storeError(err), "if the keyring was reset, remove "+filepath.Join(d.Config, "ca")+" to make a new local CA")
	default:
		return storeError(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return srv.Run(ctx)
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
