//go:build windows

package forward

import (
	"os"
	"os/exec"
)

// proxyCommand runs line with cmd.exe, as OpenSSH for Windows does.
func proxyCommand(line string) *exec.Cmd {
	comspec := os.Getenv("ComSpec")
	if comspec == "" {
		comspec = "cmd.exe"
	}
	return exec.Command(comspec, "/c", line)
}
