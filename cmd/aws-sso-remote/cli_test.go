package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/fakeagent"
	"github.com/aws-sso-agent/aws-sso-agent/remote"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// testCreds are what the fake agent serves.
var testCreds = fakeagent.TestCredentials

var sharedCA *fakeagent.CA

// fixture is a fake agent (or squatter) and a session file for its port,
// in a fresh helper directory.
type fixture struct {
	root   string
	sess   fakeagent.Session
	server *fakeagent.Server
	roots  []byte // what systemRoots returns
}

func newFixture(t testing.TB, mod func(cfg *fakeagent.Config, s *fakeagent.Session)) *fixture {
	t.Helper()
	if sharedCA == nil {
		sharedCA = fakeagent.NewCA(t)
	}
	s := fakeagent.NewSession(t, sharedCA, 0)
	cfg := s.Config(t, sharedCA, map[string]wire.Credentials{"": testCreds})
	if mod != nil {
		mod(&cfg, &s)
	}
	srv := fakeagent.Start(t, cfg)
	s.Port = srv.Port
	root := filepath.Join(t.TempDir(), ".aws-sso-agent")
	s.Write(t, root)
	return &fixture{root: root, sess: s, server: srv, roots: []byte("# system roots\n")}
}

// run runs the CLI in process against the fixture; the ancestry matches
// the fixture's session.
func (f *fixture) run(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{
		stdout: &out,
		stderr: &errb,
		getenv: func(string) string { return "" },
		finder: &remote.Finder{
			Dir:       f.root,
			Getenv:    func(string) string { return "" },
			Ancestors: func() ([]int, error) { return []int{f.sess.SSHDPID}, nil },
		},
		systemRoots: func(func(string) string, string) ([]byte, string, error) { return f.roots, "test", nil },
		timeout:     5 * time.Second,
	}
	code = c.run(args)
	return out.String(), errb.String(), code
}

func (f *fixture) sessionDir() string { return filepath.Join(f.root, "sessions", f.sess.ID) }

// evalSh evaluates script in shell, with the wire.OverridingVars() variables set
// beforehand, and returns the environment it leaves, from `env -0`.
func evalSh(t *testing.T, shell, script string) map[string]string {
	t.Helper()
	path, err := exec.LookPath(shell)
	if err != nil {
		t.Skipf("%s is not installed: %v", shell, err)
	}
	cmd := exec.Command(path, "-c", `eval "$EXPORTS" && env -0`)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "EXPORTS=" + script}
	for _, n := range wire.OverridingVars() {
		cmd.Env = append(cmd.Env, n+"=stale")
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: eval failed: %v", shell, err)
	}
	m := map[string]string{}
	for _, kv := range strings.Split(string(out), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func TestEnvEval(t *testing.T) {
	f := newFixture(t, nil)
	out, stderr, code := f.run(t, "env")
	if code != 0 {
		t.Fatalf("got exit %d, stderr %q; want 0", code, stderr)
	}
	if stderr != "" {
		t.Errorf("got stderr %q, want none", stderr)
	}
	// The token goes out as the file and as the variable (older SDKs read
	// only the variable), never anywhere else in the exports.
	if n := strings.Count(out, f.sess.Token); n != 1 {
		t.Fatalf("the exports hold the token %d times, want once, in AWS_CONTAINER_AUTHORIZATION_TOKEN", n)
	}
	for _, shell := range []string{"sh", "bash", "dash"} {
		t.Run(shell, func(t *testing.T) {
			env := evalSh(t, shell, out)
			want := map[string]string{
				"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "http://127.0.0.1:" + itoa(f.server.Port) + "/",
				"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": filepath.Join(f.sessionDir(), "token"),
				"AWS_CONTAINER_AUTHORIZATION_TOKEN":      f.sess.Token,
			}
			for k, v := range want {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
			for _, n := range wire.OverridingVars() {
				if v, ok := env[n]; ok {
					t.Errorf("%s is still set (%q), want it unset", n, v)
				}
			}
		})
	}
	// The token file: 0600, the token exactly, no trailing newline.
	p := filepath.Join(f.sessionDir(), "token")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %04o, want 0600", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(p); string(b) != f.sess.Token {
		t.Errorf("token file holds %d bytes, want the %d-byte token without a newline", len(b), len(f.sess.Token))
	}
	// The token went out once, after the proof, on the proven connection.
	reqs := f.server.Requests()
	if len(reqs) != 2 || reqs[0].HasAuth || reqs[1].Authorization != f.sess.Token {
		t.Errorf("got requests %+v, want the proof without a token, then one GET with it", reqs)
	}
}

// TestEnvTLS follows the --tls exports with a real Go HTTPS client: the
// bundle must make the URL verify, and carry the system roots too.
func TestEnvTLS(t *testing.T) {
	f := newFixture(t, func(cfg *fakeagent.Config, _ *fakeagent.Session) {
		cfg.Creds["dev"] = testCreds
	})
	f.roots = []byte("# SYSTEM ROOTS MARKER\n")
	out, stderr, code := f.run(t, "env", "--tls", "--slot", "dev")
	if code != 0 {
		t.Fatalf("got exit %d, stderr %q", code, stderr)
	}
	env := evalSh(t, "sh", out)
	url := env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
	if want := "https://127.0.0.1:" + itoa(f.server.Port) + "/slot/dev"; url != want {
		t.Fatalf("URL %q, want %q", url, want)
	}
	bundle, _ := os.ReadFile(env["SSL_CERT_FILE"])
	ca, _ := os.ReadFile(env["NODE_EXTRA_CA_CERTS"])
	if !bytes.HasPrefix(bundle, f.roots) || !bytes.HasSuffix(bundle, f.sess.CAPEM) {
		t.Errorf("SSL_CERT_FILE holds %q, want the system roots then the CA", bundle)
	}
	if string(ca) != string(f.sess.CAPEM) {
		t.Errorf("NODE_EXTRA_CA_CERTS holds %q, want the CA alone", ca)
	}
	for _, p := range []string{env["SSL_CERT_FILE"], env["NODE_EXTRA_CA_CERTS"]} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 || filepath.Dir(p) != f.sessionDir() {
			t.Errorf("%s: %v, want a 0600 file in the session directory", p, err)
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		t.Fatal("the bundle holds no certificate")
	}
	tok, _ := os.ReadFile(env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"])
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", string(tok))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET with the exported trust: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET with the exported trust: status %d, want 200", resp.StatusCode)
	}
}

