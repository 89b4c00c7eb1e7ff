package main

import (
	"io"
	"os"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/settings"
)

// TestSettingsPortIsNotTheSSHPort: the settings file's port is the
// endpoint's; `ssh -p` and `forward -p` mean the SSH server's port, as in
// OpenSSH, and must not take it.
func TestSettingsPortIsNotTheSSHPort(t *testing.T) {
	home := t.TempDir()
	t.Setenv(agent.HomeEnv, home)
	d, err := agent.DefaultDirs()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(d.Config, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(settings.Path(d.Config), []byte("port = 2222\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cli{stdin: nil, stdout: io.Discard, stderr: io.Discard}

	serve := c.flags("serve")
	port := serve.Int("port", 4144, "")
	if err := parse(serve, nil); err != nil {
		t.Fatal(err)
	}
	if *port != 2222 {
		t.Fatalf("serve --port: got %d, want the setting 2222", *port)
	}
	for _, name := range []string{"ssh", "forward"} {
		fs := c.flags(name)
		var f sshFlags
		f.register(fs, name == "ssh")
		if err := parse(fs, []string{"host"}); err != nil {
			t.Fatal(err)
		}
		if f.opts.Port != 0 {
			t.Errorf("%s -p: got %d from the settings file, want 0 (ssh_config's or 22)", name, f.opts.Port)
		}
	}
}
