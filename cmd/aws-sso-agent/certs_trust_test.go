package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// TestTrustRunnerWithoutPrivileges: a plan that needs root, run by
// someone else with no terminal, changes nothing and prints the commands.
func TestTrustRunnerWithoutPrivileges(t *testing.T) {
	plan := &localca.TrustPlan{NeedsAdmin: true, Steps: []localca.TrustStep{
		{Why: "copy", Argv: []string{"/usr/bin/install", "-m", "0644", "/home/u/root.pem", "/usr/local/share/ca-certificates/aws-sso-agent-x.crt"}},
		{Why: "rebuild", Argv: []string{"/usr/sbin/update-ca-certificates"}},
	}}
	var stdout, stderr bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}
	run, err := c.trustRunner(plan, false)
	if run != nil || err == nil {
		t.Fatalf("got a runner (%v), want an error", err)
	}
	var h interface{ Hint() string }
	if !errors.As(err, &h) || !strings.Contains(h.Hint(), "/usr/bin/install -m 0644 /home/u/root.pem /usr/local/share/ca-certificates/aws-sso-agent-x.crt") ||
		!strings.Contains(h.Hint(), "/usr/sbin/update-ca-certificates") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("error %v, want the commands to run as root in its hint", err)
	}

	// No privileges needed (Windows' user store) or already root: run.
	for _, tc := range []struct {
		admin, root bool
	}{{false, false}, {true, true}} {
		plan.NeedsAdmin = tc.admin
		run, err := c.trustRunner(plan, tc.root)
		if err != nil || run == nil {
			t.Errorf("admin %v root %v: %v, want a runner", tc.admin, tc.root, err)
		}
	}
}

// TestCertsTrustCommand runs `certs trust` and `certs trust --uninstall`
// against this machine's real trust store, as root.
func TestCertsTrustCommand(t *testing.T) {
	skip := func(why string) {
		t.Helper()
		e2e.PeerMissing(t, "%s", why)
	}
	if os.Geteuid() != 0 {
		skip("changing the system trust store needs root")
	}
	if _, err := exec.LookPath("update-ca-certificates"); err != nil {
		skip("no update-ca-certificates (not a Debian-style system)")
	}
	t.Setenv(agent.HomeEnv, t.TempDir())
	d, err := agent.DefaultDirs()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := localca.LoadOrCreate(store.NewMemory(), filepath.Join(d.Config, "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join("/usr/local/share/ca-certificates", localca.TrustFileName(ca.Root()))
	t.Cleanup(func() {
		if _, err := os.Stat(dest); err == nil {
			os.Remove(dest)
			exec.CommandContext(context.Background(), "update-ca-certificates").Run()
		}
	})
	var stdout, stderr bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}
	if err := c.certsTrust(nil); err != nil {
		t.Fatalf("certs trust: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{ca.Fingerprint(), "Debian-style", "install -m 0644", dest, "update-ca-certificates", "done:"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("certs trust output lacks %q:\n%s", want, stdout.String())
		}
	}
	if _, err := os.Stat(dest); err != nil {
		t.Fatalf("after certs trust: %v", err)
	}
	stdout.Reset()
	if err := c.certsTrust(nil); err != nil || !strings.Contains(stdout.String(), "nothing to do") {
		t.Errorf("certs trust again: %v\n%s, want nothing to do", err, stdout.String())
	}
	stdout.Reset()
	if err := c.certsTrust([]string{"--uninstall"}); err != nil {
		t.Fatalf("certs trust --uninstall: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "rm -f "+dest) {
		t.Errorf("uninstall output lacks the removal:\n%s", stdout.String())
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("after uninstall: %s: %v, want it gone", dest, err)
	}
}
