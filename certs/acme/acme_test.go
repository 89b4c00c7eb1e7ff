package acme_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/go-acme/lego/v4/challenge/dns01"

	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/internal/acmetest"
	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// The names of the test zone.
const (
	testZone = acmetest.Zone
	testFQDN = acmetest.FQDN
	tsigName = acmetest.TSIGKeyName
)

// acmeEnv is a Knot serving testZone and a Pebble validating against it.
type acmeEnv struct {
	knot   *acmetest.Knot
	pebble *acmetest.Pebble
	roots  *x509.CertPool // Pebble's root
}

func startACME(t *testing.T) *acmeEnv {
	t.Helper()
	k := acmetest.StartKnot(t)
	p := acmetest.StartPebble(t, k.Addr)
	roots := x509.NewCertPool()
	roots.AddCert(p.Root(t))
	return &acmeEnv{knot: k, pebble: p, roots: roots}
}

// rfc2136 returns a provider updating Knot with the right TSIG key.
func (e *acmeEnv) rfc2136(t *testing.T) acme.DNSProvider {
	t.Helper()
	p, err := acme.NewRFC2136Provider(acme.RFC2136Config{
		Nameserver:    e.knot.Addr,
		TSIGKey:       tsigName,
		TSIGAlgorithm: e.knot.Algorithm,
		TSIGSecret:    e.knot.TSIGSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *acmeEnv) config(dns acme.DNSProvider, st store.Store) acme.Config {
	return acme.Config{
		Directory:       e.pebble.Directory,
		Email:           "admin@" + testZone,
		FQDN:            testFQDN,
		DNS:             dns,
		Store:           st,
		HTTPClient:      e.pebble.Client,
		Nameservers:     []string{e.knot.Addr},
		PollingInterval: 50 * time.Millisecond,
	}
}

// checkChain checks what a client checks: the chain verifies to Pebble's
// root for testFQDN, and the leaf is for a P-256 key.
func (e *acmeEnv) checkChain(t *testing.T, pc *public.Cert) {
	t.Helper()
	if pc.FQDN != testFQDN {
		t.Errorf("FQDN = %q, want %q", pc.FQDN, testFQDN)
	}
	inter := x509.NewCertPool()
	for _, c := range pc.Chain[1:] {
		inter.AddCert(c)
	}
	if _, err := pc.Chain[0].Verify(x509.VerifyOptions{DNSName: testFQDN, Roots: e.roots, Intermediates: inter}); err != nil {
		t.Errorf("issued chain does not verify against Pebble's root for %s: %v", testFQDN, err)
	}
	k, ok := pc.Key.(*ecdsa.PrivateKey)
	if !ok || k.Curve != elliptic.P256() {
		t.Errorf("key is %T, want an ECDSA P-256 key", pc.Key)
	}
	if !k.PublicKey.Equal(pc.Chain[0].PublicKey) {
		t.Error("the leaf is not for the returned key")
	}
}

func TestObtainACMERFC2136(t *testing.T) {
	env := startACME(t)
	st := store.NewMemory()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	start := time.Now()
	pc, err := acme.Obtain(ctx, env.config(env.rfc2136(t), st))
	if err != nil {
		t.Fatalf("ObtainACME: %v", err)
	}
	t.Logf("first issuance (new account) took %v", time.Since(start))
	env.checkChain(t, pc)
	acct, err := st.Get(acme.AccountKeyName)
	if err != nil {
		t.Fatalf("account key not in the store: %v", err)
	}

	// The record is gone again: CleanUp ran.
	if txt, err := acmetest.ResolverAt(env.knot.Addr).LookupTXT(ctx, "_acme-challenge."+testFQDN); err == nil {
		t.Errorf("challenge record still served after issuance: %q", txt)
	}

	// Installed, the key goes into the secure store and comes back.
	pub := &public.Public{Store: st, Dir: t.TempDir(), ExtraRoots: env.roots}
	if err := pub.Install(pc); err != nil {
		t.Fatalf("Install: %v", err)
	}
	got, err := pub.Current()
	if err != nil {
		t.Fatalf("Current after Install: %v", err)
	}
	if !got.Chain[0].Equal(pc.Chain[0]) || !pc.Key.Public().(*ecdsa.PublicKey).Equal(got.Key.Public()) {
		t.Error("Current is not the installed certificate and key")
	}
	if _, err := st.Get(public.KeyName); err != nil {
		t.Errorf("certificate key not in the store under %q: %v", public.KeyName, err)
	}

	// A second order reuses the account and makes a new certificate key.
	start = time.Now()
	pc2, err := acme.Obtain(ctx, env.config(env.rfc2136(t), st))
	if err != nil {
		t.Fatalf("second Obtain: %v", err)
	}
	t.Logf("second issuance took %v", time.Since(start))
	env.checkChain(t, pc2)
	if acct2, _ := st.Get(acme.AccountKeyName); !bytes.Equal(acct, acct2) {
		t.Error("the account key changed on the second order, want it reused")
	}
	if pc2.Key.Public().(*ecdsa.PublicKey).Equal(pc.Key.Public()) {
		t.Error("the second certificate has the first one's key, want a new key per certificate")
	}
}

// TestRFC2136RefusesWrongTSIG shows the TSIG signature is what lets the
// update in: the same update with another secret is refused, and the
// failed order says why.
func TestRFC2136RefusesWrongTSIG(t *testing.T) {
	env := startACME(t)
	wrong := make([]byte, 32)
	p, err := acme.NewRFC2136Provider(acme.RFC2136Config{
		Nameserver: env.knot.Addr, TSIGKey: tsigName, TSIGSecret: base64.StdEncoding.EncodeToString(wrong),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = acme.Obtain(ctx, env.config(p, store.NewMemory()))
	if err == nil {
		t.Fatal("ObtainACME with a wrong TSIG secret succeeded")
	}
	// Knot answers NOTAUTH with a BADSIG TSIG record, which the client
	// library reports as "bad authentication".
	if !strings.Contains(err.Error(), "bad authentication") {
		t.Errorf("error = %v, want the server's refusal of the signature", err)
	}
}

func TestNewRFC2136ProviderRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  acme.RFC2136Config
	}{
		{"no nameserver", acme.RFC2136Config{TSIGKey: "k", TSIGSecret: "c2VjcmV0"}},
		{"no key", acme.RFC2136Config{Nameserver: "127.0.0.1", TSIGSecret: "c2VjcmV0"}},
		{"no secret", acme.RFC2136Config{Nameserver: "127.0.0.1", TSIGKey: "k"}},
		{"secret not base64", acme.RFC2136Config{Nameserver: "127.0.0.1", TSIGKey: "k", TSIGSecret: "not base64!"}},
		{"unknown algorithm", acme.RFC2136Config{Nameserver: "127.0.0.1", TSIGKey: "k", TSIGSecret: "c2VjcmV0", TSIGAlgorithm: "hmac-md4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := acme.NewRFC2136Provider(tc.cfg); err == nil {
				t.Error("got no error")
			} else if strings.Contains(err.Error(), "c2VjcmV0") {
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
}

// TestRenewerRenewsNearExpiry: with the clock a day before expiry, the
// running Renewer gets a new certificate from Pebble, installs it and
// serves it, and the callback sees it.
func TestRenewerRenewsNearExpiry(t *testing.T) {
	env := startACME(t)
	st := store.NewMemory()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first, err := acme.Obtain(ctx, env.config(env.rfc2136(t), st))
	if err != nil {
		t.Fatalf("ObtainACME: %v", err)
	}
	var fake atomic.Pointer[time.Time]
	nearExpiry := first.NotAfter().Add(-24 * time.Hour)
	fake.Store(&nearExpiry)
	clock := func() time.Time { return *fake.Load() }
	pub := &public.Public{Store: st, Dir: t.TempDir(), ExtraRoots: env.roots, Now: clock}
	if err := pub.Install(first); err != nil {
		t.Fatalf("Install: %v", err)
	}

	cfg := env.config(env.rfc2136(t), st)
	cfg.Now = clock
	renewed := make(chan *public.Cert, 1)
	r, err := acme.NewRenewer(acme.RenewerConfig{
		ACME: cfg, Public: pub, CheckInterval: 20 * time.Millisecond,
		OnRenew: func(pc *public.Cert) {
			// Back to real time, so the new certificate is not due too.
			now := time.Now()
			fake.Store(&now)
			renewed <- pc
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Current(); !got.Chain[0].Equal(first.Chain[0]) {
		t.Fatal("Renewer does not start from the installed certificate")
	}
	if st := r.Status(); !st.RenewAt.Before(nearExpiry) || st.RenewAt.After(first.NotAfter().Add(-first.NotAfter().Sub(first.Chain[0].NotBefore)/3)) {
		t.Errorf("RenewAt = %v, want a third of the lifetime before %v, less jitter", st.RenewAt, first.NotAfter())
	}

	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var pc *public.Cert
	select {
	case pc = <-renewed:
	case <-ctx.Done():
		t.Fatalf("no renewal: status %+v", r.Status())
	}
	env.checkChain(t, pc)
	if pc.Chain[0].SerialNumber.Cmp(first.Chain[0].SerialNumber) == 0 {
		t.Error("the renewed certificate is the old one")
	}
	if tc := r.TLSCertificate(); !bytes.Equal(tc.Certificate[0], pc.Chain[0].Raw) {
		t.Error("the Renewer does not serve the renewed certificate")
	}
	stored, err := pub.Current()
	if err != nil || !stored.Chain[0].Equal(pc.Chain[0]) {
		t.Errorf("Public.Current after renewal = %v, %v; want the renewed certificate", stored, err)
	}
	if s := r.Status(); s.LastError != "" || s.Failures != 0 || s.LastAttempt.IsZero() || !s.NotAfter.Equal(pc.NotAfter()) {
		t.Errorf("Status after renewal = %+v", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

// TestRenewerFailureKeepsServing: a renewal that fails (the DNS server
// refuses the update) is logged and reported, the old certificate stays in
// service, and the next attempt waits.
func TestRenewerFailureKeepsServing(t *testing.T) {
	env := startACME(t)
	st := store.NewMemory()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first, err := acme.Obtain(ctx, env.config(env.rfc2136(t), st))
	if err != nil {
		t.Fatalf("ObtainACME: %v", err)
	}
	now := first.NotAfter().Add(-24 * time.Hour)
	clock := func() time.Time { return now }
	pub := &public.Public{Store: st, Dir: t.TempDir(), ExtraRoots: env.roots, Now: clock}
	if err := pub.Install(first); err != nil {
		t.Fatalf("Install: %v", err)
	}
	bad, err := acme.NewRFC2136Provider(acme.RFC2136Config{
		Nameserver: env.knot.Addr, TSIGKey: tsigName, TSIGSecret: base64.StdEncoding.EncodeToString(make([]byte, 32)),
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := env.config(bad, st)
	cfg.Now = clock
	r, err := acme.NewRenewer(acme.RenewerConfig{ACME: cfg, Public: pub})
	if err != nil {
		t.Fatal(err)
	}
	renewed, err := r.RenewIfDue(ctx)
	if !renewed || err == nil {
		t.Fatalf("RenewIfDue = %v, %v; want an attempt that fails", renewed, err)
	}
	s := r.Status()
	if s.LastError == "" || s.Failures != 1 || !s.LastAttempt.Equal(now) {
		t.Errorf("Status = %+v, want the failure recorded", s)
	}
	if !s.NextAttempt.After(now.Add(9 * time.Minute)) {
		t.Errorf("NextAttempt = %v, want at least ~10 minutes after %v", s.NextAttempt, now)
	}
	if !r.Current().Chain[0].Equal(first.Chain[0]) {
		t.Error("the old certificate is no longer served after a failed renewal")
	}
	// Not due again until NextAttempt.
	if renewed, err := r.RenewIfDue(ctx); renewed || err != nil {
		t.Errorf("second RenewIfDue = %v, %v; want no attempt before NextAttempt", renewed, err)
	}
}

// TestRoute53ProviderChangesRecords drives the Route 53 provider, built
// from an AWS profile as the CLI builds it, against moto_server's Route 53
// API: the challenge TXT record appears in the hosted zone, then goes.
// Pebble cannot resolve names in moto's zones, so a full issuance through
// Route 53 is not possible here; the record changes are what is ours.
func TestRoute53ProviderChangesRecords(t *testing.T) {
	moto := e2e.StartMoto(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := route53.New(route53.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(moto.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(e2e.StaticAccessKeyID, e2e.StaticSecretAccessKey, ""),
	})
	zone, err := client.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{
		Name: aws.String(testZone + "."), CallerReference: aws.String(fmt.Sprint(time.Now().UnixNano())),
	})
	if err != nil {
		t.Fatalf("create hosted zone in moto: %v", err)
	}
	zoneID := strings.TrimPrefix(*zone.HostedZone.Id, "/hostedzone/")

	// The provider loads the profile itself, from a config file of the
	// test's; the profile's endpoint_url sends Route 53 calls to moto.
	home := t.TempDir()
	conf := filepath.Join(home, "config")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`[profile dns]
region = us-east-1
aws_access_key_id = %s
aws_secret_access_key = %s
endpoint_url = %s
`, e2e.StaticAccessKeyID, e2e.StaticSecretAccessKey, moto.Endpoint)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{
		{"AWS_CONFIG_FILE", conf},
		{"AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "credentials")},
		{"AWS_PROFILE", ""}, {"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", ""}, {"AWS_SESSION_TOKEN", ""},
		{"AWS_ENDPOINT_URL", ""}, {"AWS_ENDPOINT_URL_ROUTE_53", ""}, {"AWS_REGION", ""}, {"AWS_DEFAULT_REGION", ""},
	} {
		t.Setenv(kv[0], kv[1])
	}

	for _, tc := range []struct{ name, zoneID string }{
		{"zone given", zoneID},
		// Without a zone ID the provider looks the zone up by the FQDN's
		// SOA through the system resolver, which knows nothing of moto's
		// zone; only the given-zone case can run here.
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := acme.NewRoute53Provider(ctx, acme.Route53Config{Profile: "dns", HostedZoneID: tc.zoneID})
			if err != nil {
				t.Fatal(err)
			}
			keyAuth := "token-123.thumbprint"
			sum := sha256.Sum256([]byte(keyAuth))
			want := `"` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"`
			name := "_acme-challenge." + testFQDN + "."

			if err := p.Present(testFQDN, "token-123", keyAuth); err != nil {
				t.Fatalf("Present: %v", err)
			}
			got := txtRecords(t, ctx, client, zoneID, name)
			if len(got) != 1 || got[0] != want {
				t.Errorf("after Present, moto has TXT %s = %q, want [%s]", name, got, want)
			}
			if err := p.CleanUp(testFQDN, "token-123", keyAuth); err != nil {
				t.Fatalf("CleanUp: %v", err)
			}
			if got := txtRecords(t, ctx, client, zoneID, name); len(got) != 0 {
				t.Errorf("after CleanUp, moto has TXT %s = %q, want none", name, got)
			}
		})
	}
}

func txtRecords(t *testing.T, ctx context.Context, c *route53.Client, zoneID, name string) []string {
	t.Helper()
	out, err := c.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID)})
	if err != nil {
		t.Fatalf("list record sets in moto: %v", err)
	}
	var vals []string
	for _, rs := range out.ResourceRecordSets {
		if aws.ToString(rs.Name) == name && rs.Type == r53types.RRTypeTxt {
			for _, r := range rs.ResourceRecords {
				vals = append(vals, aws.ToString(r.Value))
			}
		}
	}
	return vals
}

func TestObtainACMERefusesBadConfig(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cfg  acme.Config
	}{
		{"no FQDN", acme.Config{DNS: nopDNS{}, Store: store.NewMemory()}},
		{"wildcard", acme.Config{FQDN: "*.example.com", DNS: nopDNS{}, Store: store.NewMemory()}},
		{"IP", acme.Config{FQDN: "192.0.2.1", DNS: nopDNS{}, Store: store.NewMemory()}},
		{"no provider", acme.Config{FQDN: "agent.example.com", Store: store.NewMemory()}},
		{"no store", acme.Config{FQDN: "agent.example.com", DNS: nopDNS{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Nothing is contacted: the directory would be Let's Encrypt's.
			if _, err := acme.Obtain(ctx, tc.cfg); err == nil {
				t.Error("got no error")
			}
		})
	}
}

type nopDNS struct{}

func (nopDNS) Present(domain, token, keyAuth string) error { return errors.New("nop") }
func (nopDNS) CleanUp(domain, token, keyAuth string) error { return nil }

// TestRenewerAdoptsNewerInstall: a certificate installed by a later `certs
// acme` while the agent runs is taken over when the old one falls due,
// instead of a renewal.
func TestRenewerAdoptsNewerInstall(t *testing.T) {
	issue, roots := testIssuer(t)
	st := store.NewMemory()
	pub := &public.Public{Store: st, Dir: t.TempDir(), ExtraRoots: roots}
	first, second := issue(90*24*time.Hour), issue(180*24*time.Hour)
	if err := pub.Install(first); err != nil {
		t.Fatal(err)
	}
	now := first.NotAfter().Add(-24 * time.Hour) // first is due, second is not
	var seen *public.Cert
	r, err := acme.NewRenewer(acme.RenewerConfig{
		ACME:    acme.Config{FQDN: testFQDN, DNS: nopDNS{}, Store: st, Now: func() time.Time { return now }},
		Public:  pub,
		OnRenew: func(pc *public.Cert) { seen = pc },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Install(second); err != nil {
		t.Fatal(err)
	}
	renewed, err := r.RenewIfDue(context.Background())
	if renewed || err != nil {
		t.Errorf("RenewIfDue = %v, %v; want no renewal", renewed, err)
	}
	if !r.Current().Chain[0].Equal(second.Chain[0]) || seen == nil || !seen.Chain[0].Equal(second.Chain[0]) {
		t.Error("the newer installed certificate was not adopted and announced")
	}
	if s := r.Status(); !s.NotAfter.Equal(second.NotAfter()) || !s.RenewAt.After(now) {
		t.Errorf("Status = %+v, want the newer certificate's schedule", s)
	}
}

// TestRFC2136ReplacesStaleRecord: a challenge record left by an
// interrupted run is replaced, not added to, and CleanUp removes the
// record it added; a zone that does not hold the name is refused.
func TestRFC2136ReplacesStaleRecord(t *testing.T) {
	env := startACME(t)
	p := env.rfc2136(t)
	if err := p.Present(testFQDN, "", "stale-key-authorization"); err != nil {
		t.Fatalf("Present: %v", err)
	}
	if err := p.Present(testFQDN, "", "fresh-key-authorization"); err != nil {
		t.Fatalf("Present: %v", err)
	}
	name := "_acme-challenge." + testFQDN
	r := acmetest.ResolverAt(env.knot.Addr)
	txt, err := r.LookupTXT(context.Background(), name)
	if want := []string{dns01.GetChallengeInfo(testFQDN, "fresh-key-authorization").Value}; err != nil || !slices.Equal(txt, want) {
		t.Errorf("TXT %s = %q, %v; want only %q", name, txt, err, want)
	}
	if err := p.CleanUp(testFQDN, "", "fresh-key-authorization"); err != nil {
		t.Fatalf("CleanUp: %v", err)
	}
	if txt, err := r.LookupTXT(context.Background(), name); err == nil {
		t.Errorf("TXT %s still served after CleanUp: %q", name, txt)
	}

	other, err := acme.NewRFC2136Provider(acme.RFC2136Config{Nameserver: env.knot.Addr, Zone: "other.test",
		TSIGKey: tsigName, TSIGSecret: env.knot.TSIGSecret})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Present(testFQDN, "", "k"); err == nil || !strings.Contains(err.Error(), "is not in zone other.test.") {
		t.Errorf("Present in the wrong zone: %v", err)
	}
}
