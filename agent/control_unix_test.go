//go:build unix

package agent

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// TestControlRefusesOtherUID connects from a real process of another uid.
// The socket is made reachable on purpose (0777 dir, 0666 socket) so that
// only the peer-credential check stands between that user and the agent.
func TestControlRefusesOtherUID(t *testing.T) {
	if os.Getenv("AWS_SSO_AGENT_CONTROL_CLIENT") != "" {
		return // the child side, run by controlChild
	}
	if os.Getuid() != 0 {
		e2e.PeerMissing(t, "switching to another uid needs root")
	}
	srv, _ := controlTestServer(t)
	dir := t.TempDir()
	// t.TempDir and its parent are 0700; the other user must reach in.
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "run", "control.sock")
	l, err := ListenControl(path)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { l.Close() })
	os.Chmod(filepath.Dir(path), 0o777)
	os.Chmod(path, 0o666)

	// The test binary may sit in a directory nobody cannot enter.
	bin := filepath.Join(dir, "client.test")
	copyFile(t, os.Args[0], bin)

	cmd := exec.Command(bin, "-test.run", "^TestControlChild$")
	cmd.Env = []string{"AWS_SSO_AGENT_CONTROL_CLIENT=" + path}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "refused: peer uid 65534") {
		t.Errorf("child saw:\n%s\nwant a refusal for uid 65534", out.String())
	}
	if n := len(srv.Slots.List()); n != 0 {
		t.Errorf("%d slots loaded for another user's request", n)
	}
}

func TestControlChild(t *testing.T) {
	path := os.Getenv("AWS_SSO_AGENT_CONTROL_CLIENT")
	if path == "" {
		t.Skip("run by TestControlRefusesOtherUID as another user")
	}
	_, err := ControlClient{Path: path}.Do(context.Background(), ControlRequest{Op: OpLoad, Load: &LoadRequest{Profile: "dev"}})
	t.Logf("uid %d got: %v", os.Getuid(), err)
	if err != nil {
		os.Stdout.WriteString(err.Error() + "\n")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}
