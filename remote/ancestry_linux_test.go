package remote

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

func TestParseProcStatPPID(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"1234 (bash) S 1200 1234 1234 34816", 1200, true},
		{"1234 (my (odd) prog) R 99 1 1", 99, true},
		{"1234 (a) b) S 7 1", 7, true},
		{"1 (init) S 0 1 1", 0, true},
		{"1234 bash S 1200", 0, false},
		{"1234 (bash) S", 0, false},
		{"1234 (bash) S -5", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := parseProcStatPPID([]byte(tt.in))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseProcStatPPID(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestProcessAncestors(t *testing.T) {
	pids, err := processAncestors()
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) == 0 || pids[0] != os.Getppid() {
		t.Fatalf("got ancestors %v, want the parent %d first", pids, os.Getppid())
	}
}

func TestWalkAncestors(t *testing.T) {
	tree := map[int]int{10: 9, 9: 5, 5: 1}
	got, err := walkAncestors(10, func(p int) (int, error) { return tree[p], nil })
	if err != nil || len(got) != 3 || got[0] != 9 || got[2] != 1 {
		t.Fatalf("got %v, %v; want [9 5 1]", got, err)
	}
	// A process gone mid-walk keeps what was found.
	got, err = walkAncestors(10, func(p int) (int, error) {
		if p == 9 {
			return 0, errors.New("gone")
		}
		return tree[p], nil
	})
	if err == nil || len(got) != 1 {
		t.Fatalf("got %v, %v; want [9] and an error", got, err)
	}
	// A cycle ends.
	if _, err := walkAncestors(3, func(p int) (int, error) { return 3, nil }); err == nil {
		t.Fatal("got no error for a cycle, want one")
	}
}

func TestProcessDeadSeesZombie(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	// Not waited for yet: once it exits it is our zombie.
	deadline := time.Now().Add(5 * time.Second)
	for !processDead(pid) {
		if time.Now().After(deadline) {
			t.Fatal("an exited, unreaped child is not seen as dead")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if processAlive(pid) {
		t.Error("processAlive says a zombie is alive")
	}
	cmd.Wait()
	if !processAlive(os.Getpid()) || processDead(os.Getpid()) {
		t.Error("this process is not seen alive")
	}
}

// TestTmuxClient asks a real tmux server for its client: a control-mode
// client started here, so its ancestry leads back to this test, as a
// client's leads back to the user's SSH connection.
func TestTmuxClient(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		e2e.PeerMissing(t, "tmux: %v", err)
	}
	sock := filepath.Join(t.TempDir(), "tmux.sock")
	tmux := func(args ...string) *exec.Cmd {
		cmd := exec.Command("tmux", append([]string{"-S", sock, "-f", "/dev/null"}, args...)...)
		cmd.Env = append(os.Environ(), "TMUX=")
		return cmd
	}
	if out, err := tmux("new-session", "-d", "-s", "t", "sleep 60").CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v %s", err, out)
	}
	t.Cleanup(func() { tmux("kill-server").Run() })
	getenv := func(k string) string {
		if k == "TMUX" {
			return sock + ",0,0" // what tmux sets in a pane: socket,server pid,session
		}
		return ""
	}
	t.Setenv("TMUX", sock+",0,0")

	// No client attached: nothing to go by, and no error.
	if pid, err := tmuxClient(getenv); pid != 0 || err != nil {
		t.Fatalf("no client attached: got %d, %v; want 0, nil", pid, err)
	}

	client := tmux("-C", "attach-session", "-t", "t")
	stdin, err := client.StdinPipe() // control mode reads commands; EOF detaches
	if err != nil {
		t.Fatal(err)
	}
	client.Stdout = io.Discard
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); client.Wait() })
	var pid int
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && pid == 0; time.Sleep(20 * time.Millisecond) {
		if pid, err = tmuxClient(getenv); err != nil {
			t.Fatal(err)
		}
	}
	if pid != client.Process.Pid {
		t.Fatalf("tmuxClient: got %d, want the attached client %d", pid, client.Process.Pid)
	}
	pids, err := ancestorsOf(pid)
	if err != nil || !slices.Contains(pids, os.Getpid()) {
		t.Fatalf("ancestors of the tmux client: %v, %v; want this test's pid %d among them", pids, err, os.Getpid())
	}

	// Outside tmux, tmux is not asked.
	if pid, err := tmuxClient(func(string) string { return "" }); pid != 0 || err != nil {
		t.Errorf("outside tmux: got %d, %v; want 0, nil", pid, err)
	}
}
