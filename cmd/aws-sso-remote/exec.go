package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// runCmd is `exec` and `shell`'s common end: prove the port, exactly as
// env does, then replace this process with argv[0] (looked up in $PATH,
// run as name) in an environment with the SDK variables set and the ones
// that would override them unset. Any failure is returned before argv runs.
func (c *cli) runCmd(sessionID, slot string, useTLS, soft bool, path string, argv []string) error {
	path, env, err := c.cmdEnv(sessionID, slot, useTLS, soft, path)
	if err != nil {
		return err
	}
	return c.execShell(path, argv, env)
}

// cmdEnv proves the port and returns path, looked up in $PATH, and the
// environment to run it in.
func (c *cli) cmdEnv(sessionID, slot string, useTLS, soft bool, path string) (string, []string, error) {
	vars, warning, err := c.sdkVars(sessionID, slot, useTLS, soft)
	if err != nil {
		return "", nil, err
	}
	if strings.IndexByte(path, '/') < 0 {
		lp, err := exec.LookPath(path)
		if err != nil {
			return "", nil, fmt.Errorf("run %s: %w", path, err)
		}
		path = lp
	}
	if warning != nil {
		c.warn(warning, " (running it anyway: SDKs get credentials once the slot has them)")
	}
	return path, sdkEnviron(c.environment(), vars, wire.OverridingVars()), nil
}

// environment is the environment exec and shell start from.
func (c *cli) environment() []string {
	if c.environ == nil {
		return os.Environ()
	}
	return c.environ()
}

// execShell replaces this process with path, or says why it could not.
func (c *cli) execShell(path string, argv, env []string) error {
	execve := c.execve
	if execve == nil {
		execve = execProcess
	}
	if err := execve(path, argv, env); err != nil {
		return fmt.Errorf("run %s: %w", path, err)
	}
	return nil
}

// sdkEnviron is base with the names in unset removed and vars set, in the
// order eval "$(aws-sso-remote env)" would leave them.
func sdkEnviron(base []string, vars []wire.Var, unset []string) []string {
	drop := make(map[string]bool, len(unset)+len(vars))
	for _, n := range unset {
		drop[n] = true
	}
	for _, v := range vars {
		drop[v.Name] = true
	}
	out := make([]string, 0, len(base)+len(vars))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if !drop[name] {
			out = append(out, kv)
		}
	}
	for _, v := range vars {
		out = append(out, v.Name+"="+v.Value)
	}
	return out
}

// execCmd is `aws-sso-remote exec [flags] -- CMD ARGS...`: CMD with the SDK
// variables set, once the port has proved genuine; CMD never runs
// otherwise. Unlike env, a slot with nothing to serve is an error: CMD
// would fail for want of credentials now, not later.
func (c *cli) execCmd(args []string) error {
	fs := c.flags("exec", "[--slot NAME] [--tls] [--session ID] -- CMD [ARGS...]")
	slot := fs.String("slot", "", "a named slot instead of the default one (with no flag: the session's only slot, if it has one)")
	useTLS := fs.Bool("tls", false, "set the https URL, SSL_CERT_FILE and NODE_EXTRA_CA_CERTS (Go and Node SDKs only)")
	sessionID := fs.String("session", "", "the session id (default: found from this process's SSH connection)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() == 0 {
		return usageError{"exec needs a command: aws-sso-remote exec [--slot NAME] -- CMD [ARGS...]"}
	}
	return c.runCmd(*sessionID, *slot, *useTLS, false, fs.Arg(0), fs.Args())
}

// shellCmd is `aws-sso-remote shell`: the user's login shell with the SDK
// variables set. A slot with nothing to serve only warns, as with env: the
// shell outlives it. With --fallback (what `aws-sso-agent ssh HOST` runs),
// a failed proof is reported and the shell starts without credentials, as
// ssh gives a shell whatever a forward does: the person at the terminal
// reads why, and is not locked out of the host by it.
func (c *cli) shellCmd(args []string) error {
	fs := c.flags("shell", "[--slot NAME] [--tls] [--session ID] [--fallback]")
	slot := fs.String("slot", "", "a named slot instead of the default one (with no flag: the session's only slot, if it has one)")
	useTLS := fs.Bool("tls", false, "set the https URL, SSL_CERT_FILE and NODE_EXTRA_CA_CERTS (Go and Node SDKs only)")
	sessionID := fs.String("session", "", "the session id (default: found from this process's SSH connection)")
	fallback := fs.Bool("fallback", false, "when the proof fails, say why and start the shell without AWS credentials")
	if err := parse(fs, args); err != nil {
		return err
	}
	sh := loginShell(c.getenv)
	// A leading "-" in argv[0] makes it a login shell (bash, zsh, fish,
	// dash, csh and busybox sh all follow login(1)'s convention), so it
	// reads the profile sshd would have had it read.
	argv := []string{"-" + baseName(sh)}
	path, env, err := c.cmdEnv(*sessionID, *slot, *useTLS, true, sh)
	if err == nil {
		return c.execShell(path, argv, env)
	}
	if !*fallback {
		return err
	}
	c.fail(err) // the error and its hint, as without --fallback
	fmt.Fprintln(c.stderr, "aws-sso-remote: starting your shell without AWS credentials (the container variables are unset)")
	// The environment as sshd gave it, less any container variables that
	// came with it: they would point the SDKs at a port nobody proved.
	unset := append([]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI"}, varNames(wire.TokenVars("", ""))...)
	return c.execShell(sh, argv, sdkEnviron(c.environment(), nil, unset))
}

func varNames(vars []wire.Var) []string {
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = v.Name
	}
	return names
}

// loginShell is $SHELL (sshd sets it to the user's login shell), else
// /bin/sh.
func loginShell(getenv func(string) string) string {
	if sh := getenv("SHELL"); strings.HasPrefix(sh, "/") {
		return sh
	}
	return "/bin/sh"
}

func baseName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}
