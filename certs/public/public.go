package public

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/internal/certfile"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// Names under which the public certificate is kept. They are part of the
// on-disk format: changing one orphans existing certificates.
const (
	// KeyName is the secure store key holding the private key of the
	// installed public certificate, PKCS#8 DER.
	KeyName = "certs/public-key"

	// PendingKeyName holds the key made by ExportCSR until LoadChain
	// accepts a certificate for it, PKCS#8 DER. It never leaves the store:
	// only the CSR is handed out.
	PendingKeyName = "certs/public-pending-key"

	// Files in Public.Dir. All hold public data only (a name, certificates,
	// a CSR) and are written 0644, like the local CA's certificates.
	FQDNFile  = "fqdn"
	ChainFile = "chain.pem"
	CSRFile   = "pending.csr"
)

// Errors of the public certificate workflow, wrapped with the details of
// each case so callers can test them with errors.Is. Every refusal happens
// before anything is written: the store and Public.Dir are left as they
// were.
var (
	// ErrNoCert is returned by (*Public).Current and
	// (*Public).CurrentChain when no public certificate is installed.
	ErrNoCert = errors.New("certs: no public certificate")

	// ErrNoPendingKey is wrapped by LoadChain when ExportCSR has not made
	// a key for the chain to belong to.
	ErrNoPendingKey = errors.New("certs: no pending key")

	// ErrMalformedPEM is wrapped when a chain, key or CSR is not
	// well-formed PEM holding what it should.
	ErrMalformedPEM = errors.New("certs: malformed PEM")

	// ErrKeyMismatch is wrapped when the leaf certificate is not for the
	// private key it is to be served with.
	ErrKeyMismatch = errors.New("certs: certificate is for another key")

	// ErrWrongName is wrapped when the leaf certificate does not cover the
	// public name.
	ErrWrongName = errors.New("certs: certificate is for another name")

	// ErrNotValidNow is wrapped when the leaf certificate has expired or is
	// not valid yet.
	ErrNotValidNow = errors.New("certs: certificate is outside its validity period")

	// ErrUntrustedChain is wrapped when the chain does not verify against
	// the system roots (plus Public.ExtraRoots).
	ErrUntrustedChain = errors.New("certs: certificate chain does not verify")

	// ErrInvalidFQDN is wrapped by ValidateFQDN and everything that takes
	// a public name.
	ErrInvalidFQDN = errors.New("certs: invalid public name")

	// ErrUnsupportedKey is wrapped when an imported key is of a type or
	// size we do not serve or cannot store.
	ErrUnsupportedKey = errors.New("certs: unsupported private key")
)

// maxChainLen bounds the certificates accepted in one chain. Web PKI
// chains are two to four certificates long; ten leaves room for
// cross-signs while keeping a hostile file from making us verify hundreds.
const maxChainLen = 10

// Cert is a certificate for the agent's public name, with its key.
type Cert struct {
	// FQDN is the public name the certificate is served for.
	FQDN string
	// Chain is the leaf first, then the certificates that lead to a root,
	// in the order TLS sends them.
	Chain []*x509.Certificate
	// Key is the leaf's private key: *ecdsa.PrivateKey or *rsa.PrivateKey.
	Key crypto.Signer
}

// TLSCertificate returns c in the form tls.Config.GetCertificate returns.
func (c *Cert) TLSCertificate() *tls.Certificate {
	tc := &tls.Certificate{PrivateKey: c.Key}
	for _, x := range c.Chain {
		tc.Certificate = append(tc.Certificate, x.Raw)
	}
	if len(c.Chain) > 0 {
		tc.Leaf = c.Chain[0]
	}
	return tc
}

// NotAfter is when the leaf certificate expires (the zero time for an empty
// chain).
func (c *Cert) NotAfter() time.Time {
	if len(c.Chain) == 0 {
		return time.Time{}
	}
	return c.Chain[0].NotAfter
}

// Public keeps the certificate for the agent's public name: a DNS name
// under a zone the user controls that resolves to loopback, with a
// certificate every SDK trusts (docs/tls.md, section 1).
//
// Its private key lives in the secure store only (KeyName); the
// certificates, the name and a pending CSR are files in Dir. Every way in
// (LoadChain, Import, Install) checks the same things before it stores
// anything: the leaf is for the key, covers the name, is valid now, and the
// chain verifies against the system roots plus ExtraRoots.
//
// Public does no locking: the CLI runs one command at a time, and the
// agent only reads.
type Public struct {
	Store store.Store
	// Dir holds the public files, usually CONFIG/public. It is created 0700
	// on first write.
	Dir string
	// Now is the clock (nil means time.Now).
	Now func() time.Time
	// ExtraRoots, if not nil, are trusted in addition to the system roots
	// when a chain is verified: a test CA, a private ACME server such as
	// Pebble, or an organisation's own CA.
	ExtraRoots *x509.CertPool
}

