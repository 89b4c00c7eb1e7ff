package acme

import (
	"context"
	"net/http"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
)

// What the signing service's issuer (signer/issuer) shares with Obtain:
// it drives lego the same way, for CSRs instead of keys of its own.

// ContextClient returns a copy of c (nil: a default one) whose requests
// end with ctx: lego's API takes no context.
func ContextClient(ctx context.Context, c *http.Client) *http.Client { return contextClient(ctx, c) }

// ContextError prefers ctx's error to err: lego wraps a cancelled request
// in its own.
func ContextError(ctx context.Context, err error) error { return ctxErr(ctx, err) }

// SilenceLego stops lego's package-level logger, which writes to stderr.
func SilenceLego() { silenceLego() }

// CheckIssued checks that c's leaf is for its key and name and valid at
// now.
func CheckIssued(c *public.Cert, now time.Time) error { return checkIssued(c, now) }
