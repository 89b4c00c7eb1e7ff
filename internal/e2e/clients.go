package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Client is a real SDK client that prints its caller identity.
type Client struct {
	Name string
	// Run runs the client once with env (build it with CleanEnv) and returns
	// the caller identity ARN, or a *ClientError carrying its stderr. It
	// skips the test if the client is not installed (see PeerMissing).
	Run func(t testing.TB, env []string) (string, error)
}

// Clients returns every client the harness can drive: the AWS CLI, boto3,
// aws-sdk-go-v2 and the AWS SDK for JavaScript v3.
func Clients() []Client {
	return []Client{
		{"aws-cli", AWSCLI},
		{"boto3", Boto3},
		{"go-sdk", GoSDK},
		{"node-sdk", NodeSDK},
	}
}

// ClientTimeout bounds one client run. Python clients take about a second;
// a client that fails to get credentials gives up within a few seconds
// (botocore's container provider: 3 attempts of 1 s).
const ClientTimeout = 60 * time.Second

// ClientError is a client run that failed: it exited non-zero, timed out
// or printed no ARN.
type ClientError struct {
	Client string
	Err    error
	Stderr string
}

func (e *ClientError) Error() string {
	return fmt.Sprintf("e2e: %s: %v; stderr:\n%s", e.Client, e.Err, e.Stderr)
}

func (e *ClientError) Unwrap() error { return e.Err }

// runClient runs path with args in env, from env's HOME, and returns its
// trimmed stdout.
func runClient(name string, env []string, path string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ClientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	cmd.Dir = Getenv(env, "HOME") // not the repository: nothing in it may affect a client
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v", ClientTimeout)
	}
	out := strings.TrimSpace(stdout.String())
	if err == nil && out == "" {
		err = errors.New("printed nothing")
	}
	if err != nil {
		return "", &ClientError{Client: name, Err: err, Stderr: stderr.String()}
	}
	return out, nil
}

func lookPath(t testing.TB, file, install string) string {
	t.Helper()
	path, err := exec.LookPath(file)
	if err != nil {
		PeerMissing(t, "%s not found in PATH (%s)", file, install)
	}
	return path
}

// AWSCLI runs `aws sts get-caller-identity --output json`. Point it at moto
// with Moto.STSEnv; AWS CLI v1 also needs AWS_DEFAULT_REGION (CleanEnv sets
// it).
func AWSCLI(t testing.TB, env []string) (string, error) {
	t.Helper()
	path := lookPath(t, "aws", "pip install awscli")
	out, err := runClient("aws-cli", env, path, "sts", "get-caller-identity", "--output", "json")
	if err != nil {
		return "", err
	}
	var id struct{ Arn string }
	if err := json.Unmarshal([]byte(out), &id); err != nil || id.Arn == "" {
		return "", &ClientError{Client: "aws-cli", Err: fmt.Errorf("no Arn in output %q", out)}
	}
	return id.Arn, nil
}

const boto3Script = `import boto3
print(boto3.client("sts").get_caller_identity()["Arn"])
`

// Boto3 runs a python3 script calling boto3's get_caller_identity with the
// default session.
func Boto3(t testing.TB, env []string) (string, error) {
	t.Helper()
	path := lookPath(t, "python3", "install Python 3 with boto3")
	return runClient("boto3", env, path, "-c", boto3Script)
}

// GoSDK runs internal/e2e/cmd/stsclient: aws-sdk-go-v2's
// config.LoadDefaultConfig and sts GetCallerIdentity. The binary is built
// once per test process.
func GoSDK(t testing.TB, env []string) (string, error) {
	t.Helper()
	path, err := buildSTSClient()
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	return runClient("go-sdk", env, path)
}

var goClient struct {
	once sync.Once
	dir  string
	path string
	err  error
}

const stsclientPackage = "github.com/aws-sso-agent/aws-sso-agent/internal/e2e/cmd/stsclient"

// buildSTSClient builds stsclient into a temporary directory that Run
// removes. It runs from the test's working directory, which is inside the
// module, with the machine's environment (its Go caches and proxy).
func buildSTSClient() (string, error) {
	goClient.once.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			goClient.err = fmt.Errorf("build stsclient: %w", err)
			return
		}
		dir, err := os.MkdirTemp("", "aws-sso-agent-e2e-")
		if err != nil {
			goClient.err = fmt.Errorf("build stsclient: %w", err)
			return
		}
		goClient.dir = dir
		path := filepath.Join(dir, "stsclient")
		cmd := exec.Command(gobin, "build", "-o", path, stsclientPackage)
		if out, err := cmd.CombinedOutput(); err != nil {
			goClient.err = fmt.Errorf("build stsclient: %w\n%s", err, out)
			return
		}
		goClient.path = path
	})
	return goClient.path, goClient.err
}

// Run runs the tests and removes what the harness built for this test
// process. Use it from TestMain: os.Exit(e2e.Run(m)).
func Run(m *testing.M) int {
	code := m.Run()
	if goClient.dir != "" {
		os.RemoveAll(goClient.dir)
	}
	cleanShared()
	for _, f := range cleanups {
		f()
	}
	return code
}

// cleanups are what Run removes after the tests: what the clients built
// once per test process.
var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

func registerCleanup(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
}
