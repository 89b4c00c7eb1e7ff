package localca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/internal/certfile"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// Names under which the CA is kept. They are part of the on-disk format:
// changing one orphans every existing CA.
const (
	// IntermediateKeyName is the secure store key holding the issuing
	// intermediate's private key, PKCS#8 DER (about 140 bytes for P-256,
	// far below Windows Credential Manager's 2560-byte item limit).
	IntermediateKeyName = "certs/intermediate-key"

	// RootCertFile and IntermediateCertFile are the PEM files in the CA
	// directory. They hold public certificates only, so they are written
	// 0644: anyone may read them, and a tampered file is caught because it
	// no longer matches the key in the secure store.
	RootCertFile         = "root.pem"
	IntermediateCertFile = "intermediate.pem"
)

const (
	// caValidity is how long the root and the intermediate are valid.
	// Ten years: the root is what users install in trust stores and what
	// remote hosts pin, so replacing it means re-trusting it everywhere;
	// and since its key is discarded at birth, a long life exposes nothing.
	// The intermediate cannot outlive the root, and cannot be re-issued
	// without the root key, so it gets the same span.
	caValidity = 10 * 365 * 24 * time.Hour

	// backdate is how far NotBefore is set before the moment of issuance.
	// Leaves are verified by other hosts (through SSH forwards) whose clocks
	// may lag ours; Kerberos allows 5 minutes of skew, and loosely managed
	// hosts drift further. An hour of "valid before it existed" costs
	// nothing and avoids "certificate is not yet valid" right after a
	// rotation.
	backdate = time.Hour
)

// ErrIncomplete is wrapped by LoadOrCreate when some, but not all, of
// the CA's parts exist (a certificate file without the key in the secure
// store, or the reverse). The CA is then never replaced silently: clients
// that trust or pin the old root would break, and a missing key may only be
// a locked keyring. The error message says which parts are missing.
var ErrIncomplete = errors.New("certs: incomplete local CA")

// ErrMismatched is wrapped by LoadOrCreate when the parts exist but do
// not belong together: the intermediate was not signed by the root, or the
// stored key is not the intermediate's. This happens when a certificate
// file was replaced or a different CA's key was stored.
var ErrMismatched = errors.New("certs: local CA parts do not match")

// CA is the local certificate authority: the public root, and the
// name-constrained intermediate with its private key. A CA is safe for
// concurrent use; it never changes after LoadOrCreate returns it.
type CA struct {
	root     *x509.Certificate
	inter    *x509.Certificate
	interKey *ecdsa.PrivateKey
	rootPEM  []byte
	interPEM []byte
}

// LoadOrCreate loads the CA from dir and st, or creates it if none of its
// parts exist yet. now is the clock (nil means time.Now); dir is created
// 0700 if it is missing.
//
// Creation is not guarded against a second process creating a CA in the
// same place at the same moment; the agent runs as a single instance per
// user, and a mixed result would be reported as ErrMismatched, not used.
//
// If only some parts exist, it returns an error wrapping ErrIncomplete and
// changes nothing. If the parts do not fit together, or the CA has expired,
// it returns an error and changes nothing.
func LoadOrCreate(st store.Store, dir string, now func() time.Time) (*CA, error) {
	if now == nil {
		now = time.Now
	}
	rootPath := filepath.Join(dir, RootCertFile)
	interPath := filepath.Join(dir, IntermediateCertFile)

	rootPEM, rootErr := certfile.Read(rootPath)
	interPEM, interErr := certfile.Read(interPath)
	keyDER, keyErr := st.Get(IntermediateKeyName)
	for _, err := range []error{rootErr, interErr} {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("certs: load CA: %w", err)
		}
	}
	if keyErr != nil && !errors.Is(keyErr, store.ErrNotFound) {
		return nil, fmt.Errorf("certs: load CA: read %q from secure store: %w", IntermediateKeyName, keyErr)
	}

	var present, missing []string
	note := func(ok bool, what string) {
		if ok {
			present = append(present, what)
		} else {
			missing = append(missing, what)
		}
	}
	note(rootErr == nil, rootPath)
	note(interErr == nil, interPath)
	note(keyErr == nil, fmt.Sprintf("secure store key %q", IntermediateKeyName))

	switch {
	case len(present) == 0:
		return createCA(st, dir, now())
	case len(missing) > 0:
		return nil, fmt.Errorf("%w: missing %s; present %s; refusing to create a new CA over the remains of the old one (remove the remaining parts to start a new CA, then trust the new root again)",
			ErrIncomplete, joinList(missing), joinList(present))
	}

	ca, err := parseCA(rootPEM, interPEM, keyDER)
	if err != nil {
		return nil, err
	}
	if t := now(); t.After(ca.inter.NotAfter) {
		return nil, fmt.Errorf("certs: local CA expired on %s; remove it to create a new one", ca.inter.NotAfter.UTC().Format(time.RFC3339))
	}
	return ca, nil
}

