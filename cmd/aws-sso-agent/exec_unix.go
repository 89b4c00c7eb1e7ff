//go:build !windows

package main

import (
	"fmt"
	"syscall"
)

// runCommand replaces this process with the command. Nothing is left to
// do once it starts: the agent, not this process, keeps the credentials
// fresh (aws-vault exec keeps a parent to serve them), so the command gets
// the terminal, the signals and the process ID itself, and its exit status
// or the signal that killed it reaches the caller unchanged (a shell shows
// 128+n for a signal, as for any command).
func runCommand(path string, argv, env []string) error {
	err := syscall.Exec(path, argv, env)
	return exitCode{code: 126, err: fmt.Errorf("exec %s: %w", path, err)}
}

func envKey(name string) string { return name }
