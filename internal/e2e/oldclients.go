package e2e

import (
	"context"
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

// The clients of docs/sdk-compatibility.md's matrix beyond Clients: the
// SDK versions that distributions ship and that old tools embed. None of
// them reads AWS_ENDPOINT_URL_STS (botocore added it in 1.31, AWS CLI v2
// in 2.13), so each is pointed at moto explicitly with that variable's
// value; only the credentials come from the default chain, as in a user's
// program.

// MatrixClients returns every client of the compatibility matrix: Clients
// plus Debian 12's boto3 and AWS CLI v2, aws-sdk-go v1, the JavaScript SDK
// v2 and Debian's Ruby SDK.
func MatrixClients() []Client {
	return append(Clients(),
		Client{"debian-boto3", DebianBoto3},
		Client{"debian-aws-cli-v2", DebianAWSCLI},
		Client{"go-sdk-v1", GoSDKv1},
		Client{"node-sdk-v2", NodeSDKv2},
		Client{"debian-ruby-sdk", DebianRubySDK},
	)
}

// debianBoto3Script is boto3Script with the endpoint given explicitly.
const debianBoto3Script = `import os, boto3
print(boto3.client("sts", endpoint_url=os.environ["AWS_ENDPOINT_URL_STS"]).get_caller_identity()["Arn"])
`

// DebianBoto3 runs Debian's python3-boto3 (1.26.27, botocore 1.29.27): the
// system /usr/bin/python3, where apt puts it, not the python on PATH.
func DebianBoto3(t testing.TB, env []string) (string, error) {
	t.Helper()
	requireDebianBoto3(t)
	return runClient("debian-boto3", env, systemPython, "-c", debianBoto3Script)
}

// systemPython is Debian's python, where apt puts python3-boto3.
const systemPython = "/usr/bin/python3"

func requireDebianBoto3(t testing.TB) {
	t.Helper()
	if err := exec.Command(systemPython, "-c", "import boto3").Run(); err != nil {
		PeerMissing(t, "%s cannot import boto3 (apt-get install python3-boto3): %v", systemPython, err)
	}
}

// DebianAWSCLI runs Debian's awscli package, AWS CLI v2 2.9.19, by its
// absolute path: the AWS CLI v1 on PATH would shadow it.
func DebianAWSCLI(t testing.TB, env []string) (string, error) {
	t.Helper()
	requireDebianAWSCLI(t)
	return runClient("debian-aws-cli-v2", env, debianAWS, "sts", "get-caller-identity",
		"--endpoint-url", Getenv(env, "AWS_ENDPOINT_URL_STS"), "--query", "Arn", "--output", "text")
}

// debianAWS is where Debian's awscli package puts AWS CLI v2.
const debianAWS = "/usr/bin/aws"

func requireDebianAWSCLI(t testing.TB) {
	t.Helper()
	out, err := exec.Command(debianAWS, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "aws-cli/2.") {
		PeerMissing(t, "%s is not AWS CLI v2 (apt-get install awscli): %q %v", debianAWS, out, err)
	}
}

// rubyScript uses aws-sdk-core's default chain; Aws::STS ships inside
// aws-sdk-core, which needs it for assumed roles.
const rubyScript = `require "aws-sdk-core"
puts Aws::STS::Client.new(endpoint: ENV.fetch("AWS_ENDPOINT_URL_STS")).get_caller_identity.arn
`

// DebianRubySDK runs Debian's ruby-aws-sdk-core (3.168) with the system ruby.
func DebianRubySDK(t testing.TB, env []string) (string, error) {
	t.Helper()
	requireDebianRuby(t)
	return runClient("debian-ruby-sdk", env, systemRuby, "-e", rubyScript)
}

const systemRuby = "/usr/bin/ruby"

func requireDebianRuby(t testing.TB) {
	t.Helper()
	if err := exec.Command(systemRuby, "-e", `require "aws-sdk-core"`).Run(); err != nil {
		PeerMissing(t, "%s cannot load aws-sdk-core (apt-get install ruby-aws-sdk-core): %v", systemRuby, err)
	}
}

// GoSDKv1Version is the aws-sdk-go (v1) release GoSDKv1 builds with: the
// last v1 line, end of life but inside many tools.
const GoSDKv1Version = "v1.55.8"

// goV1Main is the v1 client: session.NewSession's default chain (which
// ends in the container provider) and sts GetCallerIdentity.
const goV1Main = `package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/sts"
)

func main() {
	sess, err := session.NewSession(&aws.Config{Endpoint: aws.String(os.Getenv("AWS_ENDPOINT_URL_STS"))})
	if err != nil {
		fmt.Fprintln(os.Stderr, "stsclient-v1:", err)
		os.Exit(1)
	}
	out, err := sts.New(sess).GetCallerIdentity(&sts.GetCallerIdentityInput{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "stsclient-v1:", err)
		os.Exit(1)
	}
	fmt.Println(aws.StringValue(out.Arn))
}
`

var goV1Client struct {
	once sync.Once
	path string
	err  error
}

// goBuildTimeout bounds building the v1 client: about a minute with a cold
// module cache, seconds with a warm one.
const goBuildTimeout = 5 * time.Minute

// GoSDKv1 runs a program built against aws-sdk-go v1 (GoSDKv1Version). It
// is built once per test process, in a throwaway module of its own (the
// project's go.mod never names v1), from the module proxy the machine's
// environment names; if that fails, the test is skipped (see PeerMissing).
func GoSDKv1(t testing.TB, env []string) (string, error) {
	t.Helper()
	return runClient("go-sdk-v1", env, goV1Path(t))
}

// goV1Path is the v1 client, built once per test process.
func goV1Path(t testing.TB) string {
	t.Helper()
	goV1Client.once.Do(func() { goV1Client.path, goV1Client.err = buildGoV1() })
	if goV1Client.err != nil {
		PeerMissing(t, "%v", goV1Client.err)
	}
	return goV1Client.path
}

func buildGoV1() (string, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("build the aws-sdk-go v1 client: %w", err)
	}
	dir, err := os.MkdirTemp("", "aws-sso-agent-e2e-gov1-")
	if err != nil {
		return "", fmt.Errorf("build the aws-sdk-go v1 client: %w", err)
	}
	registerCleanup(func() { os.RemoveAll(dir) })
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	gomod := "module stsclientv1\n\ngo 1.21\n\nrequire github.com/aws/aws-sdk-go " + GoSDKv1Version + "\n"
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(gomod), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(goV1Main), 0o644); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), goBuildTimeout)
	defer cancel()
	path := filepath.Join(dir, "stsclient-v1")
	cmd := exec.CommandContext(ctx, gobin, "build", "-o", path, ".")
	cmd.Dir = src
	// The machine's environment (module cache, GOPROXY), outside the
	// project's module and workspace; -mod=mod writes go.sum here.
	cmd.Env = MergeEnv(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			err = errors.New("timed out")
		}
		return "", fmt.Errorf("build the aws-sdk-go %s client: %v\n%s", GoSDKv1Version, err, out)
	}
	return path, nil
}

