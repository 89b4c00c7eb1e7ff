package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/certs/signer"
)

const certsAPIKeyUsage = `usage: aws-sso-agent certs api-key --service URL [flags]

Keeps the API key of an aws-sso-signer service in the secure store, for
certs sign-csr and the running agent's renewals. The key is read from
stdin, or asked for on the terminal without echo; never give it as an
argument: every user of this machine can read command lines.

Run it once per service URL: several may be configured (another deployment
or another front of the same service), and they are tried in the order
they were added.

Flags:
`

const certsSignCSRUsage = `usage: aws-sso-agent certs sign-csr [--fqdn NAME] [flags]

Gets a certificate for NAME from the aws-sso-signer services configured
with certs api-key: the key is made here and kept in the secure store, and
only a CSR is sent. NAME is your hostname under the service's zone
(NAME.ZONE); it must resolve to 127.0.0.1, which is checked first. The
running agent serves the certificate at once and renews it through the
service when a third of its lifetime is left, with a new key each time.

Flags:
`

const certsRevokeUsage = `usage: aws-sso-agent certs revoke [--serial HEX] [flags]

Revokes a certificate from the aws-sso-signer service: the installed one,
or the one with --serial. Revoke a certificate whose key may have leaked;
then get a new one with certs sign-csr.

Flags:
`

// parseSignerFlags parses the flags of `certs NAME`: define's, then the
// store flags; it takes no arguments.
func (c *cli) parseSignerFlags(name, usage string, args []string, sf *storeFlags, define func(*pflag.FlagSet)) error {
	fs := c.flags("certs " + name)
	fs.Usage = func() {
		fmt.Fprint(c.stderr, usage)
		fs.PrintDefaults()
	}
	define(fs)
	sf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	return noArgs(fs)
}

// maxAPIKey bounds what is read as an API key: the service's are 47
// characters; a wrong file piped in is refused rather than stored.
const maxAPIKey = 512

func (c *cli) certsAPIKey(args []string) error {
	var sf storeFlags
	var service string
	if err := c.parseSignerFlags("api-key", certsAPIKeyUsage, args, &sf, func(fs *pflag.FlagSet) {
		fs.StringVar(&service, "service", "", "the service's URL, https://HOST[:PORT]")
	}); err != nil {
		return err
	}
	if service == "" {
		return usageError{errors.New("--service URL is required")}
	}
	svc, err := signer.NormalizeServiceURL(service)
	if err != nil {
		return usageError{err}
	}
	key, err := c.readAPIKey(svc)
	if err != nil {
		return err
	}
	pub, err := c.openPublic(&sf)
	if err != nil {
		return err
	}
	settings, err := signer.LoadOrNewSettings(pub.Dir)
	if err != nil {
		return err
	}
	if err := pub.Store.Set(signer.APIKeyName(svc), []byte(key)); err != nil {
		return storeError(fmt.Errorf("store the API key: %w", err))
	}
	settings.AddService(svc)
	if err := signer.SaveSettings(pub.Dir, settings); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "API key for %s kept in the secure store (%s)\n", svc, signer.APIKeyName(svc))
	fmt.Fprintf(c.stdout, "services, in the order tried: %s\n", strings.Join(settings.Services, ", "))
	return nil
}

// readAPIKey reads the key from stdin, or from the terminal without echo.
func (c *cli) readAPIKey(svc string) (string, error) {
	var b []byte
	if tty, ok := c.stdin.(*os.File); ok && term.IsTerminal(int(tty.Fd())) {
		fmt.Fprintf(c.stderr, "API key for %s: ", svc)
		k, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(c.stderr)
		if err != nil {
			return "", fmt.Errorf("read the API key: %w", err)
		}
		b = k
	} else {
		line, err := bufio.NewReader(io.LimitReader(c.stdin, maxAPIKey+1)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the API key from stdin: %w", err)
		}
		b = []byte(line)
	}
	key := strings.TrimSpace(string(b))
	switch {
	case key == "":
		return "", withHint(errors.New("no API key given"), "pipe it in (aws-sso-agent certs api-key --service URL < keyfile) or run on a terminal to be asked")
	case len(key) > maxAPIKey || strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r > '~' }):
		return "", errors.New("that is not an API key: one line of printable characters, as `aws-sso-signer key create` printed it")
	}
	return key, nil
}

// signCSRTimeout bounds one `certs sign-csr`: every service in turn, each
// waiting for its CA's DNS-01 validation.
const signCSRTimeout = 10 * time.Minute

