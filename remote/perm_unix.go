//go:build unix

package remote

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// checkOwner refuses a file another user owns: that user could have
// written it (or could change it).
func checkOwner(fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("no owner information for %s", fi.Name())
	}
	if uid := os.Getuid(); int(st.Uid) != uid {
		return &permError{
			msg:  fmt.Sprintf("is owned by uid %d, not by you (uid %d)", st.Uid, uid),
			hint: "another user may have planted it: do not use it; remove it as its owner, or as root",
		}
	}
	return nil
}

// processAlive reports whether pid exists: kill(pid, 0) succeeds, or fails
// only because the process belongs to another user, and it is not a
// zombie.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := unix.Kill(pid, 0)
	return (err == nil || err == unix.EPERM) && !processDead(pid)
}
