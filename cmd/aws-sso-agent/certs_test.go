package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// The public name of these tests is under .test (RFC 6761 section 6.2):
// it never resolves, so the DNS check fails the same way everywhere.
const cliFQDN = "agent.example.test"

// certsEnv is an AWS_SSO_AGENT_HOME with a file store and a test CA that
// `certs load` and `save` trust through public.ExtraRootsEnv.
type certsEnv struct {
	home, config string
	storeArgs    []string
	ca           *cliTestCA
}

func newCertsEnv(t *testing.T) *certsEnv {
	t.Helper()
	home := t.TempDir()
	t.Setenv("AWS_SSO_AGENT_HOME", home)
	pass := filepath.Join(home, "passphrase")
	if err := os.WriteFile(pass, []byte("correct horse battery staple"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := newCLITestCA(t)
	rootFile := filepath.Join(home, "test-root.pem")
	if err := os.WriteFile(rootFile, pemCert(ca.root), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(public.ExtraRootsEnv, rootFile)
	return &certsEnv{
		home:   home,
		config: filepath.Join(home, "config"),
		// The lowest work factor age's scrypt accepts keeps each of the
		// many store opens fast under -race (see storeFlags).
		storeArgs: []string{"--store", "file", "--passphrase-file", pass, "--test-scrypt-work-factor", "10"},
		ca:        ca,
	}
}

// run runs aws-sso-agent with args (the store flags appended when store is
// true) and returns the exit status and output.
func (e *certsEnv) run(t *testing.T, stdin io.Reader, withStore bool, args ...string) (int, string, string) {
	t.Helper()
	if withStore {
		args = append(args, e.storeArgs...)
	}
	var stdout, stderr bytes.Buffer
	code := run(args, stdin, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// state is every file under the config directory (the encrypted store is
// rewritten, with new bytes, on any change).
func (e *certsEnv) state(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.WalkDir(e.home, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			m[path] = string(b)
		}
		return nil
	})
	return m
}

func (e *certsEnv) assertUnchanged(t *testing.T, before map[string]string) {
	t.Helper()
	after := e.state(t)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed or vanished", k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s appeared", k)
		}
	}
}

func (e *certsEnv) write(t *testing.T, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(e.home, name)
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// cliTestCA is a root and an intermediate standing in for a public CA.
type cliTestCA struct {
	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
}

func newCLITestCA(t *testing.T) *cliTestCA {
	t.Helper()
	ca := &cliTestCA{rootKey: genKey(t), interKey: genKey(t)}
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"Test CA"}, CommonName: "Test Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour * 365),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	ca.root = signCert(t, rootTmpl, rootTmpl, ca.rootKey.Public(), ca.rootKey)
	interTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{Organization: []string{"Test CA"}, CommonName: "Test Issuing CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour * 365),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	ca.inter = signCert(t, interTmpl, ca.root, ca.interKey.Public(), ca.rootKey)
	return ca
}

// chain returns leaf + intermediate PEM for pub and name, valid for the
// given span around now.
func (ca *cliTestCA) chain(t *testing.T, pub crypto.PublicKey, name string, from, until time.Duration) []byte {
	t.Helper()
	now := time.Now()
	leaf := signCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: now.Add(from), NotAfter: now.Add(until),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca.inter, pub, ca.interKey)
	return append(pemCert(leaf), pemCert(ca.inter)...)
}

