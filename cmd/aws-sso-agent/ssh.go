package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/crypto/ssh"
	"golang.org/x/term"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/forward"
	"github.com/aws-sso-agent/aws-sso-agent/tunnel"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// exitCode ends the command with a status and, if err is set, a message.
type exitCode struct {
	code int
	err  error
}

func (e exitCode) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e exitCode) Unwrap() error { return e.err }

// sshFlags are OpenSSH's flags this client takes, with OpenSSH's meaning,
// plus the agent's own.
type sshFlags struct {
	opts       forward.Options
	agentFwd   bool
	forceTTY   int
	noTTY      bool
	slots      []string
	remotePort int
	debug      bool
	noInstall  bool
	noEnv      bool
}

func (f *sshFlags) register(fs *pflag.FlagSet, shell bool) {
	fs.IntVarP(&f.opts.Port, "port", "p", 0, "port to connect to on the remote host")
	fs.StringVarP(&f.opts.User, "login", "l", "", "user to log in as")
	fs.StringArrayVarP(&f.opts.IdentityFiles, "identity", "i", nil, "private key file (repeatable)")
	fs.StringVarP(&f.opts.ProxyJump, "jump", "J", "", "connect through these jump hosts (ProxyJump)")
	fs.StringVarP(&f.opts.ConfigFile, "config", "F", "", "ssh config file instead of ~/.ssh/config")
	fs.StringArrayVarP(&f.opts.Options, "option", "o", nil, "ssh_config option Key=Value (repeatable)")
	if shell {
		fs.BoolVarP(&f.agentFwd, "forward-agent", "A", false, "forward the ssh-agent to the remote host")
		fs.CountVarP(&f.forceTTY, "tty", "t", "ask for a terminal even with a command")
		fs.BoolVarP(&f.noTTY, "no-tty", "T", false, "never ask for a terminal")
		fs.BoolVar(&f.noEnv, "no-env", false, "with no command: the plain login shell, without aws-sso-remote shell setting the SDK variables")
	}
	fs.StringArrayVar(&f.slots, "slot", nil, "slot this session may read (repeatable; default: the default slot)")
	fs.IntVar(&f.remotePort, "remote-port", 0, "remote port to forward (default 0: the server picks a free one)")
	fs.BoolVarP(&f.debug, "verbose", "v", false, "log connection events")
	fs.BoolVar(&f.noInstall, "no-install", false, "do not install or update aws-sso-remote on the remote host")
}

// shippedHelpers is the directory of this executable when it holds the
// aws-sso-remote builds for remote hosts (`make install` puts them there),
// nil otherwise: a development build ships none, and has nothing to say.
func shippedHelpers() fs.FS {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	dir := filepath.Dir(exe)
	if m, _ := filepath.Glob(filepath.Join(dir, tunnel.HelperName("*", "*"))); len(m) == 0 {
		return nil
	}
	return os.DirFS(dir)
}

// tunnelOptions turns flags into what tunnel.Open needs.
func (c *cli) tunnelOptions(f *sshFlags, dest string) (tunnel.Options, error) {
	if f.remotePort < 0 || f.remotePort > 65535 {
		return tunnel.Options{}, usageError{fmt.Errorf("--remote-port %d is out of range", f.remotePort)}
	}
	d, err := c.dirs()
	if err != nil {
		return tunnel.Options{}, err
	}
	slots := make([]string, 0, len(f.slots))
	for _, s := range f.slots {
		if s == "default" {
			s = ""
		}
		slots = append(slots, s)
	}
	level := slogLevel(f.debug)
	var helpers fs.FS
	if !f.noInstall {
		helpers = shippedHelpers()
	}
	return tunnel.Options{
		Helpers:    helpers,
		Dest:       dest,
		SSH:        f.opts,
		Slots:      slots,
		RemotePort: f.remotePort,
		Agent:      agent.ControlClient{Path: d.ControlSocket()},
		Prompt:     c.terminalPrompter(),
		Logger:     newTextLogger(c.stderr, level),
	}, nil
}

// checkSlotsLoaded refuses slots the agent has not loaded: a misspelt
// --slot would otherwise give a session whose every request fails, found
// out only on the remote host. The default slot ("") is not checked
// unless asked for by name, as a session reads it by default.
func checkSlotsLoaded(st *agent.AgentStatus, slots []string) error {
	loaded := make(map[string]bool, len(st.Slots))
	names := make([]string, 0, len(st.Slots))
	for _, s := range st.Slots {
		loaded[s.Name] = true
		names = append(names, wire.SlotName(s.Name))
	}
	for _, s := range slots {
		if loaded[s] {
			continue
		}
		have := "none"
		if len(names) > 0 {
			have = strings.Join(names, ", ")
		}
		return withHint(fmt.Errorf("--slot %s: the agent has no such slot loaded (loaded: %s)", wire.QuotedSlotName(s), have),
			"load it first (aws-sso-agent load --profile PROFILE --slot="+wire.SlotName(s)+"), or see aws-sso-agent list")
	}
	return nil
}

