package acme_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

func TestTSIGSecretFileMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o644, false}, {0o640, false}} {
		f := filepath.Join(dir, fmt.Sprintf("secret-%o", tt.mode))
		os.WriteFile(f, []byte("c2VjcmV0\n"), tt.mode)
		os.Chmod(f, tt.mode)
		b, err := acme.TSIGSecret(f, store.NewMemory())
		if tt.ok && (err != nil || string(b) != "c2VjcmV0") {
			t.Errorf("mode %o: got %q, %v", tt.mode, b, err)
		}
		if !tt.ok && !errors.Is(err, store.ErrInsecure) {
			t.Errorf("mode %o: got %v, want a refusal of a file others can read", tt.mode, err)
		}
	}
}

func TestSettingsProvider(t *testing.T) {
	ctx := context.Background()
	rfc := func() *acme.Settings {
		return &acme.Settings{FQDN: testFQDN, DNS: acme.DNSRFC2136, RFC2136: &acme.RFC2136Settings{Nameserver: "127.0.0.1", TSIGKey: "k", TSIGAlgorithm: acme.DefaultTSIGAlgorithm}}
	}
	st := store.NewMemory()
	if _, err := rfc().Provider(ctx, st); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Provider without a stored secret = %v, want store.ErrNotFound", err)
	}
	st.Set(acme.TSIGSecretName, []byte("c2VjcmV0"))
	if p, err := rfc().Provider(ctx, st); err != nil || p == nil {
		t.Errorf("Provider with the stored secret = %v, %v", p, err)
	}
	if p, err := rfc().ProviderWithSecret(ctx, []byte("c2VjcmV0")); err != nil || p == nil {
		t.Errorf("ProviderWithSecret = %v, %v", p, err)
	}
	for _, tc := range []struct {
		name   string
		s      *acme.Settings
		secret string
		want   string
	}{
		{"secret not base64", rfc(), "not base64!", "certs: rfc2136: the TSIG secret is not base64"},
		{"no secret", rfc(), "", "certs: rfc2136: a TSIG key name and secret are needed"},
		{"rfc2136 without its settings", &acme.Settings{DNS: acme.DNSRFC2136}, "c2VjcmV0", "certs: acme settings: rfc2136 without its settings"},
		{"unknown provider", &acme.Settings{DNS: "carrier-pigeon"}, "", `certs: acme settings: unknown DNS provider "carrier-pigeon"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.s.ProviderWithSecret(ctx, []byte(tc.secret)); err == nil || err.Error() != tc.want {
				t.Errorf("ProviderWithSecret = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSettingsDNSDescription(t *testing.T) {
	for _, tc := range []struct {
		s    acme.Settings
		want string
	}{
		{acme.Settings{DNS: acme.DNSRFC2136, RFC2136: &acme.RFC2136Settings{Nameserver: "ns1.example.com:53"}}, "RFC 2136 updates to ns1.example.com:53"},
		{acme.Settings{DNS: acme.DNSRoute53, Route53: &acme.Route53Settings{Profile: "dns"}}, "Route 53 as profile dns"},
		{acme.Settings{DNS: acme.DNSRoute53, Route53: &acme.Route53Settings{}}, "Route 53"},
		{acme.Settings{DNS: acme.DNSRoute53}, "Route 53"},
	} {
		if got := tc.s.DNSDescription(); got != tc.want {
			t.Errorf("DNSDescription of %+v = %q, want %q", tc.s, got, tc.want)
		}
	}
}

// testIssuer is a CA of the test's own, issuing certificates for testFQDN.
func testIssuer(t *testing.T) (issue func(life time.Duration) *public.Cert, roots *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	roots = x509.NewCertPool()
	roots.AddCert(ca)
	serial := int64(1)
	return func(life time.Duration) *public.Cert {
		t.Helper()
		serial++
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), DNSNames: []string{testFQDN},
			NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(life),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return &public.Cert{FQDN: testFQDN, Chain: []*x509.Certificate{c}, Key: k}
	}, roots
}

func TestRenewalDue(t *testing.T) {
	issue, _ := testIssuer(t)
	c := issue(90 * 24 * time.Hour)
	leaf := c.Chain[0]
	want := leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore) / 3)
	if got := acme.RenewalDue(c); !got.Equal(want) {
		t.Errorf("RenewalDue = %v, want %v (a third of the lifetime left)", got, want)
	}
}

func TestSettingsInstall(t *testing.T) {
	issue, roots := testIssuer(t)
	s := &acme.Settings{Directory: acme.LetsEncryptStagingDirectory, FQDN: testFQDN, DNS: acme.DNSRFC2136,
		RFC2136: &acme.RFC2136Settings{Nameserver: "127.0.0.1", TSIGKey: "k", TSIGAlgorithm: acme.DefaultTSIGAlgorithm}}

	// A certificate Install refuses leaves no settings behind.
	st := store.NewMemory()
	untrusting := &public.Public{Store: st, Dir: t.TempDir()}
	if err := s.Install(untrusting, issue(90*24*time.Hour), []byte("c2VjcmV0")); !errors.Is(err, public.ErrUntrustedChain) {
		t.Fatalf("Install of an untrusted chain = %v, want ErrUntrustedChain", err)
	}
	if _, err := acme.LoadSettings(untrusting.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("settings after a refused install: %v, want none", err)
	}
	if _, err := st.Get(acme.TSIGSecretName); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TSIG secret after a refused install: %v, want none", err)
	}

	pub := &public.Public{Store: st, Dir: t.TempDir(), ExtraRoots: roots}
	c := issue(90 * 24 * time.Hour)
	if err := s.Install(pub, c, []byte("c2VjcmV0")); err != nil {
		t.Fatal(err)
	}
	if cur, err := pub.Current(); err != nil || !cur.Chain[0].Equal(c.Chain[0]) {
		t.Errorf("Current after Install = %v, want the installed certificate", err)
	}
	if got, err := st.Get(acme.TSIGSecretName); err != nil || string(got) != "c2VjcmV0" {
		t.Errorf("stored TSIG secret = %q, %v", got, err)
	}
	saved, err := acme.LoadSettings(pub.Dir)
	if err != nil || !reflect.DeepEqual(saved, s) {
		t.Errorf("LoadSettings = %+v, %v; want %+v", saved, err, s)
	}
	data, _ := os.ReadFile(filepath.Join(pub.Dir, acme.SettingsFile))
	if strings.Contains(string(data), "c2VjcmV0") {
		t.Errorf("%s holds the TSIG secret", acme.SettingsFile)
	}
}

func TestTSIGSecretFromStore(t *testing.T) {
	st := store.NewMemory()
	if _, err := acme.TSIGSecret("", st); !errors.Is(err, acme.ErrNoTSIGSecret) {
		t.Errorf("TSIGSecret with no file and none stored = %v, want ErrNoTSIGSecret", err)
	}
	st.Set(acme.TSIGSecretName, []byte("c2VjcmV0"))
	if b, err := acme.TSIGSecret("", st); err != nil || string(b) != "c2VjcmV0" {
		t.Errorf("TSIGSecret from the store = %q, %v", b, err)
	}
}

func TestExtraRootsClient(t *testing.T) {
	t.Setenv(public.ExtraRootsEnv, "")
	if c, err := acme.ExtraRootsClient(); c != nil || err != nil {
		t.Errorf("ExtraRootsClient unset = %v, %v; want nil, nil (Obtain's default)", c, err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "roots.pem")
	os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	t.Setenv(public.ExtraRootsEnv, file)
	c, err := acme.ExtraRootsClient()
	if err != nil || c == nil {
		t.Fatalf("ExtraRootsClient = %v, %v", c, err)
	}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("GET a server whose certificate is in %s: %v", public.ExtraRootsEnv, err)
	}
	resp.Body.Close()
}
