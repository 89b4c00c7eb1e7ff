package localca

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DefaultDir is the CA's directory (see LoadOrCreate) in the agent's
// configuration directory config: config/ca.
func DefaultDir(config string) string { return filepath.Join(config, "ca") }

// ErrNoCA is returned by ReadRoot when dir holds no root certificate: the
// agent has not made its CA yet (it does when it first starts).
var ErrNoCA = errors.New("certs: no local CA yet")

// ReadRoot reads the root certificate in dir, without the secure store,
// for what needs no key (printing the root, trusting it, status). It
// returns the certificate and the file's contents. Unlike LoadOrCreate it
// does not check that the CA is whole.
func ReadRoot(dir string) (*x509.Certificate, []byte, error) {
	path := filepath.Join(dir, RootCertFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, ErrNoCA
	}
	if err != nil {
		return nil, nil, err
	}
	cert, err := firstCertificate(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return cert, b, nil
}

// ReadIntermediate reads the intermediate certificate in dir, as ReadRoot
// reads the root.
func ReadIntermediate(dir string) (*x509.Certificate, error) {
	b, err := os.ReadFile(filepath.Join(dir, IntermediateCertFile))
	if err != nil {
		return nil, err
	}
	return firstCertificate(b)
}

// firstCertificate parses the first PEM block of b, which must be a
// certificate. It is lenient where parseCertificatePEM is strict: it only
// shows a certificate, it does not make it a trust anchor.
func firstCertificate(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}
