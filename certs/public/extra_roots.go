package public

import (
	"crypto/x509"
	"fmt"
	"os"
)

// ExtraRootsEnv is a TEST HOOK, not a user setting: it names a PEM file of
// root certificates trusted, besides the system's, when a chain is
// verified before it is installed (Public.ExtraRoots, through Open) and
// when the ACME server is reached (acme.ExtraRootsClient). Tests sign chains
// with a CA of their own (and the e2e suite with Pebble's), which no
// system trusts; Go caches the system roots per process, so SSL_CERT_FILE
// cannot be changed between in-process tests. It only widens what may be
// installed, never what clients trust.
const ExtraRootsEnv = "AWS_SSO_AGENT_EXTRA_ROOTS"

// ExtraRoots adds the roots in the file ExtraRootsEnv names to pool (nil:
// a new, empty pool) and returns it. It returns nil, nil when ExtraRootsEnv
// is unset.
func ExtraRoots(pool *x509.CertPool) (*x509.CertPool, error) {
	path := os.Getenv(ExtraRootsEnv)
	if path == "" {
		return nil, nil
	}
	// Any certificate, not only CAs' (AddRootsFile): tests trust the
	// self-signed HTTPS certificate of their ACME server this way.
	data, err := ReadChainFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ExtraRootsEnv, err)
	}
	if pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate in %s", ExtraRootsEnv, path)
	}
	return pool, nil
}

// AddRootsFile adds the CA certificates in the PEM file path to pool (nil:
// a new, empty pool) and returns it: `certs load --ca`, for a chain from
// an organisation's own CA, which the system does not trust. Every
// certificate in the file must be a CA's (basic constraints CA:TRUE): a
// leaf given as its own root would make the chain check meaningless.
func AddRootsFile(pool *x509.CertPool, path string) (*x509.CertPool, error) {
	data, err := ReadChainFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := ParseChainPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if pool == nil {
		pool = x509.NewCertPool()
	}
	for _, c := range certs {
		if !c.IsCA {
			return nil, fmt.Errorf("%w: %s: %s is not a CA certificate", ErrUntrustedChain, path, describeNames(c))
		}
		pool.AddCert(c)
	}
	return pool, nil
}
