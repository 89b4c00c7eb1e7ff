package localca

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
)

// dirTrustStore is a Linux trust store made of a directory of PEM files
// and a command that rebuilds the system bundle from it
// (/etc/ssl/certs/ca-certificates.crt and friends).
type dirTrustStore struct {
	name   string
	dir    string
	update []string // update[0] is looked up in PATH and the sbin directories
}

// linuxTrustStores are the stores mkcert knows (truststore_linux.go), most
// common first; the first whose directory and command both exist is used.
var linuxTrustStores = []dirTrustStore{
	{"Debian-style", "/usr/local/share/ca-certificates", []string{"update-ca-certificates"}},
	{"Red Hat-style", "/etc/pki/ca-trust/source/anchors", []string{"update-ca-trust", "extract"}},
	{"Arch-style", "/etc/ca-certificates/trust-source/anchors", []string{"trust", "extract-compat"}},
	{"openSUSE-style", "/usr/share/pki/trust/anchors", []string{"update-ca-certificates"}},
}

func planTrust(_ context.Context, rootFile string, root *x509.Certificate, uninstall bool) (*TrustPlan, error) {
	return planDirTrust(linuxTrustStores, rootFile, root, uninstall)
}

func planDirTrust(stores []dirTrustStore, rootFile string, root *x509.Certificate, uninstall bool) (*TrustPlan, error) {
	for _, s := range stores {
		if fi, err := os.Stat(s.dir); err != nil || !fi.IsDir() {
			continue
		}
		update, err := lookSbin(s.update[0])
		if err != nil {
			continue
		}
		updateArgv := append([]string{update}, s.update[1:]...)
		dest := filepath.Join(s.dir, TrustFileName(root))
		p := &TrustPlan{Store: s.name + " (" + s.dir + ", " + s.update[0] + ")", NeedsAdmin: true}
		present, err := holdsCert(dest, root)
		if err != nil {
			return nil, err
		}
		switch {
		case uninstall && !present:
			p.Note = "the local CA is not installed in " + s.dir + ": nothing to remove"
		case uninstall:
			p.Steps = []TrustStep{
				{Why: "remove the local CA's root from " + s.dir, Argv: []string{"rm", "-f", dest}},
				{Why: "rebuild the system's certificate bundle without it", Argv: updateArgv},
			}
		case present:
			p.Note = "the local CA is already installed as " + dest
		default:
			install, err := lookSbin("install")
			if err != nil {
				return nil, err
			}
			p.Steps = []TrustStep{
				{Why: "copy the local CA's root certificate (public, no key) to " + dest, Argv: []string{install, "-m", "0644", rootFile, dest}},
				{Why: "rebuild the system's certificate bundle with it", Argv: updateArgv},
			}
		}
		return p, nil
	}
	return nil, errors.Join(ErrNoTrustStore, errors.New("looked for /usr/local/share/ca-certificates with update-ca-certificates, /etc/pki/ca-trust/source/anchors with update-ca-trust, /etc/ca-certificates/trust-source/anchors with trust, /usr/share/pki/trust/anchors"))
}

// holdsCert reports whether path holds exactly the certificate c.
func holdsCert(path string, c *x509.Certificate) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	got, err := parseCertificatePEM(b)
	return err == nil && bytes.Equal(got.Raw, c.Raw), nil
}

// lookSbin finds a command in PATH or in the sbin directories, which a
// normal user's PATH lacks on Debian but sudo's secure_path has. The
// absolute path makes the printed command work either way.
func lookSbin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs, nil
		}
		return p, nil
	}
	for _, d := range []string{"/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
}