// DefaultDir is Public.Dir for the agent's configuration directory
// config: config/public.
func DefaultDir(config string) string { return filepath.Join(config, "public") }

// Open returns the Public of the configuration directory config
// (DefaultDir) on st, trusting, besides the system's roots, those of the
// ExtraRootsEnv test hook.
func Open(st store.Store, config string) (*Public, error) {
	roots, err := ExtraRoots(nil)
	if err != nil {
		return nil, err
	}
	return &Public{Store: st, Dir: DefaultDir(config), ExtraRoots: roots}, nil
}

func (p *Public) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

// SetFQDN sets the public name (see ValidateFQDN; it is stored lowercase
// without a final dot). It refuses a name the installed certificate does
// not cover: that certificate could never be served under it.
func (p *Public) SetFQDN(name string) error {
	fqdn, err := ValidateFQDN(name)
	if err != nil {
		return err
	}
	old, chain, err := p.CurrentChain()
	switch {
	case errors.Is(err, ErrNoCert):
	case err != nil:
		return fmt.Errorf("certs: set public name: %w", err)
	default:
		if err := chain[0].VerifyHostname(fqdn); err != nil && old != fqdn {
			return fmt.Errorf("%w: the installed certificate for %s does not cover %s; delete it first, or install a certificate for %s",
				ErrWrongName, old, fqdn, fqdn)
		}
	}
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return fmt.Errorf("certs: set public name: %w", err)
	}
	return writePublicFile(p.Dir, FQDNFile, []byte(fqdn+"\n"))
}

// FQDN returns the public name, or "" if none is set.
func (p *Public) FQDN() (string, error) {
	data, err := certfile.Read(filepath.Join(p.Dir, FQDNFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("certs: read public name: %w", err)
	}
	fqdn, err := ValidateFQDN(strings.TrimSpace(string(data)))
	if err != nil {
		return "", fmt.Errorf("certs: read public name from %s: %w", filepath.Join(p.Dir, FQDNFile), err)
	}
	return fqdn, nil
}

// ExportCSR makes a new ECDSA P-256 key, keeps it in the secure store under
// PendingKeyName (replacing any earlier pending key) and returns a
// PEM certificate signing request for fqdn (as the subject's common name
// and the one DNS subject alternative name). The CSR is also kept in Dir,
// so LoadChain knows which name the chain must cover. The installed
// certificate, if any, is untouched until LoadChain accepts the new chain.
// If no public name is set yet, fqdn becomes it.
func (p *Public) ExportCSR(fqdn string) ([]byte, error) {
	fqdn, err := ValidateFQDN(fqdn)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: export CSR: generate key: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: fqdn},
		DNSNames: []string{fqdn},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("certs: export CSR: sign: %w", err)
	}
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	// Parse back what LoadChain will read, so both use the same checks.
	if _, err := ParseCSRPEM(csrPEM); err != nil {
		return nil, fmt.Errorf("certs: export CSR: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("certs: export CSR: encode key: %w", err)
	}
	current, err := p.FQDN()
	if err != nil {
		return nil, err
	}

	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: export CSR: %w", err)
	}
	tmp, err := stagePublicFile(p.Dir, CSRFile, csrPEM)
	if err != nil {
		return nil, fmt.Errorf("certs: export CSR: %w", err)
	}
	defer os.Remove(tmp)
	if err := p.Store.Set(PendingKeyName, keyDER); err != nil {
		return nil, fmt.Errorf("certs: export CSR: save key in secure store: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(p.Dir, CSRFile)); err != nil {
		_ = p.Store.Delete(PendingKeyName)
		return nil, fmt.Errorf("certs: export CSR: %w", err)
	}
	if current == "" {
		if err := writePublicFile(p.Dir, FQDNFile, []byte(fqdn+"\n")); err != nil {
			return nil, err
		}
	}
	return csrPEM, nil
}

