package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/signer"
	"github.com/aws-sso-agent/aws-sso-agent/signer/api"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// serveOptions are serve's flags that the DNS server and the issuer
// need.
type serveOptions struct {
	Zone          string // lowercase, no final dot
	DNSListen     string
	ACMEDirectory string
	ACMECAFile    string
	ACMEEmail     string
	// OwnTLS is set when --tls-cert and --tls-key are given: the API's
	// certificate is the operator's, and the issuer need not get one.
	OwnTLS bool
	// The zone's own names (parts.go): the API's name, the nameservers
	// of the NS records, the public addresses of both, and the CA the
	// CAA records allow.
	APIName       string
	Nameservers   []string
	PublicIPs     []string
	CAAIssuer     string
	CAAAccountURI string
	// CheckDNS are the DNS servers (HOST:PORT) asked for a challenge
	// record before the CA is; empty means this instance's own.
	CheckDNS []string
}

// serveParts are what serve runs beside the API: the ACME issuer, the
// DNS server and the API's own certificate. buildParts (parts.go) makes
// them; tests give serve their own.
type serveParts struct {
	Issuer signer.Issuer
	// GetCertificate serves the API's certificate for the service's own
	// name, from the same ACME machinery. Unused with OwnTLS.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// Run runs the DNS server and the background work (renewing the
	// API's certificate) until ctx ends; it returns only on failure or
	// when ctx ends.
	Run func(ctx context.Context) error
}

type partsBuilder func(ctx context.Context, o serveOptions, db *store.DB, log *slog.Logger) (serveParts, error)