// NodeSDKv2Version is the aws-sdk (JavaScript SDK v2) release NodeSDKv2
// installs.
const NodeSDKv2Version = "2.1693.0"

// nodeV2Script uses the v2 SDK's default chain (which ends in
// RemoteCredentials, the container provider). The SDK warns on stderr
// that v2 is in maintenance mode; stdout has the ARN alone.
const nodeV2Script = `const AWS = require("aws-sdk");
new AWS.STS({ endpoint: process.env.AWS_ENDPOINT_URL_STS }).getCallerIdentity({}, (err, out) => {
  if (err) {
    process.stderr.write(String((err && err.stack) || err) + "\n");
    process.exit(1);
  }
  process.stdout.write(out.Arn + "\n");
});
`

var nodeV2Client struct {
	once   sync.Once
	script string
	err    error
}

// NodeSDKv2 runs a script using the JavaScript SDK v2 (npm aws-sdk),
// installed like NodeSDK's into its own directory of the node cache.
func NodeSDKv2(t testing.TB, env []string) (string, error) {
	t.Helper()
	node := lookPath(t, "node", "install Node.js 18 or later")
	return runClient("node-sdk-v2", env, node, nodeV2Path(t))
}

// nodeV2Path is the v2 client's script, installed once per test process.
func nodeV2Path(t testing.TB) string {
	t.Helper()
	nodeV2Client.once.Do(func() {
		dir, err := NodeCacheDir()
		if err != nil {
			nodeV2Client.err = err
			return
		}
		nodeV2Client.script, nodeV2Client.err = installNodePackage(filepath.Join(dir, "v2"), "aws-sdk@"+NodeSDKv2Version, "stsclient.cjs", nodeV2Script)
	})
	if nodeV2Client.err != nil {
		PeerMissing(t, "%v", nodeV2Client.err)
	}
	return nodeV2Client.script
}
