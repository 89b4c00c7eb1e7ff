package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/signertest"
	"github.com/aws-sso-agent/aws-sso-agent/signer/protocol"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

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

// admin runs one admin command in process and returns its stdout.
func admin(t *testing.T, db string, stdin string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	if code := c.run(context.Background(), append(args, "--db", db)); code != 0 {
		t.Fatalf("%v: exit %d\n%s", args, code, errb.String())
	}
	return out.String()
}

// TestServe runs serve with the operator's TLS certificate and a test
// issuer in place of the ACME one, and signs a CSR through it over HTTPS
// with a key the admin commands made.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "signer.db")
	admin(t, db, "correct horse battery staple\n", strings.Fields("account add alice --email alice@example.com")...)
	admin(t, db, "", strings.Fields("hostname add alice alice-box")...)
	// The zone is not recorded yet, so the key takes the bare label.
	key := strings.TrimSpace(admin(t, db, "", strings.Fields("key create alice --hostname alice-box")...))

	certFile, keyFile, pool := selfSigned(t, dir)
	ca := signertest.NewCA(t)
	var gotOpts serveOptions
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	c := &cli{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, getenv: func(string) string { return "" },
		parts: func(ctx context.Context, o serveOptions, d *store.DB, log *slog.Logger) (serveParts, error) {
			gotOpts = o
			return serveParts{Issuer: ca, Run: func(ctx context.Context) error { <-ctx.Done(); return nil }}, nil
		}}
	audit := filepath.Join(dir, "audit.log")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- c.run(ctx, []string{"serve", "--zone", "Signer.Test.", "--db", db, "--listen", "127.0.0.1:0", "--dns-listen", "127.0.0.1:0",
			"--acme-directory", "https://acme.invalid/dir", "--tls-cert", certFile, "--tls-key", keyFile, "--audit-log", audit})
	}()
	addr := waitFor(t, stderr, regexp.MustCompile(`"api":"([^"]+)"`), done)
	if gotOpts.Zone != "signer.test" || !gotOpts.OwnTLS || gotOpts.ACMEDirectory != "https://acme.invalid/dir" {
		t.Errorf("the parts got %+v", gotOpts)
	}

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body, _ := json.Marshal(protocol.SignRequest{CSR: string(signertest.CSR(t, "alice-box.signer.test"))})
	req, _ := http.NewRequest("POST", "https://"+addr+protocol.PathCertificates, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var cert protocol.Certificate
	json.NewDecoder(resp.Body).Decode(&cert)
	resp.Body.Close()
	if resp.StatusCode != 201 || cert.Hostname != "alice-box.signer.test" || !strings.Contains(cert.Chain, "BEGIN CERTIFICATE") {
		t.Fatalf("sign over serve: %d %+v", resp.StatusCode, cert)
	}

	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d after its context ended:\n%s", code, stderr.String())
	}
	st, err := os.Stat(audit)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("audit log: %v, mode %v; want 0600", err, st.Mode())
	}
	logged, _ := os.ReadFile(audit)
	if !strings.Contains(string(logged), `"outcome":"issued"`) || strings.Contains(string(logged), key) {
		t.Errorf("audit log:\n%s", logged)
	}
	if strings.Contains(stderr.String(), key) {
		t.Errorf("the service log holds the key")
	}
	// The zone is now the database's: the admin commands check names
	// against it, and serve refuses another.
	var errb bytes.Buffer
	c2 := &cli{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &errb, getenv: func(string) string { return "" }}
	if code := c2.run(context.Background(), []string{"key", "create", "alice", "--hostname", "alice-box.other.test", "--db", db}); code == 0 ||
		!strings.Contains(errb.String(), "not under the service's zone signer.test") {
		t.Errorf("key for another zone: exit %d\n%s", code, errb.String())
	}
	errb.Reset()
	if code := c2.run(context.Background(), []string{"serve", "--zone", "other.test", "--db", db, "--listen", "127.0.0.1:0", "--dns-listen", "127.0.0.1:0",
		"--acme-directory", "https://acme.invalid/dir", "--tls-cert", certFile, "--tls-key", keyFile}); code == 0 ||
		!strings.Contains(errb.String(), "serves the zone signer.test, not other.test") {
		t.Errorf("serve of another zone: exit %d\n%s", code, errb.String())
	}
}

func waitFor(t *testing.T, buf *syncBuffer, re *regexp.Regexp, done chan int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(buf.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s", code, buf.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no %s in:\n%s", re, buf.String())
	return ""
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "api.crt"), filepath.Join(dir, "api.key")
	if err := errors.Join(
		os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644),
		os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}
