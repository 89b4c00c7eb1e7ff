package main

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/pflag"

	"github.com/aws-sso-agent/aws-sso-agent/signer/issuer"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// A released hostname is quarantined (store.Quarantine) because the
// certificates its previous owner holds stay valid until they expire:
// `hostname release` and `account delete` therefore revoke them at the CA
// first, with the service's own ACME account, whose key is in the store.

// revoker revokes a certificate the service's ACME account ordered.
type revoker interface {
	Revoke(ctx context.Context, certDER []byte) error
}

// revokerBuilder makes the revoker for the CA at directory, trusting the
// roots in caFile (empty: the system's). Tests give the cli their own.
type revokerBuilder func(ctx context.Context, directory, caFile string, db *store.DB) (revoker, error)

// buildRevoker is the service's ACME issuer, used only to revoke: the
// account key it finds in the store is the account that ordered.
func buildRevoker(ctx context.Context, directory, caFile string, db *store.DB) (revoker, error) {
	client, err := acmeClient(caFile)
	if err != nil {
		return nil, err
	}
	return issuer.New(issuer.Config{
		Directory: directory, HTTPClient: client, State: db, NotFound: store.ErrNotFound,
		Challenges: noChallenges{},
	})
}

// noChallenges is the issuer's challenge store in the admin commands,
// which revoke and never order.
type noChallenges struct{}

var errNoOrders = errors.New("the admin commands order no certificates")

func (noChallenges) SetTXT(context.Context, string, string, time.Duration) error { return errNoOrders }
func (noChallenges) ClearTXT(context.Context, string, string) error              { return errNoOrders }

// revokeFlags are the flags of the commands that revoke.
type revokeFlags struct {
	directory, caFile *string
	keep              *bool
}

func addRevokeFlags(fs *pflag.FlagSet) revokeFlags {
	return revokeFlags{
		directory: fs.String("acme-directory", "", "the ACME CA's directory URL, to revoke the certificates of the hostnames given up (else $AWS_SSO_SIGNER_ACME_DIRECTORY)"),
		caFile:    fs.String("acme-ca-file", "", "PEM roots to trust for the ACME CA (a test CA such as Pebble)"),
		keep:      fs.Bool("keep-certificates", false, "give the hostnames up without revoking their certificates (they stay valid until they expire)"),
	}
}

// maxLive bounds the certificates looked at per hostname or account: the
// budget allows a handful a week per hostname, and none lives longer than
// 90 days.
const maxLive = 10000

// revokeLive revokes, at the CA and in the store, every certificate of
// certs that has neither expired nor been revoked, before what (the
// hostnames, the account) is given up. Without a CA to ask it refuses,
// unless --keep-certificates says to leave them valid. Any failure stops
// it, so the caller gives up nothing whose certificates are still valid
// by mistake.
func (c *cli) revokeLive(ctx context.Context, db *store.DB, f revokeFlags, audit adminAudit, what string, certs []store.Certificate) error {
	now := time.Now()
	var live []store.Certificate
	for _, ct := range certs {
		if ct.RevokedAt == nil && ct.NotAfter.After(now) {
			live = append(live, ct)
		}
	}
	if len(live) == 0 {
		return nil
	}
	directory := *f.directory
	if directory == "" {
		directory = c.getenv("AWS_SSO_SIGNER_ACME_DIRECTORY")
	}
	if directory == "" {
		if *f.keep {
			fmt.Fprintf(c.stderr, "%d certificates stay valid, the last until %s\n", len(live), lastExpiry(live).Format(time.DateOnly))
			return nil
		}
		return withHint(fmt.Errorf("%s: %d certificates are still valid, and no ACME CA was given to revoke them", what, len(live)),
			"give the service's --acme-directory (and --acme-ca-file), or --keep-certificates to leave them valid until they expire")
	}
	build := c.revoker
	if build == nil {
		build = buildRevoker
	}
	rv, err := build(ctx, directory, *f.caFile, db)
	if err != nil {
		return err
	}
	for _, ct := range live {
		block, _ := pem.Decode([]byte(ct.ChainPEM))
		if block == nil || block.Type != "CERTIFICATE" {
			return fmt.Errorf("certificate %s of %s: no PEM certificate in the store", ct.Serial, ct.Label)
		}
		if err := rv.Revoke(ctx, block.Bytes); err != nil {
			return withHint(fmt.Errorf("revoke certificate %s of %s: %w", ct.Serial, ct.Label, err), "nothing was given up; try again, or give --keep-certificates")
		}
		if err := db.SetCertificateRevoked(ctx, ct.Serial); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		fmt.Fprintf(c.stdout, "certificate %s of %s revoked\n", ct.Serial, ct.Label)
		if err := c.record(audit, "certificate revoke", ct.Serial, slog.String("hostname", ct.Label)); err != nil {
			return err
		}
	}
	return nil
}

func lastExpiry(cs []store.Certificate) time.Time {
	var last time.Time
	for _, c := range cs {
		if c.NotAfter.After(last) {
			last = c.NotAfter
		}
	}
	return last
}
