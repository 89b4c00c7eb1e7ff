package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/remote"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// version is set at release time with -ldflags "-X main.version=...".
var version = "devel"

const usage = `aws-sso-remote points the AWS SDKs on this host at your workstation's
agent, through the SSH session that ` + "`aws-sso-agent ssh`" + ` opened. Before it
sends the session's token anywhere, it proves that the forwarded port is
that session's genuine agent (pinned TLS and a proof bound to the
connection), so another user holding the port gets nothing.

Usage:
  eval "$(aws-sso-remote env)"            point this shell's SDKs at the agent
  aws-sso-remote env [--shell sh|bash|zsh|fish|csh|powershell] [--slot NAME] [--tls] [--session ID]
  aws-sso-remote check [--json] [--slot NAME] [--session ID]
  aws-sso-remote credential-process [--slot NAME] [--session ID]
  aws-sso-remote exec [--slot NAME] [--tls] [--session ID] -- CMD [ARGS...]
  aws-sso-remote shell [--slot NAME] [--tls] [--session ID] [--fallback]
  aws-sso-remote version
  aws-sso-remote help

Commands:
  env                 prove the port, then print the shell exports:
                      AWS_CONTAINER_CREDENTIALS_FULL_URI (http://127.0.0.1:PORT/,
                      /slot/NAME for --slot), AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
                      and AWS_CONTAINER_AUTHORIZATION_TOKEN (older SDKs read only
                      the variable; both hold the same token), unsetting the variables that would override them. With
                      --tls: the https URL, SSL_CERT_FILE (system roots and the
                      agent's CA) and NODE_EXTRA_CA_CERTS (Go and Node only).
                      When the agent serves a public name (certs fqdn/acme), the
                      URL is https://FQDN:PORT/, which every SDK verifies, once
                      the name resolves to loopback only on this host and the
                      port's certificate for it is trusted here; else the
                      loopback URL, saying why on stderr.
                      On any failure it prints no export at all.
  check               the same proof, reported (--json for scripts)
  credential-process  credentials in the credential_process JSON format, for
                      ~/.aws/config: credential_process = aws-sso-remote credential-process
  exec                the same proof, then run CMD with the variables env
                      prints already set; on any failure CMD does not run
                      (a slot with nothing loaded is a failure here)
  shell               the same, for your login shell ($SHELL, else /bin/sh);
                      with --fallback (what aws-sso-agent ssh HOST runs), a
                      failed proof is reported and the shell starts without
                      AWS credentials

Finding the session: --session ID, else $AWS_SSO_AGENT_SESSION, else the
session whose sshd is an ancestor of this process, else the only live one.
Sessions live in ~/.aws-sso-agent/sessions/ID/ (0700, files 0600).
Without --slot, a session granted one slot only reads that one, else the
default slot.

Exit codes:
  0  ok
  1  other error
  2  usage error
  3  no session found (or its file is unsafe or damaged)
  4  nothing genuine on the port: connection refused, plain HTTP,
     TLS handshake failure
  5  the certificate is not issued by the session's pinned CA
  6  the proof failed: another session's port, or not this agent
  7  the agent refused the token or slot (revoked, not granted,
     nothing loaded)
`

// defaultTimeout bounds the proof and the request: the agent answers on
// loopback through the SSH forward in milliseconds; ten seconds allows
// for a slow link and still fails a shell's start-up promptly.
const defaultTimeout = 10 * time.Second

