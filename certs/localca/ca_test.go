package localca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

func TestLeafVerifiesForLoopbackNames(t *testing.T) {
	ca, _, _ := newTestCA(t)
	now := time.Now()
	cert, err := ca.IssueLeaf(now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(cert.Certificate); got != 2 {
		t.Fatalf("chain length: got %d, want 2 (leaf, intermediate)", got)
	}
	if !bytes.Equal(cert.Certificate[1], ca.Intermediate().Raw) {
		t.Errorf("chain[1] is not the intermediate")
	}
	leaf := cert.Leaf
	// NotAfter is encoded with second precision.
	if got, want := leaf.NotAfter.Sub(now), DefaultLeafValidity; got < want-time.Second || got > want {
		t.Errorf("validity: got %v, want %v", got, want)
	}
	key, ok := cert.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		t.Errorf("leaf key: got %T, want ECDSA P-256", cert.PrivateKey)
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("leaf ExtKeyUsage: got %v, want [serverAuth]", leaf.ExtKeyUsage)
	}
	if leaf.IsCA {
		t.Errorf("leaf is a CA")
	}

	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		t.Run(name, func(t *testing.T) {
			if err := verifyLeaf(ca, leaf, name, now); err != nil {
				t.Errorf("verify for %s: %v", name, err)
			}
		})
	}
	// And not for anything else, of course.
	if err := verifyLeaf(ca, leaf, "example.com", now); err == nil {
		t.Errorf("leaf verified for example.com")
	}

	other, err := ca.IssueLeaf(now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if other.Leaf.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Errorf("two leaves share serial %v", leaf.SerialNumber)
	}
}

func TestNameConstraintsRejectForgedLeaf(t *testing.T) {
	ca, _, _ := newTestCA(t)
	tests := []struct {
		name     string
		dns      []string
		ips      []net.IP
		accepted bool
	}{
		// Controls: names inside the constraints verify, so a rejection
		// below is the constraints' doing and not the forging's.
		{name: "subdomain of localhost", dns: []string{"agent.localhost"}, accepted: true},
		{name: "other IPv4 loopback", ips: []net.IP{net.ParseIP("127.0.0.2")}, accepted: true},

		{name: "example.com", dns: []string{"example.com"}},
		{name: "localhost as a label of another domain", dns: []string{"localhost.example.com"}},
		{name: "suffix without a dot", dns: []string{"evillocalhost"}},
		{name: "private IPv4", ips: []net.IP{net.ParseIP("10.0.0.1")}},
		{name: "IPv6 other than ::1", ips: []net.IP{net.ParseIP("::2")}},
		{name: "IPv4-mapped IPv6 outside 127/8", ips: []net.IP{net.ParseIP("::ffff:10.0.0.1")}},
		{name: "good and bad name together", dns: []string{"localhost", "example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf := forgeLeaf(t, ca, tt.dns, tt.ips)
			// Name "": Go checks every SAN against the constraints whatever
			// name the client asked for.
			err := verifyLeaf(ca, leaf, "", time.Now())
			if tt.accepted {
				if err != nil {
					t.Fatalf("got %v, want the leaf accepted", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("forged leaf for %v %v verified; want it rejected by the name constraints", tt.dns, tt.ips)
			}
			var inv x509.CertificateInvalidError
			if !errors.As(err, &inv) || inv.Reason != x509.CANotAuthorizedForThisName {
				t.Errorf("got %v, want CertificateInvalidError CANotAuthorizedForThisName", err)
			}
		})
	}
}

// TestOpenSSLVerify checks the chain with a second, independent verifier.
func TestOpenSSLVerify(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		e2e.PeerMissing(t, "openssl not found (%v); install it to cross-check the chain", err)
	}
	ca, _, _ := newTestCA(t)
	good, err := ca.IssueLeaf(time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		leaf    *x509.Certificate
		args    []string
		wantErr string // "" = must verify
	}{
		{name: "good leaf, localhost", leaf: good.Leaf, args: []string{"-verify_hostname", "localhost"}},
		{name: "good leaf, 127.0.0.1", leaf: good.Leaf, args: []string{"-verify_ip", "127.0.0.1"}},
		{name: "good leaf, ::1", leaf: good.Leaf, args: []string{"-verify_ip", "::1"}},
		{name: "forged example.com", leaf: forgeLeaf(t, ca, []string{"example.com"}, nil), wantErr: "permitted subtree violation"},
		{name: "forged 10.0.0.1", leaf: forgeLeaf(t, ca, nil, []net.IP{net.ParseIP("10.0.0.1")}), wantErr: "permitted subtree violation"},
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root.pem")
	inter := filepath.Join(dir, "inter.pem")
	if err := os.WriteFile(root, ca.RootPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inter, certPEM(ca.Intermediate()), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf := filepath.Join(dir, "leaf"+string(rune('0'+i))+".pem")
			if err := os.WriteFile(leaf, certPEM(tt.leaf), 0o644); err != nil {
				t.Fatal(err)
			}
			// -x509_strict: also hold our certificates to RFC 5280's
			// rules (key identifiers, critical flags). No default trust
			// store, and an environment without SSL_CERT_FILE and friends,
			// so only our root can anchor the chain.
			args := append([]string{"verify", "-x509_strict", "-purpose", "sslserver",
				"-no-CApath", "-no-CAstore", "-CAfile", root, "-untrusted", inter}, tt.args...)
			args = append(args, leaf)
			cmd := exec.Command(openssl, args...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			out, err := cmd.CombinedOutput()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("openssl verify: %v\n%s", err, out)
				}
				if !strings.Contains(string(out), ": OK") {
					t.Errorf("openssl verify output: got %q, want it to say OK", out)
				}
				return
			}
			if err == nil {
				t.Fatalf("openssl verify accepted the forged leaf:\n%s", out)
			}
			if !strings.Contains(string(out), tt.wantErr) {
				t.Errorf("openssl verify output: got %q, want it to mention %q", out, tt.wantErr)
			}
		})
	}
}

