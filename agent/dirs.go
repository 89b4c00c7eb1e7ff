package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Dirs are where the agent keeps its files.
//
// Config holds what survives a restart and is not secret (the CA's public
// certificates, the encrypted file store). Runtime holds what lives as long
// as the agent: the control socket and the token file. Runtime must be a
// directory only this user can enter, because the token file is a bearer
// secret and the socket's permissions alone are not honoured everywhere.
type Dirs struct {
	Config  string
	Runtime string
}

// HomeEnv overrides both directories: $AWS_SSO_AGENT_HOME/config and
// $AWS_SSO_AGENT_HOME/run. Tests and users running several agents use it.
const HomeEnv = "AWS_SSO_AGENT_HOME"

// DefaultDirs returns the directories for this user, honouring HomeEnv.
func DefaultDirs() (Dirs, error) {
	if home := os.Getenv(HomeEnv); home != "" {
		home, err := filepath.Abs(home)
		if err != nil {
			return Dirs{}, fmt.Errorf("agent: %s: %w", HomeEnv, err)
		}
		return Dirs{Config: filepath.Join(home, "config"), Runtime: filepath.Join(home, "run")}, nil
	}
	cfg, err := os.UserConfigDir()
	if err != nil {
		return Dirs{}, fmt.Errorf("agent: find config directory: %w", err)
	}
	rt, err := runtimeDir()
	if err != nil {
		return Dirs{}, err
	}
	return Dirs{Config: filepath.Join(cfg, "aws-sso-agent"), Runtime: rt}, nil
}

// SlotsFile is the slots file: which source is loaded into which slot,
// so that a restarted agent loads them again (slotstate.go). It is in
// Config, which outlives a reboot, unlike Runtime.
func (d Dirs) SlotsFile() string { return filepath.Join(d.Config, "slots.json") }

// ControlSocket is the path of the control socket.
func (d Dirs) ControlSocket() string { return filepath.Join(d.Runtime, "control.sock") }

// TokenFile is the path of the local token file that `env` points SDKs at.
func (d Dirs) TokenFile() string { return filepath.Join(d.Runtime, "token") }

// CABundle is the path of the file that `env --tls` hands to SSL_CERT_FILE:
// the system's roots plus the agent's root.
func (d Dirs) CABundle() string { return filepath.Join(d.Runtime, "ca-bundle.pem") }

// CARoot is the path of the agent's root certificate alone, for
// NODE_EXTRA_CA_CERTS, which adds to Node's roots rather than replacing them.
func (d Dirs) CARoot() string { return filepath.Join(d.Runtime, "ca.pem") }

// EnsurePrivateDir creates dir with mode 0700 if needed and checks that it
// is a directory owned by this user that nobody else can enter.
func EnsurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("agent: create %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("agent: %s is not a directory", dir)
	}
	return checkPrivateDir(dir, fi)
}

// WritePrivateFile writes data to path with mode 0600, replacing it
// atomically so a reader never sees half a token.
func WritePrivateFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("agent: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("agent: write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("agent: write %s: %w", path, err)
	}
	// On disk before the rename: after a crash the file is the old one or
	// the new one, never an empty one (the slots file would be set aside).
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("agent: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("agent: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("agent: write %s: %w", path, err)
	}
	return nil
}

var errNotPrivate = errors.New("other users can enter it")

func notPrivate(dir string, mode fs.FileMode) error {
	return fmt.Errorf("agent: %s has mode %04o: %w; run: chmod 700 %s", dir, mode.Perm(), errNotPrivate, dir)
}
