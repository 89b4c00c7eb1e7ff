package settings

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// FileName is the settings file's name inside the config directory.
const FileName = "config"

// Path is the settings file of the config directory dir.
func Path(configDir string) string { return filepath.Join(configDir, FileName) }

// Key is one setting. Flag is the command-line flag it stands for: the
// flag, where a command has it and it was not given, takes the setting's
// value. Env, when not empty, names a variable that outranks the setting,
// so the order is flag, environment, settings file, built-in default.
type Key struct {
	Name  string
	Flag  string
	Env   string
	Usage string
	check func(string) (string, error)
}

// PassphraseFileEnv names the variable that outranks passphrase_file.
const PassphraseFileEnv = "AWS_SSO_AGENT_PASSPHRASE_FILE"

// Keys are every setting the file may hold, in the order docs/configuration.md
// lists them.
var Keys = []Key{
	{Name: "store", Flag: "store", Usage: "where keys are kept: keyring or file", check: oneOf("keyring", "file")},
	{Name: "store_file", Flag: "store-file", Usage: "path of the encrypted file store", check: path},
	{Name: "passphrase_file", Flag: "passphrase-file", Env: PassphraseFileEnv, Usage: "file holding the file store's passphrase (mode 0600)", check: path},
	{Name: "bind_ip", Flag: "bind-ip", Usage: "address the credentials endpoint listens on", check: ip},
	{Name: "port", Flag: "port", Usage: "port of the credentials endpoint", check: port},
	{Name: "log_format", Flag: "log-format", Usage: "log format of serve: text or json", check: oneOf("text", "json")},
	{Name: "refresh_margin", Flag: "refresh-margin", Usage: "least lifetime a served credential keeps", check: duration},
	{Name: "source_timeout", Flag: "source-timeout", Usage: "how long a credential source may run", check: duration},
	{Name: "auto_login", Flag: "auto-login", Usage: "start an IAM Identity Center login when a session needs one", check: oneOf("true", "false")},
}

// Section is the one section the file may have. Keys before any section
// belong to it too, so a file of bare key = value lines works.
const Section = "default"

// ErrSyntax is matched by every *Error.
var ErrSyntax = errors.New("settings: invalid settings file")

// Error is a refusal of one line of the file.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Is makes errors.Is(err, ErrSyntax) hold.
func (e *Error) Is(target error) bool { return target == ErrSyntax }

// Value is one setting as the file gives it, checked and normalized
// (a path with ~/ expanded, a duration as time.Duration prints it).
type Value struct {
	Text string
	File string
	Line int
}

// Settings are the values a file set. The zero Settings sets nothing.
type Settings struct {
	values map[string]Value
}

// maxFileSize bounds what Load reads: a settings file is a dozen lines.
const maxFileSize = 64 << 10

// Load reads the settings file at path. A missing file is no error: it
// yields empty Settings.
func Load(path string) (Settings, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Settings{}, nil
	}
	if err != nil {
		return Settings{}, fmt.Errorf("settings: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return Settings{}, fmt.Errorf("settings: %w", err)
	}
	if len(data) > maxFileSize {
		return Settings{}, &Error{File: path, Line: 1, Msg: fmt.Sprintf("larger than %d bytes", maxFileSize)}
	}
	return Parse(path, data)
}

