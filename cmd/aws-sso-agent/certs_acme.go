package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
)

const certsACMEUsage = `usage: aws-sso-agent certs acme --fqdn NAME --dns rfc2136|route53 [flags]

Gets a certificate for NAME from an ACME CA by the DNS-01 challenge: the
CA checks a TXT record that this command writes into NAME's DNS zone. The
key is made here and kept in the secure store. The running agent renews
the certificate when a third of its lifetime is left, the same way.

NAME should resolve to 127.0.0.1 (an A record in the same zone): the agent
serves the certificate only for a name that resolves to loopback.

By using a CA you agree to its terms (Let's Encrypt's subscriber
agreement: https://letsencrypt.org/repository/).

RFC 2136 (BIND, Knot, PowerDNS) needs a TSIG key allowed to update the zone:
  --rfc2136-nameserver HOST[:PORT] --rfc2136-tsig-key NAME
  --rfc2136-tsig-secret-file FILE (base64 secret; kept in the secure store
  for renewals, so later runs may leave it out)
Route 53 uses an AWS profile allowed route53:ChangeResourceRecordSets,
GetChange and ListResourceRecordSets on the zone:
  --route53-profile PROFILE --route53-zone-id ID

Flags:
`

// acmeTimeout bounds one `certs acme`: an account, an order, a DNS
// propagation wait (acme.DefaultPropagationTimeout) and the CA's validation.
const acmeTimeout = 10 * time.Minute

type acmeFlags struct {
	fqdn, dns, directory, email string
	staging                     bool

	nameserver, zone, tsigKey, tsigAlg, tsigSecretFile string
	r53Profile, r53ZoneID                              string
	checkNS                                            []string
	debug                                              bool
}

func (f *acmeFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.fqdn, "fqdn", "", "the public name to get a certificate for (default: the one set with 'aws-sso-agent certs fqdn')")
	fs.StringVar(&f.dns, "dns", "", "how to write the challenge record: rfc2136 or route53")
	fs.StringVar(&f.directory, "directory", "", "ACME directory URL (default: Let's Encrypt, "+acme.LetsEncryptDirectory+")")
	fs.BoolVar(&f.staging, "staging", false, "use Let's Encrypt's staging CA (untrusted certificates, generous rate limits): try a DNS setup here first")
	fs.StringVar(&f.email, "email", "", "contact address for the ACME account (optional)")
	fs.StringVar(&f.nameserver, "rfc2136-nameserver", "", "rfc2136: primary nameserver taking updates, HOST[:PORT]")
	fs.StringVar(&f.zone, "rfc2136-zone", "", "rfc2136: the zone to update (default: found from the nameserver's SOA)")
	fs.StringVar(&f.tsigKey, "rfc2136-tsig-key", "", "rfc2136: TSIG key name")
	fs.StringVar(&f.tsigAlg, "rfc2136-tsig-algorithm", acme.DefaultTSIGAlgorithm, "rfc2136: TSIG algorithm (hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224, hmac-sha1)")
	fs.StringVar(&f.tsigSecretFile, "rfc2136-tsig-secret-file", "", "rfc2136: file holding the base64 TSIG secret (never on the command line); default: the one stored by an earlier run")
	fs.StringVar(&f.r53Profile, "route53-profile", "", "route53: AWS profile (default: the SDK's default chain)")
	fs.StringVar(&f.r53ZoneID, "route53-zone-id", "", "route53: hosted zone ID (default: looked up from the name)")
	fs.StringSliceVar(&f.checkNS, "check-nameserver", nil, "wait until this nameserver (HOST:PORT; repeatable) serves the challenge record before the CA looks (default: every authoritative nameserver of the zone)")
	fs.BoolVar(&f.debug, "debug", false, "log each step")
}

// settings checks the flags against each other and returns what will be
// saved for renewals.
func (f *acmeFlags) settings(fs *pflag.FlagSet) (*acme.Settings, error) {
	s := &acme.Settings{Directory: f.directory, Email: f.email, FQDN: f.fqdn, DNS: f.dns, Nameservers: f.checkNS}
	switch {
	case f.staging && f.directory != "":
		return nil, usageError{errors.New("--staging and --directory name two CAs: give one")}
	case f.staging:
		s.Directory = acme.LetsEncryptStagingDirectory
	case f.directory == "":
		s.Directory = acme.LetsEncryptDirectory
	}
	set := func(prefix string) []string {
		var names []string
		fs.Visit(func(fl *pflag.Flag) {
			if strings.HasPrefix(fl.Name, prefix) {
				names = append(names, "--"+fl.Name)
			}
		})
		return names
	}
	switch f.dns {
	case acme.DNSRFC2136:
		if f.nameserver == "" || f.tsigKey == "" {
			return nil, usageError{errors.New("--dns rfc2136 needs --rfc2136-nameserver and --rfc2136-tsig-key")}
		}
		if other := set("route53-"); len(other) > 0 {
			return nil, usageError{fmt.Errorf("%s: a route53 flag with --dns rfc2136", other[0])}
		}
		s.RFC2136 = &acme.RFC2136Settings{Nameserver: f.nameserver, Zone: f.zone, TSIGKey: f.tsigKey, TSIGAlgorithm: f.tsigAlg}
	case acme.DNSRoute53:
		if other := set("rfc2136-"); len(other) > 0 {
			return nil, usageError{fmt.Errorf("%s: an rfc2136 flag with --dns route53", other[0])}
		}
		s.Route53 = &acme.Route53Settings{Profile: f.r53Profile, HostedZoneID: f.r53ZoneID}
	case "":
		return nil, usageError{errors.New("--dns is required: rfc2136 or route53")}
	default:
		return nil, usageError{fmt.Errorf("unknown --dns %q: use rfc2136 or route53", f.dns)}
	}
	return s, nil
}

