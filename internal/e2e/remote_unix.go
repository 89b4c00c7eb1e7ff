//go:build unix

package e2e

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pythonModules are what the AWS CLI v1 and boto3 import.
var pythonModules = []string{
	"awscli", "botocore", "boto3", "s3transfer", "jmespath", "dateutil",
	"six.py", "urllib3", "docutils", "rsa", "pyasn1", "colorama", "yaml", "_yaml",
}

// RemotePython returns a python3 every user can run and the PYTHONPATH
// that gives it this machine's AWS CLI and boto3: `python3 -m awscli ...`.
func RemotePython(t testing.TB) (python, pythonPath string) {
	t.Helper()
	python, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		PeerMissing(t, "no system python3 a throwaway user can run (apt-get install python3)")
	}
	out, err := exec.Command("python3", "-c", "import botocore, os; print(os.path.dirname(os.path.dirname(botocore.__file__)))").Output()
	if err != nil {
		PeerMissing(t, "no botocore on this machine: %v", err)
	}
	site := strings.TrimSpace(string(out))
	dst := filepath.Join(SharedDir(t), "pylib")
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if _, err := os.Stat(dst); err == nil {
		return python, dst
	}
	tmp := dst + ".tmp"
	os.RemoveAll(tmp)
	os.MkdirAll(tmp, 0o755)
	for _, m := range pythonModules {
		src := filepath.Join(site, m)
		if _, err := os.Stat(src); err != nil {
			continue // optional (the C yaml loader, say)
		}
		if out, err := exec.Command("cp", "-R", src, tmp+"/").CombinedOutput(); err != nil {
			t.Fatalf("e2e: copy %s: %v\n%s", m, err, out)
		}
	}
	filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			if d.IsDir() {
				os.Chmod(p, 0o755)
			} else {
				os.Chmod(p, 0o644)
			}
		}
		return nil
	})
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
	return python, dst
}

// RunResult is what a command run as another user did.
type RunResult struct {
	Stdout, Stderr string
	Code           int
}

// RunAs runs name with args as the local user username (tests run as
// root), with HOME, USER and a plain PATH, plus env.
func RunAs(t testing.TB, username string, env []string, name string, args ...string) RunResult {
	t.Helper()
	u, err := user.Lookup(username)
	if err != nil {
		t.Fatalf("e2e: user %s: %v", username, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd := exec.Command(name, args...)
	cmd.Dir = u.HomeDir
	cmd.Env = MergeEnv([]string{"HOME=" + u.HomeDir, "USER=" + username, "LOGNAME=" + username, "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("e2e: run %s as %s: %v", name, username, err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(ClientTimeout):
		cmd.Process.Kill()
		err = <-done
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("e2e: run %s as %s: %v", name, username, err)
	}
	return RunResult{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
}

// StartAs starts a long-running process as username, like StartProcess.
func StartAs(t testing.TB, username string, path string, args ...string) *Process {
	t.Helper()
	u, err := user.Lookup(username)
	if err != nil {
		t.Fatalf("e2e: user %s: %v", username, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return startProcess(t, []string{"HOME=" + u.HomeDir, "PATH=/usr/bin:/bin"}, &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}, path, args...)
}
