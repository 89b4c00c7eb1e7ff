package remote

import (
	"os"

	"golang.org/x/sys/unix"
)

// processAncestors walks the kern.proc.pid sysctl up from this process's
// parent to launchd, returning the ids parent first.
func processAncestors() ([]int, error) {
	return walkAncestors(os.Getpid(), func(pid int) (int, error) {
		kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
		if err != nil {
			return 0, err
		}
		return int(kp.Eproc.Ppid), nil
	})
}
