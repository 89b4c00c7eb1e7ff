package public

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
)

const testFQDN = "agent.example.com"

func TestValidateFQDN(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		wantErr  string
	}{
		{in: "agent.example.com", want: "agent.example.com"},
		{in: "Agent.Example.COM.", want: "agent.example.com"},
		{in: "xn--bcher-kva.example", want: "xn--bcher-kva.example"},
		{in: "a-1.b2.example.org", want: "a-1.b2.example.org"},
		{in: "", wantErr: "empty"},
		{in: "*.example.com", wantErr: "wildcard"},
		{in: "localhost", wantErr: "localhost"},
		{in: "agent.localhost", wantErr: "localhost"},
		{in: "127.0.0.1", wantErr: "IP address"},
		{in: "::1", wantErr: "IP address"},
		{in: "[::1]", wantErr: "IP address"},
		{in: "1.2.3.4.5", wantErr: "numeric"},
		{in: "agent", wantErr: "single label"},
		{in: "a..example.com", wantErr: "empty label"},
		{in: "-a.example.com", wantErr: "hyphen"},
		{in: "a_b.example.com", wantErr: "only letters"},
		{in: "bücher.example", wantErr: "only letters"},
		{in: strings.Repeat("a", 64) + ".example.com", wantErr: "63"},
		{in: strings.Repeat("a.", 127) + "com", wantErr: "253"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ValidateFQDN(tc.in)
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, ErrInvalidFQDN) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ValidateFQDN(%q) = %q, %v; want an ErrInvalidFQDN saying %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ValidateFQDN(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestExportCSR(t *testing.T) {
	pki := newTestPKI(t)
	p, st := newTestPublic(t, pki)
	csrPEM, err := p.ExportCSR("Agent.Example.com")
	if err != nil {
		t.Fatal(err)
	}
	csr, err := ParseCSRPEM(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	if csr.Subject.CommonName != testFQDN || len(csr.DNSNames) != 1 || csr.DNSNames[0] != testFQDN {
		t.Errorf("CSR for CN %q, DNS %v; want %s for both", csr.Subject.CommonName, csr.DNSNames, testFQDN)
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("CSR key %T, want ECDSA P-256", csr.PublicKey)
	}
	keyDER, err := st.Get(PendingKeyName)
	if err != nil {
		t.Fatalf("pending key: %v", err)
	}
	key, err := parseStoredKey(keyDER, PendingKeyName)
	if err != nil || !publicKeyEqual(csr.PublicKey, key.Public()) {
		t.Fatalf("pending key does not match the CSR (%v)", err)
	}
	if got := st.Keys(); len(got) != 1 {
		t.Errorf("store keys %v, want only %s", got, PendingKeyName)
	}
	if fqdn, _ := p.FQDN(); fqdn != testFQDN {
		t.Errorf("FQDN after the first export = %q, want %q", fqdn, testFQDN)
	}
	// The key never reaches a file.
	s := snapshot(t, p, st)
	for name, data := range s.files {
		if strings.Contains(string(data), "PRIVATE") || strings.Contains(string(data), string(keyDER)) {
			t.Errorf("%s holds key material", name)
		}
		fi, _ := os.Stat(filepath.Join(p.Dir, name))
		if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o644 {
			t.Errorf("%s mode %v, want 0644", name, fi.Mode().Perm())
		}
	}
	if _, err := p.ExportCSR("*.example.com"); !errors.Is(err, ErrInvalidFQDN) {
		t.Errorf("ExportCSR(wildcard) = %v, want ErrInvalidFQDN", err)
	}
}

// TestCSRWorkflow is export-csr, signed by a CA, load, served.
func TestCSRWorkflow(t *testing.T) {
	pki := newTestPKI(t)
	p, st := newTestPublic(t, pki)
	csrPEM, err := p.ExportCSR(testFQDN)
	if err != nil {
		t.Fatal(err)
	}
	chain := pki.signCSR(t, csrPEM)
	// openssl-style text around the blocks is fine.
	chain = append([]byte("subject=CN = agent.example.com\n"), chain...)
	loaded, err := p.LoadChain(chain)
	if err != nil {
		t.Fatalf("LoadChain: %v", err)
	}
	if loaded.FQDN != testFQDN || len(loaded.Chain) != 2 {
		t.Errorf("loaded %q with %d certificates, want %q with 2", loaded.FQDN, len(loaded.Chain), testFQDN)
	}
	if got := st.Keys(); len(got) != 1 || got[0] != KeyName {
		t.Errorf("store keys after load %v, want only %s", got, KeyName)
	}
	if _, err := os.Stat(filepath.Join(p.Dir, CSRFile)); !os.IsNotExist(err) {
		t.Errorf("pending CSR still there after load (%v)", err)
	}

	// A new Public on the same store and directory, as the agent would be.
	cur, err := (&Public{Store: st, Dir: p.Dir}).Current()
	if err != nil {
		t.Fatalf("Current: %v", err)
	}
	if cur.FQDN != testFQDN || !cur.NotAfter().Equal(loaded.NotAfter()) {
		t.Errorf("Current = %q until %v, want %q until %v", cur.FQDN, cur.NotAfter(), testFQDN, loaded.NotAfter())
	}
	handshake(t, cur, pki.pool(), testFQDN)
}

// handshake serves c over an in-memory connection and checks that a client
// trusting roots verifies it for name.
func handshake(t *testing.T, c *Cert, roots *x509.CertPool, name string) {
	t.Helper()
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	srv := tls.Server(sc, localca.ServerTLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return c.TLSCertificate(), nil
	}))
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	cl := tls.Client(cc, &tls.Config{RootCAs: roots, ServerName: name})
	if err := cl.Handshake(); err != nil {
		t.Fatalf("client handshake for %s: %v", name, err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if got := cl.ConnectionState().PeerCertificates[0]; !got.Equal(c.Chain[0]) {
		t.Errorf("served %s, want the public leaf", got.Subject)
	}
}

func TestLoadChainRefusals(t *testing.T) {
	pki := newTestPKI(t)
	other := newTestPKI(t) // a CA nobody trusts
	now := time.Now()
	// pending returns the public key of the pending CSR.
	type setup struct {
		p   *Public
		pub any
	}
	for _, tc := range []struct {
		name      string
		noExport  bool
		chain     func(t *testing.T, s setup) []byte
		wantErr   error
		wantInMsg string
	}{{
		name:      "chain for another key",
		chain:     func(t *testing.T, s setup) []byte { return pki.chainPEM(t, mustKey(t).Public(), testFQDN) },
		wantErr:   ErrKeyMismatch,
		wantInMsg: "certs: certificate is for another key: the leaf certificate (agent.example.com) is not for the pending key of the last CSR export",
	}, {
		name:      "chain for another name",
		chain:     func(t *testing.T, s setup) []byte { return pki.chainPEM(t, s.pub, "other.example.com") },
		wantErr:   ErrWrongName,
		wantInMsg: "certs: certificate is for another name: the certificate is for other.example.com, not agent.example.com",
	}, {
		name: "expired chain",
		chain: func(t *testing.T, s setup) []byte {
			leaf := pki.leaf(t, s.pub, []string{testFQDN}, now.Add(-48*time.Hour), now.Add(-time.Hour))
			return append(certPEM(leaf), certPEM(pki.inter)...)
		},
		wantErr:   ErrNotValidNow,
		wantInMsg: "certs: certificate is outside its validity period: the certificate expired on ",
	}, {
		name: "not yet valid",
		chain: func(t *testing.T, s setup) []byte {
			leaf := pki.leaf(t, s.pub, []string{testFQDN}, now.Add(time.Hour), now.Add(48*time.Hour))
			return append(certPEM(leaf), certPEM(pki.inter)...)
		},
		wantErr:   ErrNotValidNow,
		wantInMsg: "the certificate is not valid before ",
	}, {
		name:      "untrusted chain",
		chain:     func(t *testing.T, s setup) []byte { return other.chainPEM(t, s.pub, testFQDN) },
		wantErr:   ErrUntrustedChain,
		wantInMsg: "certs: certificate chain does not verify: x509: certificate signed by unknown authority",
	}, {
		name: "chain without its intermediate",
		chain: func(t *testing.T, s setup) []byte {
			return certPEM(pki.leaf(t, s.pub, []string{testFQDN}, now.Add(-time.Hour), now.Add(time.Hour)))
		},
		wantErr:   ErrUntrustedChain,
		wantInMsg: "certificate signed by unknown authority",
	}, {
		name:      "malformed PEM: garbage",
		chain:     func(t *testing.T, s setup) []byte { return []byte("this is not PEM\n") },
		wantErr:   ErrMalformedPEM,
		wantInMsg: "certs: malformed PEM: no PEM certificate found",
	}, {
		name: "malformed PEM: truncated",
		chain: func(t *testing.T, s setup) []byte {
			c := pki.chainPEM(t, s.pub, testFQDN)
			return c[:len(c)/3]
		},
		wantErr:   ErrMalformedPEM,
		wantInMsg: "certs: malformed PEM: no PEM certificate found",
	}, {
		name: "malformed PEM: bad DER",
		chain: func(t *testing.T, s setup) []byte {
			return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 1, 2, 3}})
		},
		wantErr:   ErrMalformedPEM,
		wantInMsg: "certs: malformed PEM: certificate 1: x509: malformed",
	}, {
		name: "malformed PEM: a private key in the chain",
		chain: func(t *testing.T, s setup) []byte {
			return append(pki.chainPEM(t, s.pub, testFQDN), keyPEM(t, mustKey(t))...)
		},
		wantErr:   ErrMalformedPEM,
		wantInMsg: `the chain holds a "PRIVATE KEY" block; a certificate chain must not contain a private key`,
	}, {
		name:      "no pending key",
		noExport:  true,
		chain:     func(t *testing.T, s setup) []byte { return pki.chainPEM(t, mustKey(t).Public(), testFQDN) },
		wantErr:   ErrNoPendingKey,
		wantInMsg: "certs: no pending key: no CSR was exported (or its chain was loaded already)",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p, st := newTestPublic(t, pki)
			// A certificate is installed already: a refusal must leave it
			// in place, as well as the pending key.
			installed := installGood(t, p, pki)
			var s setup
			s.p = p
			if !tc.noExport {
				csrPEM, err := p.ExportCSR(testFQDN)
				if err != nil {
					t.Fatal(err)
				}
				csr, _ := ParseCSRPEM(csrPEM)
				s.pub = csr.PublicKey
			}
			input := tc.chain(t, s)
			before := snapshot(t, p, st)
			c, err := p.LoadChain(input)
			if err == nil {
				t.Fatalf("LoadChain = %v, nil; want an error", c)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error %q does not wrap %q", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantInMsg) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.wantInMsg)
			}
			assertUnchanged(t, before, snapshot(t, p, st))
			cur, err := p.Current()
			if err != nil || !cur.Chain[0].Equal(installed.Chain[0]) {
				t.Errorf("after the refusal Current = %v, %v; want the certificate installed before", cur, err)
			}
		})
	}
}

