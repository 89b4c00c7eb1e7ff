package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// TestExec: `aws-sso-agent exec -- aws sts get-caller-identity` prints the
// loaded role even when the caller's environment names other credentials
// that outrank the container provider (a base profile, web identity, static
// keys), and exits with the command's status.
func TestExec(t *testing.T) {
	moto := e2e.StartMoto(t)
	cfg := e2e.WriteAWSConfig(t, t.TempDir(), moto)
	a := startAgent(t, agentOptions{})
	a.mustCLI(cfg.Env(), "load", "--profile", e2e.DefaultRoleProfile.Name, "--slot=dev")
	want := e2e.DefaultRoleProfile.AssumedRoleARN()
	aws, err := exec.LookPath("aws")
	if err != nil {
		e2e.PeerMissing(t, "aws not found in PATH (pip install awscli)")
	}
	webToken := filepath.Join(t.TempDir(), "web-identity-token")
	if err := os.WriteFile(webToken, []byte("eyJhbGciOiJub25lIn0.e30."), 0o600); err != nil {
		t.Fatal(err)
	}
	// A clean environment (a.env: nothing of this machine) plus what a
	// user's shell may hold; each of these wins over the container
	// provider in the AWS CLI if exec left it.
	env := e2e.MergeEnv(a.env, append(append(moto.STSEnv(), cfg.Env()...),
		"AWS_DEFAULT_PROFILE="+e2e.BaseProfile,
		"AWS_ROLE_ARN=arn:aws:iam::123456789012:role/web-identity",
		"AWS_WEB_IDENTITY_TOKEN_FILE="+webToken,
		"AWS_ROLE_SESSION_NAME=web",
		"AWS_ACCESS_KEY_ID=AKIAWRONGWRONGWRONG1", "AWS_SECRET_ACCESS_KEY=wrong")...)

	// Without exec, those win: the test would prove nothing otherwise.
	plain := exec.Command(aws, "sts", "get-caller-identity", "--query", "Arn", "--output", "text")
	plain.Env = env
	if got, _ := plain.Output(); strings.TrimSpace(string(got)) == want {
		t.Fatalf("aws alone printed the loaded role %q: the environment overrides nothing", want)
	}

	out, errOut, code := runCLI(t, env, "exec", "--slot", "dev", "--", aws, "sts", "get-caller-identity", "--query", "Arn", "--output", "text")
	if code != 0 {
		t.Fatalf("exec: exit %d\n%s%s", code, out, errOut)
	}
	if got := strings.TrimSpace(out); got != want {
		t.Errorf("exec -- aws sts get-caller-identity: got %q, want %q", got, want)
	}

	// The command's own failure is exec's exit status, unchanged.
	_, _, direct := runCLI(t, env, "exec", "--slot", "dev", "--", aws, "sts", "no-such-operation")
	cmd := exec.Command(aws, "sts", "no-such-operation")
	cmd.Env = env
	var ee *exec.ExitError
	if err := cmd.Run(); !errors.As(err, &ee) {
		t.Fatalf("aws sts no-such-operation: %v, want a failure", err)
	}
	if direct != ee.ExitCode() {
		t.Errorf("exec of a failing aws: exit %d, aws alone exits %d", direct, ee.ExitCode())
	}

	// No agent: nothing runs.
	a.proc.Stop()
	out, errOut, code = runCLI(t, env, "exec", "--slot", "dev", "--", aws, "sts", "get-caller-identity")
	if code != 1 || out != "" || !strings.Contains(errOut, "the agent is not running") {
		t.Errorf("exec without an agent: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
