package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fakeagent"
	"github.com/aws-sso-agent/aws-sso-agent/remote"
)

const testFQDN = "agent.example.test"

// resolverFunc answers lookups for the test: the remote host's DNS.
type resolverFunc func(host string) ([]netip.Addr, error)

func (f resolverFunc) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	return f(host)
}

func answers(addrs ...string) resolverFunc {
	return func(host string) ([]netip.Addr, error) {
		if host != testFQDN {
			return nil, errors.New("unexpected lookup of " + host)
		}
		var out []netip.Addr
		for _, a := range addrs {
			out = append(out, netip.MustParseAddr(a))
		}
		return out, nil
	}
}

// publicFixture is a fake agent whose one certificate stands for both:
// issued by the session's pinned CA for 127.0.0.1 (the proof) and valid
// for testFQDN under roots the test treats as the public ones. The
// session file carries testFQDN.
type publicFixture struct {
	*fixture
	roots *x509.CertPool
}

func newPublicFixture(t *testing.T) *publicFixture {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test public root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: testFQDN},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{testFQDN}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, root, leafKey.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(cfg *fakeagent.Config, s *fakeagent.Session) {
		cfg.Creds["dev"] = testCreds
		cfg.Cert = tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}
		s.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER})
		s.CA, _ = x509.ParseCertificate(rootDER)
		s.FQDN = testFQDN // as the agent writes it
	})
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &publicFixture{fixture: f, roots: pool}
}

func (f *publicFixture) runWith(t *testing.T, r remote.Resolver, roots *x509.CertPool, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{
		stdout: &out,
		stderr: &errb,
		getenv: func(string) string { return "" },
		finder: &remote.Finder{
			Dir:       f.root,
			Getenv:    func(string) string { return "" },
			Ancestors: func() ([]int, error) { return []int{f.sess.SSHDPID}, nil },
		},
		systemRoots: func(func(string) string, string) ([]byte, string, error) { return f.fixture.roots, "test", nil },
		timeout:     5 * time.Second,
		resolver:    r,
		publicRoots: roots,
	}
	code = c.run(args)
	return out.String(), errb.String(), code
}

func TestEnvPublicName(t *testing.T) {
	f := newPublicFixture(t)
	port := itoa(f.server.Port)
	untrusted := x509.NewCertPool()
	for _, tc := range []struct {
		name       string
		r          remote.Resolver
		roots      *x509.CertPool
		args       []string
		wantURL    string
		trustVars  bool
		wantStderr string
	}{
		{"default", answers("127.0.0.1"), f.roots, nil, "https://" + testFQDN + ":" + port + "/", false, ""},
		{"both loopbacks", answers("127.0.0.1", "::1"), f.roots, nil, "https://" + testFQDN + ":" + port + "/", false, ""},
		{"--tls", answers("127.0.0.1"), f.roots, []string{"--tls"}, "https://" + testFQDN + ":" + port + "/", false, ""},
		{"slot", answers("127.0.0.1"), f.roots, []string{"--slot", "dev"}, "https://" + testFQDN + ":" + port + "/slot/dev", false, ""},
		{"poisoned DNS", answers("203.0.113.9"), f.roots, nil, "http://127.0.0.1:" + port + "/", false, "resolves to 203.0.113.9"},
		{"partly poisoned DNS", answers("127.0.0.1", "203.0.113.9"), f.roots, nil, "http://127.0.0.1:" + port + "/", false, "203.0.113.9"},
		{"poisoned DNS, --tls", answers("203.0.113.9"), f.roots, []string{"--tls"}, "https://127.0.0.1:" + port + "/", true, "resolves to 203.0.113.9"},
		{"no such name", resolverFunc(func(string) ([]netip.Addr, error) { return nil, &net.DNSError{Err: "no such host", IsNotFound: true} }),
			f.roots, nil, "http://127.0.0.1:" + port + "/", false, "does not resolve"},
		{"certificate not trusted here", answers("127.0.0.1"), untrusted, nil, "http://127.0.0.1:" + port + "/", false, "not trusted here"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := f.runWith(t, tc.r, tc.roots, append([]string{"env"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			env := evalSh(t, "sh", out)
			if got := env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]; got != tc.wantURL {
				t.Errorf("URL %q, want %q", got, tc.wantURL)
			}
			if _, ok := env["SSL_CERT_FILE"]; ok != tc.trustVars {
				t.Errorf("SSL_CERT_FILE exported: %v, want %v", ok, tc.trustVars)
			}
			if tc.wantStderr == "" && stderr != "" {
				t.Errorf("stderr %q, want nothing", stderr)
			}
			if tc.wantStderr != "" && (!strings.Contains(stderr, tc.wantStderr) || !strings.Contains(stderr, "not using https://"+testFQDN)) {
				t.Errorf("stderr %q, want it to say why (%q)", stderr, tc.wantStderr)
			}
		})
	}

	// The exported public URL works for a client that trusts only the
	// "public" roots and resolves the name to loopback.
	out, _, _ := f.runWith(t, answers("127.0.0.1"), f.roots, "env")
	env := evalSh(t, "sh", out)
	tok, _ := os.ReadFile(env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"])
	req, _ := http.NewRequest("GET", env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], nil)
	req.Header.Set("Authorization", string(tok))
	// The fake agent accepts only Host 127.0.0.1; the real one also
	// accepts its public name (agent.EndpointConfig.AllowedHosts). What
	// matters here is that TLS verifies for the name.
	req.Host = "127.0.0.1:" + port
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: f.roots, ServerName: testFQDN},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, p, _ := net.SplitHostPort(addr)
			return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", p))
		},
	}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", req.URL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET %s: status %d, want 200", req.URL, resp.StatusCode)
	}
}

func TestCheckPublicName(t *testing.T) {
	f := newPublicFixture(t)
	out, stderr, code := f.runWith(t, answers("127.0.0.1"), f.roots, "check", "--json")
	var r checkReport
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
		t.Fatalf("check --json: exit %d, %v: %s %s", code, err, out, stderr)
	}
	if want := "https://" + testFQDN + ":" + itoa(f.server.Port) + "/"; r.FQDN != testFQDN || r.PublicURL != want || r.PublicError != "" {
		t.Errorf("report %+v, want fqdn %s and public URL %s", r, testFQDN, want)
	}
	out, _, code = f.runWith(t, answers("203.0.113.9"), f.roots, "check")
	if code != 0 || !strings.Contains(out, "public   "+testFQDN+" not used: ") || !strings.Contains(out, "203.0.113.9") {
		t.Errorf("check with poisoned DNS: exit %d:\n%s", code, out)
	}
}
