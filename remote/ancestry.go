package remote

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

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

// processAncestors returns this process's ancestors, parent first.
func processAncestors() ([]int, error) { return ancestorsOf(os.Getpid()) }

// tmuxClient asks tmux which client shows the pane this process runs in
// (the one most recently active, when several do). A tmux server
// detaches from the SSH connection that started it, so a shell in a pane
// has no sshd among its ancestors; the client, run from the user's
// current SSH connection, does. 0 and no error when not inside tmux.
func tmuxClient(getenv func(string) string) (int, error) {
	if getenv("TMUX") == "" {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tmux", "display-message", "-p", "#{client_pid}")
	cmd.Env = append(os.Environ(), "TMUX="+getenv("TMUX")) // the server getenv names
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("remote: ask tmux for its client: %w", err)
	}
	s := strings.TrimSpace(string(out))
	if s == "" {
		return 0, nil // no client attached
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("remote: tmux named client %q", s)
	}
	return pid, nil
}
