//go:build unix

package sso

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkPrivateFile refuses a listing that other users can read or write,
// or that another user owns: they could have put roles in it.
func checkPrivateFile(fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("not a regular file")
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("mode %04o, open to group or others", perm)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("owned by uid %d, not by this user", st.Uid)
	}
	return nil
}
