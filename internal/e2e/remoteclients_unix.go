//go:build unix

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RemoteClient returns a sh command line that runs the matrix client
// name (MatrixClients) as any user of this machine, as the client's Run
// runs it locally: the same program, the same SDK, calling STS at
// $AWS_ENDPOINT_URL_STS and printing the caller's ARN. What lives where a
// throwaway user cannot read (root's home: the machine's Python packages,
// the node cache, the Go v1 build) is copied into SharedDir once. It skips
// the test, as the local client would, when the client is not installed.
func RemoteClient(t testing.TB, name string) string {
	t.Helper()
	switch name {
	case "aws-cli":
		python, pythonPath := RemotePython(t)
		return fmt.Sprintf("PYTHONPATH=%s %s -m awscli sts get-caller-identity --query Arn --output text", pythonPath, python)
	case "boto3":
		python, pythonPath := RemotePython(t)
		return fmt.Sprintf("PYTHONPATH=%s %s -c %s", pythonPath, python, ShellQuote(boto3Script))
	case "go-sdk":
		return SharedBinary(t, stsclientPackage)
	case "node-sdk":
		node := lookPath(t, "node", "install Node.js 18 or later")
		script, err := installNodeSDK()
		if err != nil {
			PeerMissing(t, "%v", err)
		}
		return node + " " + filepath.Join(shareTree(t, filepath.Dir(script), "node-v3"), filepath.Base(script))
	case "debian-boto3":
		requireDebianBoto3(t)
		return systemPython + " -c " + ShellQuote(debianBoto3Script)
	case "debian-aws-cli-v2":
		requireDebianAWSCLI(t)
		return debianAWS + ` sts get-caller-identity --endpoint-url "$AWS_ENDPOINT_URL_STS" --query Arn --output text`
	case "go-sdk-v1":
		path := goV1Path(t)
		return filepath.Join(shareTree(t, filepath.Dir(path), "go-v1"), filepath.Base(path))
	case "node-sdk-v2":
		node := lookPath(t, "node", "install Node.js 18 or later")
		script := nodeV2Path(t)
		return node + " " + filepath.Join(shareTree(t, filepath.Dir(script), "node-v2"), filepath.Base(script))
	case "debian-ruby-sdk":
		requireDebianRuby(t)
		return systemRuby + " -e " + ShellQuote(rubyScript)
	}
	t.Fatalf("e2e: no remote command for client %q", name)
	return ""
}

// shareTree copies directory src into SharedDir as name, readable by
// every user, once per test process, and returns the copy's path.
func shareTree(t testing.TB, src, name string) string {
	t.Helper()
	dst := filepath.Join(SharedDir(t), name)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if _, err := os.Stat(dst); err == nil {
		return dst
	}
	tmp := dst + ".tmp"
	os.RemoveAll(tmp)
	if out, err := exec.Command("cp", "-R", src, tmp).CombinedOutput(); err != nil {
		t.Fatalf("e2e: copy %s: %v\n%s", src, err, out)
	}
	if out, err := exec.Command("chmod", "-R", "a+rX", tmp).CombinedOutput(); err != nil {
		t.Fatalf("e2e: chmod %s: %v\n%s", tmp, err, out)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// ShellQuote single-quotes s for a POSIX shell.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
