//go:build !linux && !darwin && !windows

package localca

import (
	"context"
	"crypto/x509"
)

func planTrust(context.Context, string, *x509.Certificate, bool) (*TrustPlan, error) {
	return nil, ErrNoTrustStore
}
