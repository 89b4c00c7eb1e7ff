package localca

import (
	"context"
	"crypto/x509"
	"os/exec"
)

// Windows: the current user's ROOT store, through certutil, as mkcert's
// CertOpenSystemStore(0, "ROOT") does. It needs no administrator rights;
// Windows itself asks the user to confirm adding a root.

func planTrust(ctx context.Context, rootFile string, root *x509.Certificate, uninstall bool) (*TrustPlan, error) {
	sum := sha1Hex(root)
	p := &TrustPlan{Store: "Windows certificate store, current user, Trusted Root Certification Authorities (ROOT)"}
	// -verifystore with the certificate's hash exits 0 only if it is there.
	present := exec.CommandContext(ctx, "certutil", "-user", "-verifystore", "ROOT", sum).Run() == nil
	switch {
	case uninstall && !present:
		p.Note = "the local CA is not in the ROOT store: nothing to remove"
	case uninstall:
		p.Steps = []TrustStep{{Why: "delete the local CA's root (SHA-1 " + sum + ") from the current user's ROOT store", Argv: []string{"certutil", "-user", "-delstore", "ROOT", sum}}}
	case present:
		p.Note = "the local CA is already in the current user's ROOT store"
	default:
		p.Steps = []TrustStep{{Why: "add the local CA's root to the current user's ROOT store", Argv: []string{"certutil", "-user", "-addstore", "-f", "ROOT", rootFile}}}
	}
	return p, nil
}