// installGood installs a valid certificate for testFQDN through Import.
func installGood(t *testing.T, p *Public, pki *testPKI) *Cert {
	t.Helper()
	k := mustKey(t)
	c, err := p.Import(pki.chainPEM(t, k.Public(), testFQDN), keyPEM(t, k))
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	return c
}

func TestLoadChainWithoutStoredPendingKey(t *testing.T) {
	pki := newTestPKI(t)
	p, st := newTestPublic(t, pki)
	csrPEM, err := p.ExportCSR(testFQDN)
	if err != nil {
		t.Fatal(err)
	}
	// The CSR was exported with another store (or the key was removed).
	if err := st.Delete(PendingKeyName); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, p, st)
	_, err = p.LoadChain(pki.signCSR(t, csrPEM))
	if !errors.Is(err, ErrNoPendingKey) || !strings.Contains(err.Error(), `the secure store has no "certs/public-pending-key"`) {
		t.Errorf("LoadChain = %v, want ErrNoPendingKey naming the store key", err)
	}
	assertUnchanged(t, before, snapshot(t, p, st))
}

func TestImport(t *testing.T) {
	pki := newTestPKI(t)
	p, st := newTestPublic(t, pki)
	k := mustKey(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, keyPEM(t, k), 0o600); err != nil {
		t.Fatal(err)
	}
	keyData, err := ReadKeyFile(keyFile)
	if err != nil {
		t.Fatalf("ReadKeyFile(0600): %v", err)
	}
	// No name set: the certificate's only name becomes it.
	c, err := p.Import(pki.chainPEM(t, k.Public(), testFQDN), keyData)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if fqdn, _ := p.FQDN(); fqdn != testFQDN || c.FQDN != testFQDN {
		t.Errorf("FQDN after import %q (cert %q), want %q", fqdn, c.FQDN, testFQDN)
	}
	stored, err := st.Get(KeyName)
	if err != nil {
		t.Fatal(err)
	}
	if sk, err := parseStoredKey(stored, KeyName); err != nil || !publicKeyEqual(sk.Public(), k.Public()) {
		t.Errorf("stored key is not the imported key (%v)", err)
	}
	cur, err := p.Current()
	if err != nil {
		t.Fatal(err)
	}
	handshake(t, cur, pki.pool(), testFQDN)
}

func TestReadKeyFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows governs key files by ACLs, not mode bits; ReadKeyFile does not check them there")
	}
	dir := t.TempDir()
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		path := filepath.Join(dir, "key-"+mode.String()+".pem")
		if err := os.WriteFile(path, keyPEM(t, mustKey(t)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := ReadKeyFile(path)
		want := fmt.Sprintf("certs: key file is not private: permissions %04o for %s are too open; it must be readable by you only (chmod 600 %s)", mode.Perm(), path, path)
		if !errors.Is(err, ErrKeyFilePermissions) || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadKeyFile(%v) = %v\nwant %q", mode, err, want)
		}
	}
	if _, err := ReadKeyFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadKeyFile(directory) = %v, want 'not a regular file'", err)
	}
}

func TestImportRefusals(t *testing.T) {
	pki := newTestPKI(t)
	other := newTestPKI(t)
	now := time.Now()
	k := mustKey(t)
	good := pki.chainPEM(t, k.Public(), testFQDN)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	for _, tc := range []struct {
		name      string
		cert, key []byte
		wantErr   error
		wantInMsg string
	}{
		{"key for another certificate", good, keyPEM(t, mustKey(t)), ErrKeyMismatch,
			"certs: certificate is for another key: the leaf certificate (agent.example.com) is not for the key in the key file"},
		{"certificate for another name", pki.chainPEM(t, k.Public(), "other.example.com"), keyPEM(t, k), ErrWrongName,
			"certs: certificate is for another name: the certificate is for other.example.com, not agent.example.com"},
		{"expired certificate", append(certPEM(pki.leaf(t, k.Public(), []string{testFQDN}, now.Add(-48*time.Hour), now.Add(-time.Hour))), certPEM(pki.inter)...), keyPEM(t, k), ErrNotValidNow,
			"certs: certificate is outside its validity period: the certificate expired on"},
		{"untrusted chain", other.chainPEM(t, k.Public(), testFQDN), keyPEM(t, k), ErrUntrustedChain,
			"certs: certificate chain does not verify: x509: certificate signed by unknown authority"},
		{"malformed certificate PEM", []byte("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"), keyPEM(t, k), ErrMalformedPEM,
			"certs: malformed PEM: no PEM certificate found"},
		{"malformed key PEM", good, []byte("garbage"), ErrMalformedPEM,
			"certs: malformed PEM: no PEM private key found"},
		{"key PEM holding a certificate", good, good, ErrMalformedPEM,
			`certs: malformed PEM: PEM block is "CERTIFICATE", want a private key`},
		{"corrupt key", good, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 1, 2}}), ErrMalformedPEM,
			`certs: malformed PEM: the "PRIVATE KEY" block is not a valid private key`},
		{"encrypted key", good, encrypted, ErrUnsupportedKey,
			"certs: unsupported private key: the key is encrypted; decrypt it first"},
		{"small RSA key", good, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), ErrUnsupportedKey,
			"certs: unsupported private key: RSA key of 1024 bits; use 2048 or 3072 bits, or ECDSA P-256"},
		{"P-224 key", good, ecKeyPEM(t, p224), ErrUnsupportedKey,
			"certs: unsupported private key: ECDSA on P-224; use P-256 or P-384"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, st := newTestPublic(t, pki)
			if err := p.SetFQDN(testFQDN); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, p, st)
			c, err := p.Import(tc.cert, tc.key)
			if err == nil {
				t.Fatalf("Import = %v, nil; want an error", c)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error %q does not wrap %q", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantInMsg) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.wantInMsg)
			}
			if strings.Contains(err.Error(), "BEGIN") {
				t.Errorf("error quotes the input: %q", err)
			}
			assertUnchanged(t, before, snapshot(t, p, st))
		})
	}
}

