//go:build unix

package agent

import "golang.org/x/sys/unix"

// descriptorLimit is the soft RLIMIT_NOFILE. The agent does not raise it:
// the Go runtime already has, at start, to the hard limit (less one on
// Linux; capped to kern.maxfilesperproc on macOS), see syscall/rlimit.go
// and go.dev/issue/46279. Raising it again would also stop the runtime
// from restoring the original limit in the processes we start
// (credential_process), which may rely on select(2).
func descriptorLimit() uint64 {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 1 << 20
	}
	return min(uint64(lim.Cur), 1<<20) // RLIM_INFINITY: the caps decide
}