func (ca *cliTestCA) signCSR(t *testing.T, csrPEM []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(csrPEM)
	if block == nil {
		t.Fatalf("no PEM CSR in %q", csrPEM)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return ca.chain(t, csr.PublicKey, csr.DNSNames[0], -time.Hour, 90*24*time.Hour)
}

func genKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func signCert(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemKey(t *testing.T, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func wantLines(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// TestCertsCSRWorkflow is export-csr, signed by a CA, load, print,
// status and delete, through the CLI.
func TestCertsCSRWorkflow(t *testing.T) {
	e := newCertsEnv(t)

	// Once through the store as users open it (default work factor).
	code, stdout, stderr := e.run(t, nil, false, append([]string{"certs", "export-csr", "--fqdn", "Agent.Example.TEST"}, e.storeArgs[:4]...)...)
	if code != 0 {
		t.Fatalf("export-csr to stdout: exit %d\n%s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "-----BEGIN CERTIFICATE REQUEST-----") {
		t.Errorf("export-csr stdout is not a CSR: %q", stdout)
	}
	// A second export replaces the pending key; only its chain loads.
	csrFile := filepath.Join(e.home, "agent.csr")
	code, stdout, stderr = e.run(t, nil, true, "certs", "export-csr", "--fqdn", cliFQDN, "--out", csrFile)
	if code != 0 || stdout != "" {
		t.Fatalf("export-csr --out: exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	wantLines(t, "export-csr stderr", stderr,
		"the CSR for agent.example.test is in "+csrFile+"; its key stays in the secure store (certs/public-pending-key)",
		"next: have a CA sign it, then: aws-sso-agent certs load CHAIN.pem")
	fi, err := os.Stat(csrFile)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o644 {
		t.Errorf("CSR file mode %v, want 0644", fi.Mode().Perm())
	}
	for path, data := range e.state(t) {
		if strings.Contains(data, "PRIVATE KEY") {
			t.Errorf("%s holds a private key in the clear", path)
		}
	}
	csrPEM, _ := os.ReadFile(csrFile)
	chainFile := e.write(t, "chain.pem", e.ca.signCSR(t, csrPEM), 0o644)

	code, stdout, stderr = e.run(t, nil, true, "certs", "load", chainFile)
	if code != 0 {
		t.Fatalf("load: exit %d\n%s", code, stderr)
	}
	wantLines(t, "load stdout", stdout, "installed the certificate for agent.example.test from Test CA (Test Issuing CA), valid until ")

	code, stdout, stderr = e.run(t, nil, false, "certs", "print")
	if code != 0 {
		t.Fatalf("print: exit %d\n%s", code, stderr)
	}
	chain, _ := os.ReadFile(chainFile)
	if stdout != string(chain) {
		t.Errorf("print wrote\n%s\nwant the loaded chain\n%s", stdout, chain)
	}
	wantLines(t, "print stderr", stderr, "# public certificate for agent.example.test, 2 certificates, valid until ")

	code, stdout, stderr = e.run(t, nil, false, "certs", "status")
	if code != 0 {
		t.Fatalf("status: exit %d\n%s", code, stderr)
	}
	wantLines(t, "status", stdout,
		"local CA:  none yet",
		"leaf:      none (the agent is not running",
		"public:    agent.example.test\n",
		"           certificate from Test CA (Test Issuing CA), expires ",
		"           DNS: FAILED: certs: public name agent.example.test ",
		"serving:   agent.example.test -> not served (DNS check failed); clients use the loopback URL",
		"           localhost, 127.0.0.1, ::1 -> the local CA's leaf")
	if strings.Contains(stdout, "WARNING") {
		t.Errorf("status warns about a certificate valid 90 days:\n%s", stdout)
	}

	// delete: without a terminal it needs --yes, and changes nothing.
	before := e.state(t)
	code, _, stderr = e.run(t, nil, true, "certs", "delete")
	if code != 1 {
		t.Errorf("delete without a terminal: exit %d, want 1", code)
	}
	if want := "aws-sso-agent: error: certs delete asks for confirmation and there is no terminal to ask on\nhint: pass --yes to delete without asking\n"; stderr != want {
		t.Errorf("delete without a terminal said\n%s\nwant\n%s", stderr, want)
	}
	e.assertUnchanged(t, before)

	code, stdout, stderr = e.run(t, nil, true, "certs", "delete", "--yes")
	if code != 0 {
		t.Fatalf("delete --yes: exit %d\n%s", code, stderr)
	}
	wantLines(t, "delete stdout", stdout, "deleted the public certificate, its keys and the name agent.example.test")
	if _, err := os.Stat(filepath.Join(e.config, "public", public.ChainFile)); !os.IsNotExist(err) {
		t.Errorf("chain still there after delete (%v)", err)
	}

	// print falls back to the local CA's root.
	if _, err := localca.LoadOrCreate(store.NewMemory(), filepath.Join(e.config, "ca"), nil); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = e.run(t, nil, false, "certs", "print")
	if code != 0 || !strings.HasPrefix(stdout, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("print after delete: exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	wantLines(t, "print stderr", stderr, "# no public certificate: the local CA's root SHA256:")
}

func TestCertsLoadRefusals(t *testing.T) {
	e := newCertsEnv(t)
	other := newCLITestCA(t)
	if code, _, stderr := e.run(t, nil, true, "certs", "export-csr", "--fqdn", cliFQDN, "--out", filepath.Join(e.home, "csr.pem")); code != 0 {
		t.Fatalf("export-csr: %s", stderr)
	}
	csrPEM, _ := os.ReadFile(filepath.Join(e.home, "csr.pem"))
	block, _ := pem.Decode(csrPEM)
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub := csr.PublicKey
	for _, tc := range []struct {
		name  string
		chain []byte
		want  string // the whole of stderr
	}{
		{"another key", e.ca.chain(t, genKey(t).Public(), cliFQDN, -time.Hour, time.Hour),
			"aws-sso-agent: error: certs: certificate is for another key: the leaf certificate (agent.example.test) is not for the pending key of the last CSR export\n" +
				"hint: load the chain a CA issued for the latest CSR: each export-csr makes a new key; for a key of your own use certs save\n"},
		{"another name", e.ca.chain(t, pub, "other.example.test", -time.Hour, time.Hour),
			"aws-sso-agent: error: certs: certificate is for another name: the certificate is for other.example.test, not agent.example.test\n" +
				"hint: the certificate must name the public name (aws-sso-agent certs fqdn shows it)\n"},
		{"expired", e.ca.chain(t, pub, cliFQDN, -48*time.Hour, -time.Hour),
			"aws-sso-agent: error: certs: certificate is outside its validity period: the certificate expired on "},
		{"untrusted", other.chain(t, pub, cliFQDN, -time.Hour, time.Hour),
			"aws-sso-agent: error: certs: certificate chain does not verify: x509: certificate signed by unknown authority\n" +
				"hint: put the intermediate certificates after the leaf in the file; the chain must lead to a root this system trusts, or to the one given with --ca ROOT.pem (your own CA)\n"},
		{"malformed", []byte("-----BEGIN CERTIFICATE-----\nMIIB\n"),
			"aws-sso-agent: error: certs: malformed PEM: no PEM certificate found\n" +
				"hint: the file must hold PEM blocks (-----BEGIN CERTIFICATE----- ...), as CAs hand them out\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := e.write(t, "in.pem", tc.chain, 0o644)
			before := e.state(t)
			code, stdout, stderr := e.run(t, nil, true, "certs", "load", file)
			if code != 1 || stdout != "" {
				t.Errorf("exit %d, stdout %q; want 1 and nothing", code, stdout)
			}
			if !strings.HasPrefix(stderr, tc.want) {
				t.Errorf("stderr\n%s\nwant\n%s", stderr, tc.want)
			}
			e.assertUnchanged(t, before)
		})
	}

	t.Run("no pending key", func(t *testing.T) {
		e := newCertsEnv(t)
		file := e.write(t, "in.pem", e.ca.chain(t, genKey(t).Public(), cliFQDN, -time.Hour, time.Hour), 0o644)
		before := e.state(t)
		code, _, stderr := e.run(t, nil, true, "certs", "load", file)
		want := "aws-sso-agent: error: certs: no pending key: no CSR was exported (or its chain was loaded already)\n" +
			"hint: export a CSR first: aws-sso-agent certs export-csr --fqdn NAME (with the same --store as here), have it signed, then load the chain\n"
		if code != 1 || stderr != want {
			t.Errorf("exit %d, stderr\n%s\nwant 1 and\n%s", code, stderr, want)
		}
		e.assertUnchanged(t, before)
	})
}

func TestCertsSave(t *testing.T) {
	e := newCertsEnv(t)
	k := genKey(t)
	certFile := e.write(t, "cert.pem", e.ca.chain(t, k.Public(), cliFQDN, -time.Hour, 5*24*time.Hour), 0o644)

	if runtime.GOOS != "windows" {
		keyFile := e.write(t, "open.key", pemKey(t, k), 0o644)
		before := e.state(t)
		code, _, stderr := e.run(t, nil, true, "certs", "save", "--cert", certFile, "--key", keyFile)
		want := "aws-sso-agent: error: certs: key file is not private: permissions 0644 for " + keyFile + " are too open; it must be readable by you only (chmod 600 " + keyFile + "), and a key others could read may have been copied already\n" +
			"hint: ssh refuses such key files too\n"
		if code != 1 || stderr != want {
			t.Errorf("save with a 0644 key: exit %d, stderr\n%s\nwant 1 and\n%s", code, stderr, want)
		}
		e.assertUnchanged(t, before)
	}

	keyFile := e.write(t, "private.key", pemKey(t, k), 0o600)
	code, stdout, stderr := e.run(t, nil, true, "certs", "save", "--cert", certFile, "--key", keyFile)
	if code != 0 {
		t.Fatalf("save: exit %d\n%s", code, stderr)
	}
	wantLines(t, "save stdout", stdout, "installed the certificate for agent.example.test from Test CA (Test Issuing CA)")
	wantLines(t, "save stderr", stderr, "the key is now in the secure store (certs/public-key); delete the key file: rm "+keyFile)

	code, stdout, _ = e.run(t, nil, false, "certs", "status")
	if code != 0 {
		t.Fatalf("status: exit %d", code)
	}
	wantLines(t, "status", stdout, "           WARNING: the certificate expires in 4 days; renew it")

	code, stdout, _ = e.run(t, nil, false, "certs", "fqdn")
	if code != 0 || stdout != cliFQDN+"\n" {
		t.Errorf("certs fqdn: exit %d, %q; want %q", code, stdout, cliFQDN)
	}
}

func TestCertsFQDN(t *testing.T) {
	e := newCertsEnv(t)
	code, stdout, stderr := e.run(t, nil, false, "certs", "fqdn", "localhost")
	want := "aws-sso-agent: error: certs: invalid public name \"localhost\": localhost is the local CA's name; a public name is one under a DNS zone you control\n" +
		"hint: a public name is a DNS name under a zone you control that resolves to 127.0.0.1, e.g. agent.example.com\n"
	if code != 1 || stderr != want || stdout != "" {
		t.Errorf("fqdn localhost: exit %d, stdout %q, stderr\n%s\nwant 1, nothing and\n%s", code, stdout, stderr, want)
	}
	code, stdout, stderr = e.run(t, nil, false, "certs", "fqdn", cliFQDN+".")
	if code != 0 || stdout != "public name: agent.example.test\n" {
		t.Fatalf("fqdn: exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	wantLines(t, "fqdn stderr", stderr, "warning: certs: public name agent.example.test ", "hint: add an A record agent.example.test -> 127.0.0.1")

	code, _, stderr = e.run(t, nil, true, "certs", "export-csr")
	if code != 2 || !strings.Contains(stderr, "aws-sso-agent: error: export-csr needs --fqdn NAME") {
		t.Errorf("export-csr without --fqdn: exit %d\n%s", code, stderr)
	}
	code, _, stderr = e.run(t, nil, false, "certs", "nope")
	if code != 2 || !strings.Contains(stderr, `aws-sso-agent: error: unknown certs subcommand "nope"`) {
		t.Errorf("unknown subcommand: exit %d\n%s", code, stderr)
	}
}

// TestCertsDeleteConfirm types the confirmation on a real terminal.
func TestCertsDeleteConfirm(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no pty on Windows")
	}
	e := newCertsEnv(t)
	if code, _, stderr := e.run(t, nil, false, "certs", "fqdn", cliFQDN); code != 0 {
		t.Fatal(stderr)
	}
	for _, tc := range []struct {
		typed   string
		code    int
		deleted bool
	}{
		{"other.example.test\n", 1, false},
		{cliFQDN + "\n", 0, true},
	} {
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Skipf("no pty: %v", err)
		}
		if _, err := ptmx.Write([]byte(tc.typed)); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := e.run(t, tty, true, "certs", "delete")
		ptmx.Close()
		tty.Close()
		if code != tc.code {
			t.Errorf("typed %q: exit %d, want %d\n%s", tc.typed, code, tc.code, stderr)
		}
		wantLines(t, "delete prompt", stderr, `Type "agent.example.test" to confirm: `)
		_, err = os.Stat(filepath.Join(e.config, "public", public.FQDNFile))
		if gone := os.IsNotExist(err); gone != tc.deleted {
			t.Errorf("typed %q: name file gone = %v, want %v", tc.typed, gone, tc.deleted)
		}
		if !tc.deleted {
			wantLines(t, "delete refusal", stderr, "aws-sso-agent: error: not confirmed; nothing was deleted")
		}
	}
}

// TestCertsStatusRunningAgent checks what status says from the running
// agent's view of the public name.
func TestCertsStatusRunningAgent(t *testing.T) {
	e := newCertsEnv(t)
	k := genKey(t)
	certFile := e.write(t, "cert.pem", e.ca.chain(t, k.Public(), cliFQDN, -time.Hour, 60*24*time.Hour), 0o644)
	keyFile := e.write(t, "private.key", pemKey(t, k), 0o600)
	if code, _, stderr := e.run(t, nil, true, "certs", "save", "--cert", certFile, "--key", keyFile); code != 0 {
		t.Fatal(stderr)
	}
	d, err := agent.DefaultDirs()
	if err != nil {
		t.Fatal(err)
	}
	renewAt := time.Now().Add(30 * 24 * time.Hour)
	for _, tc := range []struct {
		name string
		st   *agent.AgentStatus
		want []string
	}{
		{"served", &agent.AgentStatus{PublicFQDN: cliFQDN, PublicURL: "https://agent.example.test:4144/", PublicRenewAt: renewAt},
			[]string{"renewal:   next attempt " + renewAt.Local().Format(time.RFC3339),
				"serving:   agent.example.test -> the public certificate, at https://agent.example.test:4144/\n"}},
		{"not served", &agent.AgentStatus{PublicFQDN: cliFQDN, PublicNotServed: "agent.example.test resolves to 192.0.2.1"},
			[]string{"serving:   agent.example.test -> not served by the running agent (agent.example.test resolves to 192.0.2.1); clients use the loopback URL"}},
		{"renewal failed", &agent.AgentStatus{PublicFQDN: cliFQDN, PublicRenewError: "acme: rate limited"},
			[]string{"           WARNING: the last renewal failed: acme: rate limited"}},
		{"started without the name", &agent.AgentStatus{},
			[]string{"serving:   agent.example.test -> not yet: the running agent still has no public name; it looks again within 5 minutes (or restart it)"}},
		{"started with another name", &agent.AgentStatus{PublicFQDN: "old.example.test"},
			[]string{"serving:   agent.example.test -> not yet: the running agent still has the public name old.example.test; it looks again within 5 minutes (or restart it)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			(&cli{stdout: &out, stderr: io.Discard}).publicStatus(d, tc.st, time.Now())
			wantLines(t, "status", out.String(), append(tc.want,
				"public:    agent.example.test\n",
				"           localhost, 127.0.0.1, ::1 -> the local CA's leaf")...)
		})
	}
	// The expiry warning follows the clock.
	var out bytes.Buffer
	(&cli{stdout: &out, stderr: io.Discard}).publicStatus(d, nil, time.Now().Add(50*24*time.Hour))
	wantLines(t, "status 50 days on", out.String(), "           WARNING: the certificate expires in 9 days; renew it")
	out.Reset()
	(&cli{stdout: &out, stderr: io.Discard}).publicStatus(d, nil, time.Now().Add(61*24*time.Hour))
	wantLines(t, "status after expiry", out.String(), "           WARNING: the certificate expired on ", "not served (certificate expired, DNS check failed)")
}

// A file that is no chain is refused before the store is opened, so no
// passphrase is asked for it.
func TestCertsLoadMalformedBeforeStore(t *testing.T) {
	e := newCertsEnv(t)
	t.Setenv(PassphraseFileEnv, "")
	file := e.write(t, "bad.pem", []byte("hello\n"), 0o644)
	before := e.state(t)
	code, _, stderr := e.run(t, nil, false, "certs", "load", file, "--store", "file")
	want := "aws-sso-agent: error: certs: malformed PEM: no PEM certificate found\n" +
		"hint: the file must hold PEM blocks (-----BEGIN CERTIFICATE----- ...), as CAs hand them out\n"
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr\n%s\nwant 1 and\n%s", code, stderr, want)
	}
	e.assertUnchanged(t, before)
}

// TestCertsLoadOwnCA: a chain from a CA the system does not trust is
// refused, with a hint to --ca, and accepted with --ca naming its root;
// --ca takes CA certificates only, and a wrong --ca costs no store open.
func TestCertsLoadOwnCA(t *testing.T) {
	e := newCertsEnv(t)
	t.Setenv(public.ExtraRootsEnv, "") // the test CA is now a CA of one's own
	rootFile := e.write(t, "corp-root.pem", pemCert(e.ca.root), 0o644)
	code, _, stderr := e.run(t, nil, true, "certs", "export-csr", "--fqdn", cliFQDN, "--out", filepath.Join(e.home, "agent.csr"))
	if code != 0 {
		t.Fatalf("export-csr: exit %d\n%s", code, stderr)
	}
	csrPEM, _ := os.ReadFile(filepath.Join(e.home, "agent.csr"))
	chain := e.ca.signCSR(t, csrPEM)
	chainFile := e.write(t, "chain.pem", chain, 0o644)

	code, _, stderr = e.run(t, nil, true, "certs", "load", chainFile)
	if code != 1 || !strings.Contains(stderr, "certificate signed by unknown authority") || !strings.Contains(stderr, "or to the one given with --ca ROOT.pem") {
		t.Errorf("load without --ca: exit %d, stderr:\n%s\nwant refused, with a hint to --ca", code, stderr)
	}

	leafFile := e.write(t, "leaf.pem", chain[:bytes.Index(chain[1:], []byte("-----BEGIN"))+1], 0o644)
	before := e.state(t)
	for _, tc := range []struct{ file, want string }{
		{leafFile, "is not a CA certificate"},
		{filepath.Join(e.home, "nosuch.pem"), "nosuch.pem"},
	} {
		// Without the store flags: had the store been opened first, it
		// would have asked for a passphrase on a terminal there is not.
		code, _, stderr := e.run(t, nil, false, "certs", "load", chainFile, "--ca", tc.file, "--store", "file")
		if code != 1 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "passphrase") {
			t.Errorf("load --ca %s: exit %d, stderr:\n%s\nwant 1 and %q", tc.file, code, stderr, tc.want)
		}
	}
	e.assertUnchanged(t, before)

	code, stdout, stderr := e.run(t, nil, true, "certs", "load", chainFile, "--ca", rootFile)
	if code != 0 {
		t.Fatalf("load --ca: exit %d\n%s", code, stderr)
	}
	wantLines(t, "load --ca stdout", stdout, "installed the certificate for agent.example.test from Test CA (Test Issuing CA)")

	k := genKey(t)
	certFile := e.write(t, "cert.pem", e.ca.chain(t, k.Public(), cliFQDN, -time.Hour, 5*24*time.Hour), 0o644)
	keyFile := e.write(t, "private.key", pemKey(t, k), 0o600)
	if code, _, stderr := e.run(t, nil, true, "certs", "save", "--cert", certFile, "--key", keyFile); code != 1 {
		t.Errorf("save without --ca: exit %d, want 1\n%s", code, stderr)
	}
	if code, _, stderr := e.run(t, nil, true, "certs", "save", "--cert", certFile, "--key", keyFile, "--ca", rootFile); code != 0 {
		t.Errorf("save --ca: exit %d, want 0\n%s", code, stderr)
	}
}
