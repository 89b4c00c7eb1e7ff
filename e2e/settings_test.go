package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// testScrypt is the file store's cheapest work factor (a hidden test
// flag, not a setting): each row here opens a new store.
var testScrypt = []string{"--test-scrypt-work-factor", "10"}

// settingsHome is an agent home whose settings file holds text, with
// HOME standing for the home's path, and a passphrase file at
// HOME/passphrase.
func settingsHome(t *testing.T, text string) string {
	t.Helper()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "passphrase"), []byte("correct horse battery staple"), 0o600); err != nil {
		t.Fatal(err)
	}
	text = strings.ReplaceAll(text, "HOME", home)
	if err := os.WriteFile(filepath.Join(home, "config", "config"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

// TestSettingsServe: each setting of the settings file reaches serve, and
// the flag on the command line overrides it (the environment variable
// too, for passphrase_file). One row per setting, each a real serve
// whose status --json (or log) shows what it runs with.
func TestSettingsServe(t *testing.T) {
	const fileStore = "store = file\npassphrase_file = HOME/passphrase\n"
	freePort := e2e.FreePort(t)
	addr := func(a *agentUnderTest) (string, int) {
		host, port, err := net.SplitHostPort(a.status()["addr"].(string))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := strconv.Atoi(port)
		return host, p
	}
	field := func(name string) func(a *agentUnderTest) string {
		return func(a *agentUnderTest) string { return fmt.Sprint(a.status()[name]) }
	}
	logFormat := func(a *agentUnderTest) string {
		first, _, _ := strings.Cut(a.proc.Stderr(), "\n")
		if json.Valid([]byte(first)) {
			return "json"
		}
		return "text"
	}
	for _, tc := range []struct {
		key      string
		settings string   // the settings file (HOME: the agent's home)
		args     []string // serve flags
		env      []string
		got      func(a *agentUnderTest) string
		want     string // what got says (HOME: the agent's home)
	}{
		{"store", fileStore, nil, nil, field("store"), "file HOME/config/store.age"},
		{"store/flag", "store = keyring\npassphrase_file = HOME/passphrase\n", []string{"--store", "file"}, nil, field("store"), "file HOME/config/store.age"},

		{"store_file", fileStore + "store_file = HOME/settings.age\n", nil, nil, field("store"), "file HOME/settings.age"},
		{"store_file/flag", fileStore + "store_file = HOME/settings.age\n", []string{"--store-file", "HOME/flag.age"}, nil, field("store"), "file HOME/flag.age"},

		// Without a passphrase (no terminal here) serve could not open
		// the file store: that it serves says which file it read.
		{"passphrase_file", fileStore, nil, nil, field("store"), "file HOME/config/store.age"},
		{"passphrase_file/flag", "store = file\npassphrase_file = HOME/missing\n", []string{"--passphrase-file", "HOME/passphrase"}, nil, field("store"), "file HOME/config/store.age"},
		{"passphrase_file/env", "store = file\npassphrase_file = HOME/missing\n", nil, []string{"AWS_SSO_AGENT_PASSPHRASE_FILE=HOME/passphrase"}, field("store"), "file HOME/config/store.age"},

		{"bind_ip", fileStore + "bind_ip = 127.0.0.2\n", nil, nil, func(a *agentUnderTest) string { h, _ := addr(a); return h }, "127.0.0.2"},
		{"bind_ip/flag", fileStore + "bind_ip = 127.0.0.2\n", []string{"--bind-ip", "127.0.0.1"}, nil, func(a *agentUnderTest) string { h, _ := addr(a); return h }, "127.0.0.1"},

		{"port", fileStore + fmt.Sprintf("port = %d\n", freePort), nil, nil, func(a *agentUnderTest) string { _, p := addr(a); return strconv.Itoa(p) }, strconv.Itoa(freePort)},
		{"port/flag", fileStore + "port = 1\n", []string{"--port", strconv.Itoa(freePort)}, nil, func(a *agentUnderTest) string { _, p := addr(a); return strconv.Itoa(p) }, strconv.Itoa(freePort)},

		{"log_format", fileStore + "log_format = json\n", nil, nil, logFormat, "json"},
		{"log_format/flag", fileStore + "log_format = json\n", []string{"--log-format", "text"}, nil, logFormat, "text"},

		{"refresh_margin", fileStore + "refresh_margin = 7m\n", nil, nil, field("refresh_margin"), "7m0s"},
		{"refresh_margin/flag", fileStore + "refresh_margin = 7m\n", []string{"--refresh-margin", "9m"}, nil, field("refresh_margin"), "9m0s"},

		{"source_timeout", fileStore + "source_timeout = 45s\n", nil, nil, field("source_timeout"), "45s"},
		{"source_timeout/flag", fileStore + "source_timeout = 45s\n", []string{"--source-timeout", "50s"}, nil, field("source_timeout"), "50s"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			home := settingsHome(t, tc.settings)
			args := append([]string(nil), testScrypt...)
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "HOME", home))
			}
			var env []string
			for _, e := range tc.env {
				env = append(env, strings.ReplaceAll(e, "HOME", home))
			}
			a := startSettingsAgent(t, home, env, args)
			if got, want := tc.got(a), strings.ReplaceAll(tc.want, "HOME", home); got != want {
				t.Errorf("got %q, want %q\nsettings:\n%s", got, want, tc.settings)
			}
		})
	}
}

// startSettingsAgent starts serve on home with args alone, none of
// startAgent's store flags, so the settings file decides. --port 0 is
// added unless the settings or args name a port: never the fixed 4144.
func startSettingsAgent(t *testing.T, home string, env, args []string) *agentUnderTest {
	t.Helper()
	settings, _ := os.ReadFile(filepath.Join(home, "config", "config"))
	hasPort := strings.Contains(string(settings), "port =")
	for _, a := range args {
		hasPort = hasPort || a == "--port"
	}
	if !hasPort {
		args = append(args, "--port", "0")
	}
	return startAgentArgs(t, agentOptions{store: "none", home: home, extra: env}, args)
}

// TestSettingsCLI: the store settings reach the certs commands too when
// no agent runs, and their flags override them.
func TestSettingsCLI(t *testing.T) {
	const settings = "store = file\npassphrase_file = HOME/passphrase\nstore_file = HOME/settings.age\n"
	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"from settings", "HOME/settings.age", nil},
		{"--store-file overrides", "HOME/flag.age", []string{"--store-file", "HOME/flag.age"}},
		// With --store keyring and no session bus, the settings' file
		// store is not used: the keyring's error shows the flag won.
		{"--store overrides", "", []string{"--store", "keyring"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := settingsHome(t, settings)
			env := withoutBus(e2e.CleanEnv(t, "AWS_SSO_AGENT_HOME="+home))
			args := append([]string{"certs", "export-csr", "--fqdn", "agent.example.test"}, testScrypt...)
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "HOME", home))
			}
			out, errOut, code := runCLI(t, env, args...)
			if tc.want == "" {
				if code == 0 || !strings.Contains(errOut, "secure store") {
					t.Errorf("exit %d, stderr %q: want the keyring's error", code, errOut)
				}
				if _, err := os.Stat(filepath.Join(home, "settings.age")); err == nil {
					t.Error("the settings' file store was used despite --store keyring")
				}
				return
			}
			if code != 0 || !strings.Contains(out, "BEGIN CERTIFICATE REQUEST") {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			if _, err := os.Stat(strings.ReplaceAll(tc.want, "HOME", home)); err != nil {
				t.Errorf("the store is not where it should be: %v", err)
			}
		})
	}
}
