package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helperProcess())
	}
	os.Exit(Run(m))
}

// helperEnv makes the test binary act as a child process for TestProcess.
const helperEnv = "AWS_SSO_AGENT_E2E_HELPER"

// helperProcess prints a line to stdout and one to stderr, then waits for
// SIGTERM and exits 3, so tests can tell its exit from a kill.
func helperProcess() int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	fmt.Println("hello on stdout")
	fmt.Fprintln(os.Stderr, "level=INFO msg=ready addr=127.0.0.1:1")
	<-sig
	fmt.Fprintln(os.Stderr, "level=INFO msg=stopping")
	return 3
}

func TestCleanEnv(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "/machine/ca.pem")
	t.Setenv("AWS_PROFILE", "machine")
	env := CleanEnv(t, "AWS_REGION=eu-west-1", "EXTRA=1", "EXTRA=2")

	for _, name := range []string{"AWS_CA_BUNDLE", "AWS_PROFILE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"} {
		if v := Getenv(env, name); v != "" {
			t.Errorf("%s = %q leaked from the machine", name, v)
		}
	}
	tests := []struct{ name, want string }{
		{"PATH", os.Getenv("PATH")},
		{"AWS_DEFAULT_REGION", Region},
		{"AWS_REGION", "eu-west-1"},
		{"EXTRA", "2"},
		{"LANG", "C.UTF-8"},
	}
	for _, tt := range tests {
		if got := Getenv(env, tt.name); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	home := Getenv(env, "HOME")
	if home == "" || home == os.Getenv("HOME") {
		t.Errorf("HOME: got %q, want a fresh temporary directory", home)
	}
	if entries, err := os.ReadDir(home); err != nil || len(entries) != 0 {
		t.Errorf("HOME %s: got %d entries, err %v; want an empty directory", home, len(entries), err)
	}
	seen := map[string]bool{}
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if seen[name] {
			t.Errorf("%s appears twice", name)
		}
		seen[name] = true
	}
}

func TestMergeEnv(t *testing.T) {
	tests := []struct {
		env, extra, want []string
	}{
		{[]string{"A=1", "B=2"}, []string{"A=3"}, []string{"B=2", "A=3"}},
		{[]string{"A=1", "B=2"}, []string{"A"}, []string{"B=2"}},
		{[]string{"A=1"}, []string{"B=x=y"}, []string{"A=1", "B=x=y"}},
		{nil, nil, nil},
	}
	for _, tt := range tests {
		if got := MergeEnv(tt.env, tt.extra...); !slices.Equal(got, tt.want) {
			t.Errorf("MergeEnv(%q, %q): got %q, want %q", tt.env, tt.extra, got, tt.want)
		}
	}
}

func TestFindLine(t *testing.T) {
	tests := []struct {
		out, substr, want string
		ok                bool
	}{
		{"a\nready now\nb\n", "ready", "ready now", true},
		{"a\nready", "ready", "", false}, // partial line
		{"", "ready", "", false},
		{"x\ny\n", "z", "", false},
	}
	for _, tt := range tests {
		got, ok := findLine(tt.out, tt.substr)
		if got != tt.want || ok != tt.ok {
			t.Errorf("findLine(%q, %q): got %q, %v; want %q, %v", tt.out, tt.substr, got, ok, tt.want, tt.ok)
		}
	}
}

func TestProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := StartProcess(t, CleanEnv(t, helperEnv+"=1"), exe)
	line := p.WaitForOutput(t, "msg=ready", 10*time.Second)
	if want := "level=INFO msg=ready addr=127.0.0.1:1"; line != want {
		t.Errorf("WaitForOutput: got %q, want %q", line, want)
	}
	WaitFor(t, func() bool { return strings.Contains(p.Stdout(), "hello") }, 10*time.Second)
	if !p.Running() {
		t.Fatal("process exited before Stop")
	}

	err = p.Stop()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("Stop: got %v, want exit status 3", err)
	}
	if got := p.ExitCode(); got != 3 {
		t.Errorf("ExitCode: got %d, want 3", got)
	}
	if got, want := p.Stdout(), "hello on stdout\n"; got != want {
		t.Errorf("Stdout: got %q, want %q", got, want)
	}
	if got := p.Stderr(); !strings.Contains(got, "msg=stopping") || strings.Contains(got, "hello") {
		t.Errorf("Stderr: got %q, want the stopping line and no stdout", got)
	}
	if got := p.Output(); !strings.Contains(got, "hello") || !strings.Contains(got, "msg=stopping") {
		t.Errorf("Output: got %q, want both streams", got)
	}
	if err := p.Stop(); !errors.As(err, &exit) {
		t.Errorf("second Stop: got %v, want the same exit error", err)
	}
}

func TestFreePort(t *testing.T) {
	port := FreePort(t)
	if port <= 0 || port > 65535 {
		t.Fatalf("got port %d", port)
	}
}

// TestClients proves every runner against one moto (starting moto costs more
// than all the client runs of a scenario).
func TestClients(t *testing.T) {
	moto := StartMoto(t)
	t.Run("StaticKeys", func(t *testing.T) { testClientsStaticKeys(t, moto) })
	t.Run("SharedConfig", func(t *testing.T) { testClientsSharedConfig(t, moto) })
	t.Run("ContainerCredentials", func(t *testing.T) { testClientsContainerCredentials(t, moto) })
	t.Run("TokenFileWithNewline", func(t *testing.T) { testClientsTokenFileWithNewline(t, moto) })
}

// testClientsStaticKeys proves each runner reaches moto and parses the ARN,
// with nothing but static keys in the environment.
func testClientsStaticKeys(t *testing.T, moto *Moto) {
	env := CleanEnv(t, append(StaticKeysEnv(), moto.STSEnv()...)...)
	for _, c := range Clients() {
		t.Run(c.Name, func(t *testing.T) {
			got, err := c.Run(t, env)
			if err != nil {
				t.Fatal(err)
			}
			if got != StaticUserARN {
				t.Errorf("got ARN %q, want %q", got, StaticUserARN)
			}
		})
	}
}

// testClientsSharedConfig proves WriteAWSConfig's profiles assume their role
// through moto in every client, with no endpoint variable: the [services]
// section alone must keep the AssumeRole call away from the real STS.
func testClientsSharedConfig(t *testing.T, moto *Moto) {
	other := RoleProfile{Name: "other", Role: "other-role", Session: "other-session"}
	cfg := WriteAWSConfig(t, t.TempDir(), moto, DefaultRoleProfile, other)
	for _, c := range Clients() {
		t.Run(c.Name, func(t *testing.T) {
			for _, p := range cfg.Profiles {
				env := CleanEnv(t, append(cfg.Env(), "AWS_PROFILE="+p.Name)...)
				got, err := c.Run(t, env)
				if err != nil {
					t.Fatal(err)
				}
				if want := p.AssumedRoleARN(); got != want {
					t.Errorf("profile %s: got ARN %q, want %q", p.Name, got, want)
				}
			}
		})
	}
}

// containerServer is a minimal container-credentials endpoint: it serves one
// set of credentials to requests whose Authorization header is the token.
type containerServer struct {
	*httptest.Server
	token string

	mu   sync.Mutex
	auth []string // Authorization headers received, in order
}

