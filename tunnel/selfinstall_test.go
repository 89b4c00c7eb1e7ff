package tunnel

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestPlatform(t *testing.T) {
	for _, tc := range []struct{ uname, goos, goarch string }{
		{"Linux x86_64", "linux", "amd64"},
		{"Linux aarch64", "linux", "arm64"},
		{"Darwin arm64", "darwin", "arm64"},
		{"Darwin x86_64", "darwin", "amd64"},
		{"FreeBSD amd64", "freebsd", "amd64"},
		{"Linux riscv64", "linux", "riscv64"},
	} {
		goos, goarch, err := platform(tc.uname)
		if err != nil || goos != tc.goos || goarch != tc.goarch {
			t.Errorf("platform(%q) = %s, %s, %v; want %s/%s", tc.uname, goos, goarch, err, tc.goos, tc.goarch)
		}
	}
	if _, _, err := platform("Linux"); err == nil {
		t.Error("platform accepted one word")
	}
}

// TestProbeAndUploadScripts runs both scripts here, as the remote login
// shell would: the probe reports uname and the installed helper's SHA-256;
// the upload installs 0755 in 0700 only when the SHA-256 matches, and a
// corrupted upload leaves the installed helper as it was.
func TestProbeAndUploadScripts(t *testing.T) {
	home := t.TempDir()
	run := func(script, stdin string) (string, string, error) {
		cmd := exec.Command("bash", "-c", "echo Welcome; exec sh -c "+shellQuote(script))
		cmd.Env = append(os.Environ(), "HOME="+home)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	probe := func() (uname, sum string) {
		out, stderr, err := run(probeScript, "")
		if err != nil {
			t.Fatalf("probe: %v: %s", err, stderr)
		}
		rest, err := readMarker(bufio.NewReader(strings.NewReader(out)), probeMarker)
		if err != nil {
			t.Fatal(err)
		}
		uname, sum, _ = strings.Cut(rest, "|")
		return uname, sum
	}
	hash := func(b string) string { s := sha256.Sum256([]byte(b)); return hex.EncodeToString(s[:]) }

	uname, sum := probe()
	if _, _, err := platform(uname); err != nil || sum != "" {
		t.Fatalf("probe with nothing installed: uname %q (%v), sum %q", uname, err, sum)
	}
	bin := "#!/bin/sh\necho helper v1\n"
	if _, stderr, err := run(fmt.Sprintf(uploadScript, hash(bin)), bin); err != nil {
		t.Fatalf("upload: %v: %s", err, stderr)
	}
	path := filepath.Join(home, filepath.FromSlash(HelperPath))
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("installed helper: %v, %v; want 0755", fi, err)
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("helper directory mode %v, want 0700", di.Mode().Perm())
	}
	if _, sum = probe(); sum != hash(bin) {
		t.Errorf("probe after install: sum %q, want %q", sum, hash(bin))
	}

	// Corrupted on the way: refused, the installed helper untouched, no
	// temporary file left behind.
	_, stderr, err := run(fmt.Sprintf(uploadScript, hash("#!/bin/sh\necho helper v2\n")), "#!/bin/sh\necho helper v2 CORRUPT\n")
	if err == nil || !strings.Contains(stderr, "SHA-256 of the upload") {
		t.Errorf("a corrupted upload: %v, %q; want it refused", err, stderr)
	}
	if b, _ := os.ReadFile(path); string(b) != bin {
		t.Errorf("after a refused upload the helper holds %q", b)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 2 {
		t.Errorf("helper directory holds %v, want the helper and its SHA-256 only", ents)
	}
}

// TestHelperSum: the .sha256 beside a helper is used when it is no older
// than the helper; a stale or malformed one is ignored and the helper hashed.
func TestHelperSum(t *testing.T) {
	bin := []byte("helper bytes")
	s := sha256.Sum256(bin)
	real := hex.EncodeToString(s[:])
	other := strings.Repeat("ab", 32)
	now := time.Now()
	for _, tc := range []struct {
		name    string
		sidecar *fstest.MapFile
		want    string
	}{
		{"no sidecar", nil, real},
		{"fresh sidecar", &fstest.MapFile{Data: []byte(other + "\n"), ModTime: now}, other},
		{"stale sidecar", &fstest.MapFile{Data: []byte(other + "\n"), ModTime: now.Add(-time.Hour)}, real},
		{"malformed sidecar", &fstest.MapFile{Data: []byte("nope\n"), ModTime: now}, real},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{"aws-sso-remote-linux-amd64": {Data: bin, ModTime: now}}
			if tc.sidecar != nil {
				fsys["aws-sso-remote-linux-amd64.sha256"] = tc.sidecar
			}
			got, err := helperSum(fsys, "aws-sso-remote-linux-amd64")
			if err != nil || got != tc.want {
				t.Errorf("helperSum = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := helperSum(fstest.MapFS{}, "aws-sso-remote-linux-amd64"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("helperSum of a missing helper: %v, want fs.ErrNotExist", err)
	}
}
