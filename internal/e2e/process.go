package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another
// process can take it before the caller binds it: callers that start a server
// on it should retry on "address already in use" (StartMoto does).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("e2e: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// pollInterval is how often WaitFor and WaitForOutput look again: short
// enough not to add noticeable latency, long enough to cost nothing.
const pollInterval = 20 * time.Millisecond

// WaitFor polls cond until it returns true, failing the test if it has not
// within timeout.
func WaitFor(t testing.TB, cond func() bool, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("e2e: condition not met within %v", timeout)
		}
		time.Sleep(pollInterval)
	}
}

// stopTimeout is how long Stop waits after SIGTERM before SIGKILL; a process
// that needs longer to shut down is itself a bug worth a failure.
const stopTimeout = 10 * time.Second

// Process is a child process started by StartProcess. Its output is captured
// in memory; the accessors are safe to call while it runs.
type Process struct {
	Name string // base name of the binary, for messages
	cmd  *exec.Cmd

	mu                     sync.Mutex
	stdout, stderr, output bytes.Buffer // output interleaves both

	done chan struct{} // closed when the process has exited
	err  error         // from cmd.Wait, valid once done is closed
}

// StartProcess starts path with args and env (use CleanEnv), capturing its
// stdout and stderr. The process is killed in t.Cleanup if still running,
// and its output is logged if the test failed.
func StartProcess(t testing.TB, env []string, path string, args ...string) *Process {
	t.Helper()
	return startProcess(t, env, nil, path, args...)
}

func startProcess(t testing.TB, env []string, attr *syscall.SysProcAttr, path string, args ...string) *Process {
	t.Helper()
	p := &Process{Name: baseName(path), done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Env = env
	p.cmd.SysProcAttr = attr
	p.cmd.Stdout = &captureWriter{p: p, own: &p.stdout}
	p.cmd.Stderr = &captureWriter{p: p, own: &p.stderr}
	// A grandchild that keeps our output pipes open must not make Wait hang.
	p.cmd.WaitDelay = 2 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("e2e: start %s: %v", p.Name, err)
	}
	go func() {
		err := p.cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		if p.Running() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s (pid %d):\n%s", p.Name, p.PID(), p.Output())
		}
	})
	return p
}

func baseName(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		return path[i+1:]
	}
	return path
}

type captureWriter struct {
	p   *Process
	own *bytes.Buffer
}

func (w *captureWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	w.own.Write(b)
	w.p.output.Write(b)
	return len(b), nil
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stdout returns everything the process has written to stdout so far.
func (p *Process) Stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// Stderr returns everything the process has written to stderr so far.
func (p *Process) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Output returns stdout and stderr interleaved in the order they arrived.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Running reports whether the process has not yet exited.
func (p *Process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Err returns the result of waiting for the process: nil for exit status 0,
// an *exec.ExitError otherwise. It blocks until the process has exited.
func (p *Process) Err() error {
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// ExitCode returns the exit status, or -1 if a signal ended the process.
// It blocks until the process has exited.
func (p *Process) ExitCode() int {
	<-p.done
	return p.cmd.ProcessState.ExitCode()
}

// WaitForOutput waits until a line of stdout or stderr contains substr and
// returns that line. It fails the test if the process exits first or
// timeout passes.
func (p *Process) WaitForOutput(t testing.TB, substr string, timeout time.Duration) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if line, ok := findLine(p.Output(), substr); ok {
			return line
		}
		select {
		case <-p.done:
			// The last line may lack its newline; it is complete now.
			if line, ok := findLine(p.Output()+"\n", substr); ok {
				return line
			}
			t.Fatalf("e2e: %s exited (%v) before printing %q; output:\n%s", p.Name, p.Err(), substr, p.Output())
		case <-deadline.C:
			t.Fatalf("e2e: %s did not print %q within %v; output:\n%s", p.Name, substr, timeout, p.Output())
		case <-tick.C:
		}
	}
}

// findLine returns the first complete line of out containing substr.
func findLine(out, substr string) (string, bool) {
	for {
		line, rest, complete := strings.Cut(out, "\n")
		if !complete {
			return "", false // a partial line may still grow
		}
		if strings.Contains(line, substr) {
			return line, true
		}
		out = rest
	}
}

// Stop sends SIGTERM and waits for the process to exit, killing it if it
// has not within 10 seconds. It returns nil if the process exited with status
// 0, the *exec.ExitError if it exited otherwise (including by the signal),
// or an error saying it had to be killed.
func (p *Process) Stop() error {
	if !p.Running() {
		return p.Err()
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("e2e: send SIGTERM to %s: %w", p.Name, err)
	}
	select {
	case <-p.done:
		return p.Err()
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("e2e: %s did not exit within %v of SIGTERM; killed", p.Name, stopTimeout)
	}
}
