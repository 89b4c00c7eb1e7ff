package service

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// TestSystemdAnalyzeVerify has systemd itself check the unit. It verifies
// in the system scope: --user needs a running user manager, which
// containers lack, and the unit's syntax is the same in both.
func TestSystemdAnalyzeVerify(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		e2e.PeerMissing(t, "systemd-analyze not found (install systemd; scripts/install-test-peers does)")
	}
	prog, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s := Spec{Program: prog, Args: ServeArgs("--store", "file", "--passphrase-file", "/home/u/pass%1"), Home: t.TempDir(),
		Env: map[string]string{"AWS_SSO_AGENT_HOME": "/srv/a b"}}
	unit := filepath.Join(t.TempDir(), Name+".service")
	if err := os.WriteFile(unit, SystemdUnit(s), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(tool, "verify", unit)
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	// Other units on the host may draw warnings; none may name ours.
	var ours []string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, Name+".service") {
			ours = append(ours, line)
		}
	}
	if err != nil || len(ours) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s\nunit:\n%s", err, out.String(), SystemdUnit(s))
	}
}
