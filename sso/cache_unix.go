//go:build unix

package sso

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkPrivateFile refuses a cache file (a token, a registration, a role
// listing) that is not a regular file, that another user owns (they could
// plant a token of their own account, or roles), or that group or others
// can read (its contents are then no longer ours alone).
func checkPrivateFile(fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("owned by uid %d, not by this user (uid %d)", st.Uid, os.Geteuid())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("mode %04o lets other users read it: run chmod 600 on it (and log in again if it holds a token)", perm)
	}
	return nil
}