// Parse parses data, read from the file named name (for error messages).
func Parse(name string, data []byte) (Settings, error) {
	s := Settings{values: map[string]Value{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxFileSize+1)
	section := Section
	for n := 1; sc.Scan(); n++ {
		fail := func(format string, args ...any) error {
			return &Error{File: name, Line: n, Msg: fmt.Sprintf(format, args...)}
		}
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF") // editors on Windows write a BOM
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") {
				return Settings{}, fail("section header %q lacks its closing ]", line)
			}
			section = strings.TrimSpace(line[1 : len(line)-1])
			if section != Section {
				return Settings{}, fail("unknown section [%s]: settings go in [%s]", section, Section)
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return Settings{}, fail("expected key = value, got %q", line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		key, ok := lookup(k)
		if !ok {
			return Settings{}, fail("unknown key %q (known: %s)", k, strings.Join(names(), ", "))
		}
		if prev, dup := s.values[k]; dup {
			return Settings{}, fail("%s is already set on line %d", k, prev.Line)
		}
		if v == "" {
			return Settings{}, fail("%s has no value", k)
		}
		norm, err := key.check(v)
		if err != nil {
			return Settings{}, fail("%s: %v", k, err)
		}
		s.values[k] = Value{Text: norm, File: name, Line: n}
	}
	if err := sc.Err(); err != nil {
		return Settings{}, fmt.Errorf("settings: %s: %w", name, err)
	}
	return s, nil
}

// Lookup returns the value of the key named name, if the file set it.
func (s Settings) Lookup(name string) (Value, bool) {
	v, ok := s.values[name]
	return v, ok
}

// SourceTimeout is the source_timeout setting, if the file set it: how
// long a credential_process may run before the agent kills it.
func (s Settings) SourceTimeout() (time.Duration, bool) {
	v, ok := s.values["source_timeout"]
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(v.Text)
	return d, err == nil
}

// Apply sets every flag of fs that the file sets and the user did not
// give (pflag's Changed), unless the key's variable is set in the
// environment (getenv). Flags a command does not have are left alone: a
// setting applies to the commands it concerns.
func (s Settings) Apply(fs *pflag.FlagSet, getenv func(string) string) error {
	for _, k := range Keys {
		v, ok := s.values[k.Name]
		if !ok || fs.Lookup(k.Flag) == nil || fs.Changed(k.Flag) || (k.Env != "" && getenv(k.Env) != "") {
			continue
		}
		if err := fs.Set(k.Flag, v.Text); err != nil {
			return &Error{File: v.File, Line: v.Line, Msg: fmt.Sprintf("%s: %v", k.Name, err)}
		}
		// Changed keeps meaning "given on the command line", which
		// callers ask to tell a person's choice from a default.
		fs.Lookup(k.Flag).Changed = false
	}
	return nil
}

func lookup(name string) (Key, bool) {
	for _, k := range Keys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

func names() []string {
	var n []string
	for _, k := range Keys {
		n = append(n, k.Name)
	}
	sort.Strings(n)
	return n
}

func oneOf(choices ...string) func(string) (string, error) {
	return func(v string) (string, error) {
		for _, c := range choices {
			if v == c {
				return v, nil
			}
		}
		return "", fmt.Errorf("%q is not one of %s", v, strings.Join(choices, ", "))
	}
}

// path accepts an absolute path or one under ~/. A relative path is
// refused: the commands run from any directory, and a path that means a
// different file in each would be a trap.
func path(v string) (string, error) {
	if rest, ok := strings.CutPrefix(v, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("expand ~: %w", err)
		}
		return filepath.Join(home, rest), nil
	}
	if !filepath.IsAbs(v) {
		return "", fmt.Errorf("%q is not an absolute path (or one under ~/)", v)
	}
	return filepath.Clean(v), nil
}

func ip(v string) (string, error) {
	a := net.ParseIP(v)
	if a == nil {
		return "", fmt.Errorf("%q is not an IP address", v)
	}
	return a.String(), nil
}

func port(v string) (string, error) {
	p, err := strconv.Atoi(v)
	if err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("%q is not a port number (0 to 65535)", v)
	}
	return strconv.Itoa(p), nil
}

// duration takes Go's form (15m, 90s, 1h30m), as the flags do.
func duration(v string) (string, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return "", fmt.Errorf("%q is not a duration such as 15m or 90s", v)
	}
	if d <= 0 {
		return "", fmt.Errorf("%q must be positive", v)
	}
	return d.String(), nil
}
