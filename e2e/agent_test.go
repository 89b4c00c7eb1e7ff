package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// agentUnderTest is a running `aws-sso-agent serve` with its own home.
type agentUnderTest struct {
	t    testing.TB
	home string
	env  []string // what the CLI runs with: its home, the AWS config
	proc *e2e.Process
}

type agentOptions struct {
	store string   // "file" (default), "keyring", or "none": no store flags (a settings file says)
	args  []string // more serve flags
	home  string   // reuse a home (restart); default a new one
	extra []string // more environment
}

func startAgent(t testing.TB, o agentOptions) *agentUnderTest {
	t.Helper()
	return startAgentArgs(t, o, []string{"--port", "0"})
}

// startAgentArgs is startAgent with serve's first flags given (startAgent
// gives --port 0).
func startAgentArgs(t testing.TB, o agentOptions, first []string) *agentUnderTest {
	t.Helper()
	home := o.home
	if home == "" {
		home = t.TempDir()
	}
	env := e2e.CleanEnv(t, "AWS_SSO_AGENT_HOME="+home)
	env = e2e.MergeEnv(env, o.extra...)
	if v := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); v != "" {
		env = e2e.MergeEnv(env, "DBUS_SESSION_BUS_ADDRESS="+v)
	}
	args := append([]string{"serve"}, first...)
	switch o.store {
	case "", "file":
		pass := filepath.Join(home, "passphrase")
		if err := os.WriteFile(pass, []byte("correct horse battery staple"), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--store", "file", "--passphrase-file", pass)
	case "keyring":
		args = append(args, "--store", "keyring")
	}
	args = append(args, o.args...)
	p := e2e.StartProcess(t, env, agentBin, args...)
	p.WaitForOutput(t, "serving credentials", 30*time.Second)
	a := &agentUnderTest{t: t, home: home, env: env, proc: p}
	t.Cleanup(func() { p.Stop() })
	return a
}

// cli runs the agent's CLI and returns stdout, stderr and the exit status.
func (a *agentUnderTest) cli(extraEnv []string, args ...string) (string, string, int) {
	a.t.Helper()
	return runCLI(a.t, e2e.MergeEnv(a.env, extraEnv...), args...)
}

func runCLI(t testing.TB, env []string, args ...string) (string, string, int) {
	t.Helper()
	return runCLIInput(t, env, "", args...)
}

