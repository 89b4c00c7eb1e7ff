package tunnel

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// HelperDir and HelperPath are where the agent installs aws-sso-remote on
// the remote host, relative to $HOME: inside the agent's own 0700
// directory, so that no other user can swap the binary a shell runs.
const (
	HelperDir  = wire.DirName + "/bin"
	HelperPath = HelperDir + "/aws-sso-remote"
)

// HelperName is the name of the helper for goos and goarch among those
// shipped with the agent (Options.Helpers).
func HelperName(goos, goarch string) string { return "aws-sso-remote-" + goos + "-" + goarch }

// probeMarker starts the line on which the probe script reports the remote
// OS and architecture (uname -sm) and the SHA-256 of the installed helper
// ("" when there is none).
const probeMarker = "aws-sso-agent-probe:"

// sha256Cmd is a SHA-256 of file "$1" in hex: sha256sum (GNU, busybox) or
// shasum (macOS). Nothing is printed when neither exists.
const sha256Cmd = `sum() { { sha256sum "$1" || shasum -a 256 "$1"; } 2>/dev/null | cut -d' ' -f1; }; `

// probeScript reports the installed helper's SHA-256 from the file the
// upload wrote beside it once it had checked it (HelperPath + ".sha256"):
// hashing megabytes on every connection would cost more than the rest of
// the probe. Only the user can write in the 0700 directory, and a helper
// replaced by other means than the agent is at worst not updated. The
// file is read with the shell's read, not cat: one program fewer to start
// on every connection (uname is the only one left).
const probeScript = `h="$HOME/` + HelperPath + `"; s=; [ -x "$h" ] && [ -f "$h.sha256" ] && read -r s < "$h.sha256"; printf '\n` + probeMarker + `%s|%s\n' "$(uname -sm)" "$s"`

// uploadScript stores stdin beside the helper, checks its SHA-256 against
// %[1]s and only then renames it into place: a cut-off or corrupted upload
// never replaces a working helper, and a shell never runs half a binary.
const uploadScript = sha256Cmd + `umask 077 && b="$HOME/` + HelperDir + `" && mkdir -p "$b" && chmod 700 "$HOME/` + wire.DirName + `" "$b" && t="$b/.aws-sso-remote.$$" && cat > "$t" && s=$(sum "$t") && ` +
	`if [ "$s" = "%[1]s" ]; then chmod 755 "$t" && mv -f "$t" "$b/aws-sso-remote" && printf '%%s\n' "$s" > "$b/aws-sso-remote.sha256"; else rm -f "$t"; echo "SHA-256 of the upload is ${s:-unknown (no sha256sum or shasum)}, not %[1]s" >&2; exit 3; fi`

// platform maps `uname -sm` to Go's GOOS and GOARCH.
func platform(uname string) (goos, goarch string, err error) {
	f := strings.Fields(uname)
	if len(f) != 2 {
		return "", "", fmt.Errorf("uname -sm printed %q", uname)
	}
	switch f[0] {
	case "Linux":
		goos = "linux"
	case "Darwin":
		goos = "darwin"
	default:
		goos = strings.ToLower(f[0])
	}
	switch f[1] {
	case "x86_64", "amd64":
		goarch = "amd64"
	case "aarch64", "arm64":
		goarch = "arm64"
	default:
		goarch = f[1]
	}
	return goos, goarch, nil
}

// HelperMissingError is a remote platform for which the agent ships no
// helper.
type HelperMissingError struct{ GOOS, GOARCH string }

func (e *HelperMissingError) Error() string {
	return fmt.Sprintf("no aws-sso-remote for %s/%s ships with this agent: install it by hand as ~/%s", e.GOOS, e.GOARCH, HelperPath)
}

// installHelper installs or updates aws-sso-remote on the remote host from
// t.helpers, over the tunnel's SSH connection: from what the session
// install probed (t.probe), with an upload only when the installed
// helper's SHA-256 differs from the shipped one. It reports whether it
// uploaded.
func (t *Tunnel) installHelper() (uploaded bool, err error) {
	uname, installed, _ := strings.Cut(t.probe, "|")
	goos, goarch, err := platform(uname)
	if err != nil {
		return false, err
	}
	name := HelperName(goos, goarch)
	want, err := helperSum(t.helpers, name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, &HelperMissingError{goos, goarch}
	}
	if err != nil {
		return false, err
	}
	if installed == want {
		return false, nil
	}
	f, err := t.helpers.Open(name)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if _, err := t.runScript(fmt.Sprintf(uploadScript, want), f); err != nil {
		return false, fmt.Errorf("upload aws-sso-remote: %w", err)
	}
	return true, nil
}

// helperSum is the SHA-256 (hex) of helper name in helpers: from
// name.sha256 beside it when that is no older than the helper (`make
// helpers` writes it; hashing megabytes on every connection costs more than
// the rest of the check), else computed. A wrong .sha256 cannot install a
// wrong binary: the remote host checks the upload against it and refuses.
func helperSum(helpers fs.FS, name string) (string, error) {
	fi, err := fs.Stat(helpers, name)
	if err != nil {
		return "", err
	}
	if si, err := fs.Stat(helpers, name+".sha256"); err == nil && !si.ModTime().Before(fi.ModTime()) {
		if b, err := fs.ReadFile(helpers, name+".sha256"); err == nil {
			if sum := strings.TrimSpace(string(b)); len(sum) == 64 {
				if _, err := hex.DecodeString(sum); err == nil {
					return strings.ToLower(sum), nil
				}
			}
		}
	}
	f, err := helpers.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// runScript runs script under `exec sh -c` on the remote host with stdin
// and returns its stdout, bounded: what rc files print.
func (t *Tunnel) runScript(script string, stdin io.Reader) (string, error) {
	s, err := t.client.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	var stdout, stderr strings.Builder
	s.Stdin = stdin
	s.Stdout = &limitedWriter{w: &stdout, n: maxRCOutput}
	s.Stderr = &limitedWriter{w: &stderr, n: 4096}
	if err := s.Run("exec sh -c " + shellQuote(script)); err != nil {
		return "", fmt.Errorf("%w %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// limitedWriter keeps the first n bytes and discards the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