// Delete removes every part of the CA from dir and st. Parts that are
// already gone are not an error, so Delete also clears an incomplete CA.
// Clients that trusted or pinned the old root must trust the next one.
func Delete(st store.Store, dir string) error {
	var errs []error
	if err := st.Delete(IntermediateKeyName); err != nil && !errors.Is(err, store.ErrNotFound) {
		errs = append(errs, fmt.Errorf("certs: delete CA: remove %q from secure store: %w", IntermediateKeyName, err))
	}
	for _, name := range []string{IntermediateCertFile, RootCertFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("certs: delete CA: %w", err))
		}
	}
	return errors.Join(errs...)
}

// createCA makes a new root and intermediate, stores the intermediate key
// and writes both certificates.
func createCA(st store.Store, dir string, now time.Time) (*CA, error) {
	rootDER, interDER, interKey, err := mintCA(now)
	if err != nil {
		return nil, fmt.Errorf("certs: create CA: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(interKey)
	if err != nil {
		return nil, fmt.Errorf("certs: create CA: encode intermediate key: %w", err)
	}
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER})
	interPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: interDER})

	// Parse back what will be loaded next time, so the first run and every
	// later run use exactly the same checks.
	ca, err := parseCA(rootPEM, interPEM, keyDER)
	if err != nil {
		return nil, fmt.Errorf("certs: create CA: %w", err)
	}

	// Order: stage the files, store the key, then publish the files. A
	// crash in between leaves an incomplete CA, which the next load reports
	// instead of papering over.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: create CA: %w", err)
	}
	rootTmp, err := stageFile(dir, RootCertFile, rootPEM)
	if err != nil {
		return nil, err
	}
	defer os.Remove(rootTmp)
	interTmp, err := stageFile(dir, IntermediateCertFile, interPEM)
	if err != nil {
		return nil, err
	}
	defer os.Remove(interTmp)
	if err := st.Set(IntermediateKeyName, keyDER); err != nil {
		return nil, fmt.Errorf("certs: create CA: save intermediate key in secure store: %w", err)
	}
	for _, f := range []struct{ tmp, name string }{{interTmp, IntermediateCertFile}, {rootTmp, RootCertFile}} {
		if err := os.Rename(f.tmp, filepath.Join(dir, f.name)); err != nil {
			// Undo what can be undone, so the next run starts afresh
			// rather than finding an incomplete CA.
			_ = os.Remove(filepath.Join(dir, IntermediateCertFile))
			_ = st.Delete(IntermediateKeyName)
			return nil, fmt.Errorf("certs: create CA: %w", err)
		}
	}
	return ca, nil
}

