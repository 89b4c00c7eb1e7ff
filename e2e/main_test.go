// Package e2e proves the product's acceptance scenarios (docs/ssh.md and docs/threat-model.md)
// with the real binaries and real peers: moto_server as STS, the AWS CLI,
// boto3, aws-sdk-go-v2, the AWS SDK for JavaScript v3, a real Secret
// Service, and a real pseudo-terminal.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// agentBin is the aws-sso-agent binary under test, built once.
var agentBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aws-sso-agent-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	agentBin = filepath.Join(dir, "aws-sso-agent")
	// Built as releases are (Makefile): static, stripped.
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", agentBin, "../cmd/aws-sso-agent")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build aws-sso-agent:", err)
		os.Exit(1)
	}
	code := e2e.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}
