package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/sshd"
)

// TestTerminalPrompts: on a terminal, `aws-sso-agent ssh` asks OpenSSH's
// questions itself: whether to trust an unknown host (and remembers the
// answer in known_hosts), then the passphrase of an encrypted key.
func TestTerminalPrompts(t *testing.T) {
	sshd.Require(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	pub := sshd.GenerateKey(t, key, "open sesame")
	srv := sshd.Start(t, sshd.Options{AuthorizedKeys: []string{strings.TrimSpace(string(sshMarshal(pub)))}})
	a := startAgent(t, agentOptions{})
	kh := filepath.Join(dir, "known_hosts")
	cfg := filepath.Join(dir, "ssh_config")
	os.WriteFile(cfg, []byte(fmt.Sprintf("Host *\n  UserKnownHostsFile %s\n  StrictHostKeyChecking ask\n  IdentitiesOnly yes\n  IdentityFile %s\n", kh, key)), 0o600)

	cmd := exec.Command(agentBin, "ssh", "-F", cfg, "-p", strconv.Itoa(srv.Port), srv.User+"@127.0.0.1", "--", "echo hello-from-remote")
	cmd.Env = a.env
	ptmx, err := pty.Start(cmd)
	if err != nil {
		e2e.PeerMissing(t, "no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	screen := &e2e.LockedBuffer{}
	go screen.CopyFrom(ptmx)
	shown := func(s string) func() bool { return func() bool { return strings.Contains(screen.String(), s) } }

	e2e.WaitFor(t, shown("Are you sure you want to continue connecting (yes/no)?"), 20*time.Second)
	if !strings.Contains(screen.String(), "The authenticity of host '[127.0.0.1]:"+strconv.Itoa(srv.Port)+"' can't be established") &&
		!strings.Contains(screen.String(), "The authenticity of host '127.0.0.1:"+strconv.Itoa(srv.Port)+"' can't be established") {
		t.Errorf("no OpenSSH-style question:\n%s", screen.String())
	}
	ptmx.WriteString("yes\r")
	e2e.WaitFor(t, shown("Enter passphrase for key '"+key+"':"), 20*time.Second)
	ptmx.WriteString("open sesame\r")
	e2e.WaitFor(t, shown("hello-from-remote"), 20*time.Second)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ssh: %v\n%s", err, screen.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ssh did not exit")
	}
	if strings.Contains(screen.String(), "open sesame") {
		t.Error("the passphrase was echoed")
	}
	// The host was remembered: batch mode now connects without asking.
	known, _ := os.ReadFile(kh)
	if len(known) == 0 {
		t.Fatal("known_hosts is empty after answering yes")
	}
	os.WriteFile(cfg, []byte(fmt.Sprintf("Host *\n  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  BatchMode yes\n  IdentitiesOnly yes\n  IdentityFile %s\n", kh, srv.ClientKeyFile)), 0o600)
	if out, errOut, code := a.cli(nil, "ssh", "-F", cfg, "-p", strconv.Itoa(srv.Port), srv.User+"@127.0.0.1", "--", "echo again"); code != 0 || !strings.Contains(out, "again") {
		t.Errorf("second connection: exit %d %q %s", code, out, errOut)
	}
}
