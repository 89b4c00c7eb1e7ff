package signer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/certs/internal/certstest"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/signer/protocol"
)

const testFQDN = "alice.signer.test"

// testCA signs leaves for the fake service.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signer test root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key}
}

func (ca *testCA) sign(t *testing.T, csr *x509.CertificateRequest, names []string) []byte {
	tmpl := &x509.Certificate{
		SerialNumber: certstest.Serial(), DNSNames: names,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(6 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, csr.PublicKey, ca.key)
	if err != nil {
		t.Error(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// fakeService speaks the API's protocol for the client's unit tests; the
// real service is exercised in e2e/signer_test.go.
type fakeService struct {
	*httptest.Server
	key    string
	status atomic.Int32 // a refusal to answer with, 0 for none
	signed atomic.Int32
	names  []string // what the certificate is for; nil: the CSR's names
	csrs   chan *x509.CertificateRequest
}

func newFakeService(t *testing.T, ca *testCA, key string) *fakeService {
	t.Helper()
	f := &fakeService{key: key, csrs: make(chan *x509.CertificateRequest, 10)}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		refuse := func(status int, code, msg string) {
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(protocol.ErrorResponse{Error: protocol.Error{Code: code, Message: msg}})
		}
		if s := int(f.status.Load()); s != 0 {
			if s == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "30")
			}
			refuse(s, protocol.CodeRateLimited, "slow down \x1b[31mred\x1b[0m")
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+f.key {
			refuse(http.StatusUnauthorized, protocol.CodeUnauthorized, "api key not accepted")
			return
		}
		switch r.URL.Path {
		case protocol.PathCertificates:
			var req protocol.SignRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				refuse(http.StatusBadRequest, protocol.CodeBadRequest, err.Error())
				return
			}
			b, _ := pem.Decode([]byte(req.CSR))
			csr, err := x509.ParseCertificateRequest(b.Bytes)
			if err != nil {
				refuse(http.StatusBadRequest, protocol.CodeBadCSR, err.Error())
				return
			}
			f.csrs <- csr
			names := f.names
			if names == nil {
				names = csr.DNSNames
			}
			f.signed.Add(1)
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(protocol.Certificate{Serial: "ab", Hostname: csr.DNSNames[0], Chain: string(ca.sign(t, csr, names))})
		case protocol.PathRevoke:
			var req protocol.RevokeRequest
			json.NewDecoder(r.Body).Decode(&req)
			json.NewEncoder(w).Encode(protocol.Certificate{Serial: req.Serial, Hostname: testFQDN})
		default:
			refuse(http.StatusNotFound, protocol.CodeNotFound, "no such path")
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeService) url(t *testing.T) string {
	u, err := NormalizeServiceURL(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestObtainFailsOver(t *testing.T) {
	ca := newTestCA(t)
	busy := newFakeService(t, ca, "sgk_busy")
	busy.status.Store(http.StatusServiceUnavailable)
	noKey := newFakeService(t, ca, "sgk_nokey")
	good := newFakeService(t, ca, "sgk_good")
	st := certstest.NewMemStore()
	st.Set(APIKeyName(busy.url(t)), []byte("sgk_busy"))
	st.Set(APIKeyName(good.url(t)), []byte("sgk_good"))

	pc, err := Obtain(context.Background(), Config{
		FQDN: testFQDN, Services: []string{busy.url(t), noKey.url(t), good.url(t)},
		Store: st, HTTPClient: good.Client(), // every httptest server has the same certificate
	})
	if err != nil {
		t.Fatal(err)
	}
	if pc.FQDN != testFQDN || pc.Chain[0].DNSNames[0] != testFQDN {
		t.Errorf("certificate for %v", pc.Chain[0].DNSNames)
	}
	csr := <-good.csrs
	if len(csr.DNSNames) != 1 || csr.DNSNames[0] != testFQDN || len(csr.IPAddresses) != 0 || csr.Subject.CommonName != "" {
		t.Errorf("CSR names %v %v %q, want only %s", csr.DNSNames, csr.IPAddresses, csr.Subject.CommonName, testFQDN)
	}
	if !pc.Key.Public().(*ecdsa.PublicKey).Equal(csr.PublicKey) {
		t.Error("the returned key is not the CSR's")
	}
	if noKey.signed.Load() != 0 || len(noKey.csrs) != 0 {
		t.Error("a service without an API key was asked")
	}

	// Each Obtain makes a new key.
	pc2, err := Obtain(context.Background(), Config{FQDN: testFQDN, Services: []string{good.url(t)}, Store: st, HTTPClient: good.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if pc2.Key.Public().(*ecdsa.PublicKey).Equal(pc.Key.Public()) {
		t.Error("the same key twice")
	}
}

func TestObtainRefusals(t *testing.T) {
	ca := newTestCA(t)
	svc := newFakeService(t, ca, "sgk_k")
	st := certstest.NewMemStore()
	st.Set(APIKeyName(svc.url(t)), []byte("sgk_k"))
	cfg := Config{FQDN: testFQDN, Services: []string{svc.url(t)}, Store: st, HTTPClient: svc.Client()}

	if _, err := Obtain(context.Background(), Config{FQDN: testFQDN, Services: []string{svc.url(t)}, Store: certstest.NewMemStore()}); !errors.Is(err, ErrNoService) {
		t.Errorf("no key stored: %v, want ErrNoService", err)
	}

	svc.names = []string{testFQDN, "other.signer.test"}
	if _, err := Obtain(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "want only") {
		t.Errorf("a certificate with an extra name: %v", err)
	}
	svc.names = []string{"bob.signer.test"}
	if _, err := Obtain(context.Background(), cfg); err == nil {
		t.Error("a certificate for another name was taken")
	}
	svc.names = nil

	svc.status.Store(http.StatusTooManyRequests)
	_, err := Obtain(context.Background(), cfg)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 429 || apiErr.RetryAfter != 30*time.Second || !apiErr.Retryable() {
		t.Fatalf("429: %#v", err)
	}
	if strings.Contains(apiErr.Message, "\x1b") {
		t.Errorf("terminal escape from the service kept: %q", apiErr.Message)
	}
	svc.status.Store(0)

	st.Set(APIKeyName(svc.url(t)), []byte("sgk_wrong"))
	_, err = Obtain(context.Background(), cfg)
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Code != protocol.CodeUnauthorized || apiErr.Retryable() {
		t.Errorf("wrong key: %v", err)
	}
	if strings.Contains(err.Error(), "sgk_wrong") {
		t.Errorf("the API key is in the error: %v", err)
	}
}

func TestNormalizeServiceURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://Signer.Example.org/", "https://signer.example.org"},
		{"https://signer.example.org:8443/base", "https://signer.example.org:8443/base"},
		{"http://signer.example.org", ""},
		{"https://user:pw@signer.example.org", ""},
		{"https://signer.example.org/?k=v", ""},
		{"signer.example.org", ""},
		{"https://", ""},
	} {
		got, err := NormalizeServiceURL(tt.in)
		if (err != nil) != (tt.want == "") || got != tt.want {
			t.Errorf("NormalizeServiceURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestInstallAndRenewer(t *testing.T) {
	ca := newTestCA(t)
	svc := newFakeService(t, ca, "sgk_k")
	st := certstest.NewMemStore()
	st.Set(APIKeyName(svc.url(t)), []byte("sgk_k"))
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	pub := &public.Public{Store: st, Dir: t.TempDir(), ExtraRoots: roots}
	if err := os.WriteFile(filepath.Join(pub.Dir, acme.SettingsFile), []byte(`{"fqdn":"x.example.org"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Settings{Services: []string{svc.url(t)}}
	pc, err := Obtain(context.Background(), Config{FQDN: testFQDN, Services: s.Services, Store: st, HTTPClient: svc.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if err := Install(pub, s, pc); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(pub.Dir, acme.SettingsFile)); !errors.Is(err, os.ErrNotExist) {
		t.Error("the ACME settings are still there: the agent would renew by ACME")
	}
	got, err := LoadSettings(pub.Dir)
	if err != nil || got.FQDN != testFQDN || len(got.Services) != 1 {
		t.Fatalf("settings %+v, %v", got, err)
	}

	// The renewer renews through the service, with a new key.
	r, err := NewRenewer(pub, got, svc.Client(), acme.RenewerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Renew(context.Background()); err != nil {
		t.Fatal(err)
	}
	cur, err := pub.Current()
	if err != nil {
		t.Fatal(err)
	}
	if cur.Chain[0].Equal(pc.Chain[0]) || cur.Key.Public().(*ecdsa.PublicKey).Equal(pc.Key.Public()) {
		t.Error("renewal installed nothing new, or kept the key")
	}
	if svc.signed.Load() != 2 {
		t.Errorf("%d signings, want 2", svc.signed.Load())
	}

	// Settings without a name (only `certs api-key` so far) renew nothing.
	if _, err := NewRenewer(pub, &Settings{Services: got.Services}, nil, acme.RenewerConfig{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NewRenewer without a name: %v, want os.ErrNotExist", err)
	}
}

func TestRevoke(t *testing.T) {
	svc := newFakeService(t, newTestCA(t), "sgk_k")
	c := &Client{Service: svc.url(t), APIKey: "sgk_k", HTTPClient: svc.Client()}
	got, err := c.Revoke(context.Background(), "0abc")
	if err != nil || got.Serial != "0abc" {
		t.Errorf("Revoke = %+v, %v", got, err)
	}
}

// TestAPIErrorRedactsKey: a refusal that echoes the API key shows it as
// "[api key]", and a client without a key leaves the message as it is.
func TestAPIErrorRedactsKey(t *testing.T) {
	const key = "sgk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(protocol.ErrorResponse{Error: protocol.Error{Code: "unauthorized", Message: "bad key " + key}})
	}))
	defer srv.Close()
	for _, tc := range []struct{ key, want string }{
		{key, "bad key [api key]"},
		{"", "bad key " + key},
	} {
		_, err := (&Client{Service: srv.URL, APIKey: tc.key, HTTPClient: srv.Client()}).List(context.Background())
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Fatalf("key %q: err = %v, want an *APIError", tc.key, err)
		}
		if ae.Message != tc.want || ae.Code != "unauthorized" {
			t.Errorf("key %q: code %q message %q, want unauthorized %q", tc.key, ae.Code, ae.Message, tc.want)
		}
	}
}