func TestEnvShells(t *testing.T) {
	f := newFixture(t, nil)
	url := "http://127.0.0.1:" + itoa(f.server.Port) + "/"
	tests := []struct{ shell, set, unset string }{
		{"sh", "export AWS_CONTAINER_CREDENTIALS_FULL_URI='" + url + "';", "unset AWS_PROFILE;"},
		{"zsh", "export AWS_CONTAINER_CREDENTIALS_FULL_URI='" + url + "';", "unset AWS_PROFILE;"},
		{"fish", "set -gx AWS_CONTAINER_CREDENTIALS_FULL_URI '" + url + "';", "set -e AWS_PROFILE;"},
		{"csh", "setenv AWS_CONTAINER_CREDENTIALS_FULL_URI '" + url + "';", "unsetenv AWS_PROFILE;"},
		{"tcsh", "setenv AWS_CONTAINER_CREDENTIALS_FULL_URI '" + url + "';", "unsetenv AWS_PROFILE;"},
	}
	for _, tt := range tests {
		out, stderr, code := f.run(t, "env", "--shell", tt.shell)
		if code != 0 || !strings.Contains(out, tt.set+"\n") || !strings.Contains(out, tt.unset+"\n") {
			t.Errorf("--shell %s: exit %d, stderr %q, got\n%s\nwant lines %q and %q", tt.shell, code, stderr, out, tt.set, tt.unset)
		}
	}
	for _, shell := range []string{"fish", "csh"} {
		t.Run("eval "+shell, func(t *testing.T) {
			out, _, _ := f.run(t, "env", "--shell", shell)
			path, err := exec.LookPath(shell)
			if err != nil {
				t.Skipf("%s is not installed: %v", shell, err)
			}
			cmd := exec.Command(path, "-c", out+"printenv AWS_CONTAINER_CREDENTIALS_FULL_URI")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			got, err := cmd.Output()
			if err != nil || strings.TrimSpace(string(got)) != url {
				t.Errorf("%s: got %q, %v; want %q", shell, got, err, url)
			}
		})
	}
}

