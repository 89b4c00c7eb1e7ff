package acme

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// UnreachableError is a request to the ACME server that got no answer: no
// network, a CA name that does not resolve, a refused connection, a proxy
// or firewall in the way, a TLS certificate the client does not trust. It
// says nothing about the DNS provider, the account or the order, so a
// caller can tell "offline" from "the TSIG key may not update the zone".
// Errors from Obtain and CheckCA wrap it whenever that is the cause.
type UnreachableError struct {
	// Directory is the ACME directory URL that was to be reached.
	Directory string
	// Err is the transport's error (a *net.OpError, *net.DNSError,
	// x509 error, ...).
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("certs: acme: cannot reach the CA at %s: %v", e.Directory, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// transportError marks an error of the CA client's transport, so that
// Obtain can find it under lego's wrapping (lego keeps the chain with %w).
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// unreachable returns an *UnreachableError for dir if err comes from the
// CA client's transport, and nil otherwise; a request cancelled through
// ctx was not a failure to reach the CA.
func unreachable(ctx context.Context, dir string, err error) error {
	var te *transportError
	if ctx.Err() != nil || !errors.As(err, &te) {
		return nil
	}
	return &UnreachableError{Directory: dir, Err: te.err}
}

// maxDirectory bounds the directory document read by CheckCA; Let's
// Encrypt's is under 1 KB.
const maxDirectory = 64 << 10

// CheckCA fetches the ACME directory at dir ("" means
// LetsEncryptDirectory) with client (nil: one trusting the system's roots)
// and checks that it is one (RFC 8555 section 7.1.1: newNonce, newAccount
// and newOrder). It costs the CA one GET and no rate limit, so `certs
// acme` calls it before the work that is slow (opening the secure store)
// or counted (an order): offline, it fails at once with an
// *UnreachableError.
func CheckCA(ctx context.Context, client *http.Client, dir string) error {
	if dir == "" {
		dir = LetsEncryptDirectory
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, dir, nil)
	if err != nil {
		return fmt.Errorf("certs: acme: directory %q: %w", dir, err)
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := contextClient(ctx, client).Do(req)
	if err != nil {
		if u := unreachable(ctx, dir, err); u != nil {
			return u
		}
		return fmt.Errorf("certs: acme: directory %s: %w", dir, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("certs: acme: directory %s: HTTP %s, not an ACME directory", dir, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDirectory))
	if err != nil {
		return &UnreachableError{Directory: dir, Err: err}
	}
	if !isDirectory(body) {
		return fmt.Errorf("certs: acme: %s is not an ACME directory (no newNonce, newAccount and newOrder)", dir)
	}
	return nil
}

// isDirectory reports whether body, from the network, is an ACME
// directory object: newNonce, newAccount and newOrder, each a URL.
func isDirectory(body []byte) bool {
	var d struct {
		NewNonce   string `json:"newNonce"`
		NewAccount string `json:"newAccount"`
		NewOrder   string `json:"newOrder"`
	}
	if json.Unmarshal(body, &d) != nil {
		return false
	}
	for _, u := range []string{d.NewNonce, d.NewAccount, d.NewOrder} {
		if p, err := url.Parse(u); err != nil || p.Scheme == "" || p.Host == "" {
			return false
		}
	}
	return true
}
