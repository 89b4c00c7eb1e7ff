package remote

import (
	"golang.org/x/sys/unix"
)

// ancestorsOf walks the kern.proc.pid sysctl up from pid's parent to
// launchd, returning the ids parent first.
func ancestorsOf(pid int) ([]int, error) {
	return walkAncestors(pid, func(pid int) (int, error) {
		kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
		if err != nil {
			return 0, err
		}
		return int(kp.Eproc.Ppid), nil
	})
}
