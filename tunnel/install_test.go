package tunnel

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

func TestReadPID(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      int
		err       string
	}{
		{"marker only", "\naws-sso-agent-pid:42\n", 42, ""},
		{"banners first", "Welcome to the host\nlast login: never\n\naws-sso-agent-pid:7\n", 7, ""},
		{"banner without a newline", "Welcome\naws-sso-agent-pid:9\n", 9, ""},
		{"crlf", "motd\r\naws-sso-agent-pid:11\r\n", 11, ""},
		{"marker in a banner line is not the marker", "say aws-sso-agent-pid:5\n", 0, "no aws-sso-agent-pid line"},
		{"no marker", "Welcome\n", 0, `printed "Welcome" first`},
		{"bad pid", "aws-sso-agent-pid:x\n", 0, "not its parent's pid"},
		{"zero pid", "aws-sso-agent-pid:0\n", 0, "not its parent's pid"},
		{"no newline after the marker", "aws-sso-agent-pid:3", 0, "no aws-sso-agent-pid line"},
		{"endless banner", strings.Repeat("y\n", maxRCOutput) + "aws-sso-agent-pid:3\n", 0, "no aws-sso-agent-pid line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readPID(strings.NewReader(tc.out))
			if tc.err == "" {
				if err != nil || got != tc.want {
					t.Fatalf("readPID = %d, %v; want %d", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("readPID = %d, %v; want an error with %q", got, err, tc.err)
			}
		})
	}
}

// TestInstallScript runs the script as the remote login shell would
// (`$SHELL -c "exec sh -c '...'"`): it stores stdin as session.json, reports
// its parent, and removes the directories of sessions whose sshd is dead,
// only those.
func TestInstallScript(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh here")
	}
	home := t.TempDir()
	sessions := filepath.Join(home, filepath.FromSlash(wire.SessionsDir))
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := dead.Process.Pid
	write := func(id, body string) string {
		d := filepath.Join(sessions, id)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, wire.SessionFileName), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, wire.TokenFileName), []byte("secret"), 0o600)
		return d
	}
	stale := write(strings.Repeat("a", 32), fmt.Sprintf(`{"version":1,"id":"x","sshd_pid":%d,"host":"h"}`, deadPID))
	live := write(strings.Repeat("b", 32), fmt.Sprintf(`{"version":1,"id":"x","sshd_pid":%d,"host":"h"}`, os.Getpid()))
	damaged := write(strings.Repeat("c", 32), `not json`)

	id := strings.Repeat("d", 32)
	script := fmt.Sprintf(installScript, wire.SessionDir(id))
	// Every login shell a user may have: the command must survive each
	// one's quoting (fish's, csh's refusal of newlines in quotes).
	for _, shell := range []string{"sh", "bash", "dash", "zsh", "fish", "csh", "tcsh", "ksh"} {
		if _, err := exec.LookPath(shell); err != nil {
			t.Logf("%s is not installed here: not tried", shell)
			continue
		}
		t.Run(shell, func(t *testing.T) {
			cmd := exec.Command(shell, "-c", "echo Welcome; printf 'no newline'; exec sh -c "+shellQuote(script))
			cmd.Env = append(os.Environ(), "HOME="+home)
			cmd.Stdin = strings.NewReader("SESSION\n")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			pid, err := readPID(strings.NewReader(string(out)))
			if err != nil || pid != os.Getpid() {
				t.Errorf("readPID = %d, %v; want %d (output %q)", pid, err, os.Getpid(), out)
			}
			got, err := os.ReadFile(filepath.Join(home, filepath.FromSlash(wire.SessionFile(id))))
			if err != nil || string(got) != "SESSION\n" {
				t.Errorf("session.json = %q, %v", got, err)
			}
			for _, d := range []string{filepath.Join(home, wire.DirName), sessions, filepath.Dir(filepath.Join(home, filepath.FromSlash(wire.SessionFile(id))))} {
				if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
					t.Errorf("%s: %v, %v; want 0700", d, fi.Mode(), err)
				}
			}
		})
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the dead session's directory (sshd %d) is still there: %v", deadPID, err)
	}
	for _, d := range []string{live, damaged} {
		if _, err := os.Stat(filepath.Join(d, wire.TokenFileName)); err != nil {
			t.Errorf("%s was removed: %v", d, err)
		}
	}
}