func newContainerServer(t *testing.T, moto *Moto, role, session string) *containerServer {
	t.Helper()
	creds := moto.AssumeRole(t, role, session, time.Hour)
	body, err := json.Marshal(map[string]string{
		"AccessKeyId":     creds.AccessKeyID,
		"SecretAccessKey": creds.SecretAccessKey,
		"Token":           creds.SessionToken,
		// RFC 3339 UTC with "Z": the JavaScript SDK rejects "+00:00".
		"Expiration": creds.Expires.UTC().Format(time.RFC3339),
	})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	s := &containerServer{token: base64.RawURLEncoding.EncodeToString(key)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		s.mu.Lock()
		s.auth = append(s.auth, got)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if got != s.token {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":"InvalidToken","message":"missing or wrong token"}`)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// requests returns the Authorization headers received since the last call.
func (s *containerServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := s.auth
	s.auth = nil
	return got
}

// describe says how an Authorization header relates to the token without
// printing either.
func (s *containerServer) describe(auth string) string {
	switch auth {
	case s.token:
		return "= token"
	case s.token + "\n":
		return "= token+LF"
	case "":
		return "empty"
	}
	return fmt.Sprintf("of %d bytes, neither token nor token+LF", len(auth))
}

// env returns a clean environment pointing at the server with a token file
// holding content.
func (s *containerServer) env(t *testing.T, moto *Moto, content string) []string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return CleanEnv(t, append(moto.STSEnv(), ContainerCredentialsEnv(s.URL+"/", file)...)...)
}

// testClientsContainerCredentials is what the agent's e2e tests build on:
// every client, given only the container-credentials variables, fetches
// credentials from a plain-HTTP loopback endpoint with the token from the
// file, and uses them.
func testClientsContainerCredentials(t *testing.T, moto *Moto) {
	const role, session = "container-role", "container-session"
	srv := newContainerServer(t, moto, role, session)
	want := AssumedRoleARN(role, session)
	for _, c := range Clients() {
		t.Run(c.Name, func(t *testing.T) {
			srv.requests()
			got, err := c.Run(t, srv.env(t, moto, srv.token))
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("got ARN %q, want %q", got, want)
			}
			auth := srv.requests()
			if len(auth) == 0 {
				t.Fatal("the client never asked the endpoint: its credentials came from elsewhere")
			}
			for _, a := range auth {
				if a != srv.token {
					t.Errorf("got an Authorization header of %d bytes, want the %d-byte token as written", len(a), len(srv.token))
				}
			}
		})
	}
}

// testClientsTokenFileWithNewline records what each client does with a
// token file ending in a newline. docs/sdk-compatibility.md says all fail, and they
// do, but not alike:
//   - botocore (boto3, AWS CLI) and aws-sdk-go-v2 reject a token containing
//     CR or LF before sending anything.
//   - The JavaScript SDK's own check (validateToken) rejects only the "\r\n"
//     sequence; Node's http module then refuses the header (ERR_INVALID_CHAR),
//     and the default chain falls back to the legacy fromContainerMetadata
//     provider, which ignores the token file and asks the endpoint WITHOUT an
//     Authorization header. The endpoint must refuse that request.
//
// So the agent must write its token file without a trailing newline, and no
// client ever sends the token with one.
func testClientsTokenFileWithNewline(t *testing.T, moto *Moto) {
	srv := newContainerServer(t, moto, "container-role", "container-session")
	// unauthenticated reports whether the client falls back to a request
	// without Authorization, as measured with @aws-sdk/client-sts 3.1169.
	unauthenticated := map[string]bool{"node-sdk": true}
	for _, c := range Clients() {
		t.Run(c.Name, func(t *testing.T) {
			srv.requests()
			got, err := c.Run(t, srv.env(t, moto, srv.token+"\n"))
			if err == nil {
				t.Fatalf("got ARN %q, want the client to fail", got)
			}
			var ce *ClientError
			if !errors.As(err, &ce) || strings.TrimSpace(ce.Stderr) == "" {
				t.Errorf("got error %v, want a *ClientError carrying the client's stderr", err)
			}
			auth := srv.requests()
			for _, a := range auth {
				if a != "" {
					t.Errorf("the endpoint got Authorization %s, want none", srv.describe(a))
				}
			}
			if unauthenticated[c.Name] && len(auth) == 0 {
				t.Errorf("the endpoint got no request, want the fallback's request without Authorization")
			}
			if !unauthenticated[c.Name] && len(auth) != 0 {
				t.Errorf("the endpoint got %d requests, want none: the client should refuse the token before sending", len(auth))
			}
		})
	}
}
