package api_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/signertest"
	"github.com/aws-sso-agent/aws-sso-agent/signer"
	"github.com/aws-sso-agent/aws-sso-agent/signer/api"
	"github.com/aws-sso-agent/aws-sso-agent/signer/protocol"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

const zone = "signer.test"

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
	ca               *signertest.CA
	srv              *httptest.Server
	audit            *syncBuffer
	aliceKey, bobKey string
}

func newFixture(t testing.TB, tweak func(*api.Config)) *fixture {
	t.Helper()
	return newFixtureOn(t, "sqlite:"+t.TempDir()+"/signer.db", tweak)
}

// newFixtureOn is newFixture on the empty database at dbURL.
func newFixtureOn(t testing.TB, dbURL string, tweak func(*api.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{t: t, db: db, ca: signertest.NewCA(t), audit: &syncBuffer{}}
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