func ecKeyPEM(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func TestImportRSA(t *testing.T) {
	pki := newTestPKI(t)
	p, _ := newTestPublic(t, pki)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sec1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	if _, err := p.Import(pki.chainPEM(t, k.Public(), testFQDN), sec1); err != nil {
		t.Fatalf("Import(RSA 2048): %v", err)
	}
	if _, err := p.Current(); err != nil {
		t.Fatal(err)
	}
}

func TestImportNeedsAName(t *testing.T) {
	pki := newTestPKI(t)
	p, st := newTestPublic(t, pki)
	k := mustKey(t)
	before := snapshot(t, p, st)
	_, err := p.Import(pki.chainPEM(t, k.Public(), "a.example.com", "b.example.com"), keyPEM(t, k))
	want := "certs: invalid public name: none is set, and the certificate names a.example.com, b.example.com; set one first"
	if err == nil || err.Error() != want {
		t.Errorf("Import = %v\nwant %s", err, want)
	}
	assertUnchanged(t, before, snapshot(t, p, st))
	// With the name set, a certificate for several names is fine.
	if err := p.SetFQDN("b.example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Import(pki.chainPEM(t, k.Public(), "a.example.com", "b.example.com"), keyPEM(t, k)); err != nil {
		t.Fatal(err)
	}
}

func TestInstall(t *testing.T) {
	pki := newTestPKI(t)
	p, st := newTestPublic(t, pki)
	k := mustKey(t)
	chain, err := ParseChainPEM(pki.chainPEM(t, k.Public(), testFQDN))
	if err != nil {
		t.Fatal(err)
	}
	// Refusals first: each leaves nothing behind.
	for _, tc := range []struct {
		name    string
		c       *Cert
		wantErr error
	}{
		{"nil", nil, nil},
		{"another key", &Cert{FQDN: testFQDN, Chain: chain, Key: mustKey(t)}, ErrKeyMismatch},
		{"another name", &Cert{FQDN: "other.example.com", Chain: chain, Key: k}, ErrWrongName},
		{"invalid name", &Cert{FQDN: "localhost", Chain: chain, Key: k}, ErrInvalidFQDN},
	} {
		before := snapshot(t, p, st)
		err := p.Install(tc.c)
		if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
			t.Errorf("%s: Install = %v, want %v", tc.name, err, tc.wantErr)
		}
		assertUnchanged(t, before, snapshot(t, p, st))
	}
	// A pending CSR survives an ACME installation.
	if _, err := p.ExportCSR(testFQDN); err != nil {
		t.Fatal(err)
	}
	if err := p.Install(&Cert{FQDN: "Agent.Example.com", Chain: chain, Key: k}); err != nil {
		t.Fatalf("Install: %v", err)
	}
	cur, err := p.Current()
	if err != nil || cur.FQDN != testFQDN {
		t.Fatalf("Current = %v, %v", cur, err)
	}
	if _, err := st.Get(PendingKeyName); err != nil {
		t.Errorf("pending key gone after Install: %v", err)
	}
}