func TestCAShape(t *testing.T) {
	now := testStart
	st := newMemStore()
	ca, err := LoadOrCreate(st, t.TempDir(), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	root, inter := ca.Root(), ca.Intermediate()
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Errorf("root not self-signed: %v", err)
	}
	if err := inter.CheckSignatureFrom(root); err != nil {
		t.Errorf("intermediate not signed by root: %v", err)
	}
	if !root.IsCA || !inter.IsCA {
		t.Errorf("IsCA: got root %v, intermediate %v; want both true", root.IsCA, inter.IsCA)
	}
	if !inter.MaxPathLenZero || inter.MaxPathLen != 0 {
		t.Errorf("intermediate path length: got %d (zero %v), want 0", inter.MaxPathLen, inter.MaxPathLenZero)
	}
	if got := inter.PermittedDNSDomains; len(got) != 1 || got[0] != "localhost" {
		t.Errorf("permitted DNS: got %v, want [localhost]", got)
	}
	var ranges []string
	for _, r := range inter.PermittedIPRanges {
		ranges = append(ranges, r.String())
	}
	if got, want := strings.Join(ranges, " "), "127.0.0.0/8 ::1/128"; got != want {
		t.Errorf("permitted IP ranges: got %s, want %s", got, want)
	}
	if len(root.PermittedDNSDomains)+len(root.PermittedIPRanges) != 0 {
		t.Errorf("root carries name constraints; they belong on the intermediate")
	}
	oidNameConstraints := asn1.ObjectIdentifier{2, 5, 29, 30}
	critical := false
	for _, ext := range inter.Extensions {
		if ext.Id.Equal(oidNameConstraints) {
			critical = ext.Critical
		}
	}
	if !critical {
		t.Errorf("name constraints extension missing or not critical")
	}
	for _, c := range []*x509.Certificate{root, inter} {
		if got, want := c.NotAfter, now.Add(caValidity).Truncate(time.Second); !got.Equal(want) {
			t.Errorf("%s NotAfter: got %v, want %v", c.Subject.CommonName, got, want)
		}
		if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
			t.Errorf("%s key: got %T, want ECDSA P-256", c.Subject.CommonName, c.PublicKey)
		}
	}
}

func TestRootKeyIsNotStored(t *testing.T) {
	ca, st, dir := newTestCA(t)
	if got, want := strings.Join(st.Keys(), " "), IntermediateKeyName; got != want {
		t.Fatalf("store keys: got %q, want only %q", got, want)
	}
	der, _ := st.Get(IntermediateKeyName)
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatalf("stored key is not PKCS#8: %v", err)
	}
	pub := k.(*ecdsa.PrivateKey).Public().(*ecdsa.PublicKey)
	if !pub.Equal(ca.Intermediate().PublicKey) {
		t.Errorf("stored key is not the intermediate's")
	}
	if pub.Equal(ca.Root().PublicKey) {
		t.Errorf("stored key is the root's")
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds a private key", e.Name())
		}
	}
	if got, want := strings.Join(names, " "), IntermediateCertFile+" "+RootCertFile; got != want {
		t.Errorf("files in CA dir: got %q, want %q", got, want)
	}
}

func TestCAFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits do not apply on Windows")
	}
	dir := filepath.Join(t.TempDir(), "certs")
	if _, err := LoadOrCreate(newMemStore(), dir, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want os.FileMode
	}{
		{dir, 0o700 | os.ModeDir},
		{filepath.Join(dir, RootCertFile), 0o644},
		{filepath.Join(dir, IntermediateCertFile), 0o644},
	}
	for _, tt := range tests {
		fi, err := os.Stat(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode(); got != tt.want {
			t.Errorf("%s: got mode %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestReloadGivesSameCA(t *testing.T) {
	ca, st, dir := newTestCA(t)
	again, err := LoadOrCreate(st, dir, nil)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got, want := again.Fingerprint(), ca.Fingerprint(); got != want {
		t.Errorf("fingerprint after reload: got %s, want %s", got, want)
	}
	if !bytes.Equal(again.ChainPEM(), ca.ChainPEM()) {
		t.Errorf("chain differs after reload")
	}
	leaf, err := again.IssueLeaf(time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyLeaf(ca, leaf.Leaf, "localhost", time.Now()); err != nil {
		t.Errorf("leaf of the reloaded CA does not verify against the first: %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	ca, _, _ := newTestCA(t)
	fp := ca.Fingerprint()
	b64, ok := strings.CutPrefix(fp, "SHA256:")
	if !ok {
		t.Fatalf("fingerprint %q: want prefix SHA256:", fp)
	}
	got, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("fingerprint %q: %v", fp, err)
	}
	want := sha256.Sum256(ca.Root().Raw)
	if !bytes.Equal(got, want[:]) {
		t.Errorf("fingerprint: got %x, want %x", got, want)
	}
	other, _, _ := newTestCA(t)
	if other.Fingerprint() == fp {
		t.Errorf("two CAs share fingerprint %s", fp)
	}
}

func TestPEMAccessors(t *testing.T) {
	ca, _, dir := newTestCA(t)
	onDisk, err := os.ReadFile(filepath.Join(dir, RootCertFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca.RootPEM(), onDisk) {
		t.Errorf("RootPEM differs from %s", RootCertFile)
	}
	// ChainPEM: intermediate, then root.
	rest := ca.ChainPEM()
	for i, want := range []*x509.Certificate{ca.Intermediate(), ca.Root()} {
		var c *x509.Certificate
		c, rest = firstCert(t, rest)
		if !c.Equal(want) {
			t.Errorf("ChainPEM certificate %d: got %s, want %s", i, c.Subject, want.Subject)
		}
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		t.Errorf("ChainPEM: %d bytes after two certificates", len(rest))
	}
	// Callers may not corrupt the CA through the returned slices.
	ca.RootPEM()[0] = 'X'
	if ca.RootPEM()[0] != '-' {
		t.Errorf("RootPEM returns the CA's own buffer")
	}
}

func firstCert(t *testing.T, data []byte) (*x509.Certificate, []byte) {
	t.Helper()
	i := bytes.Index(data, []byte("-----END CERTIFICATE-----\n"))
	if i < 0 {
		t.Fatalf("no certificate in %q", data)
	}
	end := i + len("-----END CERTIFICATE-----\n")
	c, err := parseCertificatePEM(data[:end])
	if err != nil {
		t.Fatal(err)
	}
	return c, data[end:]
}

// TestIncompleteCAIsNotReplaced removes one part of a CA and checks that
// loading reports exactly what is missing and leaves the rest untouched.
func TestIncompleteCAIsNotReplaced(t *testing.T) {
	tests := []struct {
		name        string
		removeFiles []string
		removeKey   bool
		wantMissing []string
	}{
		{name: "root file missing", removeFiles: []string{RootCertFile}, wantMissing: []string{RootCertFile}},
		{name: "intermediate file missing", removeFiles: []string{IntermediateCertFile}, wantMissing: []string{IntermediateCertFile}},
		{name: "key missing", removeKey: true, wantMissing: []string{IntermediateKeyName}},
		{name: "only the key left", removeFiles: []string{RootCertFile, IntermediateCertFile}, wantMissing: []string{RootCertFile, IntermediateCertFile}},
		{name: "only the root left", removeFiles: []string{IntermediateCertFile}, removeKey: true, wantMissing: []string{IntermediateCertFile, IntermediateKeyName}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, st, dir := newTestCA(t)
			for _, f := range tt.removeFiles {
				if err := os.Remove(filepath.Join(dir, f)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.removeKey {
				if err := st.Delete(IntermediateKeyName); err != nil {
					t.Fatal(err)
				}
			}
			beforeFiles := readDir(t, dir)
			beforeStore := st.Snapshot()

			_, err := LoadOrCreate(st, dir, nil)
			if !errors.Is(err, ErrIncomplete) {
				t.Fatalf("got %v, want ErrIncomplete", err)
			}
			for _, m := range tt.wantMissing {
				if !strings.Contains(err.Error(), "missing") || !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not name missing %s", err, m)
				}
			}
			if got := readDir(t, dir); !equalMaps(got, beforeFiles) {
				t.Errorf("CA dir changed: got %v, want %v", keysOf(got), keysOf(beforeFiles))
			}
			if got := st.Snapshot(); !equalMaps(got, beforeStore) {
				t.Errorf("store changed: got %v, want %v", keysOf(got), keysOf(beforeStore))
			}
		})
	}
}

func TestMismatchedOrDamagedCA(t *testing.T) {
	_, otherStore, otherDir := newTestCA(t)
	tests := []struct {
		name    string
		damage  func(t *testing.T, st *memStore, dir string)
		wantIs  error
		wantMsg string
	}{
		{
			name: "intermediate of another CA",
			damage: func(t *testing.T, st *memStore, dir string) {
				copyFile(t, filepath.Join(otherDir, IntermediateCertFile), filepath.Join(dir, IntermediateCertFile))
			},
			wantIs: ErrMismatched,
		},
		{
			name: "root of another CA",
			damage: func(t *testing.T, st *memStore, dir string) {
				copyFile(t, filepath.Join(otherDir, RootCertFile), filepath.Join(dir, RootCertFile))
			},
			wantIs: ErrMismatched,
		},
		{
			name: "key of another CA",
			damage: func(t *testing.T, st *memStore, dir string) {
				k, _ := otherStore.Get(IntermediateKeyName)
				st.Set(IntermediateKeyName, k)
			},
			wantIs: ErrMismatched,
		},
		{
			name: "garbage key",
			damage: func(t *testing.T, st *memStore, dir string) {
				st.Set(IntermediateKeyName, []byte("not a key"))
			},
			wantMsg: "not a PKCS#8 private key",
		},
		{
			name: "garbage root file",
			damage: func(t *testing.T, st *memStore, dir string) {
				writeFile(t, filepath.Join(dir, RootCertFile), []byte("hello\n"))
			},
			wantMsg: "no PEM data",
		},
		{
			name: "root and intermediate swapped",
			damage: func(t *testing.T, st *memStore, dir string) {
				r := filepath.Join(dir, RootCertFile)
				i := filepath.Join(dir, IntermediateCertFile)
				rd, _ := os.ReadFile(r)
				id, _ := os.ReadFile(i)
				writeFile(t, r, id)
				writeFile(t, i, rd)
			},
			wantMsg: "not self-signed",
		},
		{
			name: "intermediate without name constraints",
			damage: func(t *testing.T, st *memStore, dir string) {
				replaceCA(t, st, dir, func(tmpl *x509.Certificate) {
					tmpl.PermittedDNSDomains = nil
					tmpl.PermittedIPRanges = nil
				})
			},
			wantMsg: "not name-constrained with path length 0",
		},
		{
			name: "intermediate constrained to a wider IP range",
			damage: func(t *testing.T, st *memStore, dir string) {
				replaceCA(t, st, dir, func(tmpl *x509.Certificate) {
					tmpl.PermittedIPRanges = []*net.IPNet{{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}}
				})
			},
			wantMsg: "not name-constrained with path length 0",
		},
		{
			name: "intermediate allowed to sign CAs",
			damage: func(t *testing.T, st *memStore, dir string) {
				replaceCA(t, st, dir, func(tmpl *x509.Certificate) {
					tmpl.MaxPathLen = 1
					tmpl.MaxPathLenZero = false
				})
			},
			wantMsg: "not name-constrained with path length 0",
		},
		{
			name: "two certificates in the root file",
			damage: func(t *testing.T, st *memStore, dir string) {
				r := filepath.Join(dir, RootCertFile)
				rd, _ := os.ReadFile(r)
				writeFile(t, r, append(rd, rd...))
			},
			wantMsg: "data after the certificate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, st, dir := newTestCA(t)
			tt.damage(t, st, dir)
			beforeFiles := readDir(t, dir)
			beforeStore := st.Snapshot()
			_, err := LoadOrCreate(st, dir, nil)
			if err == nil {
				t.Fatal("loaded a damaged CA")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("got %v, want it to wrap %v", err, tt.wantIs)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("got %q, want it to contain %q", err, tt.wantMsg)
			}
			if !equalMaps(readDir(t, dir), beforeFiles) || !equalMaps(st.Snapshot(), beforeStore) {
				t.Errorf("loading a damaged CA changed it")
			}
		})
	}
}

func TestStoreErrorIsNotAMissingKey(t *testing.T) {
	st := newMemStore()
	st.GetErr = errors.New("keyring is locked")
	dir := t.TempDir()
	_, err := LoadOrCreate(st, dir, nil)
	if err == nil || !strings.Contains(err.Error(), "keyring is locked") {
		t.Fatalf("got %v, want the store's error", err)
	}
	if files := readDir(t, dir); len(files) != 0 {
		t.Errorf("created %v although the store failed", keysOf(files))
	}
}

func TestExpiredCA(t *testing.T) {
	_, st, dir := newTestCA(t)
	later := func() time.Time { return time.Now().Add(caValidity + 24*time.Hour) }
	_, err := LoadOrCreate(st, dir, later)
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("got %v, want an expired CA error", err)
	}
}

func TestDeleteCA(t *testing.T) {
	ca, st, dir := newTestCA(t)
	if err := Delete(st, dir); err != nil {
		t.Fatal(err)
	}
	if keys := st.Keys(); len(keys) != 0 {
		t.Errorf("store keys after delete: got %v, want none", keys)
	}
	if files := readDir(t, dir); len(files) != 0 {
		t.Errorf("files after delete: got %v, want none", keysOf(files))
	}
	if err := Delete(st, dir); err != nil {
		t.Errorf("deleting a deleted CA: got %v, want nil", err)
	}
	fresh, err := LoadOrCreate(st, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Fingerprint() == ca.Fingerprint() {
		t.Errorf("new CA has the old fingerprint")
	}
}

func TestIssueLeafLimits(t *testing.T) {
	ca, _, _ := newTestCA(t)
	if _, err := ca.IssueLeaf(time.Now(), -time.Hour); err == nil {
		t.Errorf("negative validity: got nil error")
	}
	end := ca.Intermediate().NotAfter
	c, err := ca.IssueLeaf(end.Add(-time.Hour), DefaultLeafValidity)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Leaf.NotAfter.Equal(end) {
		t.Errorf("leaf near CA expiry: NotAfter got %v, want %v (the intermediate's)", c.Leaf.NotAfter, end)
	}
	if _, err := ca.IssueLeaf(end.Add(time.Second), 0); err == nil {
		t.Errorf("issued a leaf after the CA expired")
	}
}

// replaceCA writes over the CA in st and dir a consistent CA whose
// intermediate template was changed by edit: what createCA would have made
// had it been wrong.
func replaceCA(t *testing.T, st *memStore, dir string, edit func(*x509.Certificate)) {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: "root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	interTmpl := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: "intermediate"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		MaxPathLenZero: true, PermittedDNSDomainsCritical: true,
		PermittedDNSDomains: []string{"localhost"}, PermittedIPRanges: loopbackRanges(),
	}
	edit(interTmpl)
	interDER, err := x509.CreateCertificate(rand.Reader, interTmpl, root, interKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	inter, _ := x509.ParseCertificate(interDER)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(interKey)
	writeFile(t, filepath.Join(dir, RootCertFile), certPEM(root))
	writeFile(t, filepath.Join(dir, IntermediateCertFile), certPEM(inter))
	st.Set(IntermediateKeyName, keyDER)
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = data
	}
	return m
}

func equalMaps(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

func keysOf(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, data)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

var _ store.Store = (*memStore)(nil)

// TestReplaceCAControl shows replaceCA's unedited CA loads, so the damaged
// variants above fail for the edit and not for the way they were made.
func TestReplaceCAControl(t *testing.T) {
	_, st, dir := newTestCA(t)
	replaceCA(t, st, dir, func(*x509.Certificate) {})
	if _, err := LoadOrCreate(st, dir, nil); err != nil {
		t.Fatalf("got %v, want the replaced CA to load", err)
	}
}
