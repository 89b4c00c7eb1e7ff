package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/sshd"
)

// The outcomes docs/sdk-compatibility.md publishes, per client of
// e2e.MatrixClients: whether the client gets credentials with the token
// file alone, with the token variable alone, and over `env --tls` with the
// agent's private CA. With the default exports (both) every client must.
var sdkMatrix = map[string]struct{ fileOnly, varOnly, tls bool }{
	"aws-cli":           {fileOnly: true, varOnly: true, tls: false},
	"boto3":             {fileOnly: true, varOnly: true, tls: false},
	"go-sdk":            {fileOnly: true, varOnly: true, tls: true},
	"node-sdk":          {fileOnly: true, varOnly: true, tls: true},
	"debian-boto3":      {fileOnly: false, varOnly: true, tls: false},
	"debian-aws-cli-v2": {fileOnly: false, varOnly: true, tls: false},
	"go-sdk-v1":         {fileOnly: true, varOnly: true, tls: true},
	"node-sdk-v2":       {fileOnly: false, varOnly: true, tls: true},
	"debian-ruby-sdk":   {fileOnly: false, varOnly: true, tls: false},
}

// TestSDKMatrix: every client of the matrix prints the loaded role with
// what `env` exports and with what `exec` gives its command; and each
// client's outcome with the token file alone, the variable alone and
// `env --tls` is the one docs/sdk-compatibility.md publishes.
func TestSDKMatrix(t *testing.T) {
	moto := e2e.StartMoto(t)
	cfg := e2e.WriteAWSConfig(t, t.TempDir(), moto)
	a := startAgent(t, agentOptions{})
	a.mustCLI(cfg.Env(), "load", "--profile", e2e.DefaultRoleProfile.Name)
	want := e2e.DefaultRoleProfile.AssumedRoleARN()

	vars := exports(t, a.mustCLI(nil, "env"))
	tokenFile := e2e.Getenv(vars, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := e2e.Getenv(vars, "AWS_CONTAINER_AUTHORIZATION_TOKEN"); got != string(token) {
		t.Fatalf("env exports AWS_CONTAINER_AUTHORIZATION_TOKEN %q, want the token file's content: the two must agree (Java v2 prefers the variable)", got)
	}
	setups := []struct {
		name string
		vars []string
		ok   func(name string) bool
	}{
		{"env", vars, func(string) bool { return true }},
		{"exec", execVars(t, a), func(string) bool { return true }},
		{"file-only", e2e.MergeEnv(vars, "AWS_CONTAINER_AUTHORIZATION_TOKEN"), func(n string) bool { return sdkMatrix[n].fileOnly }},
		{"variable-only", e2e.MergeEnv(vars, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), func(n string) bool { return sdkMatrix[n].varOnly }},
		{"tls", exports(t, a.mustCLI(nil, "env", "--tls")), func(n string) bool { return sdkMatrix[n].tls }},
	}
	for _, s := range setups {
		for _, c := range e2e.MatrixClients() {
			t.Run(s.name+"/"+c.Name, func(t *testing.T) {
				got, err := c.Run(t, clientEnv(t, moto, s.vars))
				switch {
				case s.ok(c.Name) && err != nil:
					t.Fatalf("want the role, as docs/sdk-compatibility.md says: %v", err)
				case s.ok(c.Name) && got != want:
					t.Errorf("got %q, want %q", got, want)
				case !s.ok(c.Name) && err == nil:
					t.Errorf("got %q, but docs/sdk-compatibility.md says this fails: update the table", got)
				case !s.ok(c.Name):
					t.Logf("fails, as published: %v", firstLines(err.Error(), 6))
				}
			})
		}
	}
}

// execVars are the container variables `aws-sso-agent exec` gives its
// command, read back by running env(1) under it.
func execVars(t *testing.T, a *agentUnderTest) []string {
	t.Helper()
	out := a.mustCLI(nil, "exec", "--", "env")
	var vars []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "AWS_CONTAINER_") {
			vars = append(vars, line)
		}
	}
	if len(vars) != 3 {
		t.Fatalf("exec gave its command %q, want the URL, the token file and the token", vars)
	}
	return vars
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// remoteMatrixClients are the clients of the matrix the remote user can
// run as installed: Debian's packages, in the system's directories.
var remoteMatrixClients = []struct {
	name    string
	require []string // the files it needs
	command string   // a sh command printing the ARN; %[1]s is moto's endpoint
}{
	{"debian-boto3", []string{"/usr/bin/python3", "/usr/lib/python3/dist-packages/boto3"},
		`/usr/bin/python3 -c 'import boto3; print(boto3.client("sts", endpoint_url="%[1]s").get_caller_identity()["Arn"])'`},
	{"debian-aws-cli-v2", []string{"/usr/bin/aws"},
		`/usr/bin/aws sts get-caller-identity --endpoint-url %[1]s --query Arn --output text`},
	{"debian-ruby-sdk", []string{"/usr/bin/ruby", "/usr/lib/ruby/vendor_ruby/aws-sdk-core.rb"},
		`/usr/bin/ruby -e 'require "aws-sdk-core"; puts Aws::STS::Client.new(endpoint: "%[1]s").get_caller_identity.arn'`},
}

// TestRemoteSDKMatrix: on the remote host, after
// eval "$(aws-sso-remote env)", Debian's own SDKs print the role: they
// read only AWS_CONTAINER_AUTHORIZATION_TOKEN, which the file alone would
// not give them.
func TestRemoteSDKMatrix(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	for _, c := range remoteMatrixClients {
		t.Run(c.name, func(t *testing.T) {
			for _, f := range c.require {
				if _, err := os.Stat(f); err != nil {
					e2e.PeerMissing(t, "%s: %v (see scripts/install-test-peers)", c.name, err)
				}
			}
			client := fmt.Sprintf(c.command, r.moto.Endpoint)
			cmd := fmt.Sprintf(`eval "$(%s env)" && AWS_REGION=%s AWS_DEFAULT_REGION=%s AWS_EC2_METADATA_DISABLED=true %s`,
				r.remoteBin, e2e.Region, e2e.Region, client)
			out, errOut, code := r.ssh(t, cmd)
			if code != 0 || strings.TrimSpace(out) != r.want {
				t.Fatalf("exit %d, stdout %q, want %q\nstderr: %s", code, out, r.want, errOut)
			}
		})
	}
}