// PendingCSR returns the CSR of the last ExportCSR still waiting for its
// chain, or an error wrapping ErrNoPendingKey.
func (p *Public) PendingCSR() (*x509.CertificateRequest, error) {
	data, err := certfile.Read(filepath.Join(p.Dir, CSRFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no CSR was exported (or its chain was loaded already)", ErrNoPendingKey)
	}
	if err != nil {
		return nil, fmt.Errorf("certs: read pending CSR: %w", err)
	}
	csr, err := ParseCSRPEM(data)
	if err != nil {
		return nil, fmt.Errorf("certs: read pending CSR %s: %w", filepath.Join(p.Dir, CSRFile), err)
	}
	return csr, nil
}

// LoadChain accepts the signed chain for the key of the last ExportCSR.
// chainPEM holds the leaf first, then intermediates (a root may follow;
// text outside the PEM blocks, as openssl writes it, is ignored). The chain
// is refused, and nothing is stored, unless the leaf is for the pending
// key, covers the CSR's name, is valid now, and the chain verifies. On
// success the pending key becomes the public key, the chain and the CSR's
// name (now the public name) are written to Dir, and the pending CSR is
// removed.
func (p *Public) LoadChain(chainPEM []byte) (*Cert, error) {
	csr, err := p.PendingCSR()
	if err != nil {
		return nil, err
	}
	keyDER, err := p.Store.Get(PendingKeyName)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: the secure store has no %q (was the CSR exported with another store?)", ErrNoPendingKey, PendingKeyName)
	}
	if err != nil {
		return nil, fmt.Errorf("certs: load chain: read %q from secure store: %w", PendingKeyName, err)
	}
	key, err := parseStoredKey(keyDER, PendingKeyName)
	if err != nil {
		return nil, fmt.Errorf("certs: load chain: %w", err)
	}
	if !publicKeyEqual(csr.PublicKey, key.Public()) {
		return nil, fmt.Errorf("%w: the pending CSR in %s is not for the pending key; export a new CSR",
			ErrKeyMismatch, filepath.Join(p.Dir, CSRFile))
	}
	// Refusals are returned as they are: each already says what is wrong
	// with what ("certs: certificate is for another name: ...").
	chain, err := ParseChainPEM(chainPEM)
	if err != nil {
		return nil, err
	}
	c := &Cert{FQDN: csr.DNSNames[0], Chain: chain, Key: key}
	if err := p.check(c, "the pending key of the last CSR export"); err != nil {
		return nil, err
	}
	if err := p.promote(c, keyDER); err != nil {
		return nil, fmt.Errorf("certs: load chain: %w", err)
	}
	// The pending key is now the public key. A failure to tidy up leaves a
	// stale pending key whose chain is already installed: harmless, and
	// replaced by the next ExportCSR.
	_ = p.Store.Delete(PendingKeyName)
	_ = os.Remove(filepath.Join(p.Dir, CSRFile))
	return c, nil
}

// Import installs a certificate and key the user already has (certs save).
// certPEM is the chain as for LoadChain; keyPEM is the leaf's private key,
// unencrypted PKCS#8, SEC 1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE
// KEY"): ECDSA P-256 or P-384, or RSA of 2048 to 3072 bits (a larger RSA
// key does not fit the secure store; see store.MaxValueSize). The chain
// must cover the public name; if none is set, the leaf must name exactly
// one DNS name, which becomes it. The same checks as LoadChain apply, and a
// refusal stores nothing. The caller should tell the user to delete the
// key file: from now on the key lives in the secure store.
func (p *Public) Import(certPEM, keyPEM []byte) (*Cert, error) {
	// Refusals are returned as they are, as in LoadChain.
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	chain, err := ParseChainPEM(certPEM)
	if err != nil {
		return nil, err
	}
	fqdn, err := p.FQDN()
	if err != nil {
		return nil, err
	}
	if fqdn == "" {
		names := chain[0].DNSNames
		if len(names) != 1 {
			return nil, fmt.Errorf("%w: none is set, and the certificate names %s; set one first",
				ErrInvalidFQDN, describeNames(chain[0]))
		}
		if fqdn, err = ValidateFQDN(names[0]); err != nil {
			return nil, err
		}
	}
	c := &Cert{FQDN: fqdn, Chain: chain, Key: key}
	if err := p.check(c, "the key in the key file"); err != nil {
		return nil, err
	}
	keyDER, err := marshalKey(key)
	if err != nil {
		return nil, err
	}
	if err := p.promote(c, keyDER); err != nil {
		return nil, fmt.Errorf("certs: import: %w", err)
	}
	return c, nil
}

