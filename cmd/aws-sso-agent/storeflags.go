package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/settings"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// applySettings gives the flags of fs that were not on the command line
// the values of the settings file (CONFIG_DIR/config, docs/configuration.md).
// A command none of whose flags the file can set does not read it, so a
// broken file cannot stop `status` or `version`.
func applySettings(fs *pflag.FlagSet) error {
	if sshPortFlags[fs.Name()] {
		// Their -p/--port is the SSH server's port, with OpenSSH's
		// meaning, not the endpoint's: the settings file's port must
		// never reach it.
		return nil
	}
	relevant := false
	for _, k := range settings.Keys {
		if fs.Lookup(k.Flag) != nil {
			relevant = true
			break
		}
	}
	if !relevant {
		return nil
	}
	d, err := agent.DefaultDirs()
	if err != nil {
		return err
	}
	s, err := settings.Load(settings.Path(d.Config))
	if err == nil {
		err = s.Apply(fs, os.Getenv)
	}
	if errors.Is(err, settings.ErrSyntax) {
		return withHint(err, "fix or remove that line; a flag on the command line overrides a setting, but the file must parse")
	}
	return err
}

// sshPortFlags are the commands whose flags follow OpenSSH's, and which
// the settings file does not apply to.
var sshPortFlags = map[string]bool{"ssh": true, "forward": true}

// PassphraseFileEnv names a file holding the file store's passphrase, for
// services that cannot answer a prompt. The variable names a file, never
// the passphrase: environments leak (ps e, /proc/PID/environ, crash dumps).
const PassphraseFileEnv = settings.PassphraseFileEnv

// keyringService is the service name of our items in the OS secure store.
const keyringService = "aws-sso-agent"

// storeFlags choose and open the secure store.
type storeFlags struct {
	backend        string
	file           string
	passphraseFile string
	// scryptLogN is a test hook (hidden flag): a cheaper scrypt for the
	// file store, so tests that open it many times stay fast under -race.
	scryptLogN int
	// explicit says --store or --store-file was on the command line,
	// not from the settings file or the defaults.
	explicit bool
	// preparedWrites has the file store derive each write's scrypt key
	// ahead (store.WithPreparedWrites): for serve, which lives long and
	// writes when a certs command asks it to.
	preparedWrites bool
}

func (s *storeFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.backend, "store", "keyring", "where keys are kept: keyring (the OS secure store) or file (a passphrase-encrypted file, for headless machines)")
	fs.StringVar(&s.file, "store-file", "", "path of the encrypted file store (default: CONFIG_DIR/store.age)")
	fs.StringVar(&s.passphraseFile, "passphrase-file", "", "read the file store's passphrase from this file (default: $"+PassphraseFileEnv+", else a prompt)")
	fs.IntVar(&s.scryptLogN, "test-scrypt-work-factor", 0, "test hook: scrypt work factor of the file store")
	_ = fs.MarkHidden("test-scrypt-work-factor")
}

// describe says which store is in use, for status.
func (s *storeFlags) describe(d agent.Dirs) string {
	if s.backend == "file" {
		return "file " + s.path(d)
	}
	return "OS keyring (service " + keyringService + ")"
}

func (s *storeFlags) path(d agent.Dirs) string {
	if s.file != "" {
		return s.file
	}
	return filepath.Join(d.Config, "store.age")
}

func (c *cli) openStore(s *storeFlags, d agent.Dirs) (store.Store, error) {
	switch s.backend {
	case "keyring":
		return store.NewKeyring(keyringService), nil
	case "file":
	default:
		return nil, usageError{fmt.Errorf("unknown store %q: use keyring or file", s.backend)}
	}
	path := s.path(d)
	_, statErr := os.Stat(path)
	creating := errors.Is(statErr, os.ErrNotExist)
	pass, err := c.passphrase(s, path, creating)
	if err != nil {
		return nil, err
	}
	var opts []store.FileOption
	if s.scryptLogN != 0 {
		opts = append(opts, store.WithScryptWorkFactor(s.scryptLogN))
	}
	if s.preparedWrites {
		opts = append(opts, store.WithPreparedWrites())
	}
	st, err := store.OpenFile(path, pass, opts...)
	if errors.Is(err, store.ErrWrongPassphrase) {
		return nil, withHint(err, "check the passphrase file, or move "+path+" aside to start a new store (the local CA is then made anew)")
	}
	return st, err
}

// passphrase comes from --passphrase-file, from the file named by
// $AWS_SSO_AGENT_PASSPHRASE_FILE, or from a prompt on the terminal; never
// from argv.
func (c *cli) passphrase(s *storeFlags, path string, creating bool) ([]byte, error) {
	file := s.passphraseFile
	if file == "" {
		file = os.Getenv(PassphraseFileEnv)
	}
	if file != "" {
		return store.PassphraseFromFile(file)
	}
	tty, ok := c.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(tty.Fd())) {
		where := "the settings file"
		if d, err := agent.DefaultDirs(); err == nil {
			where = settings.Path(d.Config)
		}
		return nil, withHint(errors.New("the file store needs a passphrase and there is no terminal to ask on"),
			"write it to a file only you can read (chmod 600) and pass --passphrase-file FILE, set "+PassphraseFileEnv+", or put passphrase_file = FILE in "+where)
	}
	fmt.Fprintf(c.stderr, "Passphrase for %s: ", path)
	pass, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(c.stderr)
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	if len(pass) == 0 {
		return nil, errors.New("empty passphrase")
	}
	if creating {
		fmt.Fprint(c.stderr, "Again, to confirm: ")
		again, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(c.stderr)
		if err != nil {
			return nil, fmt.Errorf("read passphrase: %w", err)
		}
		if !bytes.Equal(pass, again) {
			return nil, errors.New("the passphrases differ")
		}
	}
	return pass, nil
}

// storeError reports an unreachable OS secure store by what is missing
// alone ("secure store: no D-Bus session bus"): the library's message
// also carries its error and the hint, which the hint line already shows
// (store.UnavailableError.Hint). Other errors pass unchanged.
func storeError(err error) error {
	var u *store.UnavailableError
	if errors.As(err, &u) {
		return &storeUnavailable{u}
	}
	return err
}

// storeUnavailable is a *store.UnavailableError shown by its reason; it
// unwraps to it, so its Hint and errors.Is(err, store.ErrUnavailable)
// still apply.
type storeUnavailable struct{ u *store.UnavailableError }

func (e *storeUnavailable) Error() string { return "secure store: " + e.u.Reason }
func (e *storeUnavailable) Unwrap() error { return e.u }
