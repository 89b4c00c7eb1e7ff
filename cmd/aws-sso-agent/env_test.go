package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

func TestWriteExportsShells(t *testing.T) {
	vars := []wire.Var{{Name: "A_URL", Value: "http://127.0.0.1:4144/slot/it's"}, {Name: "A_FILE", Value: "/run/token"}}
	tests := []struct {
		shell string
		run   []string // interpreter reading the exports on stdin, then printing A_URL
		want  []string
	}{
		{"sh", []string{"sh", "-c", `eval "$(cat)"; printf '%s|%s|%s' "$A_URL" "$A_FILE" "${GONE-unset}"`}, []string{"export A_URL='http://127.0.0.1:4144/slot/it'\\''s';", "unset GONE;"}},
		{"fish", nil, []string{"set -gx A_FILE '/run/token';", "set -e GONE;"}},
		{"csh", nil, []string{"setenv A_FILE '/run/token';", "unsetenv GONE;"}},
		{"powershell", nil, []string{"$Env:A_URL = 'http://127.0.0.1:4144/slot/it''s';", "Remove-Item Env:GONE -ErrorAction SilentlyContinue;"}},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			sh, ok := wire.ParseShell(tt.shell)
			if !ok {
				t.Fatalf("shell %s unknown", tt.shell)
			}
			exports, err := sh.Exports(vars, []string{"GONE"})
			if err != nil {
				t.Fatal(err)
			}
			out := bytes.NewBufferString(exports)
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if tt.run == nil {
				return
			}
			cmd := exec.Command(tt.run[0], tt.run[1:]...)
			cmd.Stdin = out
			cmd.Env = append(os.Environ(), "GONE=still here")
			got, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			if want := "http://127.0.0.1:4144/slot/it's|/run/token|unset"; string(got) != want {
				t.Errorf("%s read: got %q, want %q", tt.shell, got, want)
			}
		})
	}
}

func TestEnvWithoutAgent(t *testing.T) {
	t.Setenv("AWS_SSO_AGENT_HOME", t.TempDir())
	var stdout, stderr bytes.Buffer
	if code := run([]string{"env"}, nil, &stdout, &stderr); code != 1 {
		t.Errorf("exit status: got %d, want 1", code)
	}
	if stdout.Len() != 0 {
		t.Errorf("printed exports without an agent: %q", stdout.String())
	}
	for _, want := range []string{"aws-sso-agent: error: the agent is not running", "hint: start it with: aws-sso-agent serve"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