func (c *cli) certsACME(args []string) error {
	fs := c.flags("certs acme")
	fs.Usage = func() {
		fmt.Fprint(c.stderr, certsACMEUsage)
		fs.PrintDefaults()
	}
	var f acmeFlags
	f.register(fs)
	var sf storeFlags
	sf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	s, err := f.settings(fs)
	if err != nil {
		return err
	}
	d, err := c.dirs()
	if err != nil {
		return err
	}
	pubDir := public.DefaultDir(d.Config)
	if s.FQDN == "" {
		name, err := (&public.Public{Dir: pubDir}).FQDN()
		if err != nil {
			return err
		}
		if name == "" {
			return usageError{errors.New("--fqdn is required (or set the public name first: aws-sso-agent certs fqdn NAME)")}
		}
		s.FQDN = name
	}
	fqdn, err := public.ValidateFQDN(s.FQDN)
	if err != nil {
		return usageError{err}
	}
	s.FQDN = fqdn
	var secret []byte
	if s.DNS == acme.DNSRFC2136 && f.tsigSecretFile != "" {
		if secret, err = acme.TSIGSecret(f.tsigSecretFile, nil); err != nil {
			return err
		}
	}
	client, err := acme.ExtraRootsClient()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, acmeTimeout)
	defer cancel()

	// What is quick and costs nothing comes first: the CA answers (offline,
	// this is the error, not one about the DNS provider), and the name
	// resolves to loopback (else the certificate would never be served,
	// and an issuance counted against the CA's limits would be wasted).
	// Only then the secure store, whose file kind costs seconds of scrypt.
	if err := acme.CheckCA(ctx, client, s.Directory); err != nil {
		return acmeHint(err, s)
	}
	if err := public.CheckLoopbackDNS(ctx, c.resolver, s.FQDN); err != nil {
		return acmeHint(err, s)
	}
	pub, err := c.openPublic(&sf)
	if err != nil {
		return err
	}
	st := pub.Store

	if s.DNS == acme.DNSRFC2136 && secret == nil {
		secret, err = acme.TSIGSecret("", st)
		if errors.Is(err, acme.ErrNoTSIGSecret) {
			return usageError{errors.New("--dns rfc2136 needs --rfc2136-tsig-secret-file FILE (no secret is stored from an earlier run)")}
		}
		if err != nil {
			return err
		}
	}
	dns, err := s.ProviderWithSecret(ctx, secret)
	if err != nil {
		return err
	}
	cfg := s.Config(dns, st)
	cfg.HTTPClient = client
	cfg.Logger = newTextLogger(c.stderr, slogLevel(f.debug))
	fmt.Fprintf(c.stderr, "Asking %s for a certificate for %s (DNS-01 through %s)...\n", s.Directory, s.FQDN, s.DNSDescription())
	pc, err := acme.Obtain(ctx, cfg)
	if err != nil {
		return acmeHint(err, s)
	}
	if err := s.Install(pub, pc, secret); err != nil {
		return err
	}
	leaf := pc.Chain[0]
	fmt.Fprintf(c.stdout, "certificate for %s from %s, valid until %s\n", pc.FQDN, leaf.Issuer.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly))
	fmt.Fprintf(c.stdout, "key in the secure store (%s), chain in %s\n", public.KeyName, pubDir)
	fmt.Fprintf(c.stdout, "the running agent renews it from %s on, the same way (settings: %s)\n",
		acme.RenewalDue(pc).UTC().Format(time.DateOnly), filepath.Join(pubDir, acme.SettingsFile))
	if s.Directory == acme.LetsEncryptStagingDirectory {
		fmt.Fprintln(c.stdout, "note: a staging certificate is not trusted by any client; run again without --staging for a real one")
	}
	c.reloadAgentCerts()
	return nil
}

// acmeHint adds what to check to a failed issuance: the network when the
// CA did not answer, the name's A record when it does not resolve to
// loopback, else the DNS provider's permissions.
func acmeHint(err error, s *acme.Settings) error {
	var unreachable *acme.UnreachableError
	var dnsErr *public.DNSError
	var hint string
	switch {
	case errors.As(err, &unreachable):
		hint = "check this machine's connection to " + hostOf(s.Directory) +
			" (offline? a proxy or firewall in the way?); nothing was changed in DNS"
	case errors.As(err, &dnsErr):
		hint = "add an A record " + s.FQDN + " -> 127.0.0.1 in its zone and wait until it resolves here" +
			" (a home router's DNS-rebind protection may drop such answers: allow the name);" +
			" no certificate was asked for, as the agent would never serve it (aws-sso-agent help tls)"
		return withHint(err, hint)
	case s.DNS == acme.DNSRFC2136:
		hint = "check that the TSIG key may update the zone of " + s.FQDN + " on " + s.RFC2136.Nameserver +
			" (BIND: update-policy; Knot: an acl with action update)"
	case s.DNS == acme.DNSRoute53:
		hint = "check that the profile may change the hosted zone of " + s.FQDN + " (route53:ChangeResourceRecordSets, GetChange, ListResourceRecordSets)"
	}
	if s.Directory == acme.LetsEncryptDirectory && unreachable == nil {
		hint += "\ntry the setup with --staging first: Let's Encrypt allows 5 failed validations per hour"
	}
	// lego's errors run over several lines; one line reads better.
	return withHint(errors.New(strings.Join(strings.Fields(err.Error()), " ")), hint)
}

// hostOf returns the host of URL u, or u itself if it has none.
func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return u
}
