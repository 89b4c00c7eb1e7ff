package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/service"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

const serviceUsage = `Usage:
  aws-sso-agent service install [--dry-run] [--store keyring|file] [--passphrase-file FILE]
  aws-sso-agent service uninstall [--dry-run]
  aws-sso-agent service status [--dry-run]

install runs "aws-sso-agent serve --log-format json" as a service of this
user: a systemd user unit on Linux, a launchd agent on macOS, a logon task
on Windows. The store and passphrase file come from the flags here or from
the settings file; the passphrase stays in its file (mode 0600).
--dry-run prints the definition and the commands instead of running them.
`

func (c *cli) service(args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(c.stderr, serviceUsage)
		if len(args) == 0 {
			return usageError{errors.New("service needs install, uninstall or status")}
		}
		return nil
	}
	sub := args[0]
	if sub != "install" && sub != "uninstall" && sub != "status" {
		fmt.Fprint(c.stderr, serviceUsage)
		return usageError{fmt.Errorf("unknown service subcommand %q", sub)}
	}
	fs := c.flags("service " + sub)
	dryRun := fs.Bool("dry-run", false, "print what would be written and run, and change nothing")
	var sf storeFlags
	if sub == "install" {
		sf.register(fs)
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	var serveArgs []string
	if sub == "install" {
		var err error
		if serveArgs, err = serviceStoreArgs(&sf, fs); err != nil {
			return err
		}
	}
	spec, err := serviceSpec(serveArgs)
	if err != nil {
		return err
	}
	plan, err := service.For(spec)
	if err != nil {
		return err
	}
	switch sub {
	case "install":
		return c.serviceInstall(plan, *dryRun)
	case "uninstall":
		return c.serviceUninstall(plan, *dryRun)
	default:
		return c.serviceStatus(plan, *dryRun)
	}
}

// serviceSpec is this binary running serve with extra arguments.
func serviceSpec(extra []string) (service.Spec, error) {
	prog, err := os.Executable()
	if err == nil {
		prog, err = filepath.EvalSymlinks(prog)
	}
	if err != nil {
		return service.Spec{}, fmt.Errorf("service: find this program: %w", err)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return service.Spec{}, fmt.Errorf("service: %w", err)
	}
	spec := service.Spec{Program: prog, Args: service.ServeArgs(extra...), Home: home}
	if h := os.Getenv(agent.HomeEnv); h != "" {
		abs, err := filepath.Abs(h)
		if err != nil {
			return service.Spec{}, fmt.Errorf("service: %s: %w", agent.HomeEnv, err)
		}
		spec.Env = map[string]string{agent.HomeEnv: abs}
	}
	return spec, nil
}

// serviceStoreArgs are the store flags the service's serve needs beyond
// the settings file, which it reads itself: what this command line gave,
// and the passphrase file of $AWS_SSO_AGENT_PASSPHRASE_FILE, which the
// service's environment lacks. A service cannot answer a prompt, so the
// file store without a passphrase file is refused here rather than at
// the first start.
func serviceStoreArgs(sf *storeFlags, fs *pflag.FlagSet) ([]string, error) {
	var args []string
	if fs.Changed("store") {
		args = append(args, "--store", sf.backend)
	}
	if fs.Changed("store-file") {
		abs, err := filepath.Abs(sf.file)
		if err != nil {
			return nil, err
		}
		args = append(args, "--store-file", abs)
	}
	if sf.backend != "file" {
		return args, nil
	}
	pass, fromEnv := sf.passphraseFile, false
	if pass == "" {
		pass, fromEnv = os.Getenv(PassphraseFileEnv), true
	}
	if pass == "" {
		return nil, withHint(errors.New("service: the file store needs a passphrase file: a service cannot answer a prompt"),
			"write the passphrase to a file only you can read (chmod 600), then pass --passphrase-file FILE or set passphrase_file = FILE in the settings file")
	}
	abs, err := filepath.Abs(pass)
	if err != nil {
		return nil, err
	}
	// Refuse a file the agent would refuse (missing, readable by others)
	// now, while someone is watching.
	if _, err := store.PassphraseFromFile(abs); err != nil {
		return nil, err
	}
	// The settings file's own passphrase_file needs no repeating; a flag
	// or the environment's does.
	if fs.Changed("passphrase-file") || fromEnv {
		args = append(args, "--passphrase-file", abs)
	}
	return args, nil
}