// mintCA makes a root and the intermediate it signs. The root key is made
// here, signs exactly these two certificates and is dropped when mintCA
// returns: it is never serialised, stored or returned. (Go cannot promise
// to wipe memory; the garbage collector reclaims it.)
func mintCA(now time.Time) (rootDER, interDER []byte, interKey *ecdsa.PrivateKey, err error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generate root key: %w", err)
	}
	interKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generate intermediate key: %w", err)
	}

	// The date in the names tells apart the roots of several machines or
	// several generations in a trust store UI. No hostname or user name:
	// the intermediate's issuer field is sent to every TLS client,
	// including remote hosts.
	stamp := now.UTC().Format("2006-01-02 15:04:05Z")
	notBefore := now.Add(-backdate)
	notAfter := now.Add(caValidity)

	rootTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject: pkix.Name{
			Organization: []string{"aws-sso-agent local CA"},
			CommonName:   "aws-sso-agent root " + stamp,
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	rootDER, err = x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("sign root: %w", err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parse root: %w", err)
	}

	interTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject: pkix.Name{
			Organization: []string{"aws-sso-agent local CA"},
			CommonName:   "aws-sso-agent intermediate " + stamp,
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Path length 0: the intermediate signs leaves only, never another CA
		// that could shed its constraints in verifiers that mishandle them.
		MaxPathLen:     0,
		MaxPathLenZero: true,
		// An EKU on a CA limits what it may issue for (Go, Windows, NSS and
		// OpenSSL all nest it): server certificates only.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// The constraints sit on the intermediate, not the root, because
		// Java ignores name constraints on a trust anchor but honours them
		// on an intermediate; Go, OpenSSL, Python and Node honour both.
		// Critical, as RFC 5280 section 4.2.1.10 requires: a verifier that
		// cannot check them must reject the chain rather than ignore them.
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         []string{"localhost"},
		PermittedIPRanges:           loopbackRanges(),
	}
	interDER, err = x509.CreateCertificate(rand.Reader, interTmpl, root, interKey.Public(), rootKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("sign intermediate: %w", err)
	}
	return rootDER, interDER, interKey, nil
}

// parseCA builds a CA from its stored parts and checks that they belong
// together and are the kind of certificates createCA makes.
func parseCA(rootPEM, interPEM, keyDER []byte) (*CA, error) {
	root, err := parseCertificatePEM(rootPEM)
	if err != nil {
		return nil, fmt.Errorf("certs: load root %s: %w", RootCertFile, err)
	}
	inter, err := parseCertificatePEM(interPEM)
	if err != nil {
		return nil, fmt.Errorf("certs: load intermediate %s: %w", IntermediateCertFile, err)
	}
	if err := checkCACert(root); err != nil {
		return nil, fmt.Errorf("certs: load root %s: %w", RootCertFile, err)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("certs: load root %s: not self-signed: %w", RootCertFile, err)
	}
	if err := checkCACert(inter); err != nil {
		return nil, fmt.Errorf("certs: load intermediate %s: %w", IntermediateCertFile, err)
	}
	if !inter.MaxPathLenZero || inter.MaxPathLen != 0 || !constrainedToLoopback(inter) {
		return nil, fmt.Errorf("certs: load intermediate %s: not name-constrained with path length 0", IntermediateCertFile)
	}
	if err := inter.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("%w: %s was not signed by %s: %v", ErrMismatched, IntermediateCertFile, RootCertFile, err)
	}

	k, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		// Not %w: the parser's error could quote key bytes.
		return nil, fmt.Errorf("certs: load intermediate key %q: not a PKCS#8 private key", IntermediateKeyName)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("certs: load intermediate key %q: not an ECDSA P-256 key", IntermediateKeyName)
	}
	pub, ok := inter.PublicKey.(*ecdsa.PublicKey)
	if !ok || !key.PublicKey.Equal(pub) {
		return nil, fmt.Errorf("%w: secure store key %q is not the key of %s", ErrMismatched, IntermediateKeyName, IntermediateCertFile)
	}
	return &CA{root: root, inter: inter, interKey: key, rootPEM: rootPEM, interPEM: interPEM}, nil
}

// constrainedToLoopback reports whether c carries exactly the name
// constraints createCA gives the intermediate, so a loaded CA never vouches
// for more than a new one would.
func constrainedToLoopback(c *x509.Certificate) bool {
	if !c.PermittedDNSDomainsCritical ||
		len(c.PermittedDNSDomains) != 1 || c.PermittedDNSDomains[0] != "localhost" ||
		len(c.ExcludedDNSDomains)+len(c.ExcludedIPRanges) != 0 {
		return false
	}
	want := loopbackRanges()
	if len(c.PermittedIPRanges) != len(want) {
		return false
	}
	for i, r := range c.PermittedIPRanges {
		if r.String() != want[i].String() {
			return false
		}
	}
	return true
}

