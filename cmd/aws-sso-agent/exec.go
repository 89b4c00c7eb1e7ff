package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// exec runs a command with the slot's SDK variables set, as aws-vault exec
// does, and exits with its status. Unlike `eval "$(aws-sso-agent env)" &&
// cmd`, which runs cmd even when env printed nothing, it runs nothing when
// the agent is down or the slot is not loaded.
func (c *cli) exec(args []string) error {
	fs := c.flags("exec")
	slot := fs.String("slot", "", "a named slot instead of the default one")
	useTLS := fs.Bool("tls", false, "the https URL and trust variables, as env --tls")
	// Flags after the command are the command's: exec --slot dev -- aws s3 ls --profile x.
	fs.SetInterspersed(false)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{errors.New("exec needs a command: aws-sso-agent exec [--slot NAME] -- CMD [ARGS...]")}
	}
	argv := fs.Args()
	vars, err := c.sdkEnv(*slot, *useTLS, true)
	if err != nil {
		return err
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		// 127 and 126, as POSIX shells answer a command not found or not
		// executable (POSIX.1-2017, Shell Command Language 2.8.2).
		if errors.Is(err, exec.ErrNotFound) {
			return exitCode{code: 127, err: fmt.Errorf("exec: %w", err)}
		}
		return exitCode{code: 126, err: fmt.Errorf("exec: %w", err)}
	}
	return runCommand(path, argv, commandEnv(os.Environ(), vars, wire.OverridingVars()))
}

// commandEnv is environ without the variables of unset and set, then with
// set: the environment `eval "$(aws-sso-agent env)"` leaves a shell with.
func commandEnv(environ []string, set []wire.Var, unset []string) []string {
	drop := make(map[string]bool, len(set)+len(unset))
	for _, n := range unset {
		drop[n] = true
	}
	for _, v := range set {
		drop[v.Name] = true
	}
	out := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !drop[envKey(name)] {
			out = append(out, kv)
		}
	}
	for _, v := range set {
		out = append(out, v.Name+"="+v.Value)
	}
	return out
}