func (c *cli) serviceInstall(p service.Plan, dryRun bool) error {
	if dryRun {
		fmt.Fprintf(c.stdout, "# %s: %s\n", p.Kind, p.File)
		c.stdout.Write(p.Content)
		fmt.Fprintln(c.stdout, "# then run:")
		printCommands(c, append(p.Reset, p.Install...))
		for _, n := range p.Notes {
			fmt.Fprintf(c.stdout, "# note: %s\n", n)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p.File), 0o755); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	if err := os.WriteFile(p.File, p.Content, 0o644); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	fmt.Fprintf(c.stderr, "wrote the %s %s\n", p.Kind, p.File)
	if err := probe(p); err != nil {
		c.printNotes(p)
		return withHint(fmt.Errorf("service: the %s is written but not started: %w", p.Kind, err),
			"where the service manager runs (a login session, not a container), run:\n"+strings.TrimSuffix(commandLines(p.Install), "\n"))
	}
	for _, cmd := range p.Reset {
		_ = c.runQuiet(cmd)
	}
	for _, cmd := range p.Install {
		if err := c.runShown(cmd); err != nil {
			return fmt.Errorf("service: %s: %w", strings.Join(cmd, " "), err)
		}
	}
	fmt.Fprintf(c.stderr, "installed and started %s\n", service.Name)
	c.printNotes(p)
	return nil
}

func (c *cli) serviceUninstall(p service.Plan, dryRun bool) error {
	if dryRun {
		printCommands(c, p.Uninstall)
		fmt.Fprintf(c.stdout, "rm %s\n", p.File)
		printCommands(c, p.Reload)
		return nil
	}
	reachable := probe(p) == nil
	if reachable {
		for _, cmd := range p.Uninstall {
			_ = c.runQuiet(cmd) // it may not have been running
		}
	}
	err := os.Remove(p.File)
	switch {
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(c.stderr, "no %s at %s: nothing to remove\n", p.Kind, p.File)
	case err != nil:
		return fmt.Errorf("service: %w", err)
	default:
		fmt.Fprintf(c.stderr, "removed the %s %s\n", p.Kind, p.File)
	}
	if reachable {
		for _, cmd := range p.Reload {
			_ = c.runQuiet(cmd)
		}
	}
	return nil
}

// serviceStatus says whether the definition is installed and what the
// service manager says. Its exit status is 3 when nothing is installed,
// systemctl status's code for a unit that is not running.
func (c *cli) serviceStatus(p service.Plan, dryRun bool) error {
	if dryRun {
		printCommands(c, [][]string{p.Status})
		return nil
	}
	if _, err := os.Stat(p.File); err != nil {
		fmt.Fprintf(c.stdout, "%s: not installed (%s)\n", p.Kind, p.File)
		fmt.Fprintln(c.stdout, "install it with: aws-sso-agent service install")
		return exitCode{code: 3}
	}
	fmt.Fprintf(c.stdout, "%s: installed at %s\n", p.Kind, p.File)
	if err := probe(p); err != nil {
		fmt.Fprintf(c.stdout, "service manager: %v\n", err)
		return exitCode{code: 3}
	}
	cmd := exec.Command(p.Status[0], p.Status[1:]...)
	cmd.Stdout, cmd.Stderr = c.stdout, c.stderr
	var ee *exec.ExitError
	if err := cmd.Run(); errors.As(err, &ee) {
		return exitCode{code: ee.ExitCode()}
	} else if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	return nil
}

// errNoManager is what a failed probe means: a container, or a login
// without a systemd user manager (su, some SSH setups).
var errNoManager = errors.New("no service manager answers for this user (a container, or a login without one)")

func probe(p service.Plan) error {
	if p.Probe == nil {
		return nil
	}
	if err := exec.Command(p.Probe[0], p.Probe[1:]...).Run(); err != nil {
		return fmt.Errorf("%w: %s: %v", errNoManager, strings.Join(p.Probe, " "), err)
	}
	return nil
}

func (c *cli) runShown(cmd []string) error {
	fmt.Fprintf(c.stderr, "+ %s\n", shellWords(cmd))
	x := exec.Command(cmd[0], cmd[1:]...)
	x.Stdout, x.Stderr = c.stderr, c.stderr
	return x.Run()
}

func (c *cli) runQuiet(cmd []string) error {
	return exec.Command(cmd[0], cmd[1:]...).Run()
}

func (c *cli) printNotes(p service.Plan) {
	for _, n := range p.Notes {
		fmt.Fprintf(c.stderr, "note: %s\n", n)
	}
}

func printCommands(c *cli, cmds [][]string) {
	fmt.Fprint(c.stdout, commandLines(cmds))
}

func commandLines(cmds [][]string) string {
	var b strings.Builder
	for _, cmd := range cmds {
		b.WriteString(shellWords(cmd) + "\n")
	}
	return b.String()
}

// shellWords joins cmd for a POSIX shell, quoting the words that need it.
func shellWords(cmd []string) string {
	words := make([]string, len(cmd))
	for i, w := range cmd {
		if w != "" && !strings.ContainsAny(w, " \t\n'\"\\$`*?[]#~=%|&;<>()!{}") {
			words[i] = w
			continue
		}
		words[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(words, " ")
}