func (c *cli) certsSignCSR(args []string) error {
	var sf storeFlags
	var fqdn string
	var debug bool
	if err := c.parseSignerFlags("sign-csr", certsSignCSRUsage, args, &sf, func(fs *pflag.FlagSet) {
		fs.StringVar(&fqdn, "fqdn", "", "the hostname to get a certificate for, NAME.ZONE (default: the one set with `certs fqdn`)")
		fs.BoolVar(&debug, "debug", false, "log each step")
	}); err != nil {
		return err
	}
	d, err := c.dirs()
	if err != nil {
		return err
	}
	pubDir := public.DefaultDir(d.Config)
	if fqdn == "" {
		name, err := (&public.Public{Dir: pubDir}).FQDN()
		if err != nil {
			return err
		}
		if name == "" {
			return usageError{errors.New("--fqdn is required (or set the public name first: aws-sso-agent certs fqdn NAME)")}
		}
		fqdn = name
	}
	settings, err := signer.LoadOrNewSettings(pubDir)
	if err != nil {
		return err
	}
	if len(settings.Services) == 0 {
		return withHint(signer.ErrNoService, "add one first: aws-sso-agent certs api-key --service URL")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, signCSRTimeout)
	defer cancel()

	// The name must lead to this machine before a certificate for it is
	// worth having: the agent serves it only then.
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	err = checkLoopback(dctx, c.resolver, fqdn)
	dcancel()
	if err != nil {
		return withHint(err, "register the name with the service first (it then resolves to 127.0.0.1); "+
			"a home router with DNS-rebind protection drops such answers: allow the zone there, or use another resolver")
	}

	pub, err := c.openPublic(&sf)
	if err != nil {
		return err
	}
	client, err := acme.ExtraRootsClient()
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "Asking %s for a certificate for %s...\n", strings.Join(settings.Services, ", then "), fqdn)
	pc, err := signer.Obtain(ctx, signer.Config{
		FQDN: fqdn, Services: settings.Services, Store: pub.Store, HTTPClient: client,
		Logger: newTextLogger(c.stderr, slogLevel(debug)),
	})
	if err != nil {
		return signerHint(err)
	}
	if err := signer.Install(pub, settings, pc); err != nil {
		return publicHint(err)
	}
	leaf := pc.Chain[0]
	fmt.Fprintf(c.stdout, "certificate for %s from %s, valid until %s\n", pc.FQDN, leaf.Issuer.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly))
	fmt.Fprintf(c.stdout, "key in the secure store (%s), chain in %s\n", public.KeyName, pubDir)
	fmt.Fprintf(c.stdout, "the running agent renews it through the service from %s on (settings: %s)\n",
		acme.RenewalDue(pc).UTC().Format(time.DateOnly), filepath.Join(pubDir, signer.SettingsFile))
	c.reloadAgentCerts()
	return nil
}

// checkLoopback is sign-csr's DNS check: system (the cli's resolver;
// nil: the system's resolver, which reads /etc/hosts as every SDK does) must answer only
// loopback addresses for fqdn. The AWS_SSO_AGENT_TEST_RESOLVER test hook
// adds a second check against the server it names (HOST:PORT), for tests
// whose zone is not delegated; it can only make the check stricter, never
// stand in for the system's answer, so setting it cannot make a name
// that leads elsewhere pass.
func checkLoopback(ctx context.Context, system *net.Resolver, fqdn string) error {
	if err := public.CheckLoopbackDNS(ctx, system, fqdn); err != nil {
		return err
	}
	addr := os.Getenv(testResolverEnv)
	if addr == "" {
		return nil
	}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	if err := public.CheckLoopbackDNS(ctx, r, fqdn); err != nil {
		return fmt.Errorf("%s: %w", testResolverEnv, err)
	}
	return nil
}

// testResolverEnv is a TEST HOOK (like public.ExtraRootsEnv), not a user
// setting: a DNS server sign-csr's loopback check asks besides the
// system's resolver.
const testResolverEnv = "AWS_SSO_AGENT_TEST_RESOLVER"

// signerHint adds what to do next to a failed request to the services.
func signerHint(err error) error {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	out := errors.New(msg)
	var apiErr *signer.APIError
	switch {
	case errors.Is(err, signer.ErrNoService):
		return withHint(err, "add a service and its key: aws-sso-agent certs api-key --service URL")
	case errors.As(err, &apiErr) && apiErr.Status == 401:
		return withHint(out, "the service did not accept the API key (revoked, or the account is disabled): get a new one and run certs api-key again")
	case errors.As(err, &apiErr) && apiErr.Status == 403:
		return withHint(out, "the API key may sign only for its own hostnames: check --fqdn, or get a key for this name")
	case errors.As(err, &apiErr) && apiErr.Retryable():
		return withHint(out, "the service is busy or rate limited; try again later, or add another service URL with certs api-key")
	}
	return out
}

func (c *cli) certsRevoke(args []string) error {
	var sf storeFlags
	var serial string
	if err := c.parseSignerFlags("revoke", certsRevokeUsage, args, &sf, func(fs *pflag.FlagSet) {
		fs.StringVar(&serial, "serial", "", "the certificate's serial number in hexadecimal (default: the installed certificate's)")
	}); err != nil {
		return err
	}
	pub, err := c.openPublic(&sf)
	if err != nil {
		return err
	}
	if serial == "" {
		_, chain, err := pub.CurrentChain()
		if errors.Is(err, public.ErrNoCert) {
			return usageError{errors.New("no certificate is installed: give --serial")}
		}
		if err != nil {
			return err
		}
		serial = chain[0].SerialNumber.Text(16)
	}
	serial = strings.ToLower(strings.TrimPrefix(serial, "0x"))
	settings, err := signer.LoadOrNewSettings(pub.Dir)
	if err != nil {
		return err
	}
	client, err := acme.ExtraRootsClient()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), signer.DefaultRequestTimeout)
	defer cancel()
	var errs []error
	for _, svc := range settings.Services {
		key, err := pub.Store.Get(signer.APIKeyName(svc))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: API key: %w", svc, err))
			continue
		}
		cert, err := (&signer.Client{Service: svc, APIKey: string(key), HTTPClient: client}).Revoke(ctx, serial)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(c.stdout, "revoked the certificate %s for %s at %s\n", cert.Serial, cert.Hostname, svc)
		if settings.FQDN != "" && strings.EqualFold(cert.Hostname, settings.FQDN) {
			fmt.Fprintln(c.stdout, "get a new one with: aws-sso-agent certs sign-csr")
		}
		return nil
	}
	if len(errs) == 0 {
		return withHint(signer.ErrNoService, "add a service and its key: aws-sso-agent certs api-key --service URL")
	}
	return signerHint(errors.Join(errs...))
}
