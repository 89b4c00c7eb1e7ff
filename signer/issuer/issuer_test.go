package issuer

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/certificate"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
)

// TestIssueAgainstPebble orders a certificate for a CSR from Pebble, which
// validates DNS-01 by asking the signer's own DNS server.
func TestIssueAgainstPebble(t *testing.T) {
	env := newTestEnv(t)
	is, err := New(env.config())
	if err != nil {
		t.Fatal(err)
	}
	csr, key := newCSR(t, "alice."+testZone)
	chainPEM, err := is.Issue(context.Background(), csr)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := parseChain(chainPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(env.pebble.Root(t))
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{DNSName: "alice." + testZone, Roots: roots, Intermediates: inter}); err != nil {
		t.Errorf("chain does not verify to Pebble's root: %v", err)
	}
	if !key.PublicKey.Equal(chain[0].PublicKey) {
		t.Error("certificate is not for the CSR's key")
	}
	if env.chal.sets != 1 || env.chal.records() != 0 {
		t.Errorf("challenge records: %d set, %d left; want 1 set and none left", env.chal.sets, env.chal.records())
	}
	if _, err := env.state.Blob(context.Background(), AccountKeyBlob); err != nil {
		t.Errorf("account key not kept in the store: %v", err)
	}

	// A second issuance uses the same account: the stored key.
	before, _ := env.state.Blob(context.Background(), AccountKeyBlob)
	csr2, _ := newCSR(t, "alice."+testZone)
	if _, err := is.Issue(context.Background(), csr2); err != nil {
		t.Fatal(err)
	}
	after, _ := env.state.Blob(context.Background(), AccountKeyBlob)
	if !bytes.Equal(before, after) {
		t.Error("the account key changed between issuances")
	}

	if err := is.Revoke(context.Background(), chain[0].Raw); err != nil {
		t.Errorf("Revoke: %v", err)
	}
}

// recordingTransport keeps the JWS payloads posted to new-order URLs.
type recordingTransport struct {
	base     http.RoundTripper
	mu       sync.Mutex
	payloads []string
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.Contains(req.URL.Path, "order") && req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		var jws struct{ Payload string }
		if json.Unmarshal(b, &jws) == nil {
			if p, err := base64.RawURLEncoding.DecodeString(jws.Payload); err == nil {
				r.mu.Lock()
				r.payloads = append(r.payloads, string(p))
				r.mu.Unlock()
			}
		}
	}
	return r.base.RoundTrip(req)
}

type historyFunc func(context.Context, string) (*x509.Certificate, error)

func (f historyFunc) Replaced(ctx context.Context, fqdn string) (*x509.Certificate, error) {
	return f(ctx, fqdn)
}

// TestIssueNamesTheReplacedCertificate checks the ARI "replaces" field of
// a renewal's order, which Pebble's directory offers.
func TestIssueNamesTheReplacedCertificate(t *testing.T) {
	env := newTestEnv(t)
	cfg := env.config()
	rec := &recordingTransport{base: env.pebble.Client.Transport}
	cfg.HTTPClient = &http.Client{Transport: rec}
	var prev *x509.Certificate
	cfg.History = historyFunc(func(_ context.Context, fqdn string) (*x509.Certificate, error) {
		if fqdn != "alice."+testZone {
			t.Errorf("History asked for %q", fqdn)
		}
		return prev, nil
	})
	is, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := newCSR(t, "alice."+testZone)
	first, err := is.Issue(context.Background(), csr)
	if err != nil {
		t.Fatal(err)
	}
	chain, _ := parseChain(first)
	prev = chain[0]
	if _, err := is.Issue(context.Background(), csr); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var orders []string
	for _, p := range rec.payloads {
		if strings.Contains(p, `"identifiers"`) {
			orders = append(orders, p)
		}
	}
	if len(orders) != 2 {
		t.Fatalf("saw %d new orders, want 2: %q", len(orders), rec.payloads)
	}
	if strings.Contains(orders[0], "replaces") {
		t.Errorf("first order names a replaced certificate: %s", orders[0])
	}
	id, _ := certificate.MakeARICertID(prev)
	if !strings.Contains(orders[1], `"replaces":"`+id+`"`) {
		t.Errorf("renewal order %s does not replace %s", orders[1], id)
	}
}

// TestIssueValidationFailed has Pebble ask a DNS server that serves none
// of the records: the refusal is signer.ErrValidationFailed, and the
// challenge record is cleaned up.
func TestIssueValidationFailed(t *testing.T) {
	env := newTestEnv(t)
	// Pebble asks env.dns, which never gets the record; the issuer's own
	// check asks the zone that does.
	other, otherAddr := startZone(t)
	env.chal.zone = other
	cfg := env.config()
	cfg.Nameservers = []string{otherAddr}
	is, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := newCSR(t, "alice."+testZone)
	_, err = is.Issue(context.Background(), csr)
	if !errors.Is(err, signer.ErrValidationFailed) {
		t.Fatalf("Issue = %v, want ErrValidationFailed", err)
	}
	if env.chal.records() != 0 {
		t.Error("challenge record left behind after a failed validation")
	}
}

func TestIssueRefusesCSRWithoutOneName(t *testing.T) {
	is, err := New(Config{Directory: "https://ca.invalid/dir", State: &memState{}, NotFound: errNotFound, Challenges: &zoneChallenges{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, names := range [][]string{nil, {"a." + testZone, "b." + testZone}} {
		csr, _ := newCSR(t, names...)
		if _, err := is.Issue(context.Background(), csr); err == nil {
			t.Errorf("Issue took a CSR for %v", names)
		}
	}
}

// TestIssueEndsWithItsContext cancels an issuance whose CA never answers.
func TestIssueEndsWithItsContext(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	cfg := Config{
		Directory: "https://127.0.0.1:1/dir",
		HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			select {
			case <-r.Context().Done():
				return nil, r.Context().Err()
			case <-hang:
				return nil, errors.New("unreachable")
			}
		})},
		State: &memState{}, NotFound: errNotFound, Challenges: &zoneChallenges{},
	}
	is, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	csr, _ := newCSR(t, "alice."+testZone)
	if _, err := is.Issue(ctx, csr); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Issue = %v, want the context's deadline", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
