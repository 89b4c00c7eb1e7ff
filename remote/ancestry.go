package remote

import "fmt"

// maxAncestry bounds the walk: real process trees are a few dozen deep,
// and a cycle (a racing pid reuse) must not loop forever.
const maxAncestry = 1024

// walkAncestors follows parent returns from pid up to init (1) or the
// kernel (0), returning the ancestors, parent first. On an error it returns
// what it found so far.
func walkAncestors(pid int, parent func(int) (int, error)) ([]int, error) {
	var out []int
	for range maxAncestry {
		ppid, err := parent(pid)
		if err != nil {
			return out, fmt.Errorf("remote: parent of process %d: %w", pid, err)
		}
		if ppid <= 0 {
			return out, nil
		}
		out = append(out, ppid)
		if ppid == 1 {
			return out, nil
		}
		pid = ppid
	}
	return out, fmt.Errorf("remote: process ancestry deeper than %d", maxAncestry)
}
