package remote

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// ancestorsOf walks /proc/PID/stat up from pid's parent to init,
// returning the ids parent first.
func ancestorsOf(pid int) ([]int, error) {
	return walkAncestors(pid, func(pid int) (int, error) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return 0, err
		}
		return parseProcStatPPID(b)
	})
}

// parseProcStatPPID reads the parent id from /proc/PID/stat: "pid (comm)
// state ppid ...". comm may hold spaces and parentheses, so the fields are
// counted from the last ')' (proc(5)).
func parseProcStatPPID(b []byte) (int, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc stat")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("malformed /proc stat")
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil || ppid < 0 {
		return 0, fmt.Errorf("malformed /proc stat ppid")
	}
	return ppid, nil
}

// processDead reports a process that has exited but not been reaped: a
// zombie (Z) or dead (X) entry still answers kill(pid, 0). An SSH
// connection's sshd killed while its parent is gone can stay a zombie for
// as long as nobody reaps it, and its session must not count as live.
func processDead(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false
	}
	f := bytes.Fields(b[i+1:])
	return len(f) > 0 && (string(f[0]) == "Z" || string(f[0]) == "X")
}
