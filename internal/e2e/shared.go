package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The "remote host" of the SSH tests is this machine seen by a throwaway
// user (internal/sshd creates it). That user cannot enter root's home, where
// this machine's Python and Go caches live, so what it runs is copied into a
// directory every user can read: the shared directory, one per test
// process, removed by Run.

var shared struct {
	once sync.Once
	dir  string
	err  error
	mu   sync.Mutex
	bins map[string]string
}

// SharedDir returns a directory every user can read and search.
func SharedDir(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "aws-sso-agent-e2e-shared-")
		if err == nil {
			err = os.Chmod(dir, 0o755)
		}
		shared.dir, shared.err = dir, err
		shared.bins = map[string]string{}
	})
	if shared.err != nil {
		t.Fatalf("e2e: shared directory: %v", shared.err)
	}
	return shared.dir
}

// SharedBinary builds the Go package pkg (an import path of this module)
// into the shared directory, once per test process, and returns its path.
func SharedBinary(t testing.TB, pkg string) string {
	t.Helper()
	dir := SharedDir(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if p, ok := shared.bins[pkg]; ok {
		return p
	}
	path := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", path, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("e2e: build %s: %v\n%s", pkg, err, out)
	}
	os.Chmod(path, 0o755)
	shared.bins[pkg] = path
	return path
}

func cleanShared() {
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}
