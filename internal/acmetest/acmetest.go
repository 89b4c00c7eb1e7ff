// Package acmetest runs the real peers of the ACME tests: Let's Encrypt's
// Pebble, an ACME server for tests, and Knot, an authoritative DNS server
// taking TSIG-signed RFC 2136 updates, which Pebble asks for the DNS-01
// records. scripts/install-test-peers installs both. A test whose peer is
// missing is skipped, or fails under AWS_SSO_AGENT_REQUIRE_PEERS=1
// (e2e.PeerMissing).
package acmetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// PebbleDirEnv names a directory holding the pebble binary, for machines
// where it is neither on PATH nor in the test cache directory
// (os.UserCacheDir()/aws-sso-agent-test/pebble, where install-test-peers
// puts it).
const PebbleDirEnv = "AWS_SSO_AGENT_PEBBLE_DIR"

// Zone is the zone Knot serves, FQDN the name certificates are for (it has
// an A record 127.0.0.1), and TSIGKeyName the name of the key that may
// update the zone.
const (
	Zone        = "acme.test"
	FQDN        = "agent." + Zone
	TSIGKeyName = "acme-update-key."
)

// lookPeer finds a peer's binary on PATH, in $AWS_SSO_AGENT_PEBBLE_DIR, in
// the cache directory install-test-peers fills, or in /usr/sbin, where
// Debian puts knotd and which a user's PATH often lacks.
func lookPeer(t testing.TB, name, hint string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	dirs := []string{"/usr/sbin"}
	if d := os.Getenv(PebbleDirEnv); d != "" {
		dirs = append(dirs, d)
	}
	if d, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(d, "aws-sso-agent-test", "pebble"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	e2e.PeerMissing(t, "%s not found on PATH or in %s (%s)", name, strings.Join(dirs, ", "), hint)
	return ""
}

// Knot is a running knotd serving Zone.
type Knot struct {
	Addr       string // 127.0.0.1:PORT
	TSIGSecret string // base64
	Algorithm  string // hmac-sha256
}

// StartKnot runs knotd on a free port with Zone, which accepts updates
// signed with a fresh TSIG key (TSIGKeyName). It is stopped in t.Cleanup.
func StartKnot(t testing.TB) *Knot {
	t.Helper()
	bin := lookPeer(t, "knotd", "apt-get install knot")
	dir := t.TempDir()
	secret := make([]byte, 32)
	rand.Read(secret)
	k := &Knot{TSIGSecret: base64.StdEncoding.EncodeToString(secret), Algorithm: "hmac-sha256"}
	zone := fmt.Sprintf(`$ORIGIN %[1]s.
$TTL 60
@ SOA ns.%[1]s. hostmaster.%[1]s. 1 3600 600 86400 60
@ NS ns
ns A 127.0.0.1
agent A 127.0.0.1
`, Zone)
	if err := os.WriteFile(filepath.Join(dir, Zone+".zone"), []byte(zone), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		port := e2e.FreePort(t)
		conf := fmt.Sprintf(`server:
    listen: 127.0.0.1@%[1]d
    rundir: %[2]s
database:
    storage: %[2]s
key:
  - id: %[3]s
    algorithm: %[4]s
    secret: %[5]s
acl:
  - id: acme-update
    key: %[3]s
    action: update
template:
  - id: default
    storage: %[2]s
    file: "%%s.zone"
zone:
  - domain: %[6]s
    acl: acme-update
log:
  - target: stderr
    any: info
`, port, dir, TSIGKeyName, k.Algorithm, k.TSIGSecret, Zone)
		cf := filepath.Join(dir, "knot.conf")
		if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		p := e2e.StartProcess(t, e2e.CleanEnv(t), bin, "-c", cf)
		k.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && p.Running() {
			if addrs, err := ResolverAt(k.Addr).LookupHost(context.Background(), "ns."+Zone); err == nil && len(addrs) > 0 {
				return k
			}
			time.Sleep(50 * time.Millisecond)
		}
		out := p.Output()
		_ = p.Stop()
		if strings.Contains(out, "Address already in use") {
			continue
		}
		t.Fatalf("knotd did not serve %s: output:\n%s", Zone, out)
	}
	t.Fatal("knotd: every free port was taken before it bound it")
	return nil
}

// ResolverAt returns a resolver asking only addr.
func ResolverAt(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// Pebble is a running Pebble.
type Pebble struct {
	Directory string       // ACME directory URL
	Client    *http.Client // trusts Pebble's HTTPS certificate
	TLSCert   []byte       // PEM of Pebble's HTTPS certificate
	mgmt      string       // management API base URL
}

// StartPebble runs Pebble on free ports, validating DNS-01 through the DNS
// server at dns (host:port), without its random validation delays
// (PEBBLE_VA_NOSLEEP) and without reusing authorizations, so every order
// proves control of the name again. It is stopped in t.Cleanup.
func StartPebble(t testing.TB, dns string) *Pebble {
	t.Helper()
	return StartPebbleValidity(t, dns, 90*24*time.Hour)
}

// StartPebbleValidity is StartPebble issuing certificates valid for
// validity (Let's Encrypt's 90 days in StartPebble): a short one lets a
// test watch a running agent renew.
func StartPebbleValidity(t testing.TB, dns string, validity time.Duration) *Pebble {
	t.Helper()
	bin := lookPeer(t, "pebble", "go install github.com/letsencrypt/pebble/v2/cmd/pebble@latest")
	dir := t.TempDir()
	certFile, keyFile, pool := pebbleTLS(t, dir)
	tlsPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	env := e2e.CleanEnv(t,
		"PEBBLE_VA_NOSLEEP=1",
		"PEBBLE_AUTHZREUSE=0",
		// No injected bad nonces: lego retries them, but they make the
		// timing of a test less predictable.
		"PEBBLE_WFE_NONCEREJECT=0",
	)
	for range 5 {
		port, mport := e2e.FreePort(t), e2e.FreePort(t)
		conf := fmt.Sprintf(`{"pebble": {
  "listenAddress": "127.0.0.1:%d",
  "managementListenAddress": "127.0.0.1:%d",
  "certificate": %q, "privateKey": %q,
  "httpPort": 5002, "tlsPort": 5001, "ocspResponderURL": "",
  "externalAccountBindingRequired": false,
  "retryAfter": {"authz": 1, "order": 1},
  "keyAlgorithm": "ecdsa",
  "profiles": {"default": {"description": "the test's validity", "validityPeriod": %d}}
}}`, port, mport, certFile, keyFile, int(validity.Seconds()))
		cf := filepath.Join(dir, "pebble.json")
		if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		p := e2e.StartProcess(t, env, bin, "-config", cf, "-dnsserver", dns)
		pb := &Pebble{
			Directory: fmt.Sprintf("https://127.0.0.1:%d/dir", port),
			mgmt:      fmt.Sprintf("https://127.0.0.1:%d", mport),
			Client:    client,
			TLSCert:   tlsPEM,
		}
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) && p.Running() {
			if resp, err := client.Get(pb.Directory); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return pb
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		out := p.Output()
		_ = p.Stop()
		if strings.Contains(out, "address already in use") {
			continue
		}
		t.Fatalf("pebble did not start: output:\n%s", out)
	}
	t.Fatal("pebble: every free port was taken before it bound it")
	return nil
}

// RootPEM returns the root Pebble issues under (made anew at each start),
// in PEM, from its management API.
func (p *Pebble) RootPEM(t testing.TB) []byte {
	t.Helper()
	resp, err := p.Client.Get(p.mgmt + "/roots/0")
	if err != nil {
		t.Fatalf("pebble root: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("pebble root: %s, %v", resp.Status, err)
	}
	return b
}

// Root returns the root Pebble issues under.
func (p *Pebble) Root(t testing.TB) *x509.Certificate {
	t.Helper()
	b := p.RootPEM(t)
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("pebble root: no PEM in %q", b)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("pebble root: %v", err)
	}
	return c
}

// pebbleTLS makes a self-signed certificate for Pebble's HTTPS listeners.
func pebbleTLS(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "pebble test listener"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls-cert.pem"), filepath.Join(dir, "tls-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}