// Install installs c, whose key was made elsewhere (by the ACME client
// after issuance). It applies the checks of LoadChain to c.FQDN, c.Key and
// c.Chain, so a test ACME server's root (Pebble's) must be in ExtraRoots.
// c.FQDN becomes the public name. The pending key, if any, is kept.
func (p *Public) Install(c *Cert) error {
	if c == nil || len(c.Chain) == 0 || c.Key == nil {
		return errors.New("certs: install: incomplete certificate (no chain or no key)")
	}
	// Refusals are returned as they are, as in LoadChain.
	fqdn, err := ValidateFQDN(c.FQDN)
	if err != nil {
		return err
	}
	if len(c.Chain) > maxChainLen {
		return fmt.Errorf("%w: %d certificates, at most %d", ErrMalformedPEM, len(c.Chain), maxChainLen)
	}
	keyDER, err := marshalKey(c.Key)
	if err != nil {
		return err
	}
	c = &Cert{FQDN: fqdn, Chain: c.Chain, Key: c.Key}
	if err := p.check(c, "the given key"); err != nil {
		return err
	}
	if err := p.promote(c, keyDER); err != nil {
		return fmt.Errorf("certs: install: %w", err)
	}
	return nil
}

// Current returns the installed certificate with its key, or an error
// wrapping ErrNoCert. It checks that the parts belong together (the
// key is the leaf's, the leaf covers the name) but not the validity period
// nor the chain: an expired certificate is still returned, so callers can
// report it; compare NotAfter with the clock before serving it.
func (p *Public) Current() (*Cert, error) {
	fqdn, chain, err := p.CurrentChain()
	if err != nil {
		return nil, err
	}
	keyDER, err := p.Store.Get(KeyName)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("certs: public certificate: %s exists but the secure store has no key %q (another store, or a half-deleted certificate); delete it and install it again",
			filepath.Join(p.Dir, ChainFile), KeyName)
	}
	if err != nil {
		return nil, fmt.Errorf("certs: public certificate: read %q from secure store: %w", KeyName, err)
	}
	key, err := parseStoredKey(keyDER, KeyName)
	if err != nil {
		return nil, fmt.Errorf("certs: public certificate: %w", err)
	}
	if !publicKeyEqual(chain[0].PublicKey, key.Public()) {
		return nil, fmt.Errorf("certs: public certificate: %w: secure store key %q is not the key of %s",
			ErrKeyMismatch, KeyName, filepath.Join(p.Dir, ChainFile))
	}
	return &Cert{FQDN: fqdn, Chain: chain, Key: key}, nil
}

// CurrentChain returns the public name and the installed chain without
// touching the secure store (for status and print, which need no key), or
// an error wrapping ErrNoCert. It checks that the leaf covers the
// name, not that the key matches (Current does).
func (p *Public) CurrentChain() (string, []*x509.Certificate, error) {
	path := filepath.Join(p.Dir, ChainFile)
	data, err := certfile.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, ErrNoCert
	}
	if err != nil {
		return "", nil, fmt.Errorf("certs: public certificate: %w", err)
	}
	chain, err := ParseChainPEM(data)
	if err != nil {
		return "", nil, fmt.Errorf("certs: public certificate %s: %w", path, err)
	}
	fqdn, err := p.FQDN()
	if err != nil {
		return "", nil, err
	}
	if fqdn == "" {
		return "", nil, fmt.Errorf("certs: public certificate: %s exists but no public name is set in %s", path, filepath.Join(p.Dir, FQDNFile))
	}
	if err := chain[0].VerifyHostname(fqdn); err != nil {
		return "", nil, fmt.Errorf("certs: public certificate: %w: %s is for %s, the public name is %s", ErrWrongName, path, describeNames(chain[0]), fqdn)
	}
	return fqdn, chain, nil
}

// Delete removes the public and pending keys from the store and the
// certificate, the pending CSR and the public name from Dir. Parts already
// gone are not an error. The ACME account key is kept: it is not tied to
// a certificate.
func (p *Public) Delete() error {
	var errs []error
	for _, k := range []string{KeyName, PendingKeyName} {
		if err := p.Store.Delete(k); err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, fmt.Errorf("certs: delete: remove %q from secure store: %w", k, err))
		}
	}
	for _, name := range []string{ChainFile, CSRFile, FQDNFile} {
		if err := os.Remove(filepath.Join(p.Dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("certs: delete: %w", err))
		}
	}
	return errors.Join(errs...)
}

