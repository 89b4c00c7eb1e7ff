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
	vars, warning, err := c.sdkVars(sessionID, slot, useTLS, soft)
	if err != nil {
		return err
	}
	if strings.IndexByte(path, '/') < 0 {
		lp, err := exec.LookPath(path)
		if err != nil {
			return fmt.Errorf("run %s: %w", path, err)
		}
		path = lp
	}
	if warning != nil {
		c.warn(warning, " (running it anyway: SDKs get credentials once the slot has them)")
	}
	environ := c.environ
	if environ == nil {
		environ = os.Environ
	}
	execve := c.execve
	if execve == nil {
		execve = execProcess
	}
	if err := execve(path, argv, sdkEnviron(environ(), vars, wire.OverridingVars())); err != nil {
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
// shell outlives it.
func (c *cli) shellCmd(args []string) error {
	fs := c.flags("shell", "[--slot NAME] [--tls] [--session ID]")
	slot := fs.String("slot", "", "a named slot instead of the default one (with no flag: the session's only slot, if it has one)")
	useTLS := fs.Bool("tls", false, "set the https URL, SSL_CERT_FILE and NODE_EXTRA_CA_CERTS (Go and Node SDKs only)")
	sessionID := fs.String("session", "", "the session id (default: found from this process's SSH connection)")
	if err := parse(fs, args); err != nil {
		return err
	}
	sh := loginShell(c.getenv)
	// A leading "-" in argv[0] makes it a login shell (bash, zsh, fish,
	// dash, csh and busybox sh all follow login(1)'s convention), so it
	// reads the profile sshd would have had it read.
	return c.runCmd(*sessionID, *slot, *useTLS, true, sh, []string{"-" + baseName(sh)})
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
