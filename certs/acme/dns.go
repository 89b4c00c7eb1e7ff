package acme

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/go-acme/lego/v4/challenge/dns01"
	legoroute53 "github.com/go-acme/lego/v4/providers/dns/route53"
	"github.com/miekg/dns"
)

// DefaultTSIGAlgorithm is the TSIG algorithm when none is named:
// HMAC-SHA256, what `tsig-keygen` (BIND) and `keymgr -t` (Knot) make by
// default. lego's own default, HMAC-SHA1, is deprecated by RFC 8945.
const DefaultTSIGAlgorithm = "hmac-sha256"

// TSIGSecretName is the secure store key of the RFC 2136 TSIG secret,
// kept so that the running agent can renew without the secret file.
const TSIGSecretName = "certs/acme-rfc2136-tsig-secret"

// challengeTTL is the TTL of a challenge record: short, so that a retry's
// new value is not hidden by a cached old one (lego's default, 120 s).
const challengeTTL = dns01.DefaultTTL

// RFC2136Config configures DNS-01 through RFC 2136 dynamic updates signed
// with TSIG (RFC 8945), which BIND, Knot and PowerDNS accept.
type RFC2136Config struct {
	// Nameserver is the primary server taking updates, "host" or
	// "host:port" (port 53 if none).
	Nameserver string
	// Zone is the zone to update; "" means the zone whose SOA the
	// nameserver returns for the challenge name.
	Zone string
	// TSIGKey is the key's name, as the server knows it.
	TSIGKey string
	// TSIGAlgorithm is e.g. "hmac-sha256" (the default), "hmac-sha512".
	TSIGAlgorithm string
	// TSIGSecret is the key, base64 as BIND and Knot write it. Never put it
	// on a command line: read it from a file or the secure store.
	TSIGSecret string
	// Timeout bounds each update; zero means 10 s.
	Timeout time.Duration
}

// NewRFC2136Provider returns a DNSProvider that adds and removes the
// challenge record with signed dynamic updates.
func NewRFC2136Provider(cfg RFC2136Config) (DNSProvider, error) {
	if cfg.Nameserver == "" {
		return nil, errors.New("certs: rfc2136: no nameserver")
	}
	if cfg.TSIGKey == "" || cfg.TSIGSecret == "" {
		// Unsigned updates would let anyone who can reach the server
		// change the zone; no server should accept them, and we send none.
		return nil, errors.New("certs: rfc2136: a TSIG key name and secret are needed")
	}
	secret := strings.TrimSpace(cfg.TSIGSecret)
	if _, err := base64.StdEncoding.DecodeString(secret); err != nil {
		return nil, errors.New("certs: rfc2136: the TSIG secret is not base64")
	}
	alg := cfg.TSIGAlgorithm
	if alg == "" {
		alg = DefaultTSIGAlgorithm
	}
	ns := cfg.Nameserver
	if _, _, err := net.SplitHostPort(ns); err != nil {
		ns = net.JoinHostPort(ns, "53")
	}
	algorithm := dns.Fqdn(strings.ToLower(alg))
	switch algorithm {
	case dns.HmacSHA1, dns.HmacSHA224, dns.HmacSHA256, dns.HmacSHA384, dns.HmacSHA512:
	default:
		return nil, fmt.Errorf("certs: rfc2136: unsupported TSIG algorithm %q (use hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224 or hmac-sha1)", alg)
	}
	p := &rfc2136Provider{
		nameserver: ns,
		timeout:    cmpOr(cfg.Timeout, 10*time.Second),
		// The key name in canonical form (RFC 4034 section 6.2), as it is
		// signed over.
		key:       dns.CanonicalName(cfg.TSIGKey),
		algorithm: algorithm,
		secret:    secret,
	}
	if cfg.Zone != "" {
		p.zone = dns.Fqdn(cfg.Zone)
	}
	return p, nil
}

// rfc2136Provider writes the challenge record with TSIG-signed dynamic
// updates (RFC 2136, RFC 8945), through miekg/dns. It is ours rather than
// lego's rfc2136 provider, which also speaks GSS-TSIG and so links a
// Kerberos implementation into the agent: 4 MB of binary and about 2 MB
// of resident memory that no HMAC key needs.
type rfc2136Provider struct {
	nameserver string // host:port
	zone       string // "" = the nameserver's SOA for the name
	timeout    time.Duration
	key        string // canonical key name
	algorithm  string // dns.HmacSHA256, ...
	secret     string // base64
}

