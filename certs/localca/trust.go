package localca

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Trusting the local CA means adding its root to the operating system's
// trust store, as mkcert does, so that programs using the system roots
// (curl, OpenSSL, Go without SSL_CERT_FILE, browsers on macOS and Windows)
// accept the agent's leaves. It is the user's choice (`certs trust`), never
// automatic: a root in the system store is trusted by every program of
// every user, which the name constraints on the intermediate limit to
// localhost and the loopback addresses.
//
// PlanTrust only looks; it returns the exact steps, as commands, so the
// CLI can show them before anything changes and run them with the
// privileges they need (or print them for the user to run).

// ErrNoTrustStore is returned by PlanTrust when no supported trust store
// is found on this system.
var ErrNoTrustStore = errors.New("certs: no supported OS trust store found")

// TrustPlan is what installing or removing the local root changes.
type TrustPlan struct {
	// Store names the trust store, for people: "Debian-style
	// (/usr/local/share/ca-certificates, update-ca-certificates)".
	Store string
	// Steps are the commands to run, in order. Empty: nothing to change
	// (already installed, or nothing of ours to remove).
	Steps []TrustStep
	// NeedsAdmin reports whether the steps need root (Unix).
	NeedsAdmin bool
	// Note says why Steps is empty, or anything else worth knowing.
	Note string
}

// TrustStep is one command of a TrustPlan.
type TrustStep struct {
	// Why says what the step changes, for people.
	Why string
	// Argv is the command. It never holds a secret.
	Argv []string
}

// String is the step as a shell command line.
func (s TrustStep) String() string {
	q := make([]string, len(s.Argv))
	for i, a := range s.Argv {
		q[i] = shellWord(a)
	}
	return strings.Join(q, " ")
}

// Runner runs one command of a plan, for (*TrustPlan).Apply.
type Runner func(ctx context.Context, argv []string) error

// Apply runs the steps in order with run, stopping at the first failure.
func (p *TrustPlan) Apply(ctx context.Context, run Runner) error {
	for _, s := range p.Steps {
		if err := run(ctx, s.Argv); err != nil {
			return fmt.Errorf("certs: trust: %s: %w", s.String(), err)
		}
	}
	return nil
}

// TrustFileName is the name the root gets in a directory-based trust store
// (Linux): aws-sso-agent-<first 16 hex digits of the root's SHA-256>.crt.
// The fingerprint in the name keeps the roots of several CA generations
// apart, and lets uninstall remove exactly the file install added.
func TrustFileName(root *x509.Certificate) string {
	sum := sha256.Sum256(root.Raw)
	return "aws-sso-agent-" + hex.EncodeToString(sum[:8]) + ".crt"
}

// PlanTrust returns what installing (uninstall false) or removing the root
// whose PEM file is rootFile changes in this system's trust store. It
// changes nothing itself.
func PlanTrust(ctx context.Context, rootFile string, root *x509.Certificate, uninstall bool) (*TrustPlan, error) {
	return planTrust(ctx, rootFile, root, uninstall)
}

// shellWord quotes a word for a POSIX shell when it needs quoting.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
