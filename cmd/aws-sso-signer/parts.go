package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
	signerdns "github.com/aws-sso-agent/aws-sso-agent/signer/dns"
	"github.com/aws-sso-agent/aws-sso-agent/signer/issuer"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// Timing of serve's background work.
const (
	// zoneFollow is how often the DNS server asks the store whether the
	// zone changed (one indexed read): another instance's registration or
	// challenge is served within a second.
	zoneFollow = time.Second
	// serviceCertCheck is how often the API's certificate is looked at
	// (renewed when a third of its lifetime is left, or taken from the
	// store after another instance renewed it).
	serviceCertCheck = time.Hour
	// serviceCertRetry bounds the wait between attempts at the API's first
	// certificate: without it the API serves nothing.
	serviceCertRetry = 5 * time.Minute
)

// buildParts makes serve's DNS server (signer/dns) and ACME issuer
// (signer/issuer), which are built apart from the API and wired here. The
// DNS sockets are opened here, so a port in use fails serve at once.
func buildParts(ctx context.Context, o serveOptions, db *store.DB, log *slog.Logger) (serveParts, error) {
	ips, err := parseIPs(o.PublicIPs)
	if err != nil {
		return serveParts{}, err
	}
	apiName := strings.ToLower(strings.TrimSuffix(o.APIName, "."))
	if apiName == "" {
		apiName = "api." + o.Zone
	}
	if !strings.HasSuffix(apiName, "."+o.Zone) {
		return serveParts{}, usagef("--api-name %s: not a name in the zone %s", o.APIName, o.Zone)
	}
	nameservers := o.Nameservers
	if len(nameservers) == 0 {
		nameservers = []string{"ns1." + o.Zone}
	}
	hosts := map[string][]netip.Addr{}
	if len(ips) > 0 {
		hosts[apiName] = ips
	}
	for _, ns := range nameservers {
		n := strings.ToLower(strings.TrimSuffix(ns, "."))
		if strings.HasSuffix(n, "."+o.Zone) || n == o.Zone {
			if len(ips) == 0 {
				return serveParts{}, withHint(fmt.Errorf("serve: the nameserver %s is in the zone and has no address", n),
					"give --public-ip (its glue), or name a nameserver outside the zone with --nameserver")
			}
			hosts[n] = ips
		}
	}
	zone, err := signerdns.New(signerdns.Config{
		Zone: o.Zone, Nameservers: nameservers, Hosts: hosts,
		CAAIssuer: o.CAAIssuer, CAAAccountURI: o.CAAAccountURI,
	})
	if err != nil {
		return serveParts{}, err
	}
	pc, ln, err := signerdns.Listen(o.DNSListen)
	if err != nil {
		return serveParts{}, err
	}
	closeSockets := func() { pc.Close(); ln.Close() }

	client, err := acmeClient(o.ACMECAFile)
	if err != nil {
		closeSockets()
		return serveParts{}, err
	}
	checkDNS := o.CheckDNS
	if len(checkDNS) == 0 {
		checkDNS = []string{ownDNS(pc.LocalAddr())}
	}
	is, err := issuer.New(issuer.Config{
		Directory: o.ACMEDirectory, HTTPClient: client, Email: o.ACMEEmail,
		State: db, NotFound: store.ErrNotFound,
		Challenges: &zoneChallenges{db: db, zone: zone, log: log},
		// Every instance's DNS server answers from the same store, each
		// within zoneFollow of a change; they are asked (by default this
		// instance's own) before the CA is told to look.
		Nameservers: checkDNS,
		History:     &history{db: db, zone: o.Zone},
		Logger:      log,
	})
	if err != nil {
		closeSockets()
		return serveParts{}, err
	}
	parts := serveParts{Issuer: is}
	var sc *issuer.ServiceCert
	if !o.OwnTLS {
		if sc, err = issuer.NewServiceCert(is, apiName, db, nil); err != nil {
			closeSockets()
			return serveParts{}, err
		}
		parts.GetCertificate = sc.GetCertificate
	}
	report := func(err error) { log.Error("serve: background", "err", err) }
	parts.Run = func(ctx context.Context) error {
		defer closeSockets()
		if err := zone.Follow(ctx, db, zoneFollow, report); err != nil {
			return err
		}
		errc := make(chan error, 1)
		go func() { errc <- zone.Serve(ctx, pc, ln) }()
		if sc != nil {
			go keepServiceCert(ctx, sc, log, report)
		}
		return <-errc
	}
	log.Info("serve: dns", "listen", pc.LocalAddr().String(), "zone", zone.Apex(), "nameservers", nameservers, "api_name", apiName)
	return parts, nil
}