// checkCACert checks what createCA puts in both CA certificates.
func checkCACert(c *x509.Certificate) error {
	if !c.BasicConstraintsValid || !c.IsCA {
		return errors.New("not a CA certificate")
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return errors.New("CA certificate without certSign key usage")
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return errors.New("not an ECDSA P-256 certificate")
	}
	return nil
}

// parseCertificatePEM parses a file holding exactly one PEM "CERTIFICATE"
// block and nothing else but white space. The CA files are ours, so
// anything more is a sign of tampering or of the wrong file.
func parseCertificatePEM(data []byte) (*x509.Certificate, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM data")
	}
	if block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("PEM block is %q, want \"CERTIFICATE\"", block.Type)
	}
	if len(block.Headers) != 0 {
		return nil, errors.New("PEM block has headers")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data after the certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// Fingerprint identifies the root: "SHA256:" and the unpadded standard
// base64 of the SHA-256 of its DER encoding, the form OpenSSH prints for
// keys (ssh-keygen -l), so people compare it the way they already compare
// host keys.
func (ca *CA) Fingerprint() string {
	return Fingerprint(ca.root)
}

// Fingerprint returns the fingerprint of any certificate in the form
// (*CA).Fingerprint uses, for comparing a presented root with a pinned one.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// Root returns the root certificate. The caller must not modify it.
func (ca *CA) Root() *x509.Certificate { return ca.root }

// Intermediate returns the issuing intermediate certificate. The caller
// must not modify it.
func (ca *CA) Intermediate() *x509.Certificate { return ca.inter }

// RootPEM returns the root certificate, PEM-encoded: what clients trust or
// pin (SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, an OS trust store).
func (ca *CA) RootPEM() []byte { return bytes.Clone(ca.rootPEM) }

// ChainPEM returns the intermediate followed by the root, PEM-encoded: the
// chain above a leaf, in the order TLS sends it.
func (ca *CA) ChainPEM() []byte {
	return append(bytes.Clone(ca.interPEM), ca.rootPEM...)
}

// Pool returns a new pool holding only the root, for tls.Config.RootCAs
// or x509.VerifyOptions.Roots.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.root)
	return p
}

// randomSerial returns a random 128-bit serial number. Random serials keep
// two issuances from ever sharing a serial (which some verifiers reject)
// and exceed the 64 bits of entropy the CA/Browser Forum requires.
func randomSerial() *big.Int {
	// rand.Int with crypto/rand.Reader cannot fail since Go 1.24 (the reader
	// never returns an error).
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic("certs: crypto/rand failed: " + err.Error())
	}
	return n
}

// loopbackRanges returns 127.0.0.0/8 and ::1/128: every IPv4 loopback
// address (RFC 1122 section 3.2.1.3) and the one IPv6 loopback address
// (RFC 4291 section 2.5.3).
func loopbackRanges() []*net.IPNet {
	return []*net.IPNet{
		{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)},
		{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
	}
}

// stageFile writes data to a temporary file in dir, to be renamed to name
// once the rest of the CA is saved.
func stageFile(dir, name string, data []byte) (string, error) {
	tmp, err := certfile.Stage(dir, name, data)
	switch {
	case err == nil:
		return tmp, nil
	case tmp == "":
		return "", fmt.Errorf("certs: create CA: %w", err)
	default:
		return "", fmt.Errorf("certs: create CA: write %s: %w", tmp, err)
	}
}

func joinList(items []string) string {
	switch len(items) {
	case 1:
		return items[0]
	case 2:
		return items[0] + " and " + items[1]
	}
	s := ""
	for i, it := range items {
		if i == len(items)-1 {
			s += "and " + it
		} else {
			s += it + ", "
		}
	}
	return s
}
