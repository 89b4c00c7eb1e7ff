package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
)

// version is set at release time with -ldflags "-X main.version=...".
var version = "devel"

const usage = `aws-sso-agent serves fresh AWS credentials to the SDKs on this machine.

Usage:
  aws-sso-agent serve [--bind-ip IP] [--port N] [--store keyring|file] [--auto-login]
  aws-sso-agent load [--profile P | --sso-session S --account ID --role NAME] [--slot[=NAME]]
  aws-sso-agent unload [--profile P | --slot NAME | --all]
  aws-sso-agent list [--json]
  aws-sso-agent profile
  aws-sso-agent roles [--sso-session S] [--json] [--refresh]
  aws-sso-agent status [--json]
  aws-sso-agent login [--sso-session NAME | --profile P] [--device-code] [--no-browser]
  aws-sso-agent logout [--sso-session NAME | --profile P]
  aws-sso-agent env [--slot NAME] [--shell sh|bash|zsh|fish|csh|powershell] [--tls] [--quiet]
  aws-sso-agent exec [--slot NAME] [--tls] -- CMD [ARGS...]
  aws-sso-agent ssh [-p PORT] [-l USER] [-i KEY] [-J JUMP] [-A] [-t|-T] [-o K=V] [--slot NAME] [--remote-port N] [--no-install] [--no-env] [user@]host [-- command]
  aws-sso-agent forward [ssh flags] [--slot NAME] [user@]host
  aws-sso-agent sessions [--json] | sessions revoke ID
  aws-sso-agent certs print|status|trust|fqdn|export-csr|load|save|acme|api-key|sign-csr|revoke|delete   (aws-sso-agent certs help)
  aws-sso-agent service install|uninstall|status [--dry-run]
  aws-sso-agent version | --version
  aws-sso-agent help [COMMAND | TOPIC]

Start with:
  aws-sso-agent serve &
  aws-sso-agent load --profile PROFILE
  eval "$(aws-sso-agent env)"
`

// cli is one invocation and its streams, so every command can be tested
// without a process.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// jsonErrors makes fail write the final error as a JSON log line, for
	// serve with --log-format json: a supervisor that parses the log must
	// be able to parse the reason the agent stopped too.
	jsonErrors bool
	// resolver looks up names where a command checks what clients will
	// see (certs acme: the public name resolves to loopback); nil means
	// the system's. Tests point it at their own DNS server.
	resolver *net.Resolver
}

type command func(c *cli, args []string) error

func commands() map[string]command {
	return map[string]command{
		"serve":    (*cli).serve,
		"load":     (*cli).load,
		"unload":   (*cli).unload,
		"list":     (*cli).list,
		"profile":  (*cli).profile,
		"roles":    (*cli).roles,
		"status":   (*cli).status,
		"env":      (*cli).env,
		"certs":    (*cli).certs,
		"ssh":      (*cli).ssh,
		"forward":  (*cli).forward,
		"sessions": (*cli).sessions,
		"service":  (*cli).service,
		"exec":     (*cli).exec,
		"login":    (*cli).login,
		"logout":   (*cli).logout,
		"version":  (*cli).version,
		"help":     (*cli).help,
		// As most CLIs take it (aws --version, ssh -V's long cousins).
		"--version": (*cli).version,
	}
}

func (c *cli) version(args []string) error {
	fs := c.flags("version")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	_, err := fmt.Fprintln(c.stdout, "aws-sso-agent", version)
	return err
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return (&cli{stdin: stdin, stdout: stdout, stderr: stderr}).run(args)
}

// run runs the command args names and returns the exit status.
func (c *cli) run(args []string) int {
	switch {
	case len(args) == 0:
		fmt.Fprint(c.stderr, usage)
		return 2
	case args[0] == "-h" || args[0] == "--help":
		args = []string{"help"}
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		return c.fail(usageError{fmt.Errorf("unknown command %q", args[0])})
	}
	if err := cmd(c, args[1:]); err != nil {
		return c.fail(err)
	}
	return 0
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// fail prints err as a person should see it, with a hint where one helps.
func (c *cli) fail(err error) int {
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	var ec exitCode
	if errors.As(err, &ec) {
		if ec.err != nil {
			c.fail(ec.err)
		}
		return ec.code
	}
	code := 1
	var hints []string
	if hint := agent.ErrorHint(err); hint != "" {
		hints = strings.Split(hint, "\n")
	}
	var u usageError
	if errors.As(err, &u) {
		hints = append(hints, "run 'aws-sso-agent help' for usage")
		code = 2
	} else if more := topicHint(err); more != "" && !strings.Contains(strings.Join(hints, "\n"), "aws-sso-agent help ") {
		hints = append(hints, more)
	}
	if c.jsonErrors {
		attrs := []any{"exit", code}
		if len(hints) > 0 {
			attrs = append(attrs, "hint", strings.Join(hints, "\n"))
		}
		slog.New(slog.NewJSONHandler(c.stderr, nil)).Error("aws-sso-agent: "+err.Error(), attrs...)
		return code
	}
	fmt.Fprintf(c.stderr, "aws-sso-agent: error: %v\n", err)
	for _, line := range hints {
		fmt.Fprintf(c.stderr, "hint: %s\n", line)
	}
	return code
}

// withHint attaches hint to err; it overrides any hint err carries.
func withHint(err error, hint string) error {
	return &agent.HintError{Err: err, HintText: hint}
}

func (c *cli) flags(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.SortFlags = false
	return fs
}

func parse(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return applySettings(fs)
}

func noArgs(fs *pflag.FlagSet) error {
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func (c *cli) dirs() (agent.Dirs, error) {
	return agent.DefaultDirs()
}

// control sends one request to the running agent. When none runs, the
// error says how to start one.
func (c *cli) control(req agent.ControlRequest) (*agent.ControlResponse, error) {
	d, err := c.dirs()
	if err != nil {
		return nil, err
	}
	timeout := 10 * time.Second
	if req.Op == agent.OpLoad {
		// The agent answers a load within its source timeout plus
		// margins (agent.LoadTimeout), and an agent's source timeout is
		// at most agent.MaxSourceTimeout: waiting a little longer than
		// that, the caller always reads the agent's own error, such as
		// "credential_process timed out after 20 s".
		timeout = agent.LoadTimeout(agent.MaxSourceTimeout) + 5*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := agent.ControlClient{Path: d.ControlSocket()}.Do(ctx, req)
	if errors.Is(err, agent.ErrNotRunning) {
		return nil, withHint(err, "start it with: aws-sso-agent serve &\n(or as a service: aws-sso-agent service install; more: aws-sso-agent help install)")
	}
	return resp, err
}

func (c *cli) agentStatus() (*agent.AgentStatus, error) {
	resp, err := c.control(agent.ControlRequest{Op: agent.OpStatus})
	if err != nil {
		return nil, err
	}
	return resp.Status, nil
}

func slogLevel(debug bool) slog.Level {
	if debug {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

func newTextLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