func TestQuoting(t *testing.T) {
	// Values with every awkward character must come back unchanged.
	value := `a'b"c\d$e!f` + "`g` h*"
	for _, shell := range []string{"sh", "bash", "fish", "csh"} {
		sh, _ := wire.ParseShell(shell)
		b, err := sh.Exports([]wire.Var{{Name: "V", Value: value}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		path, err := exec.LookPath(shell)
		if err != nil {
			t.Logf("%s is not installed, syntax not evaluated: %s", shell, b)
			continue
		}
		cmd := exec.Command(path, "-c", b+"printenv V")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		got, err := cmd.Output()
		if err != nil || strings.TrimSuffix(string(got), "\n") != value {
			t.Errorf("%s: got %q, %v; want %q", shell, got, err, value)
		}
	}
	if _, err := (wire.Shell{}).Exports([]wire.Var{{Name: "V", Value: "a\nb"}}, nil); err == nil {
		t.Error("a newline in a value: got no error, want one")
	}
}

// TestEnvRefusesSquatters is TestSquatters through the CLI: no export on
// stdout, the reason and a hint on stderr, the documented exit code, and
// no token at the squatter.
func TestEnvRefusesSquatters(t *testing.T) {
	other := fakeagent.NewCA(t)
	tests := []struct {
		name string
		mod  func(cfg *fakeagent.Config, s *fakeagent.Session)
		code int
	}{
		{"plain HTTP", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.PlainHTTP = true }, 4},
		{"TLS 1.2 only", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.MaxVersion = tls.VersionTLS12 }, 4},
		{"self-signed", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.Cert = fakeagent.SelfSigned(t) }, 5},
		{"another CA", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.Cert = other.Leaf(t) }, 5},
		{"another proof key", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.ProofKey = fakeagent.Secret(t, 32) }, 6},
		{"another session", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.SessionID = fakeagent.NewSessionID() }, 6},
		{"revoked token", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.Token = fakeagent.Secret(t, 32) }, 7},
	}
	for _, tt := range tests {
		for _, cmd := range [][]string{{"env"}, {"env", "--tls"}, {"credential-process"}, {"check"}} {
			t.Run(tt.name+"/"+strings.Join(cmd, " "), func(t *testing.T) {
				f := newFixture(t, tt.mod)
				out, stderr, code := f.run(t, cmd...)
				if code != tt.code {
					t.Fatalf("got exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
				}
				if cmd[0] != "check" && out != "" {
					t.Fatalf("got stdout %q, want nothing", out)
				}
				if !strings.Contains(stderr, "aws-sso-remote: error: ") || !strings.Contains(stderr, "\nhint: ") {
					t.Errorf("got stderr %q, want an error and a hint", stderr)
				}
				if strings.Contains(out+stderr, f.sess.Token) {
					t.Error("the output shows the token")
				}
				if tt.code != 7 && f.server.SawToken(f.sess.Token) {
					t.Fatalf("the squatter saw the token: %+v", f.server.Requests())
				}
				if _, err := os.Stat(filepath.Join(f.sessionDir(), "token")); err == nil {
					t.Error("a token file was written for a refused port")
				}
			})
		}
	}
}

func TestEnvNothingListening(t *testing.T) {
	f := newFixture(t, nil)
	f.server.Close()
	f.sess.Port = e2e.FreePort(t)
	f.sess.Write(t, f.root)
	out, stderr, code := f.run(t, "env")
	if code != 4 || out != "" || !strings.Contains(stderr, "nothing is listening") {
		t.Fatalf("got exit %d, stdout %q, stderr %q; want 4, nothing, nothing is listening", code, out, stderr)
	}
}

func TestEnvEmptySlotWarns(t *testing.T) {
	f := newFixture(t, func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.Creds = nil })
	out, stderr, code := f.run(t, "env")
	if code != 0 || !strings.Contains(out, "AWS_CONTAINER_CREDENTIALS_FULL_URI") {
		t.Fatalf("got exit %d, stdout %q; want 0 with the exports", code, out)
	}
	if !strings.Contains(stderr, "warning:") || !strings.Contains(stderr, "no_credentials") || !strings.Contains(stderr, "hint:") {
		t.Errorf("got stderr %q, want a warning saying nothing is loaded, and a hint", stderr)
	}
	// credential-process has nothing to print: it fails.
	out, _, code = f.run(t, "credential-process")
	if code != 7 || out != "" {
		t.Errorf("credential-process: got exit %d, stdout %q; want 7 and nothing", code, out)
	}
}

func TestSlotNotGranted(t *testing.T) {
	f := newFixture(t, nil)
	for _, cmd := range [][]string{{"env", "--slot", "prod"}, {"credential-process", "--slot=prod"}} {
		out, stderr, code := f.run(t, cmd...)
		if code != 7 || out != "" || !strings.Contains(stderr, "not granted") {
			t.Errorf("%v: got exit %d, stdout %q, stderr %q; want 7 and not granted", cmd, code, out, stderr)
		}
	}
	if len(f.server.Requests()) != 0 {
		t.Error("the helper connected for a slot the session file does not grant")
	}
}

func TestNoSession(t *testing.T) {
	f := newFixture(t, nil)
	f.root = filepath.Join(t.TempDir(), "nothing")
	for _, cmd := range []string{"env", "check", "credential-process"} {
		out, stderr, code := f.run(t, cmd)
		if code != 3 || (cmd != "check" && out != "") || !strings.Contains(stderr, "hint: ") {
			t.Errorf("%s: got exit %d, stdout %q, stderr %q; want 3, a hint", cmd, code, out, stderr)
		}
	}
	_, stderr, code := f.run(t, "env", "--session", f.sess.ID)
	if code != 3 {
		t.Errorf("--session of a missing session: got exit %d (%s), want 3", code, stderr)
	}
}

