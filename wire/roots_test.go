package wire_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

func TestSystemRootsHonoursSSLCertFile(t *testing.T) {
	dir := t.TempDir()
	corp := filepath.Join(dir, "corporate.pem")
	os.WriteFile(corp, []byte("CORPORATE ROOTS\n"), 0o600)
	ours := filepath.Join(dir, "sessions")
	os.MkdirAll(ours, 0o700)
	bundle := filepath.Join(ours, "id", "ca-bundle.pem")

	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "SSL_CERT_FILE" {
				return v
			}
			return ""
		}
	}
	pem, from, err := wire.SystemRoots(env(corp), ours)
	if err != nil || from != corp || string(pem) != "CORPORATE ROOTS\n" {
		t.Errorf("with a corporate SSL_CERT_FILE: got %q from %q, %v; want it", pem, from, err)
	}
	// Our own bundle is never taken as the system's: running env twice
	// must not nest bundles.
	if _, from, _ := wire.SystemRoots(env(bundle), ours); from == bundle {
		t.Errorf("took our own bundle %s as the system roots", bundle)
	}
	if _, from, _ := wire.SystemRoots(env(bundle), bundle); from == bundle {
		t.Errorf("took our own bundle %s (named as a file) as the system roots", bundle)
	}
	// A missing SSL_CERT_FILE falls back to the platform's bundle.
	if _, from, err := wire.SystemRoots(env(filepath.Join(dir, "gone.pem")), ours); err != nil || from == filepath.Join(dir, "gone.pem") {
		t.Errorf("missing SSL_CERT_FILE: got from %q, %v", from, err)
	}
}
