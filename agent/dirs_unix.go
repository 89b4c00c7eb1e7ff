//go:build !windows

package agent

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// runtimeDir is $XDG_RUNTIME_DIR/aws-sso-agent (a tmpfs that only this
// user can enter, removed at logout), else /tmp/aws-sso-agent-UID, which
// EnsurePrivateDir checks is ours and private before anything goes in it.
func runtimeDir() (string, error) {
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "aws-sso-agent"), nil
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("aws-sso-agent-%d", os.Getuid())), nil
}

func checkPrivateDir(dir string, fi fs.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("agent: %s belongs to uid %d, not to you (uid %d): remove it or set %s", dir, st.Uid, os.Getuid(), HomeEnv)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return notPrivate(dir, fi.Mode())
	}
	return nil
}

// checkPrivateFile refuses a file that is not ours or that others may
// write: the slots file names the profiles, hence the credential_process
// commands, the agent runs.
func checkPrivateFile(path string, fi fs.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("agent: %s belongs to uid %d, not to you (uid %d)", path, st.Uid, os.Getuid())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("agent: %s has mode %04o: others may write it; run: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	return nil
}
