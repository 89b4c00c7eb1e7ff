// Package signertest holds what tests of aws-sso-signer share: an Issuer
// that signs with a CA of its own, for unit tests of the API and the
// command line. The end-to-end tests order from Pebble instead.
package signertest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/testca"
	"github.com/aws-sso-agent/aws-sso-agent/signer"
)

// CA is a signer.Issuer that certifies each CSR's key and names for 90
// days with a testca root, or fails as told.
type CA struct {
	root *testca.CA
	Cert *x509.Certificate

	mu      sync.Mutex
	issued  int
	revoked [][]byte
	fail    error
	wrong   bool
}

var _ signer.Issuer = (*CA)(nil)

// NewCA returns a CA with a fresh P-256 root.
func NewCA(t testing.TB) *CA {
	t.Helper()
	root := testca.New(t, "signertest CA")
	return &CA{root: root, Cert: root.Cert}
}

// Fail makes Issue return err (nil: succeed again).
func (ca *CA) Fail(err error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.fail = err
}

// CertifyWrongKey makes Issue certify another key than the CSR's, as a
// confused CA might.
func (ca *CA) CertifyWrongKey() {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.wrong = true
}

// Issue implements signer.Issuer.
func (ca *CA) Issue(ctx context.Context, csr *x509.CertificateRequest) ([]byte, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if ca.fail != nil {
		return nil, ca.fail
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	pub := csr.PublicKey
	if ca.wrong {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		pub = k.Public()
	}
	der, err := ca.root.Certify(&x509.Certificate{SerialNumber: serial, DNSNames: csr.DNSNames,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(90 * 24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, pub)
	if err != nil {
		return nil, err
	}
	ca.issued++
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})...), nil
}

// Revoke implements signer.Issuer; it records der.
func (ca *CA) Revoke(ctx context.Context, der []byte) error {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.revoked = append(ca.revoked, der)
	return nil
}

// Counts says how many certificates Issue issued and Revoke revoked.
func (ca *CA) Counts() (issued, revoked int) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.issued, len(ca.revoked)
}

// Revoked returns the DER of the certificates revoked so far.
func (ca *CA) Revoked() [][]byte {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return append([][]byte(nil), ca.revoked...)
}

// CSR returns a PEM CSR for names with a fresh P-256 key.
func CSR(t testing.TB, names ...string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}
