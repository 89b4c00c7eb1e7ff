package signer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"

	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
)

// ErrBadCSR is what ParseCSR wraps for a CSR the service will not order.
var ErrBadCSR = errors.New("signer: csr refused")

// RSA bounds: Let's Encrypt accepts 2048 to 8192 bits; more than 4096
// only costs the CA and the service time (a 16384-bit key's signature
// check takes tens of milliseconds) without protecting anyone more.
const (
	MinRSABits = 2048
	MaxRSABits = 4096
)

// Extensions a CSR may ask for. Anything else (must-staple, name
// constraints, policies) is refused rather than silently dropped: the
// user would not get what they asked for.
var (
	oidSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
)

// ParseCSR parses a PEM CSR and checks everything the service requires
// before it orders a certificate for it: one PEM block, a valid
// self-signature, an ECDSA P-256 or P-384 key or an RSA key of MinRSABits
// to MaxRSABits, exactly one DNS name and no IP, e-mail or URI names, a
// subject that is at most that name as its common name, only the
// extensions a TLS server certificate needs (and no CA basic
// constraints), and a name that is one label (CheckLabel) directly under
// zone. It returns the CSR and that label.
//
// Which account may sign for the label is the caller's check.
func ParseCSR(pemBytes []byte, zone string) (*x509.CertificateRequest, string, error) {
	csr, err := public.ParseCSRPEM(pemBytes)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrBadCSR, err)
	}
	bad := func(format string, args ...any) (*x509.CertificateRequest, string, error) {
		return nil, "", fmt.Errorf("%w: "+format, append([]any{ErrBadCSR}, args...)...)
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return bad("ECDSA key on %s; want P-256 or P-384", k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < MinRSABits || n > MaxRSABits {
			return bad("RSA key of %d bits; want %d to %d", n, MinRSABits, MaxRSABits)
		}
	default:
		return bad("key is %T; want ECDSA P-256/P-384 or RSA", csr.PublicKey)
	}
	s := csr.Subject
	if len(s.Country)+len(s.Organization)+len(s.OrganizationalUnit)+len(s.Locality)+
		len(s.Province)+len(s.StreetAddress)+len(s.PostalCode)+len(s.ExtraNames) != 0 || s.SerialNumber != "" {
		return bad("the subject holds more than a common name; a public CA would drop it")
	}
	for _, ext := range csr.Extensions {
		switch {
		case ext.Id.Equal(oidSubjectAltName), ext.Id.Equal(oidKeyUsage), ext.Id.Equal(oidExtKeyUsage):
		case ext.Id.Equal(oidBasicConstraints):
			var bc struct {
				IsCA bool `asn1:"optional"`
			}
			if rest, err := asn1.Unmarshal(ext.Value, &bc); err != nil || len(rest) != 0 || bc.IsCA {
				return bad("the CSR asks to be a CA")
			}
		default:
			return bad("the CSR asks for extension %s; only subjectAltName, keyUsage, extKeyUsage and basicConstraints are allowed", ext.Id)
		}
	}
	name := csr.DNSNames[0]
	z := strings.ToLower(strings.TrimSuffix(zone, "."))
	label, under := strings.CutSuffix(name, "."+z)
	if !under || label == "" || strings.Contains(label, ".") {
		return bad("%q is not a hostname directly under %s", name, z)
	}
	if label, err = CheckLabel(label); err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrBadCSR, err)
	}
	return csr, label, nil
}
