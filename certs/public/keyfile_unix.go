//go:build !windows

package public

import (
	"fmt"
	"os"
	"syscall"
)

// checkKeyFile refuses a key file that anyone but its owner may read or
// write, or that another user owns, as ssh does for identity files
// (OpenSSH sshkey_perm_ok: "UNPROTECTED PRIVATE KEY FILE!"). A key others
// could read may already be copied; importing it would give a false sense
// of safety.
func checkKeyFile(path string, fi os.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: permissions %04o for %s are too open; it must be readable by you only (chmod 600 %s), and a key others could read may have been copied already",
			ErrKeyFilePermissions, perm, path, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if uid := os.Getuid(); int(st.Uid) != uid && uid != 0 {
			return fmt.Errorf("%w: %s is owned by uid %d, not by you (uid %d)", ErrKeyFilePermissions, path, st.Uid, uid)
		}
	}
	return nil
}