func TestDelete(t *testing.T) {
	pki := newTestPKI(t)
	p, st := newTestPublic(t, pki)
	installGood(t, p, pki)
	if _, err := p.ExportCSR(testFQDN); err != nil {
		t.Fatal(err)
	}
	// The ACME account key (acme.AccountKeyName; package acme imports
	// this one, so its name is spelled out here).
	const accountKeyName = "certs/acme-account-key"
	st.Set(accountKeyName, []byte("account"))
	if err := p.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Current(); !errors.Is(err, ErrNoCert) {
		t.Errorf("Current after Delete = %v, want ErrNoCert", err)
	}
	if got := st.Keys(); len(got) != 1 || got[0] != accountKeyName {
		t.Errorf("store keys after Delete %v, want only the ACME account key", got)
	}
	if s := snapshot(t, p, st); len(s.files) != 0 {
		t.Errorf("files left after Delete: %v", slicesSorted(s.files))
	}
	if fqdn, err := p.FQDN(); fqdn != "" || err != nil {
		t.Errorf("FQDN after Delete = %q, %v", fqdn, err)
	}
	if err := p.Delete(); err != nil {
		t.Errorf("second Delete: %v", err)
	}
}

func TestSetFQDN(t *testing.T) {
	pki := newTestPKI(t)
	p, st := newTestPublic(t, pki)
	if fqdn, err := p.FQDN(); fqdn != "" || err != nil {
		t.Fatalf("FQDN before any = %q, %v", fqdn, err)
	}
	if err := p.SetFQDN("127.0.0.1"); !errors.Is(err, ErrInvalidFQDN) {
		t.Errorf("SetFQDN(IP) = %v", err)
	}
	if err := p.SetFQDN("new.example.com."); err != nil {
		t.Fatal(err)
	}
	if fqdn, _ := p.FQDN(); fqdn != "new.example.com" {
		t.Errorf("FQDN = %q", fqdn)
	}
	if err := p.SetFQDN(testFQDN); err != nil {
		t.Fatal(err)
	}
	installGood(t, p, pki)
	before := snapshot(t, p, st)
	err := p.SetFQDN("new.example.com")
	want := "certs: certificate is for another name: the installed certificate for agent.example.com does not cover new.example.com"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("SetFQDN over a certificate for another name = %v\nwant %s", err, want)
	}
	assertUnchanged(t, before, snapshot(t, p, st))
	// A tampered name file is an error, not a new name.
	os.WriteFile(filepath.Join(p.Dir, FQDNFile), []byte("evil.example.com/..\n"), 0o644)
	if _, err := p.FQDN(); !errors.Is(err, ErrInvalidFQDN) {
		t.Errorf("FQDN from a tampered file = %v", err)
	}
}