func (p *rfc2136Provider) Present(domain, _, keyAuth string) error {
	if err := p.update(domain, keyAuth, true); err != nil {
		return fmt.Errorf("certs: rfc2136: add the challenge record: %w", err)
	}
	return nil
}

func (p *rfc2136Provider) CleanUp(domain, _, keyAuth string) error {
	if err := p.update(domain, keyAuth, false); err != nil {
		return fmt.Errorf("certs: rfc2136: remove the challenge record: %w", err)
	}
	return nil
}

// update adds (or removes) the TXT record answering domain's challenge.
// An add first removes the name's TXT records: a value left by an earlier,
// interrupted run would only confuse the CA.
func (p *rfc2136Provider) update(domain, keyAuth string, add bool) error {
	info := dns01.GetChallengeInfo(domain, keyAuth)
	zone := p.zone
	if zone == "" {
		z, err := dns01.FindZoneByFqdnCustom(info.EffectiveFQDN, []string{p.nameserver})
		if err != nil {
			return err
		}
		zone = z
	} else if !dns.IsSubDomain(zone, info.EffectiveFQDN) {
		return fmt.Errorf("%s is not in zone %s", info.EffectiveFQDN, zone)
	}
	rr := []dns.RR{&dns.TXT{
		Hdr: dns.RR_Header{Name: info.EffectiveFQDN, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: challengeTTL},
		Txt: []string{info.Value},
	}}
	m := new(dns.Msg).SetUpdate(zone)
	if add {
		m.RemoveRRset(rr)
		m.Insert(rr)
	} else {
		m.Remove(rr)
	}
	// 300 s of fudge: RFC 8945 section 10's recommendation.
	m.SetTsig(p.key, p.algorithm, 300, time.Now().Unix())
	c := &dns.Client{Timeout: p.timeout, TsigSecret: map[string]string{p.key: p.secret}}
	reply, _, err := c.Exchange(m, p.nameserver)
	if err != nil {
		return fmt.Errorf("update of zone %s on %s: %w", zone, p.nameserver, err)
	}
	if reply.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("update of zone %s on %s: the server answered %s", zone, p.nameserver, dns.RcodeToString[reply.Rcode])
	}
	return nil
}

// Route53Config configures DNS-01 through Amazon Route 53.
type Route53Config struct {
	// Profile is the AWS profile whose credentials change the zone; ""
	// means the SDK's default chain (AWS_PROFILE, environment, ...).
	Profile string
	// HostedZoneID is the zone; "" means the public hosted zone whose name
	// is the longest suffix of the FQDN, found by the zone's SOA.
	HostedZoneID string
	// AWS, if set, is used as is instead of loading Profile: for callers
	// with their own configuration, and tests.
	AWS *aws.Config
}

// NewRoute53Provider returns a DNSProvider that upserts and deletes the
// challenge record in Route 53 through aws-sdk-go-v2, waiting until each
// change is INSYNC. The profile needs route53:ChangeResourceRecordSets,
// route53:GetChange and route53:ListResourceRecordSets (and
// route53:ListHostedZonesByName without HostedZoneID).
func NewRoute53Provider(ctx context.Context, cfg Route53Config) (DNSProvider, error) {
	var ac aws.Config
	if cfg.AWS != nil {
		ac = cfg.AWS.Copy()
	} else {
		var opts []func(*awsconfig.LoadOptions) error
		if cfg.Profile != "" {
			opts = append(opts, awsconfig.WithSharedConfigProfile(cfg.Profile))
		}
		var err error
		ac, err = awsconfig.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("certs: route53: load AWS profile %q: %w", cfg.Profile, err)
		}
	}
	if ac.Region == "" {
		// Route 53 is global; its API lives in us-east-1.
		ac.Region = "us-east-1"
	}
	// Built field by field, not from route53.NewDefaultConfig, which reads
	// AWS_* environment variables of its own.
	p, err := legoroute53.NewDNSProviderConfig(&legoroute53.Config{
		HostedZoneID:             strings.TrimPrefix(cfg.HostedZoneID, "/hostedzone/"),
		WaitForRecordSetsChanged: true,
		TTL:                      challengeTTL,
		PropagationTimeout:       DefaultPropagationTimeout,
		PollingInterval:          DefaultPollingInterval,
		Client:                   route53.NewFromConfig(ac),
	})
	if err != nil {
		return nil, fmt.Errorf("certs: route53: %w", err)
	}
	return p, nil
}
