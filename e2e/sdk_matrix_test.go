package e2e

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/sshd"
	"github.com/aws-sso-agent/aws-sso-agent/tunnel"
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

// TestRemoteSDKMatrix: for a remote user with no helper and nothing on
// PATH, every client of the matrix, run on the remote host over a real
// sshd session through the helper the agent installed, gets the outcome
// docs/sdk-compatibility.md publishes for the default exports: through
// `e=$(aws-sso-remote env) && eval "$e"` and through
// `aws-sso-remote exec -- CLIENT`. Debian's Ruby SDK, which no export
// reaches, prints the role through aws-sso-remote credential-process.
func TestRemoteSDKMatrix(t *testing.T) {
	r := startRemote(t, sshd.Options{User: "ssomatrix"})
	e2e.RunAs(t, r.sshd.User, nil, "rm", "-rf", ".aws-sso-agent", "ruby-config")
	agent := shipAgent(t, map[string]string{tunnel.HelperName(runtime.GOOS, runtime.GOARCH): r.remoteBin})
	const helper = `"$HOME/` + tunnel.HelperPath + `"`
	// What a user's shell has anyway; the endpoint for the clients that
	// read it, the others get it from the command line.
	setup := fmt.Sprintf("PATH=/usr/bin:/bin; export AWS_ENDPOINT_URL_STS=%s AWS_REGION=%s AWS_DEFAULT_REGION=%s AWS_EC2_METADATA_DISABLED=true",
		r.moto.Endpoint, e2e.Region, e2e.Region)
	ways := []struct{ name, command string }{
		{"env", setup + ` && e=$(` + helper + ` env) && eval "$e" && %s`},
		{"exec", setup + ` && ` + helper + ` exec -- sh -c %s`},
	}
	for _, c := range e2e.MatrixClients() {
		for _, w := range ways {
			t.Run(w.name+"/"+c.Name, func(t *testing.T) {
				client := e2e.RemoteClient(t, c.Name)
				arg := client
				if w.name == "exec" {
					arg = e2e.ShellQuote(client)
				}
				out, errOut, code := r.sshWith(t, agent, fmt.Sprintf(w.command, arg))
				got := strings.TrimSpace(out)
				switch ok := sdkMatrix[c.Name].defaults; {
				case ok && (code != 0 || got != r.want):
					t.Fatalf("exit %d, stdout %q, want %q, as docs/sdk-compatibility.md says\nstderr: %s", code, out, r.want, firstLines(errOut, 12))
				case !ok && code == 0:
					t.Errorf("got %q, but docs/sdk-compatibility.md says this fails: update the table", got)
				case !ok:
					t.Logf("fails, as published: exit %d: %s", code, firstLines(errOut, 4))
				}
			})
		}
	}
	t.Run("credential-process/debian-ruby-sdk", func(t *testing.T) {
		client := e2e.RemoteClient(t, "debian-ruby-sdk")
		cmd := setup + ` && printf '[profile agent]\ncredential_process = %s credential-process\n' "$HOME/` + tunnel.HelperPath + `" > "$HOME/ruby-config" && AWS_CONFIG_FILE="$HOME/ruby-config" AWS_PROFILE=agent ` + client
		out, errOut, code := r.sshWith(t, agent, cmd)
		if code != 0 || strings.TrimSpace(out) != r.want {
			t.Fatalf("exit %d, stdout %q, want %q\nstderr: %s", code, out, r.want, firstLines(errOut, 12))
		}
	})
}