func TestCurrentChecksParts(t *testing.T) {
	pki := newTestPKI(t)
	p, st := newTestPublic(t, pki)
	if _, err := p.Current(); !errors.Is(err, ErrNoCert) {
		t.Fatalf("Current with nothing = %v", err)
	}
	installGood(t, p, pki)

	// Another certificate for the same name dropped into chain.pem.
	k := mustKey(t)
	good, _ := os.ReadFile(filepath.Join(p.Dir, ChainFile))
	os.WriteFile(filepath.Join(p.Dir, ChainFile), pki.chainPEM(t, k.Public(), testFQDN), 0o644)
	if _, err := p.Current(); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("Current with a swapped chain = %v, want ErrKeyMismatch", err)
	}
	os.WriteFile(filepath.Join(p.Dir, ChainFile), good, 0o644)

	keyDER, _ := st.Get(KeyName)
	st.Delete(KeyName)
	if _, err := p.Current(); err == nil || !strings.Contains(err.Error(), `the secure store has no key "certs/public-key"`) {
		t.Errorf("Current without the key = %v", err)
	}
	// CurrentChain needs no store.
	if fqdn, chain, err := p.CurrentChain(); err != nil || fqdn != testFQDN || len(chain) != 2 {
		t.Errorf("CurrentChain = %q, %d certs, %v", fqdn, len(chain), err)
	}
	st.Set(KeyName, keyDER)
	if _, err := p.Current(); err != nil {
		t.Errorf("Current restored = %v", err)
	}
}

