package localca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/internal/certstest"
)

// memStore is the store of the tests: it can list what it holds.
type memStore = certstest.MemStore

func newMemStore() *memStore { return certstest.NewMemStore() }

// fakeClock is a settable clock for injecting as Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testStart is the fake "now" of tests that do not talk TLS with the real
// clock.
var testStart = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// newTestCA creates a CA in a fresh directory and store.
func newTestCA(t *testing.T) (*CA, *memStore, string) {
	t.Helper()
	st := newMemStore()
	dir := t.TempDir()
	ca, err := LoadOrCreate(st, dir, time.Now)
	if err != nil {
		t.Fatalf("LoadOrCreateCA: %v", err)
	}
	return ca, st, dir
}

// forgeLeaf signs, with the intermediate's key, a leaf for names the
// intermediate is not allowed to vouch for: what a thief of the
// intermediate key would do. x509.CreateCertificate does not check name
// constraints, so this succeeds; verification must catch it.
func forgeLeaf(t *testing.T, ca *CA, dnsNames []string, ips []net.IP) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cn := "forged"
	if len(dnsNames) > 0 {
		cn = dnsNames[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.inter, key.Public(), ca.interKey)
	if err != nil {
		t.Fatalf("forge leaf: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// verifyLeaf verifies leaf against ca's root, with ca's intermediate, for
// name ("" checks the chain and the name constraints only).
func verifyLeaf(ca *CA, leaf *x509.Certificate, name string, at time.Time) error {
	inters := x509.NewCertPool()
	inters.AddCert(ca.Intermediate())
	_, err := leaf.Verify(x509.VerifyOptions{
		DNSName:       name,
		Roots:         ca.Pool(),
		Intermediates: inters,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

func certPEM(c *x509.Certificate) []byte { return certstest.CertPEM(c) }
