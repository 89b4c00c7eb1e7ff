package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// buildParts makes serve's DNS server (signer/dns) and ACME issuer
// (signer/issuer), which are built apart from the API and wired here.
func buildParts(ctx context.Context, o serveOptions, db *store.DB, log *slog.Logger) (serveParts, error) {
	return serveParts{}, withHint(errors.New("serve: this build has no DNS server or ACME issuer"),
		"build aws-sso-signer from a tree that has signer/dns and signer/issuer")
}