func TestSessionFlag(t *testing.T) {
	f := newFixture(t, nil)
	g := newFixture(t, nil)
	// Put g's session next to f's; f's is the ancestor, --session picks g.
	g.sess.Write(t, f.root)
	out, stderr, code := f.run(t, "env", "--session", g.sess.ID)
	if code != 0 || !strings.Contains(out, itoa(g.server.Port)) {
		t.Fatalf("got exit %d (%s), exports %q; want g's port %d", code, stderr, out, g.server.Port)
	}
	if len(f.server.Requests()) != 0 {
		t.Error("the ancestor's agent was contacted, want only the named session's")
	}
}

func TestCheck(t *testing.T) {
	f := newFixture(t, nil)
	out, stderr, code := f.run(t, "check", "--json")
	if code != 0 {
		t.Fatalf("got exit %d, stderr %q", code, stderr)
	}
	var r checkReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("check --json: %v\n%s", err, out)
	}
	b, _ := f.sess.Encode()
	s, _ := wire.ParseSession(b)
	want := checkReport{Session: f.sess.ID, Port: f.server.Port, Host: f.sess.Host, CAFingerprint: s.CAFingerprint(),
		Slots: []string{"default", "dev"}, Result: "ok"}
	if !equalReport(r, want) {
		t.Errorf("got %+v, want %+v", r, want)
	}
	out, _, code = f.run(t, "check")
	if code != 0 || !strings.Contains(out, "result   ok") || !strings.Contains(out, s.CAFingerprint()) {
		t.Errorf("check: exit %d, got\n%s", code, out)
	}

	bad := newFixture(t, func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.ProofKey = fakeagent.Secret(t, 32) })
	out, _, code = bad.run(t, "check", "--json")
	json.Unmarshal([]byte(out), &r)
	if code != 6 || r.ExitCode != 6 || r.Result != "proof_failed" || r.Error == "" || r.Hint == "" || r.Session != bad.sess.ID {
		t.Errorf("check --json of a proof failure: exit %d, got %+v", code, r)
	}
}

func equalReport(a, b checkReport) bool {
	return a.Session == b.Session && a.Port == b.Port && a.Host == b.Host && a.CAFingerprint == b.CAFingerprint &&
		strings.Join(a.Slots, ",") == strings.Join(b.Slots, ",") && a.Result == b.Result && a.ExitCode == b.ExitCode &&
		a.Error == b.Error
}

func TestCredentialProcess(t *testing.T) {
	f := newFixture(t, nil)
	out, stderr, code := f.run(t, "credential-process")
	if code != 0 {
		t.Fatalf("got exit %d, stderr %q", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Version": float64(1), "AccessKeyId": testCreds.AccessKeyID, "SecretAccessKey": testCreds.SecretAccessKey,
		"SessionToken": testCreds.SessionToken, "Expiration": "2030-01-02T03:04:05Z", "AccountId": testCreds.AccountID,
	}
	if len(got) != len(want) {
		t.Errorf("got %d fields %v, want %v", len(got), got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestUsage(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{nil, 2, ""},
		{[]string{"frobnicate"}, 2, ""},
		{[]string{"env", "--shell", "pwsh"}, 2, ""},
		{[]string{"env", "extra"}, 2, ""},
		{[]string{"env", "--nope"}, 2, ""},
		{[]string{"check", "--session"}, 2, ""},
		{[]string{"help"}, 0, "Exit codes:"},
		{[]string{"--help"}, 0, "7  the agent refused"},
		{[]string{"env", "-h"}, 0, ""},
		{[]string{"version"}, 0, "aws-sso-remote "},
	}
	for _, tt := range tests {
		out, _, code := f.run(t, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) {
			t.Errorf("%v: got exit %d, stdout %q; want %d containing %q", tt.args, code, out, tt.code, tt.out)
		}
	}
	if len(f.server.Requests()) != 0 {
		t.Error("a usage error contacted the agent")
	}
}

// TestBinary runs the real binary: main's wiring, and the process
// ancestry walk finding the session whose sshd_pid is this test's parent.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "aws-sso-remote")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f := newFixture(t, nil)
	home := filepath.Dir(f.root)
	// A second live session that is not an ancestor: ancestry must decide.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sleeper := exec.CommandContext(ctx, "sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleeper.Wait()
	defer sleeper.Process.Kill()
	decoy := fakeagent.NewSession(t, sharedCA, 1)
	decoy.SSHDPID = sleeper.Process.Pid
	decoy.Write(t, f.root)
	cmd := exec.CommandContext(ctx, bin, "env")
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("env: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(string(out), "http://127.0.0.1:"+itoa(f.server.Port)+"/") {
		t.Fatalf("got exports %q, want the ancestor session's port %d", out, f.server.Port)
	}
}

func itoa(n int) string { return strconvItoa(n) }
