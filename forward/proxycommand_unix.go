//go:build !windows

package forward

import (
	"os"
	"os/exec"
)

// proxyCommand runs line with the user's shell and "exec", as OpenSSH does,
// so the command itself (not a shell) holds the pipes.
func proxyCommand(line string) *exec.Cmd {
	shell := os.Getenv("SHELL")
	if shell == "" {
		shell = "/bin/sh"
	}
	return exec.Command(shell, "-c", "exec "+line)
}
