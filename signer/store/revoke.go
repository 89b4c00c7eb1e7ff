package store

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
)

// ErrCADidNotRevoke is what RevokeCertificate wraps when the CA's
// revocation failed: nothing is recorded, and the caller may try again.
var ErrCADidNotRevoke = errors.New("store: the CA did not revoke the certificate")

// RevokeCertificate has the CA revoke c through iss and records the
// revocation. It is the one way the service revokes, for the API, the
// web pages and account deletion alike. The CA is asked first: a
// certificate is never marked revoked while it is still valid. ctx
// should outlive the request that asked (context.WithoutCancel), so a
// revocation the CA made is recorded even if the client went away.
func (d *DB) RevokeCertificate(ctx context.Context, iss signer.Issuer, c Certificate) error {
	block, _ := pem.Decode([]byte(c.ChainPEM))
	if block == nil {
		return fmt.Errorf("store: revoke certificate %s: the stored chain has no PEM block", c.Serial)
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return fmt.Errorf("store: revoke certificate %s: the stored certificate: %w", c.Serial, err)
	}
	if err := iss.Revoke(ctx, block.Bytes); err != nil {
		return fmt.Errorf("%w %s: %w", ErrCADidNotRevoke, c.Serial, err)
	}
	// ErrNotFound: another instance recorded it first.
	if err := d.SetCertificateRevoked(ctx, c.Serial); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}
