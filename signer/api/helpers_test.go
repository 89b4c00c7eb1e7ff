package api_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
	"github.com/aws-sso-agent/aws-sso-agent/signer/api"
	"github.com/aws-sso-agent/aws-sso-agent/signer/protocol"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

const zone = "signer.test"

// testCA is a unit test's Issuer: it signs what it is given with a CA
// of its own, or fails as told. The end-to-end tests use Pebble instead.
type testCA struct {
	key  crypto.Signer
	cert *x509.Certificate

	mu      sync.Mutex
	issued  int
	revoked [][]byte
	fail    error // Issue returns it when set
	// wrongKey makes Issue certify another key than the CSR's.
	wrongKey bool
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{key: key, cert: cert}
}

func (ca *testCA) Issue(ctx context.Context, csr *x509.CertificateRequest) ([]byte, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if ca.fail != nil {
		return nil, ca.fail
	}
	ca.issued++
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	pub := csr.PublicKey
	if ca.wrongKey {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		pub = k.Public()
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: serial, DNSNames: csr.DNSNames,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(90 * 24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca.cert, pub, ca.key)
	if err != nil {
		return nil, err
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})...), nil
}

func (ca *testCA) Revoke(ctx context.Context, der []byte) error {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.revoked = append(ca.revoked, der)
	return nil
}

func (ca *testCA) counts() (issued, revoked int) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.issued, len(ca.revoked)
}

// syncBuffer collects the audit log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is a running API on SQLite with two accounts: alice (hostnames
// alice and alice2, key aliceKey for both) and bob (hostname bob, key
// bobKey).
type fixture struct {
	t                testing.TB
	handler          http.Handler
	db               *store.DB
	ca               *testCA
	srv              *httptest.Server
	audit            *syncBuffer
	aliceKey, bobKey string
}

func newFixture(t testing.TB, tweak func(*api.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+t.TempDir()+"/signer.db", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{t: t, db: db, ca: newTestCA(t), audit: &syncBuffer{}}
	for _, a := range []struct {
		user   string
		labels []string
		key    *string
	}{{"alice", []string{"alice", "alice2"}, &f.aliceKey}, {"bob", []string{"bob"}, &f.bobKey}} {
		if _, err := db.AddAccount(ctx, a.user, a.user+"@example.com", "$argon2id$unused"); err != nil {
			t.Fatal(err)
		}
		for _, l := range a.labels {
			if _, err := db.AddHostname(ctx, a.user, l, 5); err != nil {
				t.Fatal(err)
			}
		}
		key, hash, _ := signer.NewAPIKey()
		if _, err := db.CreateKey(ctx, a.user, a.labels, hash); err != nil {
			t.Fatal(err)
		}
		*a.key = key
	}
	cfg := api.Config{Zone: zone, Store: db, Issuer: f.ca, Audit: slog.New(slog.NewJSONHandler(f.audit, nil)),
		Limits: api.Limits{PerIP: 1000, IPBurst: 1000, PerKey: 1000, KeyBurst: 1000}}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.handler = s
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	return f
}

// do sends body (a string as is, else JSON) with key as the bearer.
func (f *fixture) do(method, path, key string, body any, headers ...string) (*http.Response, []byte) {
	f.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, r)
	if err != nil {
		f.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

// sign asks for a certificate for name with a fresh P-256 key.
func (f *fixture) sign(key, name string) (*http.Response, []byte) {
	f.t.Helper()
	return f.do("POST", protocol.PathCertificates, key, protocol.SignRequest{CSR: string(csrFor(f.t, name, nil))})
}

func csrFor(t testing.TB, name string, key crypto.Signer) []byte {
	t.Helper()
	if key == nil {
		key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	tmpl := &x509.CertificateRequest{}
	if name != "" {
		tmpl.DNSNames = strings.Split(name, ",")
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// wantError checks a refusal's status and code.
func wantError(t *testing.T, resp *http.Response, body []byte, status int, code string) protocol.Error {
	t.Helper()
	var e protocol.ErrorResponse
	if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != status || e.Error.Code != code {
		t.Fatalf("got %d %s; want %d with code %s", resp.StatusCode, body, status, code)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	return e.Error
}

// csrWithIP is a CSR for alice's name that also asks for 127.0.0.1.
func csrWithIP(t testing.TB) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		DNSNames: []string{"alice." + zone}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}