func TestCheckLoopbackDNS(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name    string
		answers []netip.Addr
		want    string // "" = accepted
	}{
		{"IPv4 loopback", []netip.Addr{a("127.0.0.1")}, ""},
		{"both loopbacks", []netip.Addr{a("127.0.0.1"), a("::1")}, ""},
		{"other 127/8", []netip.Addr{a("127.3.2.1")}, ""},
		{"public address", []netip.Addr{a("192.0.2.10")},
			"certs: public name agent.example.com resolves to 192.0.2.10; 192.0.2.10 is not loopback, so it is not used (misconfigured or poisoned DNS)"},
		{"one bad among good", []netip.Addr{a("127.0.0.1"), a("2001:db8::1")},
			"certs: public name agent.example.com resolves to 127.0.0.1, 2001:db8::1; 2001:db8::1 is not loopback"},
		{"unspecified", []netip.Addr{a("0.0.0.0")}, "0.0.0.0 is not loopback"},
		{"empty answer", nil,
			"certs: public name agent.example.com resolves to no address; it must resolve to 127.0.0.1 (or ::1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fakeDNS(t, tc.answers)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := CheckLoopbackDNS(ctx, r, testFQDN)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckLoopbackDNS = %v, want nil", err)
				}
				return
			}
			var de *DNSError
			if !errors.As(err, &de) {
				t.Fatalf("CheckLoopbackDNS = %v (%T), want *DNSError", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
			if len(de.Addrs) != len(tc.answers) || de.FQDN != testFQDN {
				t.Errorf("DNSError{FQDN %q, Addrs %v}, want %q, %v", de.FQDN, de.Addrs, testFQDN, tc.answers)
			}
		})
	}
	if err := CheckLoopbackDNS(context.Background(), nil, "localhost"); !errors.Is(err, ErrInvalidFQDN) {
		t.Errorf("CheckLoopbackDNS(localhost) = %v, want ErrInvalidFQDN", err)
	}
}

func TestCheckLoopbackDNSLookupFailure(t *testing.T) {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return nil, errors.New("no route to the resolver")
	}}
	err := CheckLoopbackDNS(context.Background(), r, testFQDN)
	var de *DNSError
	if !errors.As(err, &de) || de.Err == nil || !strings.HasPrefix(err.Error(), "certs: public name agent.example.com does not resolve: ") {
		t.Errorf("CheckLoopbackDNS with a dead resolver = %v", err)
	}
}

func TestLoadChainLeafNotFirst(t *testing.T) {
	pki := newTestPKI(t)
	p, st := newTestPublic(t, pki)
	csrPEM, err := p.ExportCSR(testFQDN)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := ParseChainPEM(pki.signCSR(t, csrPEM))
	if err != nil {
		t.Fatal(err)
	}
	reversed := append(certPEM(chain[1]), certPEM(chain[0])...)
	before := snapshot(t, p, st)
	_, err = p.LoadChain(reversed)
	want := "certs: certificate is for another key: certificate 2 of the chain (agent.example.com) is for the pending key of the last CSR export, but the leaf must come first"
	if err == nil || err.Error() != want {
		t.Errorf("LoadChain(intermediate first) = %v\nwant %s", err, want)
	}
	assertUnchanged(t, before, snapshot(t, p, st))
}

func TestParseChainPEMLimits(t *testing.T) {
	pki := newTestPKI(t)
	one := certPEM(pki.root)
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"too many", bytes.Repeat(one, maxChainLen+1), "certs: malformed PEM: more than 10 certificates"},
		{"headers", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: pki.root.Raw}),
			"certs: malformed PEM: certificate 1 has PEM headers"},
		{"a CSR", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{1}}),
			`certs: malformed PEM: the chain holds a "CERTIFICATE REQUEST" block, want only "CERTIFICATE"`},
		{"an EC key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}}),
			`certs: malformed PEM: the chain holds a "EC PRIVATE KEY" block; a certificate chain must not contain a private key`},
	} {
		if _, err := ParseChainPEM(tc.in); err == nil || err.Error() != tc.want {
			t.Errorf("%s: ParseChainPEM = %v\nwant %s", tc.name, err, tc.want)
		}
	}
	if got, err := ParseChainPEM(bytes.Repeat(one, maxChainLen)); err != nil || len(got) != maxChainLen {
		t.Errorf("ParseChainPEM(%d certificates) = %d, %v", maxChainLen, len(got), err)
	}
}
