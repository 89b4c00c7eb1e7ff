package localca

import (
	"context"
	"crypto/x509"
	"os/exec"
	"strings"
)

// systemKeychain is where `trust` adds the root, with trust settings for
// the admin domain (-d): the keychain every user's TLS stack on macOS
// reads, as mkcert does (truststore_darwin.go).
const systemKeychain = "/Library/Keychains/System.keychain"

func planTrust(ctx context.Context, rootFile string, root *x509.Certificate, uninstall bool) (*TrustPlan, error) {
	sum := sha1Hex(root)
	p := &TrustPlan{Store: "macOS System keychain (" + systemKeychain + ")", NeedsAdmin: true}
	// find-certificate -Z prints the SHA-1 of each match: ours is there
	// if its hash is.
	out, _ := exec.CommandContext(ctx, "/usr/bin/security", "find-certificate", "-a", "-Z", "-c", root.Subject.CommonName, systemKeychain).Output()
	present := strings.Contains(strings.ToUpper(string(out)), sum)
	switch {
	case uninstall && !present:
		p.Note = "the local CA is not in " + systemKeychain + ": nothing to remove"
	case uninstall:
		p.Steps = []TrustStep{
			{Why: "remove the admin trust settings of the local CA's root", Argv: []string{"/usr/bin/security", "remove-trusted-cert", "-d", rootFile}},
			{Why: "delete the root certificate (SHA-1 " + sum + ") from " + systemKeychain, Argv: []string{"/usr/bin/security", "delete-certificate", "-Z", sum, systemKeychain}},
		}
	case present:
		p.Note = "the local CA is already in " + systemKeychain
	default:
		p.Steps = []TrustStep{{
			Why:  "add the local CA's root to " + systemKeychain + ", trusted as a root for every user (admin trust settings)",
			Argv: []string{"/usr/bin/security", "add-trusted-cert", "-d", "-r", "trustRoot", "-k", systemKeychain, rootFile},
		}}
	}
	return p, nil
}
