package settings

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestParse(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
		want map[string]string // key -> normalized value
		err  string            // substring of the error, with file:line
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{name: "comments and blanks", in: "# a\n; b\n\n   # c\n", want: map[string]string{}},
		{name: "default section", in: "[default]\nstore = file\nport=4145\n", want: map[string]string{"store": "file", "port": "4145"}},
		{name: "bare keys", in: "log_format = json\n", want: map[string]string{"log_format": "json"}},
		{name: "spaced header", in: "[ default ]\nstore = keyring\n", want: map[string]string{"store": "keyring"}},
		{name: "bom", in: "\uFEFFstore = file\n", want: map[string]string{"store": "file"}},
		{name: "crlf", in: "[default]\r\nport = 80\r\n", want: map[string]string{"port": "80"}},
		{name: "tilde path", in: "passphrase_file = ~/pass\n", want: map[string]string{"passphrase_file": filepath.Join(home, "pass")}},
		{name: "absolute path", in: "store_file = /var/x/../store.age\n", want: map[string]string{"store_file": "/var/store.age"}},
		{name: "ip normalized", in: "bind_ip = ::0001\n", want: map[string]string{"bind_ip": "::1"}},
		{name: "durations normalized", in: "refresh_margin = 20m\nsource_timeout = 90s\n", want: map[string]string{"refresh_margin": "20m0s", "source_timeout": "1m30s"}},
		{name: "every key", in: "store=file\nstore_file=/s\npassphrase_file=/p\nbind_ip=127.0.0.1\nport=0\nlog_format=text\nrefresh_margin=15m\nsource_timeout=1m\n",
			want: map[string]string{"store": "file", "store_file": "/s", "passphrase_file": "/p", "bind_ip": "127.0.0.1", "port": "0", "log_format": "text", "refresh_margin": "15m0s", "source_timeout": "1m0s"}},

		{name: "unknown key", in: "# x\nstore = file\nregion = eu-west-1\n", err: "config:3: unknown key \"region\""},
		{name: "unknown section", in: "[profile dev]\nstore = file\n", err: "config:1: unknown section [profile dev]"},
		{name: "unclosed section", in: "[default\n", err: "config:1: section header"},
		{name: "no equals", in: "store file\n", err: "config:1: expected key = value"},
		{name: "duplicate", in: "port = 1\nport = 2\n", err: "config:2: port is already set on line 1"},
		{name: "empty value", in: "store =\n", err: "config:1: store has no value"},
		{name: "bad store", in: "store = vault\n", err: "config:1: store: \"vault\" is not one of keyring, file"},
		{name: "relative path", in: "passphrase_file = pass\n", err: "config:1: passphrase_file: \"pass\" is not an absolute path"},
		{name: "bad ip", in: "bind_ip = localhost\n", err: "config:1: bind_ip: \"localhost\" is not an IP address"},
		{name: "port range", in: "port = 65536\n", err: "config:1: port: \"65536\" is not a port number"},
		{name: "port text", in: "port = http\n", err: "config:1: port"},
		{name: "bad log format", in: "log_format = yaml\n", err: "config:1: log_format"},
		{name: "bad duration", in: "refresh_margin = 15\n", err: "config:1: refresh_margin: \"15\" is not a duration"},
		{name: "negative duration", in: "source_timeout = -1s\n", err: "config:1: source_timeout: \"-1s\" must be positive"},
		{name: "inline comment is part of the value", in: "store = file # headless\n", err: "config:1: store"},
		{name: "case matters", in: "Store = file\n", err: "config:1: unknown key \"Store\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("config", []byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse: got error %v, want one containing %q", err, tt.err)
				}
				if !errors.Is(err, ErrSyntax) {
					t.Errorf("errors.Is(%v, ErrSyntax) = false", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			for _, k := range Keys {
				v, ok := s.Lookup(k.Name)
				want, wantOK := tt.want[k.Name]
				if ok != wantOK || v.Text != want {
					t.Errorf("Lookup(%q) = %q, %v; want %q, %v", k.Name, v.Text, ok, want, wantOK)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	s, err := Load(filepath.Join(t.TempDir(), "config"))
	if err != nil {
		t.Fatalf("Load of a missing file: %v", err)
	}
	if _, ok := s.Lookup("store"); ok {
		t.Error("empty settings set store")
	}
}

func TestLoadNamesFile(t *testing.T) {
	p := Path(t.TempDir())
	if err := os.WriteFile(p, []byte("[default]\nbogus = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+":2: ") {
		t.Fatalf("Load: got %v, want an error starting with %s:2:", err, p)
	}
}

func TestApply(t *testing.T) {
	s, err := Parse("config", []byte("store = file\nport = 5000\npassphrase_file = /etc/pass\nsource_timeout = 2m\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		store string
		port  int
		pass  string
	}{
		{name: "settings fill unset flags", store: "file", port: 5000, pass: "/etc/pass"},
		{name: "flags override", args: []string{"--store", "keyring", "--port", "0"}, store: "keyring", port: 0, pass: "/etc/pass"},
		{name: "flag equal to default still overrides", args: []string{"--port=4144", "--store=file"}, store: "file", port: 4144, pass: "/etc/pass"},
		{name: "environment outranks the file", env: map[string]string{PassphraseFileEnv: "/env/pass"}, store: "file", port: 5000, pass: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			store := fs.String("store", "keyring", "")
			port := fs.Int("port", 4144, "")
			pass := fs.String("passphrase-file", "", "")
			// No --source-timeout here: a setting for a flag the command
			// lacks is left alone.
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := s.Apply(fs, func(k string) string { return tt.env[k] }); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if fs.Changed("store") != (len(tt.args) > 0) {
				t.Errorf("Changed(store) = %v after Apply; want it to mean given on the command line", fs.Changed("store"))
			}
			if *store != tt.store || *port != tt.port || *pass != tt.pass {
				t.Errorf("got store=%q port=%d pass=%q, want %q %d %q", *store, *port, *pass, tt.store, tt.port, tt.pass)
			}
		})
	}
}

func TestSourceTimeout(t *testing.T) {
	s, err := Parse("config", []byte("source_timeout = 45s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s.SourceTimeout(); !ok || got != 45*time.Second {
		t.Errorf("SourceTimeout() = %v, %v; want 45s, true", got, ok)
	}
	if _, ok := (Settings{}).SourceTimeout(); ok {
		t.Error("empty settings have a source timeout")
	}
}

// TestDocumented keeps docs/configuration.md in step with Keys.
func TestDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys {
		if !strings.Contains(string(doc), "`"+k.Name+"`") {
			t.Errorf("docs/configuration.md does not document %s", k.Name)
		}
	}
}
