//go:build unix

package main

import "syscall"

// execProcess replaces this process with path: CMD gets the helper's pid,
// terminal and signals, as after `exec` in a shell.
func execProcess(path string, argv, env []string) error {
	return syscall.Exec(path, argv, env)
}
