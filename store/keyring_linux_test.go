package store

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

func TestKeyringNoSessionBus(t *testing.T) {
	for _, addr := range []string{"", "autolaunch:"} {
		t.Run("DBUS_SESSION_BUS_ADDRESS="+addr, func(t *testing.T) {
			t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
			// Without the check, godbus would run dbus-launch from PATH.
			// This one leaves a mark instead of starting a bus.
			bin := t.TempDir()
			mark := filepath.Join(bin, "ran")
			script := "#!/bin/sh\ntouch " + mark + "\nexit 1\n"
			if err := os.WriteFile(filepath.Join(bin, "dbus-launch"), []byte(script), 0o700); err != nil {
				t.Fatal(err)
			}
			t.Setenv("PATH", bin)

			k := NewKeyring("aws-sso-agent-test")
			k.busSocket = filepath.Join(t.TempDir(), "bus") // absent
			ops := map[string]func() error{
				"get":    func() error { _, err := k.Get("k"); return err },
				"set":    func() error { return k.Set("k", []byte("v")) },
				"delete": func() error { return k.Delete("k") },
			}
			for name, op := range ops {
				err := op()
				if !errors.Is(err, ErrUnavailable) {
					t.Fatalf("%s: got error %v, want ErrUnavailable", name, err)
				}
				var u *UnavailableError
				if !errors.As(err, &u) || u.Hint() == "" {
					t.Fatalf("%s: got %#v, want an *UnavailableError with a hint", name, err)
				}
				for _, want := range []string{"DBUS_SESSION_BUS_ADDRESS is unset", k.busSocket, "gnome-keyring", "--store file"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%s: error %q does not mention %q", name, err, want)
					}
				}
			}
			if _, err := os.Stat(mark); err == nil {
				t.Fatal("dbus-launch was run; want no autolaunch")
			}
		})
	}
}

func TestKeyringBusSocketFallback(t *testing.T) {
	// godbus finds systemd's /run/user/UID/bus without the variable; so must
	// the check, or desktops without the variable set would be refused.
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	k := NewKeyring("aws-sso-agent-test")
	k.busSocket = filepath.Join(t.TempDir(), "bus")
	if err := os.WriteFile(k.busSocket, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := k.available(); err != nil {
		t.Fatalf("available with %s present: got %v, want nil", k.busSocket, err)
	}
}

// TestUnavailable feeds unavailable the errors go-keyring and godbus return.
// TestKeyringRealUnavailable produces some of them with real daemons.
func TestUnavailable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string // in Reason; "" = not an unavailability
	}{
		{"no dbus-launch", &exec.Error{Name: "dbus-launch", Err: exec.ErrNotFound}, "dbus-launch is not installed"},
		{"no address", errors.New("dbus: couldn't determine address of session bus"), "no D-Bus session bus"},
		{"bad address", errors.New("dbus: invalid bus address (no transport)"), "not a valid D-Bus address"},
		{"auth failed", errors.New("dbus: authentication failed"), "refused the connection"},
		{"bus gone", &net.OpError{Op: "dial", Net: "unix", Err: syscall.ENOENT}, "cannot connect to the D-Bus session bus"},
		{"no secret service", dbus.Error{Name: "org.freedesktop.DBus.Error.ServiceUnknown",
			Body: []any{"The name org.freedesktop.secrets was not provided by any .service files"}}, "no Secret Service"},
		{"no secret service text", errors.New("The name org.freedesktop.secrets was not provided by any .service files"), "no Secret Service"},
		{"spawn failed", dbus.Error{Name: "org.freedesktop.DBus.Error.Spawn.ChildExited"}, "failed to start"},
		{"no reply", dbus.Error{Name: "org.freedesktop.DBus.Error.NoReply"}, "did not answer"},
		{"locked", dbus.Error{Name: "org.freedesktop.Secret.Error.IsLocked"}, "locked"},
		{"unlock dismissed", errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'"), "locked"},
		{"other", errors.New("something else"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := unavailable(tc.err)
			if tc.want == "" {
				if u != nil {
					t.Fatalf("unavailable(%v): got %v, want nil", tc.err, u)
				}
				return
			}
			if u == nil {
				t.Fatalf("unavailable(%v): got nil, want Reason containing %q", tc.err, tc.want)
			}
			if !strings.Contains(u.Reason, tc.want) {
				t.Errorf("Reason: got %q, want it to contain %q", u.Reason, tc.want)
			}
			if !strings.Contains(u.Hint(), "--store file") {
				t.Errorf("Hint: got %q, want it to offer --store file", u.Hint())
			}
			// dbus.Error is not comparable, so compare wrapped errors by text.
			if !errors.Is(u, ErrUnavailable) || fmt.Sprint(errors.Unwrap(u)) != fmt.Sprint(tc.err) {
				t.Errorf("got %v; want it to match ErrUnavailable and wrap the original error", u)
			}
		})
	}
}

// emptyBusConfig is a session bus with no service directories: nothing can
// be activated, like a headless machine without gnome-keyring.
const emptyBusConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=DIR</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// TestKeyringRealUnavailable runs Get against real, unusable set-ups and
// checks the error names the problem. Each runs in a child process under
// dbus-run-session, since godbus keeps one session bus per process.
func TestKeyringRealUnavailable(t *testing.T) {
	if _, err := exec.LookPath("dbus-run-session"); err != nil {
		e2e.PeerMissing(t, "dbus-run-session not installed (apt-get install dbus-daemon): %v", err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(cfg, []byte(strings.Replace(emptyBusConfig, "DIR", dir, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	self := os.Args[0]
	tests := []struct {
		name    string
		keyring bool   // needs gnome-keyring-daemon
		bus     string // DBUS_SESSION_BUS_ADDRESS, "" = from dbus-run-session
		args    []string
		want    string
	}{
		{"bus address points nowhere", false, "unix:path=" + filepath.Join(dir, "nobus"), []string{self},
			"cannot connect to the D-Bus session bus"},
		{"bus address invalid", false, "garbage", []string{self}, "is not a valid D-Bus address"},
		{"no secret service", false, "", []string{"dbus-run-session", "--config-file=" + cfg, "--", self},
			"no Secret Service (org.freedesktop.secrets) on the session bus"},
		// A keyring daemon that was never unlocked, in an empty home: the
		// unlock prompt cannot be shown headless and is dismissed.
		{"locked", true, "", []string{"dbus-run-session", "--", "sh", "-c",
			`gnome-keyring-daemon --start --components=secrets >/dev/null && exec "$0"`, self}, "keyring is locked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath("gnome-keyring-daemon"); tc.keyring && err != nil {
				e2e.PeerMissing(t, "gnome-keyring-daemon not installed (apt-get install gnome-keyring): %v", err)
			}
			cmd := exec.Command(tc.args[0], tc.args[1:]...)
			cmd.Env = append(environWithout("DBUS_SESSION_BUS_ADDRESS", "HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"),
				helperEnv+"=keyring-get", "STORE_TEST_SERVICE=aws-sso-agent-test", "HOME="+home)
			if tc.bus != "" {
				cmd.Env = append(cmd.Env, "DBUS_SESSION_BUS_ADDRESS="+tc.bus)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
			}
			if !strings.Contains(string(out), "unavailable=true") || !strings.Contains(string(out), tc.want) {
				t.Fatalf("got output\n%s\nwant unavailable=true and %q", out, tc.want)
			}
		})
	}
}

func environWithout(names ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}
