package localca

import (
	"bytes"
	"context"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

func execRunner(ctx context.Context, argv []string) error {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return &runError{argv: argv, out: out, err: err}
	}
	return nil
}

type runError struct {
	argv []string
	out  []byte
	err  error
}

func (e *runError) Error() string {
	return strings.Join(e.argv, " ") + ": " + e.err.Error() + ": " + string(bytes.TrimSpace(e.out))
}

// TestPlanDirTrust checks the plans against a throwaway store directory:
// install copies the root under its fingerprint name and rebuilds; a
// second install has nothing to do; uninstall removes exactly that file.
func TestPlanDirTrust(t *testing.T) {
	ca, err := LoadOrCreate(newMemStore(), filepath.Join(t.TempDir(), "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rootFile := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(rootFile, ca.RootPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	storeDir := t.TempDir()
	other := filepath.Join(storeDir, "someone-else.crt")
	if err := os.WriteFile(other, ca.RootPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	stores := []dirTrustStore{
		{"Missing", filepath.Join(storeDir, "nope"), []string{"true"}},
		{"Test", storeDir, []string{"true", "--flag"}},
	}
	dest := filepath.Join(storeDir, TrustFileName(ca.Root()))

	p, err := planDirTrust(stores, rootFile, ca.Root(), false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.Store, "Test ") || !p.NeedsAdmin || len(p.Steps) != 2 {
		t.Fatalf("install plan = %+v, want the Test store, admin, 2 steps", p)
	}
	if got := p.Steps[0].Argv; got[len(got)-2] != rootFile || got[len(got)-1] != dest {
		t.Errorf("install step = %q, want a copy of %s to %s", got, rootFile, dest)
	}
	if got := p.Steps[1].Argv; !strings.HasSuffix(got[0], "/true") || got[1] != "--flag" {
		t.Errorf("update step = %q, want the store's command", got)
	}
	if err := p.Apply(context.Background(), execRunner); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("after install: %v %v, want %s mode 0644", fi, err, dest)
	}

	p, err = planDirTrust(stores, rootFile, ca.Root(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 0 || !strings.Contains(p.Note, "already installed") {
		t.Errorf("second install plan = %+v, want nothing to do", p)
	}

	p, err = planDirTrust(stores, rootFile, ca.Root(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 2 || p.Steps[0].Argv[len(p.Steps[0].Argv)-1] != dest {
		t.Fatalf("uninstall plan = %+v, want rm %s and update", p, dest)
	}
	if err := p.Apply(context.Background(), execRunner); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("after uninstall: %s: %v, want it gone", dest, err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("uninstall touched another file: %v", err)
	}
	p, err = planDirTrust(stores, rootFile, ca.Root(), true)
	if err != nil || len(p.Steps) != 0 {
		t.Errorf("second uninstall plan = %+v, %v; want nothing to do", p, err)
	}

	if _, err := planDirTrust(stores[:1], rootFile, ca.Root(), false); err == nil {
		t.Error("no store: got no error")
	}
}

// TestTrustSystemStore installs the root into this machine's real trust
// store, checks that OpenSSL then accepts a leaf of the local CA against
// the system bundle, removes it, and checks that OpenSSL refuses again.
func TestTrustSystemStore(t *testing.T) {
	skip := func(why string) {
		t.Helper()
		e2e.PeerMissing(t, "%s", why)
	}
	if os.Geteuid() != 0 {
		skip("changing the system trust store needs root")
	}
	if _, err := lookSbin("update-ca-certificates"); err != nil {
		skip("no update-ca-certificates (not a Debian-style system)")
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		skip("no openssl to verify against the system bundle")
	}
	const bundle = "/etc/ssl/certs/ca-certificates.crt"

	dir := t.TempDir()
	ca, err := LoadOrCreate(newMemStore(), filepath.Join(dir, "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rootFile := filepath.Join(dir, "ca", RootCertFile)
	leaf, err := ca.IssueLeaf(time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leafFile := filepath.Join(dir, "leaf.pem")
	interFile := filepath.Join(dir, "intermediate.pem")
	os.WriteFile(leafFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Certificate[0]}), 0o644)
	os.WriteFile(interFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Certificate[1]}), 0o644)
	verify := func() (bool, string) {
		out, err := exec.Command("openssl", "verify", "-CAfile", bundle, "-untrusted", interFile, leafFile).CombinedOutput()
		return err == nil, string(bytes.TrimSpace(out))
	}

	dest := filepath.Join("/usr/local/share/ca-certificates", TrustFileName(ca.Root()))
	// Restore the system whatever happens below: our file gone, the
	// bundle rebuilt without it.
	t.Cleanup(func() {
		if _, err := os.Stat(dest); err == nil {
			os.Remove(dest)
			if err := execRunner(context.Background(), []string{"update-ca-certificates"}); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})

	if ok, out := verify(); ok {
		t.Fatalf("before install, openssl accepted the leaf: %s", out)
	}
	ctx := context.Background()
	p, err := PlanTrust(ctx, rootFile, ca.Root(), false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.Store, "Debian-style") || len(p.Steps) != 2 {
		t.Fatalf("install plan = %+v, want Debian-style with 2 steps", p)
	}
	if err := p.Apply(ctx, execRunner); err != nil {
		t.Fatal(err)
	}
	if ok, out := verify(); !ok {
		t.Fatalf("after install, openssl refused the leaf: %s", out)
	}

	p, err = PlanTrust(ctx, rootFile, ca.Root(), true)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(ctx, execRunner); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("after uninstall: %s: %v, want it gone", dest, err)
	}
	if ok, out := verify(); ok {
		t.Fatalf("after uninstall, openssl still accepted the leaf: %s", out)
	}
}
