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
	ptmx, err := pty.Start(cmd)
	if err != nil {
		e2e.PeerMissing(t, "no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	var mu sync.Mutex
	var screen strings.Builder
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	shown := func(s string) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return strings.Contains(screen.String(), s) }
	}
	e2e.WaitFor(t, shown("(3 of 3)"), 10*time.Second)
	ptmx.WriteString("beta")
	e2e.WaitFor(t, shown("(2 of 3)"), 10*time.Second)
	ptmx.WriteString("\x1b[B") // down to the second match
	time.Sleep(100 * time.Millisecond)
	ptmx.WriteString("\r")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			mu.Lock()
			t.Fatalf("load: %v\n%s", err, screen.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("load did not finish")
	}
	// Matches are sorted: beta-admin, beta-readonly; one down is readonly.
	if got := strings.TrimSpace(a.mustCLI(nil, "profile")); got != "beta-readonly" {
		mu.Lock()
		t.Errorf("loaded %q, want beta-readonly; screen:\n%q", got, screen.String())
	}
}
