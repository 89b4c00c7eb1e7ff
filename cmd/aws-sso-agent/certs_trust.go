package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
)

const certsTrustUsage = `usage: aws-sso-agent certs trust [--uninstall]

Installs the local CA's root certificate in the operating system's trust
store (as mkcert does), or removes it with --uninstall. It prints exactly
what it changes first. Root is needed on Linux and macOS: it runs the
commands through sudo when you are at a terminal, and otherwise prints
them for you to run.
`

// certsTrust is `certs trust [--uninstall]`; args follow "trust".
func (c *cli) certsTrust(args []string) error {
	fs := c.flags("certs trust")
	uninstall := fs.Bool("uninstall", false, "remove the local CA from the trust store instead")
	fs.Usage = func() { fmt.Fprint(c.stderr, certsTrustUsage); fs.PrintDefaults() }
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	d, err := c.dirs()
	if err != nil {
		return err
	}
	root, _, err := readRoot(d)
	if err != nil {
		return err
	}
	rootFile := filepath.Join(localca.DefaultDir(d.Config), localca.RootCertFile)
	ctx := context.Background()
	plan, err := localca.PlanTrust(ctx, rootFile, root, *uninstall)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "local CA:     %s (%s)\n", localca.Fingerprint(root), root.Subject.CommonName)
	fmt.Fprintf(c.stdout, "trust store:  %s\n", plan.Store)
	if len(plan.Steps) == 0 {
		fmt.Fprintf(c.stdout, "nothing to do: %s\n", plan.Note)
		return nil
	}
	fmt.Fprintln(c.stdout, "changes:")
	for i, s := range plan.Steps {
		fmt.Fprintf(c.stdout, "  %d. %s\n     %s\n", i+1, s.Why, s.String())
	}
	run, err := c.trustRunner(plan, os.Geteuid() == 0)
	if err != nil {
		return err
	}
	if err := plan.Apply(ctx, run); err != nil {
		return err
	}
	if *uninstall {
		fmt.Fprintln(c.stdout, "done: the local CA is no longer trusted by the system")
	} else {
		fmt.Fprintln(c.stdout, "done: programs using the system's roots now trust the agent's leaves (localhost, 127.0.0.1, ::1 only: the CA is name-constrained)")
		fmt.Fprintln(c.stdout, "undo with: aws-sso-agent certs trust --uninstall")
	}
	return nil
}

// trustRunner decides how the plan's commands run: directly when no
// privileges are needed or we have them, through sudo when a person is at
// the terminal to answer it, and otherwise not at all: the commands are
// printed for the user to run as root.
func (c *cli) trustRunner(plan *localca.TrustPlan, isRoot bool) (localca.Runner, error) {
	direct := func(ctx context.Context, argv []string) error {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = c.stderr, c.stderr
		return cmd.Run()
	}
	if !plan.NeedsAdmin || isRoot {
		return direct, nil
	}
	sudo, sudoErr := exec.LookPath("sudo")
	f, ok := c.stdin.(*os.File)
	if sudoErr == nil && ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintln(c.stdout, "these need root: running them with sudo, which may ask for your password")
		return func(ctx context.Context, argv []string) error {
			cmd := exec.CommandContext(ctx, sudo, append([]string{"--"}, argv...)...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = f, c.stderr, c.stderr
			return cmd.Run()
		}, nil
	}
	var lines []string
	for _, s := range plan.Steps {
		lines = append(lines, "  "+s.String())
	}
	why := "no terminal to ask for a password"
	if sudoErr != nil {
		why = "sudo is not installed"
	}
	return nil, withHint(fmt.Errorf("changing the trust store needs root, and %s: nothing was changed", why),
		"run these as root:\n"+strings.Join(lines, "\n"))
}