// check is what every way in applies before anything is stored. whose
// names the key for the error message.
func (p *Public) check(c *Cert, whose string) error {
	leaf := c.Chain[0]
	if !publicKeyEqual(leaf.PublicKey, c.Key.Public()) {
		for i, x := range c.Chain[1:] {
			if publicKeyEqual(x.PublicKey, c.Key.Public()) {
				return fmt.Errorf("%w: certificate %d of the chain (%s) is for %s, but the leaf must come first",
					ErrKeyMismatch, i+2, describeNames(x), whose)
			}
		}
		return fmt.Errorf("%w: the leaf certificate (%s) is not for %s", ErrKeyMismatch, describeNames(leaf), whose)
	}
	if err := leaf.VerifyHostname(c.FQDN); err != nil {
		return fmt.Errorf("%w: the certificate is for %s, not %s", ErrWrongName, describeNames(leaf), c.FQDN)
	}
	now := p.now()
	if now.Before(leaf.NotBefore) {
		return fmt.Errorf("%w: the certificate is not valid before %s (now %s)", ErrNotValidNow,
			leaf.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("%w: the certificate expired on %s (now %s)", ErrNotValidNow,
			leaf.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	inter := x509.NewCertPool()
	for _, x := range c.Chain[1:] {
		inter.AddCert(x)
	}
	opts := x509.VerifyOptions{
		DNSName:       c.FQDN,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	// Roots nil means the system roots. x509.CertPool has no union and
	// cannot list a pool's certificates, so ExtraRoots get a second try of
	// their own rather than being merged in.
	_, err := leaf.Verify(opts)
	if err != nil && p.ExtraRoots != nil {
		opts.Roots = p.ExtraRoots
		if _, extraErr := leaf.Verify(opts); extraErr == nil {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUntrustedChain, err)
	}
	return nil
}

// promote stores keyDER as the public key and writes c's chain and name to
// Dir. Files are staged first so a failure before the key is stored leaves
// everything as it was; if publishing the files fails after that, the
// previous key is put back.
func (p *Public) promote(c *Cert, keyDER []byte) error {
	if len(keyDER) > store.MaxValueSize {
		return fmt.Errorf("%w: the key is %d bytes encoded, more than the secure store's limit of %d; use an ECDSA P-256 key",
			ErrUnsupportedKey, len(keyDER), store.MaxValueSize)
	}
	var chainPEM bytes.Buffer
	for _, x := range c.Chain {
		_ = pem.Encode(&chainPEM, &pem.Block{Type: "CERTIFICATE", Bytes: x.Raw})
	}
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return err
	}
	chainTmp, err := stagePublicFile(p.Dir, ChainFile, chainPEM.Bytes())
	if err != nil {
		return err
	}
	defer os.Remove(chainTmp)
	fqdnTmp, err := stagePublicFile(p.Dir, FQDNFile, []byte(c.FQDN+"\n"))
	if err != nil {
		return err
	}
	defer os.Remove(fqdnTmp)

	old, oldErr := p.Store.Get(KeyName)
	if oldErr != nil && !errors.Is(oldErr, store.ErrNotFound) {
		return fmt.Errorf("read %q from secure store: %w", KeyName, oldErr)
	}
	if err := p.Store.Set(KeyName, keyDER); err != nil {
		return fmt.Errorf("save key in secure store: %w", err)
	}
	for _, f := range []struct{ tmp, name string }{{chainTmp, ChainFile}, {fqdnTmp, FQDNFile}} {
		if err := os.Rename(f.tmp, filepath.Join(p.Dir, f.name)); err != nil {
			if oldErr == nil {
				_ = p.Store.Set(KeyName, old)
			} else {
				_ = p.Store.Delete(KeyName)
			}
			return err
		}
	}
	return nil
}

// writePublicFile replaces Dir/name with data atomically, 0644.
func writePublicFile(dir, name string, data []byte) error {
	tmp, err := stagePublicFile(dir, name, data)
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("certs: write %s: %w", filepath.Join(dir, name), err)
	}
	return nil
}

// stagePublicFile is certfile.Stage with an error fit for public files;
// callers add their context.
func stagePublicFile(dir, name string, data []byte) (string, error) {
	tmp, err := certfile.Stage(dir, name, data)
	if err != nil {
		return "", fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
	}
	return tmp, nil
}
