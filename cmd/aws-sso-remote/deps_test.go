package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDependencies keeps the remote helper small and auditable: the
// standard library, golang.org/x/crypto (with the x/ packages it needs) and
// this module's remote and wire packages only. No AWS SDK, no keyring,
// nothing else.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := []string{
		"github.com/aws-sso-agent/aws-sso-agent/cmd/aws-sso-remote",
		"github.com/aws-sso-agent/aws-sso-agent/remote",
		"github.com/aws-sso-agent/aws-sso-agent/wire",
		"golang.org/x/crypto/",
		"golang.org/x/sys/",
		"golang.org/x/term",
	}
	// Named apart from the allowlist, so that widening it can never let
	// these in: the AWS SDK and the keyrings (and the D-Bus and Windows
	// credential libraries under them).
	banned := []string{
		"github.com/aws/",
		"github.com/zalando/go-keyring",
		"github.com/godbus/dbus",
		"github.com/danieljoos/wincred",
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, b := range banned {
			if strings.HasPrefix(pkg, b) {
				t.Errorf("aws-sso-remote imports %s: the helper must not link the AWS SDK or a keyring", pkg)
			}
		}
		ok := false
		for _, a := range allowed {
			if pkg == a || (strings.HasSuffix(a, "/") && strings.HasPrefix(pkg, a)) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("aws-sso-remote imports %s: only the standard library and golang.org/x/crypto belong here", pkg)
		}
	}
}

// TestReleaseBinary builds the helper with `make release` (the release's
// own flags) for Linux amd64 and arm64 and macOS arm64, and checks that
// each is at most 8 MB and that the Linux ones are static: no
// interpreter, no shared libraries, so they run on any distribution they
// are copied to.
func TestReleaseBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three binaries")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make: %v", err)
	}
	const maxSize = 8 << 20
	dist := t.TempDir()
	platforms := []string{"linux/amd64", "linux/arm64", "darwin/arm64"}
	cmd := exec.Command("make", "-s", "-C", filepath.Join("..", ".."), "release",
		"DIST="+dist, "COMMANDS=aws-sso-remote", "PLATFORMS="+strings.Join(platforms, " "))
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, msg)
	}
	for _, p := range platforms {
		t.Run(p, func(t *testing.T) {
			out := filepath.Join(dist, "aws-sso-remote-"+strings.ReplaceAll(p, "/", "-"))
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() > maxSize {
				t.Errorf("%d bytes, over the 8 MB budget", fi.Size())
			}
			t.Logf("%.1f MB", float64(fi.Size())/(1<<20))
			if !strings.HasPrefix(p, "linux/") {
				return
			}
			f, err := elf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, prog := range f.Progs {
				if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
					t.Errorf("not static: has a %v program header", prog.Type)
				}
			}
			if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
				t.Errorf("not static: needs %v", libs)
			}
		})
	}
}