func (c *cli) serve(ctx context.Context, args []string) error {
	fs, dbURL := c.flags("serve")
	zone := fs.String("zone", "", "the DNS zone the service is authoritative for")
	listen := fs.String("listen", "", "the HTTPS API's address, e.g. :443")
	dnsListen := fs.String("dns-listen", "", "the DNS server's address (UDP and TCP), e.g. :53")
	directory := fs.String("acme-directory", "", "the ACME CA's directory URL")
	caFile := fs.String("acme-ca-file", "", "PEM roots to trust for the ACME CA (a test CA such as Pebble)")
	email := fs.String("acme-email", "", "the contact of the service's ACME account")
	tlsCert := fs.String("tls-cert", "", "the API's certificate chain (PEM), for a deployment behind its own TLS")
	tlsKey := fs.String("tls-key", "", "the API's private key (PEM)")
	auditLog := fs.String("audit-log", "", "append the audit log's JSON lines to this file (0600), else stdout")
	proxies := fs.StringArray("trusted-proxy", nil, "a proxy's address or CIDR whose X-Forwarded-For is believed (repeatable)")
	perHost := fs.Int("budget-hostname", store.DefaultBudget().PerHostname, "certificates per hostname per 7 days (Let's Encrypt: 5 duplicates)")
	global := fs.Int("budget-zone", store.DefaultBudget().Global, "certificates per 7 days for the whole zone (Let's Encrypt: 50 per registered domain, more with an override)")
	apiName := fs.String("api-name", "", "the API's own name, in the zone (default api.ZONE); its certificate comes from the ACME CA unless --tls-cert")
	nameservers := fs.StringArray("nameserver", nil, "a name of the zone's NS records (repeatable; default ns1.ZONE)")
	publicIPs := fs.StringArray("public-ip", nil, "the public address of the API and of the nameservers inside the zone (repeatable)")
	caaIssuer := fs.String("caa-issuer", "letsencrypt.org", "the CA the zone's CAA record allows (Pebble: pebble.letsencrypt.org)")
	caaAccount := fs.String("caa-account-uri", "", "limit the CAA record to this ACME account (RFC 8657), the service's own")
	checkDNS := fs.StringArray("check-dns", nil, "wait until this DNS server (HOST:PORT; repeatable: every instance's) serves a challenge record before the CA looks (default: this instance's own)")
	debug := fs.Bool("debug", false, "log debug messages")
	webf := addWebFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("serve takes no arguments, only flags")
	}
	o := serveOptions{DNSListen: *dnsListen, ACMEDirectory: *directory, ACMECAFile: *caFile, ACMEEmail: *email, OwnTLS: *tlsCert != "",
		APIName: *apiName, Nameservers: *nameservers, PublicIPs: *publicIPs, CAAIssuer: *caaIssuer, CAAAccountURI: *caaAccount, CheckDNS: *checkDNS}
	switch {
	case *zone == "" || *listen == "" || *dnsListen == "" || *directory == "":
		return usagef("serve needs --zone, --listen, --dns-listen and --acme-directory")
	case (*tlsCert == "") != (*tlsKey == ""):
		return usagef("--tls-cert and --tls-key go together")
	case *perHost < 1 || *global < 1:
		return usagef("--budget-hostname and --budget-zone must be at least 1")
	}
	z, err := public.ValidateFQDN(*zone)
	if err != nil {
		return err
	}
	o.Zone = z
	var trusted []netip.Prefix
	for _, p := range *proxies {
		pre, err := parsePrefix(p)
		if err != nil {
			return usagef("--trusted-proxy %q: %v", p, err)
		}
		trusted = append(trusted, pre)
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: level}))
	auditOut := c.stdout
	if *auditLog != "" {
		f, err := os.OpenFile(*auditLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("serve: audit log: %w", err)
		}
		defer f.Close()
		auditOut = f
	}
	db, err := c.openDB(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := claimZone(ctx, db, o.Zone); err != nil {
		return err
	}
	parts, err := c.parts(ctx, o, db, log)
	if err != nil {
		return err
	}
	budget := store.DefaultBudget()
	budget.PerHostname, budget.Global = *perHost, *global
	srv, err := api.New(api.Config{
		Zone: o.Zone, Store: db, Issuer: parts.Issuer, Budget: budget, TrustedProxies: trusted,
		Audit: slog.New(slog.NewJSONHandler(auditOut, nil)), Log: log,
	})
	if err != nil {
		return err
	}
	handler, err := webf.handler(srv, db, parts.Issuer, o.Zone, o.APIName, log)
	if err != nil {
		return err
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: parts.GetCertificate}
	if o.OwnTLS {
		pair, err := loadKeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("serve: --tls-cert/--tls-key: %w", err)
		}
		tlsConf.GetCertificate = nil
		tlsConf.Certificates = []tls.Certificate{pair}
	}
	if tlsConf.GetCertificate == nil && len(tlsConf.Certificates) == 0 {
		return withHint(errors.New("serve: no certificate for the API"), "give --tls-cert and --tls-key")
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("serve: listen: %w", err)
	}
	hs := newHTTPServer(handler, tlsConf, log)
	errc := make(chan error, 2)
	go func() { errc <- hs.ServeTLS(ln, "", "") }()
	if parts.Run != nil {
		go func() { errc <- parts.Run(ctx) }()
	}
	log.Info("serving", "api", ln.Addr().String(), "dns", o.DNSListen, "zone", o.Zone, "db", db.Engine())
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	hs.Shutdown(shutdown)
	if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// newHTTPServer bounds every phase of a request: a slow client holds a
// connection for seconds, not forever. The write timeout leaves room for
// an order, which the API bounds at 3 minutes.
func newHTTPServer(h http.Handler, tlsConf *tls.Config, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         tlsConf,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      4 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// claimZone records the zone in a new database, or checks it in an old
// one: one database serves one zone, and the admin commands read it.
func claimZone(ctx context.Context, db *store.DB, zone string) error {
	got, err := db.Blob(ctx, zoneBlob)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return db.PutBlob(ctx, zoneBlob, []byte(zone))
	case err != nil:
		return err
	case string(got) != zone:
		return withHint(fmt.Errorf("serve: the database serves the zone %s, not %s", got, zone), "give the zone the database was made for, or another database")
	}
	return nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// loadKeyPair is tls.LoadX509KeyPair, with the key read by readPrivate.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := readPrivate(keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}