// cli is the helper's command line, with everything it touches injected
// so tests run it in process.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	finder         *remote.Finder
	// systemRoots returns the system's root certificates (PEM) for the
	// --tls bundle and where they came from.
	systemRoots func(getenv func(string) string, sessionsDir string) ([]byte, string, error)
	timeout     time.Duration
	// resolver checks the session's public name (nil: the system's);
	// publicRoots verify the agent's public certificate (nil: the
	// system's roots).
	resolver    remote.Resolver
	publicRoots *x509.CertPool
	// environ is the environment exec and shell start from, execve
	// replaces the process (nil: os.Environ and execProcess).
	environ func() []string
	execve  func(path string, argv, env []string) error
}

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	c := &cli{
		stdout:      stdout,
		stderr:      stderr,
		getenv:      os.Getenv,
		finder:      &remote.Finder{RemoveDead: true},
		systemRoots: wire.SystemRoots,
		timeout:     defaultTimeout,
	}
	return c.run(args)
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func (c *cli) run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage)
		return remote.ExitUsage
	}
	var err error
	switch args[0] {
	case "env":
		err = c.env(args[1:])
	case "check":
		return c.check(args[1:])
	case "credential-process":
		err = c.credentialProcess(args[1:])
	case "exec":
		err = c.execCmd(args[1:])
	case "shell":
		err = c.shellCmd(args[1:])
	case "version", "--version":
		fmt.Fprintln(c.stdout, "aws-sso-remote", version)
		return remote.ExitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.stdout, usage)
		return remote.ExitOK
	default:
		err = usageError{fmt.Sprintf("unknown command %q: see `aws-sso-remote help`", args[0])}
	}
	return c.fail(err)
}

// fail reports err on stderr and returns the exit code for it.
func (c *cli) fail(err error) int {
	if err == nil {
		return remote.ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return remote.ExitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(c.stderr, "aws-sso-remote: error: %s\n", ue.msg)
		return remote.ExitUsage
	}
	fmt.Fprintf(c.stderr, "aws-sso-remote: error: %s\n", message(err))
	if h := remote.HintOf(err); h != "" {
		fmt.Fprintf(c.stderr, "hint: %s\n", h)
	}
	return remote.ExitCode(err)
}

// message is err as a person reads it: the helper's *Error without the
// package prefix.
func message(err error) string {
	var e *remote.Error
	if errors.As(err, &e) {
		if e.Err != nil {
			return e.Reason + ": " + e.Err.Error()
		}
		return e.Reason
	}
	return err.Error()
}

// flags returns a flag set for cmd that reports to stderr and does not exit.
func (c *cli) flags(cmd, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "usage: aws-sso-remote %s %s\n", cmd, synopsis)
		fs.PrintDefaults()
		fmt.Fprintln(c.stderr, "exit codes: see `aws-sso-remote help`")
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		// The flag package has already printed the problem and usage.
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s takes no arguments, got %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

// slotFlag turns --slot into a slot name: "" and "default" are the
// default slot.
func slotFlag(s string) string {
	if s == wire.DefaultSlot {
		return ""
	}
	return s
}

// sessionSlot is the slot a command reads: the --slot flag's (arg), or
// with no flag the default slot, unless the session was granted exactly
// one other slot: `aws-sso-agent ssh --slot prod HOST` means prod, and
// asking for it twice would be a chore.
func sessionSlot(s *wire.Session, arg string) string {
	if arg == "" && !s.Allows("") && len(s.Slots) == 1 {
		return s.Slots[0]
	}
	return slotFlag(arg)
}

// proven is a session whose port has proved genuine, and how its token
// fared on one request.
type proven struct {
	sess  *wire.Session
	slot  string // the slot read, sessionSlot's choice
	creds wire.Credentials
	// warning is set when the agent accepted the token but has nothing
	// to serve for the slot (not loaded, refresh failed).
	warning error
}

