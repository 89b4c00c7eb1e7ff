package tunnel

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestShellCommand runs ShellCommand as sshd would, through each login
// shell installed here (`SHELL -c COMMAND`): it execs the installed
// helper's `shell --fallback --session ID`, else one on PATH, else the
// login shell with -l, saying why.
func TestShellCommand(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef"
	script := func(t *testing.T, path, body string) {
		t.Helper()
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	shells := []string{"/bin/sh", "bash", "dash", "zsh", "fish", "tcsh", "csh"}
	for _, name := range shells {
		path, err := exec.LookPath(name)
		if err != nil {
			t.Logf("%s: not installed here, not run", name)
			continue
		}
		t.Run(filepath.Base(name), func(t *testing.T) {
			home, bin := t.TempDir(), t.TempDir()
			// $SHELL is what the fallback starts: a stand-in that says how.
			login := filepath.Join(bin, "login-shell")
			script(t, login, `echo "login shell $*"`)
			run := func(path string) (string, string) {
				t.Helper()
				cmd := exec.Command(path, "-c", ShellCommand(id))
				cmd.Env = []string{"HOME=" + home, "PATH=" + bin + ":/usr/bin:/bin", "SHELL=" + login}
				var out, errb strings.Builder
				cmd.Stdout, cmd.Stderr = &out, &errb
				if err := cmd.Run(); err != nil {
					t.Fatalf("%v: %s", err, errb.String())
				}
				return out.String(), errb.String()
			}
			out, errOut := run(path)
			if out != "login shell -l\n" || !strings.Contains(errOut, "no aws-sso-remote in ~/"+HelperDir+" or on PATH") {
				t.Errorf("no helper: stdout %q, stderr %q; want the login shell with -l and why", out, errOut)
			}
			script(t, filepath.Join(bin, "aws-sso-remote"), `echo "on PATH $*"`)
			if out, errOut := run(path); out != "on PATH shell --fallback --session "+id+"\n" {
				t.Errorf("helper on PATH: stdout %q, stderr %q", out, errOut)
			}
			script(t, filepath.Join(home, HelperPath), `echo "installed $*"`)
			if out, errOut := run(path); out != "installed shell --fallback --session "+id+"\n" {
				t.Errorf("installed helper: stdout %q, stderr %q", out, errOut)
			}
		})
	}
}
