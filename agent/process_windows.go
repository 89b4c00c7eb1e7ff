package agent

import (
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"syscall"
)

// processCommand runs command through cmd.exe, as the SDKs run a
// credential_process (processcreds.DefaultNewCommandBuilder: cmd.exe /C),
// in a process group of its own. When ctx is done the process tree is
// killed with taskkill /T, a best effort: a child that has already
// outlived its parent is no longer in the tree. exec.Cmd's WaitDelay
// still bounds how long such a child can hold the agent up.
func processCommand(ctx context.Context, command string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "cmd.exe", "/C", command)
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
	cmd.Cancel = func() error {
		pid := strconv.Itoa(cmd.Process.Pid)
		if err := exec.Command("taskkill", "/T", "/F", "/PID", pid).Run(); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	return cmd
}

// processFixOutput undoes cmd.exe's escaping of quotes, as
// processcreds.Provider does on Windows.
func processFixOutput(out []byte) []byte {
	return bytes.ReplaceAll(out, []byte(`\"`), []byte(`"`))
}