// prove finds the session, proves its port and sends the token once, for
// the slot named by slotArg (the --slot flag, sessionSlot), over the
// proven connection. A refused token is an error; a slot with nothing to
// serve is a warning when soft, an error otherwise.
func (c *cli) prove(sessionID, slotArg string, soft bool) (*proven, error) {
	s, err := c.finder.Find(sessionID)
	if err != nil {
		return nil, err
	}
	slot := sessionSlot(s, slotArg)
	p := &proven{sess: s, slot: slot}
	if !s.Allows(slot) {
		return p, &remote.Error{Kind: remote.KindRefused,
			Reason: "slot " + wire.QuotedSlotName(slot) + " is not granted to session " + s.ID,
			Hint:   "start the session with `aws-sso-agent ssh --slot NAME HOST` (granted here: " + slotNames(s.Slots) + ")"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	conn, err := remote.Prove(ctx, s)
	if err != nil {
		return p, err
	}
	defer conn.Close()
	p.creds, err = conn.Credentials(ctx, slot)
	var re *remote.Error
	if soft && errors.As(err, &re) && re.Kind == remote.KindRefused && !tokenRefused(re.Status) {
		p.warning, err = err, nil
	}
	return p, err
}

// tokenRefused reports whether an agent status means the token itself is
// no good: 401, 403 (slot refused to it), or 429, which the agent answers
// only to failing requests (a valid token is never rate limited).
func tokenRefused(status int) bool {
	return status == 401 || status == 403 || status == 429
}

func slotNames(slots []string) string {
	if len(slots) == 0 {
		return "none"
	}
	out := make([]string, len(slots))
	for i, s := range slots {
		out[i] = wire.QuotedSlotName(s)
	}
	return strings.Join(out, ", ")
}

// warn prints a warning, with note after it if any, and its hint on stderr.
func (c *cli) warn(err error, note string) {
	fmt.Fprintf(c.stderr, "aws-sso-remote: warning: %s%s\n", message(err), note)
	if h := remote.HintOf(err); h != "" {
		fmt.Fprintf(c.stderr, "hint: %s\n", h)
	}
}

func (c *cli) env(args []string) error {
	fs := c.flags("env", "[--shell sh|bash|zsh|fish|csh|powershell] [--slot NAME] [--tls] [--session ID]")
	shellName := fs.String("shell", "sh", "syntax of the exports: sh, bash, zsh, fish, csh (tcsh) or powershell")
	slot := fs.String("slot", "", "a named slot instead of the default one (with no flag: the session's only slot, if it has one)")
	useTLS := fs.Bool("tls", false, "export the https URL, SSL_CERT_FILE and NODE_EXTRA_CA_CERTS (Go and Node SDKs only)")
	sessionID := fs.String("session", "", "the session id (default: found from this process's SSH connection)")
	if err := parse(fs, args); err != nil {
		return err
	}
	sh, ok := wire.ParseShell(*shellName)
	if !ok {
		return usageError{fmt.Sprintf("unknown shell %q: use %s", *shellName, shellList())}
	}
	vars, warning, err := c.sdkVars(*sessionID, *slot, *useTLS, true)
	if err != nil {
		return err
	}
	out, err := sh.Exports(vars, wire.OverridingVars())
	if err != nil {
		return err
	}
	if warning != nil {
		c.warn(warning, " (exports printed anyway: SDKs get credentials once the slot has them)")
	}
	_, err = io.WriteString(c.stdout, out)
	return err
}

// sdkVars proves the session's port for the slot named by slotArg and
// returns the variables that point the SDKs at it: what env exports, and
// what exec and shell set. It writes the files they name (the token, and
// with useTLS the CA bundle); it never writes to stdout. A slot with
// nothing to serve is the returned warning when soft, an error otherwise.
func (c *cli) sdkVars(sessionID, slotArg string, useTLS, soft bool) (vars []wire.Var, warning, err error) {
	p, err := c.prove(sessionID, slotArg, soft)
	if err != nil {
		return nil, nil, err
	}
	s, slot := p.sess, p.slot
	// Everything that can fail happens before a single byte goes to
	// stdout, so a failed `eval "$(aws-sso-remote env)"` changes nothing.
	tokenFile, err := remote.WriteTokenFile(s)
	if err != nil {
		return nil, nil, err
	}
	publicURL := c.publicURL(s, slot)
	vars = []wire.Var{{Name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", Value: s.URL(slot, useTLS)}}
	switch {
	case publicURL != "":
		// Every SDK verifies the public certificate with its own roots
		// (docs/tls.md): no trust variable, with or without --tls.
		vars[0].Value = publicURL
	case useTLS:
		sdir, _ := c.finder.SessionsDir()
		roots, from, err := c.systemRoots(c.getenv, sdir)
		if err != nil {
			return nil, nil, fmt.Errorf("read the system's root certificates for SSL_CERT_FILE: %w", err)
		}
		if len(roots) == 0 {
			c.warn(&remote.Error{Reason: "found no system root certificates: SSL_CERT_FILE holds only the agent's CA",
				Hint: "Go programs in this shell will trust only the agent; set SSL_CERT_FILE yourself to a bundle that includes " + s.CABundleFile()}, "")
		} else if from != "" {
			fmt.Fprintf(c.stderr, "aws-sso-remote: SSL_CERT_FILE: the system roots of %s plus the agent's CA\n", from)
		}
		bundle, err := remote.WriteCABundle(s, roots)
		if err != nil {
			return nil, nil, err
		}
		caFile, err := remote.WriteCAFile(s)
		if err != nil {
			return nil, nil, err
		}
		vars = append(vars, wire.Var{Name: "SSL_CERT_FILE", Value: bundle}, wire.Var{Name: "NODE_EXTRA_CA_CERTS", Value: caFile})
	}
	vars = append(vars, wire.TokenVars(tokenFile, s.Token)...)
	return vars, p.warning, nil
}

// shellList is the shells --shell takes, for messages.
func shellList() string {
	names := wire.ShellNames()
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// publicURL is the session's https://FQDN:PORT/ URL for slot when the
// agent gave the session a public name and checkPublic passes; "" otherwise,
// saying why on stderr.
func (c *cli) publicURL(s *wire.Session, slot string) string {
	if s.FQDN == "" {
		return ""
	}
	if err := c.checkPublic(s); err != nil {
		fmt.Fprintf(c.stderr, "aws-sso-remote: not using https://%s: %v; exporting the loopback URL instead\n", s.FQDN, err)
		return ""
	}
	return s.PublicURL(slot)
}

// checkPublic checks the session's public name on this host: it resolves
// to loopback only, and the port presents a certificate for it that this
// host trusts. The proof has already pinned the agent's CA on the port;
// these checks are about what the SDKs will see when they use the name.
func (c *cli) checkPublic(s *wire.Session) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if err := remote.CheckLoopbackDNS(ctx, c.resolver, s.FQDN); err != nil {
		return err
	}
	return remote.CheckPublicCert(ctx, s, c.publicRoots)
}

// checkReport is the output of `check --json`.
type checkReport struct {
	Session       string   `json:"session,omitempty"`
	Port          int      `json:"port,omitempty"`
	Host          string   `json:"host,omitempty"`
	CAFingerprint string   `json:"ca_fingerprint,omitempty"`
	Slots         []string `json:"slots"`
	// Result is "ok" or the failure's kind: no_session, not_genuine,
	// certificate, proof_failed, refused, error.
	Result   string `json:"result"`
	Error    string `json:"error,omitempty"`
	Hint     string `json:"hint,omitempty"`
	Warning  string `json:"warning,omitempty"`
	ExitCode int    `json:"exit_code"`
	// FQDN is the agent's public name, if the session has one;
	// PublicURL is what env exports for it, or PublicError why env
	// exports the loopback URL instead.
	FQDN        string `json:"fqdn,omitempty"`
	PublicURL   string `json:"public_url,omitempty"`
	PublicError string `json:"public_error,omitempty"`
}

func (c *cli) check(args []string) int {
	fs := c.flags("check", "[--json] [--slot NAME] [--session ID]")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	slot := fs.String("slot", "", "the slot to test the token on (default: the default slot if granted, else the first)")
	sessionID := fs.String("session", "", "the session id (default: found from this process's SSH connection)")
	if err := parse(fs, args); err != nil {
		return c.fail(err)
	}
	target, explicit := slotFlag(*slot), *slot != ""
	// Find first to choose the slot; prove finds again (cheap, and the
	// same answer).
	p, err := func() (*proven, error) {
		s, err := c.finder.Find(*sessionID)
		if err != nil {
			return nil, err
		}
		if !explicit && !s.Allows("") && len(s.Slots) > 0 {
			target = s.Slots[0]
		}
		if target == "" {
			target = wire.DefaultSlot // explicitly: prove must not choose another
		}
		return c.prove(s.ID, target, true)
	}()
	r := checkReport{Slots: []string{}, Result: "ok"}
	if p != nil {
		s := p.sess
		r.Session, r.Port, r.Host, r.CAFingerprint = s.ID, s.Port, s.Host, s.CAFingerprint()
		r.Slots = slotDisplay(s.Slots)
	}
	if err != nil {
		r.Result = remote.KindOf(err).String()
		r.Error = message(err)
		r.Hint = remote.HintOf(err)
	}
	if p != nil && p.warning != nil {
		r.Warning = message(p.warning)
	}
	if err == nil && p.sess.FQDN != "" {
		r.FQDN = p.sess.FQDN
		if perr := c.checkPublic(p.sess); perr != nil {
			r.PublicError = perr.Error()
		} else {
			r.PublicURL = p.sess.PublicURL("")
		}
	}
	r.ExitCode = remote.ExitCode(err)
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(r)
		return r.ExitCode
	}
	if r.Session != "" {
		fmt.Fprintf(c.stdout, "session  %s\n", r.Session)
		fmt.Fprintf(c.stdout, "from     %s\n", r.Host)
		fmt.Fprintf(c.stdout, "port     127.0.0.1:%d\n", r.Port)
		fmt.Fprintf(c.stdout, "ca       %s\n", r.CAFingerprint)
		fmt.Fprintf(c.stdout, "slots    %s\n", strings.Join(r.Slots, ", "))
	}
	switch {
	case r.PublicURL != "":
		fmt.Fprintf(c.stdout, "public   %s (resolves to loopback here, certificate trusted here)\n", r.PublicURL)
	case r.PublicError != "":
		fmt.Fprintf(c.stdout, "public   %s not used: %s\n", r.FQDN, r.PublicError)
	}
	if err != nil {
		fmt.Fprintf(c.stdout, "result   FAILED (exit %d): %s\n", r.ExitCode, r.Result)
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "result   ok: the port is this session's agent (TLS 1.3, pinned CA, proof), and it accepts the token\n")
	if p.warning != nil {
		c.warn(p.warning, "")
	}
	return remote.ExitOK
}

func slotDisplay(slots []string) []string {
	out := make([]string, len(slots))
	for i, s := range slots {
		out[i] = wire.SlotName(s)
	}
	return out
}

// processCredentials is the credential_process output format (AWS CLI
// and SDKs, "Sourcing credentials with an external process").
type processCredentials struct {
	Version         int    `json:"Version"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken,omitempty"`
	Expiration      string `json:"Expiration,omitempty"`
	AccountID       string `json:"AccountId,omitempty"`
}

func (c *cli) credentialProcess(args []string) error {
	fs := c.flags("credential-process", "[--slot NAME] [--session ID]")
	slot := fs.String("slot", "", "a named slot instead of the default one (with no flag: the session's only slot, if it has one)")
	sessionID := fs.String("session", "", "the session id (default: found from this process's SSH connection)")
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := c.prove(*sessionID, *slot, false)
	if err != nil {
		return err
	}
	out := processCredentials{
		Version:         1,
		AccessKeyID:     p.creds.AccessKeyID,
		SecretAccessKey: p.creds.SecretAccessKey,
		SessionToken:    p.creds.SessionToken,
		AccountID:       p.creds.AccountID,
	}
	if !p.creds.Expires.IsZero() {
		// RFC 3339 in UTC with "Z", as the endpoint serves it (wire.AppendCredentials).
		out.Expiration = p.creds.Expires.UTC().Format(time.RFC3339)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = c.stdout.Write(append(b, '\n'))
	return err
}
