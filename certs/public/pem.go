package public

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
)

// The parsers here read what users hand us (chains from a CA, key files,
// CSRs) and so are fuzzed (public_fuzz_test.go). Their errors never quote
// the input: a key file's bytes must not end up in a terminal or a log.

// ParseChainPEM parses a PEM certificate chain: one or more CERTIFICATE
// blocks, the leaf first. Text outside the blocks is ignored (openssl and
// many CAs write "subject=" lines between them), but any other block type
// is refused, so a private key pasted into a chain file is noticed, not
// silently skipped. At most maxChainLen certificates.
func ParseChainPEM(data []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == "CERTIFICATE":
		case strings.Contains(block.Type, "PRIVATE KEY"):
			return nil, fmt.Errorf("%w: the chain holds a %q block; a certificate chain must not contain a private key", ErrMalformedPEM, block.Type)
		default:
			return nil, fmt.Errorf("%w: the chain holds a %q block, want only \"CERTIFICATE\"", ErrMalformedPEM, block.Type)
		}
		if len(block.Headers) != 0 {
			return nil, fmt.Errorf("%w: certificate %d has PEM headers", ErrMalformedPEM, len(chain)+1)
		}
		if len(chain) == maxChainLen {
			return nil, fmt.Errorf("%w: more than %d certificates", ErrMalformedPEM, maxChainLen)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %v", ErrMalformedPEM, len(chain)+1, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: no PEM certificate found", ErrMalformedPEM)
	}
	return chain, nil
}

// ParseCSRPEM parses one PEM CERTIFICATE REQUEST (or the older "NEW
// CERTIFICATE REQUEST") and checks what a CSR for a public name must be:
// correctly self-signed, an ECDSA or RSA key, exactly one DNS name, a
// valid public name (ValidateFQDN), no IP, e-mail or URI names, and a
// common name that is empty or that name.
func ParseCSRPEM(data []byte) (*x509.CertificateRequest, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM CSR found", ErrMalformedPEM)
	}
	if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("%w: PEM block is %q, want \"CERTIFICATE REQUEST\"", ErrMalformedPEM, block.Type)
	}
	if len(block.Headers) != 0 {
		return nil, fmt.Errorf("%w: the CSR has PEM headers", ErrMalformedPEM)
	}
	if more, _ := pem.Decode(rest); more != nil {
		return nil, fmt.Errorf("%w: more than one PEM block", ErrMalformedPEM)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: CSR: %v", ErrMalformedPEM, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certs: CSR signature does not verify: %w", err)
	}
	switch csr.PublicKey.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
	default:
		return nil, fmt.Errorf("%w: CSR key is %T, want ECDSA or RSA", ErrUnsupportedKey, csr.PublicKey)
	}
	if len(csr.IPAddresses)+len(csr.EmailAddresses)+len(csr.URIs) != 0 {
		return nil, fmt.Errorf("%w: the CSR asks for IP, e-mail or URI names; only one DNS name is allowed", ErrInvalidFQDN)
	}
	if len(csr.DNSNames) != 1 {
		return nil, fmt.Errorf("%w: the CSR names %d DNS names, want exactly one", ErrInvalidFQDN, len(csr.DNSNames))
	}
	name, err := ValidateFQDN(csr.DNSNames[0])
	if err != nil {
		return nil, fmt.Errorf("certs: CSR: %w", err)
	}
	if name != csr.DNSNames[0] {
		return nil, fmt.Errorf("%w: the CSR's DNS name is not in canonical form (lowercase, no final dot)", ErrInvalidFQDN)
	}
	if cn := csr.Subject.CommonName; cn != "" && cn != name {
		return nil, fmt.Errorf("%w: the CSR's common name differs from its DNS name", ErrInvalidFQDN)
	}
	return csr, nil
}

// ParsePrivateKeyPEM parses an unencrypted private key in PEM: PKCS#8
// ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY").
// It accepts ECDSA P-256 and P-384 and RSA of 2048 to 3072 bits: what
// public CAs issue for, and small enough for the secure store. An EC
// PARAMETERS block before the key (openssl ecparam -genkey writes one) is
// skipped.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%w: no PEM private key found", ErrMalformedPEM)
		}
		if block.Type == "EC PARAMETERS" {
			continue
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
			return nil, fmt.Errorf("%w: the key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN), import it, then delete both files", ErrUnsupportedKey)
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			return nil, fmt.Errorf("%w: PEM block is %q, want a private key", ErrMalformedPEM, block.Type)
		}
		if err != nil {
			// Not %v of err: parser errors may describe key material.
			return nil, fmt.Errorf("%w: the %q block is not a valid private key", ErrMalformedPEM, block.Type)
		}
		if more, _ := pem.Decode(rest); more != nil {
			return nil, fmt.Errorf("%w: more than one PEM block after the key", ErrMalformedPEM)
		}
		return checkKey(key)
	}
}

// checkKey accepts the key types ParsePrivateKeyPEM documents.
func checkKey(key any) (crypto.Signer, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, fmt.Errorf("%w: ECDSA on %s; use P-256 or P-384", ErrUnsupportedKey, k.Curve.Params().Name)
		}
		return k, nil
	case *rsa.PrivateKey:
		// 2048 bits is the floor of the CA/Browser Forum Baseline
		// Requirements (section 6.1.5); above 3072 the PKCS#8 encoding
		// exceeds store.MaxValueSize.
		if n := k.N.BitLen(); n < 2048 || n > 3072 {
			return nil, fmt.Errorf("%w: RSA key of %d bits; use 2048 or 3072 bits, or ECDSA P-256", ErrUnsupportedKey, n)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("%w: %T; use ECDSA P-256 or P-384, or RSA", ErrUnsupportedKey, key)
	}
}

// parseStoredKey parses a key this package stored (PKCS#8 DER).
func parseStoredKey(der []byte, name string) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("secure store key %q is not a PKCS#8 private key", name)
	}
	s, err := checkKey(k)
	if err != nil {
		return nil, fmt.Errorf("secure store key %q: %w", name, err)
	}
	return s, nil
}

func marshalKey(key crypto.Signer) ([]byte, error) {
	if _, err := checkKey(key); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: encode: %v", ErrUnsupportedKey, err)
	}
	return der, nil
}

// publicKeyEqual compares two public keys of any supported type.
func publicKeyEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// describeNames lists the names a certificate is for, for error messages.
func describeNames(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		if c.Subject.CommonName == "" {
			return "no name"
		}
		// Go ignores the common name for host names (since Go 1.15), so
		// such a certificate covers nothing; say what it claims anyway.
		return fmt.Sprintf("no DNS name (common name %q only)", c.Subject.CommonName)
	}
	if len(names) > 5 {
		names = append(names[:5], fmt.Sprintf("and %d more", len(names)-5))
	}
	return strings.Join(names, ", ")
}