// keepServiceCert gets the API's first certificate, retrying with a
// growing wait, then keeps it renewed.
func keepServiceCert(ctx context.Context, sc *issuer.ServiceCert, log *slog.Logger, report func(error)) {
	wait := 5 * time.Second
	for {
		err := sc.Ensure(ctx)
		if err == nil {
			break
		}
		next := wait
		if errors.Is(err, issuer.ErrPending) {
			next = time.Second // it is in the store within seconds
		} else {
			report(err)
			wait = min(2*wait, serviceCertRetry)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(next + rand.N(next/5)):
		}
	}
	log.Info("serve: the API's certificate is in service")
	sc.Run(ctx, serviceCertCheck, report)
}

// zoneChallenges are the store's challenge records, with this instance's
// DNS server reloaded at once after each change, so the issuer's check of
// its own server passes without waiting for the next poll.
type zoneChallenges struct {
	db   *store.DB
	zone *signerdns.Zone
	log  *slog.Logger
}

func (c *zoneChallenges) SetTXT(ctx context.Context, fqdn, value string, ttl time.Duration) error {
	if err := c.db.SetTXT(ctx, fqdn, value, ttl); err != nil {
		return err
	}
	c.refresh(ctx)
	return nil
}

func (c *zoneChallenges) ClearTXT(ctx context.Context, fqdn, value string) error {
	if err := c.db.ClearTXT(ctx, fqdn, value); err != nil {
		return err
	}
	c.refresh(ctx)
	return nil
}

func (c *zoneChallenges) refresh(ctx context.Context) {
	if _, err := c.zone.Refresh(ctx, c.db); err != nil {
		c.log.Warn("serve: dns reload after a challenge record", "err", err) // the poll catches up
	}
}

// history finds the certificate a renewal replaces, for ARI.
type history struct {
	db   *store.DB
	zone string
}

func (h *history) Replaced(ctx context.Context, fqdn string) (*x509.Certificate, error) {
	label, ok := strings.CutSuffix(strings.TrimSuffix(fqdn, "."), "."+h.zone)
	if !ok {
		return nil, nil // the API's own name is in the zone; anything else has no history
	}
	certs, err := h.db.Certificates(ctx, []string{label}, 5)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for _, c := range certs {
		if c.RevokedAt != nil || !now.Before(c.NotAfter) || c.ChainPEM == "" {
			continue
		}
		if leaf, err := firstCert([]byte(c.ChainPEM)); err == nil {
			return leaf, nil
		}
	}
	return nil, nil
}

var _ signer.Challenges = (*zoneChallenges)(nil)

func firstCert(chainPEM []byte) (*x509.Certificate, error) {
	for rest := chainPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, errors.New("no certificate")
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}

func parseIPs(in []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range in {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, usagef("--public-ip %q: %v", s, err)
		}
		out = append(out, a.Unmap())
	}
	return out, nil
}

// acmeClient is the HTTP client for the CA: the system's roots, or those
// of --acme-ca-file (a test CA such as Pebble) alone.
func acmeClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return nil, nil
	}
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("serve: --acme-ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("serve: --acme-ca-file %s: no PEM certificate", caFile)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: t}, nil
}

// ownDNS is the address at which this instance's DNS server is asked:
// its socket's, with loopback for a wildcard address.
func ownDNS(a net.Addr) string {
	ua, ok := a.(*net.UDPAddr)
	if !ok {
		return a.String()
	}
	ip := ua.IP
	if ip.IsUnspecified() {
		if ip.To4() != nil {
			ip = net.IPv4(127, 0, 0, 1)
		} else {
			ip = net.IPv6loopback
		}
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(ua.Port))
}
