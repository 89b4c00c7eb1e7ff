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
// e2e.MatrixClients: whether the client gets credentials with the default
// exports (the token file and the token variable), with the file alone,
// with the variable alone, and over `env --tls` with the agent's private
// CA. Debian's Ruby SDK (aws-sdk-core 3.168) knows only
// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, on 169.254.170.2: no export
// reaches the agent from it (the remote host's credential_process does).
var sdkMatrix = map[string]struct{ defaults, fileOnly, varOnly, tls bool }{
	"aws-cli":           {defaults: true, fileOnly: true, varOnly: true, tls: false},
	"boto3":             {defaults: true, fileOnly: true, varOnly: true, tls: false},
	"go-sdk":            {defaults: true, fileOnly: true, varOnly: true, tls: true},
	"node-sdk":          {defaults: true, fileOnly: true, varOnly: true, tls: true},
	"debian-boto3":      {defaults: true, fileOnly: false, varOnly: true, tls: false},
	"debian-aws-cli-v2": {defaults: true, fileOnly: false, varOnly: true, tls: false},
	"go-sdk-v1":         {defaults: true, fileOnly: true, varOnly: true, tls: true},
	"node-sdk-v2":       {defaults: true, fileOnly: true, varOnly: true, tls: true},
	"debian-ruby-sdk":   {defaults: false, fileOnly: false, varOnly: false, tls: false},
}

// TestSDKMatrix: every client of the matrix prints the loaded role with
// what `env` exports and with what `exec` gives its command (but the one
// that cannot reach any endpoint but ECS's, which must fail); and each
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
		{"env", vars, func(n string) bool { return sdkMatrix[n].defaults }},
		{"exec", execVars(t, a), func(n string) bool { return sdkMatrix[n].defaults }},
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
	command string   // a sh command printing the ARN; %[1]s is moto's endpoint, %[2]s aws-sso-remote
}{
	{"debian-boto3", []string{"/usr/bin/python3", "/usr/lib/python3/dist-packages/boto3"},
		`/usr/bin/python3 -c 'import boto3; print(boto3.client("sts", endpoint_url="%[1]s").get_caller_identity()["Arn"])'`},
	{"debian-aws-cli-v2", []string{"/usr/bin/aws"},
		`/usr/bin/aws sts get-caller-identity --endpoint-url %[1]s --query Arn --output text`},
	// Through credential_process: it has no container provider for
	// a full URI. %[2]s is aws-sso-remote.
	{"debian-ruby-sdk", []string{"/usr/bin/ruby", "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1"},
		`printf '[profile agent]\ncredential_process = %[2]s credential-process\n' > "$HOME/ruby-config" && AWS_CONFIG_FILE="$HOME/ruby-config" AWS_PROFILE=agent /usr/bin/ruby -e 'require "aws-sdk-core"; puts Aws::STS::Client.new(endpoint: "%[1]s").get_caller_identity.arn'`},
}

// TestRemoteSDKMatrix: on the remote host, after
// eval "$(aws-sso-remote env)", Debian's own boto3 and AWS CLI v2 print
// the role: they read only AWS_CONTAINER_AUTHORIZATION_TOKEN, which the
// file alone would not give them. Debian's Ruby SDK does through
// aws-sso-remote credential-process.
func TestRemoteSDKMatrix(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	for _, c := range remoteMatrixClients {
		t.Run(c.name, func(t *testing.T) {
			for _, f := range c.require {
				if _, err := os.Stat(f); err != nil {
					e2e.PeerMissing(t, "%s: %v (see scripts/install-test-peers)", c.name, err)
				}
			}
			client := fmt.Sprintf(c.command, r.moto.Endpoint, r.remoteBin)
			cmd := fmt.Sprintf(`eval "$(%s env)" && export AWS_REGION=%s AWS_DEFAULT_REGION=%s AWS_EC2_METADATA_DISABLED=true && %s`,
				r.remoteBin, e2e.Region, e2e.Region, client)
			out, errOut, code := r.ssh(t, cmd)
			if code != 0 || strings.TrimSpace(out) != r.want {
				t.Fatalf("exit %d, stdout %q, want %q\nstderr: %s", code, out, r.want, errOut)
			}
		})
	}
}
