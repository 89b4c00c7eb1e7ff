package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// exhaustChildEnv names the directory of the agent TestDescriptorExhaustion
// runs in a child process.
const exhaustChildEnv = "AWS_SSO_AGENT_EXHAUST_CHILD"

// exhaustNofile is the child's descriptor limit, soft and hard: low enough
// that a test's flood exhausts it at once.
const exhaustNofile = 64

// TestDescriptorExhaustion floods a real agent, in a child process with
// RLIMIT_NOFILE 64, with idle connections until it is out of descriptors,
// calls its control socket meanwhile, ends the flood, and then expects the
// endpoint to serve credentials again within seconds and the control
// socket to answer: the agent neither stopped accepting nor exited.
func TestDescriptorExhaustion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child agent")
	}
	root := t.TempDir()
	d := Dirs{Config: filepath.Join(root, "config"), Runtime: filepath.Join(root, "run")}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDescriptorExhaustionChild$", "-test.v")
	cmd.Env = append(os.Environ(), exhaustChildEnv+"="+root, "HOME="+root, "AWS_EC2_METADATA_DISABLED=true")
	var childLog e2e.LockedBuffer
	cmd.Stderr = &childLog
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe() // closed: the child stops
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{}) // closed when the child has exited, with exitErr
	var exitErr error
	go func() { io.Copy(io.Discard, stdout); exitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("child agent's output:\n%s", childLog.String())
		}
	})

	ctl := ControlClient{Path: d.ControlSocket()}
	var status *AgentStatus
	waitFor(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		resp, err := ctl.Do(ctx, ControlRequest{Op: OpStatus})
		if err == nil {
			status = resp.Status
		}
		return err == nil && strings.Contains(childLog.String(), "descriptors filled")
	})
	cfgFile, credFile := filepath.Join(root, "aws-config"), filepath.Join(root, "aws-credentials")
	os.WriteFile(cfgFile, []byte("[profile dev]\nregion = eu-west-1\n"), 0o600)
	os.WriteFile(credFile, []byte("[dev]\naws_access_key_id = AKIAEXHAUST\naws_secret_access_key = secret\n"), 0o600)
	if _, err := ctl.Do(context.Background(), ControlRequest{Op: OpLoad, Load: &LoadRequest{
		Profile: "dev", ConfigFile: cfgFile, CredentialsFile: credFile}}); err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(d.TokenFile())
	if err != nil {
		t.Fatal(err)
	}
	get := func(timeout time.Duration) error {
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		req, _ := http.NewRequest("GET", status.URL, nil)
		req.Header.Set("Authorization", string(token))
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := get(5 * time.Second); err != nil {
		t.Fatalf("before the flood: %v", err)
	}

	// The flood: far more idle connections than the child has descriptors.
	var flood []net.Conn
	for range 4 * exhaustNofile {
		c, err := net.Dial("tcp", status.Addr)
		if err != nil {
			t.Fatal(err)
		}
		flood = append(flood, c)
	}
	waitFor(t, func() bool { return childFDs(t, cmd.Process.Pid) >= exhaustNofile-2 })
	time.Sleep(200 * time.Millisecond) // let the accept loop meet EMFILE
	// The CLI and forwarded connections keep calling meanwhile.
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		ctl.Do(ctx, ControlRequest{Op: OpStatus})
		cancel()
	}
	for _, c := range flood {
		c.Close()
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		err := get(time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5s after the flood ended, the endpoint still does not serve: %v", err)
		}
		select {
		case <-exited:
			t.Fatalf("the agent exited: %v", exitErr)
		default:
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := ctl.Do(ctx, ControlRequest{Op: OpStatus}); err != nil {
		t.Fatalf("after the flood, the control socket: %v", err)
	}
	if !strings.Contains(childLog.String(), "too many open files") {
		t.Error("the flood did not exhaust the agent's descriptors")
	}
	// One warning for the episode, not one per accept error.
	if n := strings.Count(childLog.String(), "credentials endpoint degraded"); n < 1 || n > 3 {
		t.Errorf("%d degraded warnings from the endpoint, want one per episode", n)
	}
}

// TestDescriptorExhaustionChild is the agent of TestDescriptorExhaustion.
func TestDescriptorExhaustionChild(t *testing.T) {
	root := os.Getenv(exhaustChildEnv)
	if root == "" {
		t.Skip("run by TestDescriptorExhaustion in a child process")
	}
	lim := syscall.Rlimit{Cur: exhaustNofile, Max: exhaustNofile}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	d := Dirs{Config: filepath.Join(root, "config"), Runtime: filepath.Join(root, "run")}
	srv, err := NewServer(ServerConfig{Dirs: d, Store: store.NewMemory(), IP: net.IPv4(127, 0, 0, 1), Version: "test", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { io.Copy(io.Discard, os.Stdin); cancel() }()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	// Leave few descriptors free, whatever the agent has open by now, so
	// that a small flood exhausts them.
	var filler []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatal(err)
			}
			break
		}
		filler = append(filler, f)
	}
	for _, f := range filler[max(len(filler)-8, 0):] {
		f.Close()
	}
	fmt.Fprintln(os.Stderr, "descriptors filled")
	err = <-done
	runtime.KeepAlive(filler) // a collected *os.File closes its descriptor
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent stopped:", err)
		t.Fatal(err)
	}
}

// childFDs counts a process's open descriptors.
func childFDs(t *testing.T, pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return len(ents)
}
