package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// version is set at release time with -ldflags "-X main.version=...".
var version = "devel"

const usage = `aws-sso-signer is a public signing service: people register hostnames
under one DNS zone (NAME.ZONE resolves to 127.0.0.1), get API keys scoped to
them, and send CSRs, which the service has signed by an ACME CA through
DNS-01 in its own zone.

Usage:
  aws-sso-signer serve --zone ZONE --db URL --listen ADDR --dns-listen ADDR
                       --acme-directory URL [--acme-ca-file FILE]
                       [--tls-cert FILE --tls-key FILE]
  aws-sso-signer account add USER --email EMAIL     (password on stdin)
  aws-sso-signer account list | disable USER | enable USER
  aws-sso-signer account delete USER [--acme-directory URL [--acme-ca-file FILE] | --keep-certificates]
  aws-sso-signer hostname add USER LABEL [--cap N]
  aws-sso-signer hostname release LABEL [--acme-directory URL [--acme-ca-file FILE] | --keep-certificates]
  aws-sso-signer hostname list [USER]
  aws-sso-signer key create USER --hostname FQDN [--hostname FQDN...]
  aws-sso-signer key list [USER]
  aws-sso-signer key revoke ID
  aws-sso-signer version

The database: --db URL on every command, else $AWS_SSO_SIGNER_DB.
  sqlite:PATH                    one instance (the default engine)
  postgres://USER@HOST/DB        several instances; the password goes in
                                 PGPASSWORD or ~/.pgpass, never in argv

Giving a hostname up (hostname release, account delete) first revokes its
valid certificates at the CA with the service's ACME account: give serve's
--acme-directory (else $AWS_SSO_SIGNER_ACME_DIRECTORY), or
--keep-certificates. The label is then quarantined for 90 days.

Audit: every change appends one JSON line to --audit-log FILE (0600), else
$AWS_SSO_SIGNER_AUDIT_LOG; serve writes its API's lines there or to stdout.
`

// cli is the command line, with everything it touches injected so tests
// run it in process.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// parts builds the DNS server and the ACME issuer for serve.
	parts partsBuilder
	// revoker builds what revokes certificates for hostname release and
	// account delete; nil means buildRevoker.
	revoker revokerBuilder
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, parts: buildParts}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.run(ctx, args)
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// hintError carries what to do next.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

func withHint(err error, hint string) error { return &hintError{err: err, hint: hint} }

func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(c.stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var err error
	switch args[0] {
	case "version", "--version":
		fmt.Fprintln(c.stdout, "aws-sso-signer", version)
		return 0
	case "serve":
		err = c.serve(ctx, args[1:])
	case "account":
		err = c.account(ctx, args[1:])
	case "hostname":
		err = c.hostname(ctx, args[1:])
	case "key":
		err = c.key(ctx, args[1:])
	default:
		err = usagef("unknown command %q", args[0])
	}
	return c.fail(err)
}

// fail prints err as a person should see it and returns the exit code.
func (c *cli) fail(err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(c.stderr, "aws-sso-signer: error: %v\n", err)
	var ue usageError
	var he *hintError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(c.stderr, "hint: run 'aws-sso-signer help' for usage")
		return 2
	case errors.As(err, &he):
		fmt.Fprintf(c.stderr, "hint: %s\n", he.hint)
	case errors.Is(err, store.ErrNotFound):
		fmt.Fprintln(c.stderr, "hint: 'aws-sso-signer account list', 'hostname list' and 'key list' show what exists")
	}
	return 1
}

// flags returns a flag set for cmd with --db.
func (c *cli) flags(cmd string) (*pflag.FlagSet, *string) {
	fs := pflag.NewFlagSet(cmd, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := fs.String("db", "", "database URL (else $AWS_SSO_SIGNER_DB)")
	return fs, db
}

func parse(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{fs.Name() + ": " + err.Error()}
	}
	return nil
}

// openDB opens the database named by --db or $AWS_SSO_SIGNER_DB. A
// password in --db is refused: argv is readable by every user of the
// machine (ps, /proc).
func (c *cli) openDB(ctx context.Context, flagURL string) (*store.DB, error) {
	dbURL := flagURL
	if dbURL == "" {
		dbURL = c.getenv("AWS_SSO_SIGNER_DB")
	} else if u, err := url.Parse(dbURL); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			return nil, withHint(errors.New("the --db URL holds a password, which every user of this machine can read in the process list"),
				"put the password in PGPASSWORD or ~/.pgpass, or the whole URL in $AWS_SSO_SIGNER_DB")
		}
	}
	if dbURL == "" {
		return nil, withHint(errors.New("no database"), "give --db sqlite:PATH or --db postgres://USER@HOST/DB, or set $AWS_SSO_SIGNER_DB")
	}
	return store.Open(ctx, dbURL, store.Options{})
}

// readPassword reads the new password: with a prompt, twice and without
// echo, from a terminal; else the first line of stdin.
func (c *cli) readPassword() (string, error) {
	if f, ok := c.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(c.stderr, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(c.stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReaderSize(io.LimitReader(c.stdin, signer.MaxPasswordLen+2), signer.MaxPasswordLen+2).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