// runCLIInput is runCLI with stdin (a secret piped in).
func runCLIInput(t testing.TB, env []string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(agentBin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

func (a *agentUnderTest) mustCLI(extraEnv []string, args ...string) string {
	a.t.Helper()
	out, errOut, code := a.cli(extraEnv, args...)
	if code != 0 {
		a.t.Fatalf("aws-sso-agent %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// exports reads `env`'s sh output back into NAME=value pairs by letting a
// real shell evaluate it.
func exports(t testing.TB, shOut string) []string {
	t.Helper()
	cmd := exec.Command("sh", "-c", `eval "$1" && env`, "sh", shOut)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("eval exports: %v\n%s", err, shOut)
	}
	var vars []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "AWS_CONTAINER_") || strings.HasPrefix(line, "SSL_CERT_FILE=") || strings.HasPrefix(line, "NODE_EXTRA_CA_CERTS=") {
			vars = append(vars, line)
		}
	}
	return vars
}

func (a *agentUnderTest) status() map[string]any {
	a.t.Helper()
	var st map[string]any
	if err := json.Unmarshal([]byte(a.mustCLI(nil, "status", "--json")), &st); err != nil {
		a.t.Fatal(err)
	}
	return st
}

// clientEnv is what an SDK client on this machine runs with after
// eval "$(aws-sso-agent env)": nothing of the machine, moto as STS.
func clientEnv(t testing.TB, moto *e2e.Moto, vars []string) []string {
	return e2e.MergeEnv(e2e.CleanEnv(t), append(moto.STSEnv(), vars...)...)
}

// TestLocalScenario: serve, load a profile that assumes a role
// through moto's STS, eval the env, and every SDK prints the role's ARN.
func TestLocalScenario(t *testing.T) {
	moto := e2e.StartMoto(t)
	cfg := e2e.WriteAWSConfig(t, t.TempDir(), moto)
	a := startAgent(t, agentOptions{})
	out := a.mustCLI(cfg.Env(), "load", "--profile", e2e.DefaultRoleProfile.Name)
	if !strings.Contains(out, "into slot default") {
		t.Errorf("load printed %q", out)
	}
	want := e2e.DefaultRoleProfile.AssumedRoleARN()

	// The literal user journey, through a shell.
	t.Run("eval in a shell", func(t *testing.T) {
		script := fmt.Sprintf(`eval "$(%s env)" && aws sts get-caller-identity --query Arn --output text`, agentBin)
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = e2e.MergeEnv(a.env, append(moto.STSEnv(),
			// What a user's shell may hold: env must clear what would win.
			"AWS_ACCESS_KEY_ID=AKIAWRONGWRONGWRONG1", "AWS_SECRET_ACCESS_KEY=wrong", "AWS_PROFILE=nonexistent")...)
		got, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, got)
		}
		if strings.TrimSpace(string(got)) != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})

	vars := exports(t, a.mustCLI(nil, "env"))
	for _, c := range e2e.Clients() {
		t.Run(c.Name, func(t *testing.T) {
			got, err := c.Run(t, clientEnv(t, moto, vars))
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}

	// --tls: https with SSL_CERT_FILE (Go) and NODE_EXTRA_CA_CERTS (Node).
	// Python ignores every CA setting for this endpoint (docs/sdk-compatibility.md): it must
	// fail, and the docs say so.
	tlsVars := exports(t, a.mustCLI(nil, "env", "--tls"))
	if u := e2e.Getenv(tlsVars, "AWS_CONTAINER_CREDENTIALS_FULL_URI"); !strings.HasPrefix(u, "https://127.0.0.1:") {
		t.Fatalf("env --tls URL: %q", u)
	}
	for _, c := range e2e.Clients() {
		t.Run("tls/"+c.Name, func(t *testing.T) {
			got, err := c.Run(t, clientEnv(t, moto, tlsVars))
			python := c.Name == "aws-cli" || c.Name == "boto3"
			switch {
			case python && err == nil:
				t.Errorf("%s accepted the agent's private CA, which docs/sdk-compatibility.md says it cannot: update the compatibility table", c.Name)
			case !python && err != nil:
				t.Fatal(err)
			case !python && got != want:
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// TestSlots: two profiles, each reached by its slot URL.
func TestSlots(t *testing.T) {
	moto := e2e.StartMoto(t)
	dev := e2e.RoleProfile{Name: "dev", Role: "dev-role", Session: "dev-session"}
	ops := e2e.RoleProfile{Name: "ops", Role: "ops-role", Session: "ops-session"}
	cfg := e2e.WriteAWSConfig(t, t.TempDir(), moto, dev, ops)
	a := startAgent(t, agentOptions{})
	a.mustCLI(cfg.Env(), "load", "--profile", "dev", "--slot")
	a.mustCLI(cfg.Env(), "load", "--profile", "ops", "--slot=operations")

	list := a.mustCLI(nil, "list")
	for _, want := range []string{"dev", "operations", "/slot/operations"} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q:\n%s", want, list)
		}
	}
	clients := e2e.Clients()
	for _, tt := range []struct {
		slot string
		want string
	}{{"dev", dev.AssumedRoleARN()}, {"operations", ops.AssumedRoleARN()}} {
		vars := exports(t, a.mustCLI(nil, "env", "--slot", tt.slot))
		if u := e2e.Getenv(vars, "AWS_CONTAINER_CREDENTIALS_FULL_URI"); !strings.HasSuffix(u, "/slot/"+tt.slot) {
			t.Errorf("slot %s URL: %q", tt.slot, u)
		}
		// Two clients per slot keep the run short; TestLocalScenario runs all.
		for _, c := range []e2e.Client{clients[0], clients[2]} {
			t.Run(tt.slot+"/"+c.Name, func(t *testing.T) {
				got, err := c.Run(t, clientEnv(t, moto, vars))
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			})
		}
	}

	// The default slot is empty: a clear 404 JSON, not another slot.
	vars := exports(t, a.mustCLI(nil, "env"))
	code, body := get(t, e2e.Getenv(vars, "AWS_CONTAINER_CREDENTIALS_FULL_URI"), e2e.Getenv(vars, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), nil)
	if code != 404 || !strings.Contains(body, "aws-sso-agent load") {
		t.Errorf("empty default slot: %d %s", code, body)
	}

	a.mustCLI(nil, "unload", "--profile", "dev")
	if list := a.mustCLI(nil, "list"); strings.Contains(list, "dev ") {
		t.Errorf("dev still listed after unload:\n%s", list)
	}
	_, errOut, code2 := a.cli(nil, "unload", "--slot", "dev")
	if code2 != 1 || !strings.Contains(errOut, "no credentials loaded") {
		t.Errorf("second unload: exit %d, %q", code2, errOut)
	}
	a.mustCLI(nil, "unload", "--all")
	if list := a.mustCLI(nil, "list"); !strings.Contains(list, "no slots loaded") {
		t.Errorf("after unload --all:\n%s", list)
	}
}

// get fetches url with the token from tokenFile and returns status and body.
func get(t *testing.T, url, tokenFile string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if tokenFile != "" {
		tok, err := os.ReadFile(tokenFile)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", string(tok))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String()
}

// TestRefresh: a source whose credentials live 30 s is
// refreshed by the agent with no user action, and no client is ever handed
// credentials with less than the margin left. The margin is tuned down
// from 15 minutes so the test takes seconds, with the same code path.
func TestRefresh(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "short-lived")
	// Each run mints a new key that expires in 30 s.
	if err := os.WriteFile(script, []byte(`#!/bin/sh
n=$(cat "$0.count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$0.count"
exp=$(date -u -d '+30 seconds' +%Y-%m-%dT%H:%M:%SZ)
printf '{"Version":1,"AccessKeyId":"ASIASHORTLIVED%06d","SecretAccessKey":"s%d","SessionToken":"t%d","Expiration":"%s"}' $n $n $n $exp
`), 0o755); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "config")
	os.WriteFile(config, []byte("[profile short]\ncredential_process = "+script+"\nregion = us-east-1\n"), 0o600)

	const margin = 10 * time.Second
	a := startAgent(t, agentOptions{args: []string{"--refresh-margin", margin.String()}})
	a.mustCLI([]string{"AWS_CONFIG_FILE=" + config}, "load", "--profile", "short")
	vars := exports(t, a.mustCLI(nil, "env"))
	url := e2e.Getenv(vars, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
	tokenFile := e2e.Getenv(vars, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")

	// Refreshes come about 20 s apart (30 s keys, 10 s margin): three
	// keys take some 40 s, and a loaded machine gets more time.
	keys := map[string]bool{}
	deadline := time.Now().Add(75 * time.Second)
	for time.Now().Before(deadline) && len(keys) < 3 {
		// Taken before the request: the agent served no earlier, so
		// exp-now bounds from above what was left when it did.
		now := time.Now()
		code, body := get(t, url, tokenFile, nil)
		if code != 200 {
			t.Fatalf("status %d: %s", code, body)
		}
		var c struct{ AccessKeyId, Expiration string }
		if err := json.Unmarshal([]byte(body), &c); err != nil {
			t.Fatal(err)
		}
		exp, err := time.Parse(time.RFC3339, c.Expiration)
		if err != nil {
			t.Fatalf("Expiration %q: %v", c.Expiration, err)
		}
		// One second of slack: the script's expiry has second precision.
		if left := exp.Sub(now); left < margin-time.Second {
			t.Fatalf("served %s with %s left, under the %s margin", c.AccessKeyId, left.Round(time.Millisecond), margin)
		}
		keys[c.AccessKeyId] = true
		time.Sleep(250 * time.Millisecond)
	}
	if len(keys) < 3 {
		t.Errorf("saw %d distinct keys in 75 s of 30-second credentials; the agent did not refresh on its own", len(keys))
	}
	if !strings.Contains(a.proc.Stderr(), "refresh") {
		t.Errorf("no refresh in the agent's log:\n%s", a.proc.Stderr())
	}
}

// TestBadInputThenStillServing sends the endpoint of the real binary each
// kind of bad request; each gets a JSON error, and a good request still
// works afterwards.
func TestBadInputThenStillServing(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	os.WriteFile(config, []byte("[profile static]\naws_access_key_id = AKIASTATICSTATIC0001\naws_secret_access_key = s\nregion = us-east-1\n"), 0o600)
	a := startAgent(t, agentOptions{})
	a.mustCLI([]string{"AWS_CONFIG_FILE=" + config}, "load", "--profile", "static")
	vars := exports(t, a.mustCLI(nil, "env"))
	url := e2e.Getenv(vars, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
	tokenFile := e2e.Getenv(vars, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
	tok, _ := os.ReadFile(tokenFile)

	cases := []struct {
		name   string
		path   string
		header http.Header
		want   int
	}{
		{"no token", "", nil, 401},
		{"wrong token", "", http.Header{"Authorization": {"not-the-token"}}, 401},
		// A newline cannot cross HTTP/1.1 inside a header value (the agent's
		// own unit tests drive the handler with one); stray whitespace can.
		{"token with stray whitespace", "", http.Header{"Authorization": {"Bearer  " + string(tok)}}, 401},
		{"10 KB path", "slot/" + strings.Repeat("a", 10<<10), http.Header{"Authorization": {string(tok)}}, 414},
		{"huge header", "", http.Header{"Authorization": {string(tok)}, "X-Junk": {strings.Repeat("j", 100<<10)}}, 431},
		{"evil Origin", "", http.Header{"Authorization": {string(tok)}, "Origin": {"https://evil.example"}}, 403},
		{"evil Host", "", http.Header{"Authorization": {string(tok)}, "Host": {"evil.example:4144"}}, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(context.Background(), "GET", url+c.path, nil)
			for k, v := range c.header {
				if k == "Host" {
					req.Host = v[0]
					continue
				}
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct{ Code, Message string }
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if resp.StatusCode != c.want || resp.Header.Get("Content-Type") != "application/json" || e.Code == "" || e.Message == "" {
				t.Errorf("got %d %q %+v, want %d application/json with code and message", resp.StatusCode, resp.Header.Get("Content-Type"), e, c.want)
			}
			if strings.Contains(e.Message, string(tok)) {
				t.Errorf("error message echoes the token")
			}
			if code, body := get(t, url, tokenFile, nil); code != 200 || !strings.Contains(body, "AKIASTATICSTATIC0001") {
				t.Errorf("good request afterwards: %d %s", code, body)
			}
		})
	}
	if strings.Contains(a.proc.Output(), string(tok)) {
		t.Errorf("the agent logged its token")
	}

	// What a user meets in practice: a token file ending in a newline. The
	// SDKs refuse it before sending (docs/sdk-compatibility.md), which is why the agent writes
	// its token file without one.
	t.Run("token file with trailing newline", func(t *testing.T) {
		nl := filepath.Join(dir, "token-nl")
		os.WriteFile(nl, append(tok, '\n'), 0o600)
		env := e2e.MergeEnv(e2e.CleanEnv(t), "AWS_CONTAINER_CREDENTIALS_FULL_URI="+url, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="+nl)
		arn, err := e2e.GoSDK(t, env)
		if err == nil {
			t.Fatalf("aws-sdk-go-v2 accepted a token file with a trailing newline (got %s); docs/sdk-compatibility.md says every SDK refuses it", arn)
		}
		if !strings.Contains(err.Error(), "authorization token contains invalid newline") {
			t.Errorf("failed for another reason than the newline: %v", err)
		}
		if code, _ := get(t, url, tokenFile, nil); code != 200 {
			t.Errorf("agent not serving afterwards: %d", code)
		}
	})
}

// TestNotRunning: every command says the agent is not running and how to
// start it.
func TestNotRunning(t *testing.T) {
	env := e2e.CleanEnv(t, "AWS_SSO_AGENT_HOME="+t.TempDir())
	for _, args := range [][]string{{"load", "--profile", "p"}, {"unload"}, {"list"}, {"profile"}, {"status"}, {"env"}} {
		out, errOut, code := runCLI(t, env, args...)
		if code != 1 || out != "" || !strings.Contains(errOut, "error: the agent is not running") || !strings.Contains(errOut, "hint: start it with: aws-sso-agent serve") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

// TestStoresKeepTheCA restarts the agent on each store and expects the same
// local CA: its key really went into the store and came back. The keyring
// case runs against a real Secret Service (gnome-keyring on a private
// session bus, see scripts/with-secret-service).
func TestStoresKeepTheCA(t *testing.T) {
	for _, store := range []string{"file", "keyring"} {
		t.Run(store, func(t *testing.T) {
			if store == "keyring" && os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
				e2e.PeerMissing(t, "no Secret Service: run under scripts/with-secret-service")
			}
			a := startAgent(t, agentOptions{store: store})
			first := a.status()["ca_fingerprint"]
			if err := a.proc.Stop(); err != nil {
				t.Fatalf("stop: %v\n%s", err, a.proc.Output())
			}
			if _, err := os.Stat(filepath.Join(a.home, "run", "token")); !os.IsNotExist(err) {
				t.Errorf("token file left behind after SIGTERM: %v", err)
			}
			b := startAgent(t, agentOptions{store: store, home: a.home})
			if second := b.status()["ca_fingerprint"]; second != first || first == "" {
				t.Errorf("CA after restart: %v, want %v", second, first)
			}
			if store == "keyring" {
				// Leave the keyring as we found it for the next run.
				t.Cleanup(func() {
					exec.Command("secret-tool", "clear", "service", "aws-sso-agent").Run()
				})
			}
		})
	}
	t.Run("wrong passphrase", func(t *testing.T) {
		a := startAgent(t, agentOptions{})
		a.proc.Stop()
		bad := filepath.Join(a.home, "bad")
		os.WriteFile(bad, []byte("wrong"), 0o600)
		_, errOut, code := runCLI(t, a.env, "serve", "--port", "0", "--store", "file", "--passphrase-file", bad)
		if code != 1 || !strings.Contains(errOut, "wrong passphrase") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
}

// TestStopsOnSIGINT: the agent shuts down cleanly on Ctrl-C too.
func TestStopsOnSIGINT(t *testing.T) {
	a := startAgent(t, agentOptions{})
	syscall.Kill(a.proc.PID(), syscall.SIGINT)
	select {
	case <-a.proc.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop on SIGINT")
	}
	if code := a.proc.ExitCode(); code != 0 {
		t.Errorf("exit status %d after SIGINT\n%s", code, a.proc.Output())
	}
}