// tunnelHint adds what to do next to the tunnel errors a person can fix.
func tunnelHint(err error) error {
	var denied *forward.ForwardDeniedError
	switch {
	case errors.Is(err, agent.ErrNotRunning):
		return withHint(err, "start it with: aws-sso-agent serve &")
	case errors.As(err, &denied):
		return withHint(err, "without --remote-port the server picks a free port")
	case tunnel.Revoked(err):
		return withHint(err, "aws-sso-agent sessions revoke ended it; connect again for a new session")
	}
	return err
}

func (c *cli) ssh(args []string) error {
	fs := c.flags("ssh")
	fs.SetInterspersed(false) // as in OpenSSH, what follows the host is the command
	var f sshFlags
	f.register(fs, true)
	if err := parse(fs, args); err != nil {
		return exitCode{255, err}
	}
	if fs.NArg() == 0 {
		return exitCode{255, usageError{errors.New("ssh needs a destination: aws-sso-agent ssh [flags] [user@]host [-- command]")}}
	}
	rest := fs.Args()[1:]
	if len(rest) > 0 && rest[0] == "--" {
		// As in OpenSSH, "--" after the host ends the options.
		rest = rest[1:]
	}
	// As in OpenSSH, the words of the command are joined with spaces and
	// the remote user's shell parses the result.
	dest, command := fs.Arg(0), strings.Join(rest, " ")
	o, err := c.tunnelOptions(&f, dest)
	if err != nil {
		return exitCode{255, err}
	}
	// Before connecting: is there an agent to serve the forward, with the
	// slots asked for?
	st, err := c.agentStatus()
	if err != nil {
		return exitCode{255, err}
	}
	if err := checkSlotsLoaded(st, o.Slots); err != nil {
		return exitCode{255, err}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	t, err := tunnel.Open(ctx, o)
	stop()
	if err != nil {
		return exitCode{255, tunnelHint(err)}
	}
	defer t.Close()
	if err := t.HelperError(); err != nil {
		c.warnHelper(err)
	}

	status, err := c.runRemote(t, &f, command)
	if err != nil {
		return exitCode{255, err}
	}
	if status != 0 {
		return exitCode{code: status}
	}
	return nil
}

// warnHelper says that the helper could not be installed, and what to do:
// the session goes on, for a helper installed by hand.
func (c *cli) warnHelper(err error) {
	fmt.Fprintf(c.stderr, "aws-sso-agent: warning: %v\n", err)
	var missing *tunnel.HelperMissingError
	if errors.As(err, &missing) {
		fmt.Fprintln(c.stderr, "hint: a helper you copy there yourself is used as it is; --no-install skips this step")
		return
	}
	fmt.Fprintln(c.stderr, "hint: the remote host keeps the helper it had; see docs/ssh.md (troubleshooting), or pass --no-install")
}

// runRemote runs the shell or the command and returns its exit status.
// The CLI decides about the terminal; the tunnel runs and waits.
func (c *cli) runRemote(t *tunnel.Tunnel, f *sshFlags, command string) (int, error) {
	// With no command, the login shell starts through aws-sso-remote
	// shell, with its SDK variables set, unless --no-env.
	r := tunnel.Remote{Command: command, Credentials: !f.noEnv, Stdin: c.stdin, Stdout: c.stdout, Stderr: c.stderr}
	if f.agentFwd {
		r.AgentSocket = os.Getenv("SSH_AUTH_SOCK")
		if r.AgentSocket == "" {
			fmt.Fprintln(c.stderr, "aws-sso-agent: warning: -A: no SSH_AUTH_SOCK, no agent to forward")
		}
	}
	stdin, stdinIsTTY := c.stdin.(*os.File)
	stdinIsTTY = stdinIsTTY && term.IsTerminal(int(stdin.Fd()))
	wantTTY := (command == "" && stdinIsTTY) || f.forceTTY >= 2 || (f.forceTTY == 1 && stdinIsTTY)
	if f.noTTY {
		wantTTY = false
	}
	if wantTTY {
		r.Terminal = func(s *ssh.Session) (func(), error) { return c.remoteTerminal(s, stdin, stdinIsTTY) }
	}
	// In raw mode a line feed does not return the carriage.
	nl := "\n"
	if wantTTY && stdinIsTTY {
		nl = "\r\n"
	}
	r.SessionLost = func(err error) {
		fmt.Fprintf(c.stderr, "aws-sso-agent: warning: the agent ended the session (%v): credentials are unavailable on %s until the agent is back%s", err, t.Host(), nl)
	}
	r.SessionRenewed = func(id string) {
		fmt.Fprintf(c.stderr, "aws-sso-agent: the agent is back: credentials are served on %s again, as session %s; a shell started before needs: e=$(~/%s env) && eval \"$e\"%s", t.Host(), id, tunnel.HelperPath, nl)
	}
	return t.Run(r)
}

// remoteTerminal asks for a PTY of the local terminal's size and type,
// puts the local terminal in raw mode, and follows window resizes.
func (c *cli) remoteTerminal(s *ssh.Session, stdin *os.File, isTTY bool) (func(), error) {
	termName := os.Getenv("TERM")
	if termName == "" {
		termName = "xterm"
	}
	w, h := 80, 24
	if isTTY {
		if cw, ch, err := term.GetSize(int(stdin.Fd())); err == nil {
			w, h = cw, ch
		}
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := s.RequestPty(termName, h, w, modes); err != nil {
		return nil, fmt.Errorf("request a terminal: %w", err)
	}
	if !isTTY {
		return func() {}, nil
	}
	old, err := term.MakeRaw(int(stdin.Fd()))
	if err != nil {
		return nil, fmt.Errorf("raw mode: %w", err)
	}
	stopResize := followResize(s, stdin)
	return func() {
		stopResize()
		term.Restore(int(stdin.Fd()), old)
	}, nil
}

// terminalPrompter asks on /dev/tty, or returns nil (nobody to ask).
func (c *cli) terminalPrompter() forward.Prompter {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	return &ttyPrompter{tty: tty}
}

// ttyPrompter implements forward.Prompter with OpenSSH's questions.
type ttyPrompter struct{ tty *os.File }

func (p *ttyPrompter) ConfirmHostKey(host string, key ssh.PublicKey, fingerprint string) (bool, error) {
	fmt.Fprintf(p.tty, "The authenticity of host '%s' can't be established.\r\n%s key fingerprint is %s.\r\n", host, keyTypeName(key), fingerprint)
	for {
		fmt.Fprint(p.tty, "Are you sure you want to continue connecting (yes/no)? ")
		answer, err := p.readLine(true)
		if err != nil {
			return false, err
		}
		switch strings.ToLower(strings.TrimSpace(answer)) {
		case "yes":
			return true, nil
		case "no":
			return false, nil
		}
		fmt.Fprint(p.tty, "Please type 'yes' or 'no': ")
	}
}

func (p *ttyPrompter) Passphrase(file string) ([]byte, error) {
	fmt.Fprintf(p.tty, "Enter passphrase for key '%s': ", file)
	b, err := term.ReadPassword(int(p.tty.Fd()))
	fmt.Fprint(p.tty, "\r\n")
	return b, err
}

func (p *ttyPrompter) Password(user, host string) (string, error) {
	fmt.Fprintf(p.tty, "%s@%s's password: ", user, host)
	b, err := term.ReadPassword(int(p.tty.Fd()))
	fmt.Fprint(p.tty, "\r\n")
	return string(b), err
}

func (p *ttyPrompter) KeyboardInteractive(user, instruction string, questions []string, echos []bool) ([]string, error) {
	if instruction != "" {
		fmt.Fprintf(p.tty, "%s\r\n", instruction)
	}
	answers := make([]string, len(questions))
	for i, q := range questions {
		fmt.Fprint(p.tty, q)
		if echos[i] {
			a, err := p.readLine(true)
			if err != nil {
				return nil, err
			}
			answers[i] = strings.TrimRight(a, "\r\n")
		} else {
			b, err := term.ReadPassword(int(p.tty.Fd()))
			fmt.Fprint(p.tty, "\r\n")
			if err != nil {
				return nil, err
			}
			answers[i] = string(b)
		}
	}
	return answers, nil
}

func (p *ttyPrompter) readLine(echo bool) (string, error) {
	var sb strings.Builder
	b := make([]byte, 1)
	for {
		n, err := p.tty.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				return sb.String(), nil
			}
			sb.WriteByte(b[0])
		}
		if err == io.EOF {
			return sb.String(), nil
		}
		if err != nil {
			return "", err
		}
	}
}

func keyTypeName(k ssh.PublicKey) string {
	switch t := k.Type(); {
	case strings.HasPrefix(t, "ssh-ed25519"):
		return "ED25519"
	case strings.HasPrefix(t, "ecdsa"):
		return "ECDSA"
	case strings.HasPrefix(t, "ssh-rsa"), strings.HasPrefix(t, "rsa"):
		return "RSA"
	default:
		return strings.ToUpper(t)
	}
}
