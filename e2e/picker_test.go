package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// TestPickerLoadsChosenProfile runs `aws-sso-agent load` with no flags in
// a real pseudo-terminal, types a filter and Enter, and expects the agent
// to have loaded the profile picked.
func TestPickerLoadsChosenProfile(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	os.WriteFile(config, []byte(`[profile alpha]
aws_access_key_id = AKIAALPHAALPHAALPHA1
aws_secret_access_key = a
[profile beta-readonly]
aws_access_key_id = AKIABETABETABETABET1
aws_secret_access_key = b
[profile beta-admin]
aws_access_key_id = AKIABETAADMINADMIN01
aws_secret_access_key = c
[sso-session corp]
sso_start_url = https://example.awsapps.com/start
`), 0o600)
	a := startAgent(t, agentOptions{})

	cmd := exec.Command(agentBin, "load")
	cmd.Env = e2e.MergeEnv(a.env, "AWS_CONFIG_FILE="+config, "TERM=xterm")
	ptmx := startPTY(t, cmd)
	shown := ptmx.shown
	e2e.WaitFor(t, shown("(3 of 3)"), 10*time.Second)
	ptmx.WriteString("beta")
	e2e.WaitFor(t, shown("(2 of 3)"), 10*time.Second)
	ptmx.WriteString("\x1b[B") // down to the second match
	time.Sleep(100 * time.Millisecond)
	ptmx.WriteString("\r")
	ptmx.waitLoad(t, cmd, 20*time.Second)
	// Matches are sorted: beta-admin, beta-readonly; one down is readonly.
	if got := strings.TrimSpace(a.mustCLI(nil, "profile")); got != "beta-readonly" {
		t.Errorf("loaded %q, want beta-readonly; screen:\n%q", got, ptmx.String())
	}
}

// ptyScreen is a command's pseudo-terminal and what it has shown.
type ptyScreen struct {
	*os.File
	mu     sync.Mutex
	screen strings.Builder
}

// String is the screen so far.
func (p *ptyScreen) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.screen.String()
}

// shown is a condition for e2e.WaitFor: the screen shows text.
func (p *ptyScreen) shown(text string) func() bool {
	return func() bool { return strings.Contains(p.String(), text) }
}

// waitLoad waits up to timeout for cmd (a load on this terminal) to
// exit, and fails the test, with the screen, unless it succeeded.
func (p *ptyScreen) waitLoad(t *testing.T, cmd *exec.Cmd, timeout time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("load: %v\n%s", err, p.String())
		}
	case <-time.After(timeout):
		t.Fatal("load did not finish")
	}
}

// startPTY starts cmd on a pseudo-terminal that it closes at the end of
// the test.
func startPTY(t *testing.T, cmd *exec.Cmd) *ptyScreen {
	t.Helper()
	f, err := pty.Start(cmd)
	if err != nil {
		e2e.PeerMissing(t, "no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	p := &ptyScreen{File: f}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			p.mu.Lock()
			p.screen.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return p
}
