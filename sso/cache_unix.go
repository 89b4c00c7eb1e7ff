//go:build unix

package sso

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkCacheFileOwner refuses a cache file another user owns (they could
// plant a token of their own account) or that group or others can read
// (the token is then no longer ours alone).
func checkCacheFileOwner(fi fs.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("owned by uid %d, not by this user (uid %d)", st.Uid, os.Geteuid())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("mode %04o lets other users read the token: run chmod 600 on it, then log in again", perm)
	}
	return nil
}
