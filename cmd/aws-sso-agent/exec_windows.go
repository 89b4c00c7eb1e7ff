package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
)

// runCommand runs the command as a child and exits with its status:
// Windows cannot replace a process. Ctrl-C reaches the child from the
// console, so this process ignores it and waits.
func runCommand(path string, argv, env []string) error {
	cmd := exec.Command(path, argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	signal.Ignore(os.Interrupt)
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return exitCode{code: ee.ExitCode()}
	case err != nil:
		return exitCode{code: 126, err: fmt.Errorf("exec %s: %w", path, err)}
	}
	return nil
}

// envKey: Windows environment names are case-insensitive.
func envKey(name string) string { return strings.ToUpper(name) }
