//go:build !windows

package agent

import (
	"context"
	"os/exec"
	"syscall"
)

// processCommand runs command through the shell, as the SDKs run a
// credential_process (processcreds.DefaultNewCommandBuilder: sh -c), in a
// process group of its own. When ctx is done the whole group is killed,
// so a child the shell started (`sh -c 'helper & wait'`) dies with it
// instead of holding stdout open.
func processCommand(ctx context.Context, command string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group's id is the leader's pid (Setpgid with Pgid 0).
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return cmd
}

// processFixOutput is the output as the SDK reads it: unchanged off
// Windows.
func processFixOutput(out []byte) []byte { return out }
