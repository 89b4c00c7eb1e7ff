//go:build !windows

package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// The tests here run real shell scripts as a profile's credential_process,
// the way a user's config names one.

// processTestCreds is a credentials document valid for an hour.
func processTestCreds(key string) string {
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	return fmt.Sprintf(`{"Version":1,"AccessKeyId":"%s","SecretAccessKey":"proc-secret","SessionToken":"proc-token","Expiration":"%s"}`, key, exp)
}

// processTestSpec writes body as a script and a config whose profile
// proc runs it as its credential_process. The script runs as "$0", so
// "$0.pid" and the like are files beside it.
func processTestSpec(t *testing.T, body string) (SourceSpec, string) {
	t.Helper()
	sourceIsolate(t)
	script := sourceProcessScript(t, body)
	return sourceFiles(t, "proc", "[profile proc]\ncredential_process = "+script+"\n", ""), script
}

// processTestOnce is a script that prints credentials on its first run
// and runs then on every later one.
func processTestOnce(then string) string {
	return `if [ ! -e "$0.ran" ]; then
  : > "$0.ran"
  printf '%s' '` + processTestCreds("AKIAFIRST") + `'
  exit 0
fi
` + then
}

// processTestLoad loads spec into slot "proc" and fails the test if that
// takes longer than within.
func processTestLoad(t *testing.T, s *Slots, spec SourceSpec, within time.Duration) (SlotStatus, error) {
	t.Helper()
	type result struct {
		st  SlotStatus
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := s.LoadSource(context.Background(), "proc", spec)
		done <- result{st, err}
	}()
	select {
	case r := <-done:
		return r.st, r.err
	case <-time.After(within):
		t.Fatalf("load still running after %s", within)
		return SlotStatus{}, nil
	}
}

// processTestGone waits for the process whose pid the script wrote to
// file to be gone.
func processTestGone(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the script wrote no pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		// Dead but not yet reaped by init counts as gone (Linux).
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if _, after, ok := bytes.Cut(stat, []byte(") ")); ok && bytes.HasPrefix(after, []byte("Z")) {
				return
			}
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the source's child %d still runs", pid)
		}
	}
}

// A hanging source whose child holds stdout open: the timeout kills the
// whole group, and load says so at once.
func TestProcessHangingSourceKilledAsGroup(t *testing.T) {
	spec, script := processTestSpec(t, `sleep 600 & echo $! > "$0.pid"; sleep 600`)
	s := NewSlots(SlotsConfig{SourceTimeout: time.Second})
	defer s.Close()
	start := time.Now()
	_, err := processTestLoad(t, s, spec, 10*time.Second)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("load took %s with a 1 s source timeout", took)
	}
	if err == nil || !strings.Contains(err.Error(), "credential_process timed out after 1 s") || !errors.Is(err, ErrSourceFailed) {
		t.Errorf("load: got %v, want a source failure saying credential_process timed out after 1 s", err)
	}
	processTestGone(t, script+".pid")
}

// Valid JSON and then no exit: like the SDKs, the agent uses the output
// only once the process exits, so this is a timeout, and says so.
func TestProcessJSONButNoExit(t *testing.T) {
	spec, script := processTestSpec(t, `printf '%s' '`+processTestCreds("AKIAHANG")+`'
sleep 600 & echo $! > "$0.pid"; wait`)
	s := NewSlots(SlotsConfig{SourceTimeout: time.Second})
	defer s.Close()
	_, err := processTestLoad(t, s, spec, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "timed out after 1 s") || !strings.Contains(err.Error(), "did not exit") {
		t.Errorf("load: got %v, want a timeout that says the process printed but did not exit", err)
	}
	processTestGone(t, script+".pid")
}

// A source that prints its JSON and exits, leaving a child (a cache
// daemon, say) that holds stdout open: the output is complete, and is
// used once the pipes are cut a moment later.
func TestProcessExitLeavingChild(t *testing.T) {
	spec, script := processTestSpec(t, `printf '%s' '`+processTestCreds("AKIALEFT")+`'
sleep 600 & echo $! > "$0.pid"`)
	t.Cleanup(func() {
		if b, err := os.ReadFile(script + ".pid"); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	s := NewSlots(SlotsConfig{})
	defer s.Close()
	if _, err := processTestLoad(t, s, spec, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Credentials(context.Background(), "proc"); err != nil || c.AccessKeyID != "AKIALEFT" {
		t.Errorf("got %s, %v; want AKIALEFT", c.AccessKeyID, err)
	}
}

// processTestLogger logs at debug level into w, which the test reads.
func processTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// stderr with a secret in it: the person loading sees the first 512
// bytes, escaped, in the hint; the log sees only how long it was, on a
// failed load and on a failed refresh.
func TestProcessStderrNotLogged(t *testing.T) {
	const secret = "SECRET-TOKEN-0123456789"
	noise := "debug: token " + secret + "\n\x1b[31mred\r" + strings.Repeat("x", 2000)
	failing := fmt.Sprintf("printf '%%s' '%s' >&2\nexit 3\n", noise)
	spec, _ := processTestSpec(t, processTestOnce(failing))
	var log e2e.LockedBuffer
	offset := atomic.Int64{}
	s := NewSlots(SlotsConfig{
		Logger: processTestLogger(&log),
		Now:    func() time.Time { return time.Now().Add(time.Duration(offset.Load())) },
	})
	defer s.Close()
	path := startControl(t, &ControlServer{Slots: s, Logger: processTestLogger(&log)})
	c := ControlClient{Path: path}
	load := &LoadRequest{Slot: "proc", Profile: spec.Profile, ConfigFile: spec.ConfigFile, CredentialsFile: spec.CredentialsFile}

	// The first run succeeds; then the source fails, noisily.
	if _, err := c.Do(context.Background(), ControlRequest{Op: OpLoad, Load: load}); err != nil {
		t.Fatal(err)
	}
	offset.Store(int64(50 * time.Minute))
	_, err := s.Credentials(context.Background(), "proc")
	var ue *UnavailableError
	if !errors.As(err, &ue) || !strings.Contains(ue.Reason, "exited with status 3") {
		t.Fatalf("refresh: got %v, want an unavailable error naming the exit status", err)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(ue.Hint, secret) {
		t.Errorf("the endpoint's refusal quotes stderr: %v, hint %q", err, ue.Hint)
	}

	_, err = c.Do(context.Background(), ControlRequest{Op: OpLoad, Load: load})
	if err == nil {
		t.Fatal("load of a failing source succeeded")
	}
	wantLen := fmt.Sprintf("wrote %d bytes on stderr", len(noise))
	if !strings.Contains(err.Error(), "exited with status 3") || !strings.Contains(err.Error(), wantLen) {
		t.Errorf("load: got %q, want the exit status and %q", err, wantLen)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("the error message quotes stderr: %q", err)
	}
	hint := ErrorHint(err)
	if !strings.Contains(hint, `"debug: token `+secret+`\n\x1b[31mred\r`) {
		t.Errorf("hint %q: want the start of stderr, escaped", hint)
	}
	if strings.ContainsAny(hint, "\x1b\r") || strings.Count(hint, "x") > 512 || !strings.Contains(hint, "\"...\n") {
		t.Errorf("hint %q: want at most 512 bytes of stderr, escaped, marked as cut", hint)
	}
	if !strings.Contains(hint, "by hand") {
		t.Errorf("hint %q: want the source's own hint too", hint)
	}

	logged := log.String()
	if strings.Contains(logged, secret) || strings.Contains(logged, "xxxx") {
		t.Errorf("the log quotes stderr:\n%s", logged)
	}
	if !strings.Contains(logged, wantLen) || !strings.Contains(logged, "slot refresh failed") {
		t.Errorf("the log should say how much stderr there was, on load and refresh:\n%s", logged)
	}
}

// 300 MB on stdout: the agent stops the process at 1 MiB, with an error
// that says so, and never holds more than that.
func TestProcessOutputCapped(t *testing.T) {
	spec, _ := processTestSpec(t, `head -c 300000000 /dev/zero`)
	s := NewSlots(SlotsConfig{})
	defer s.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := processTestLoad(t, s, spec, 20*time.Second)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "printed more than 1048576 bytes on stdout") {
		t.Errorf("load: got %v, want the output cap's error", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("the load allocated %d MB for a 1 MiB cap", alloc>>20)
	}
}

// A source that reads stdin gets end of file at once, even when the
// agent's own stdin is a terminal or a pipe that never ends.
func TestProcessStdinIsNull(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	oldStdin := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = oldStdin }()

	spec, _ := processTestSpec(t, `if read -r line; then echo "read a line" >&2; exit 1; fi
printf '%s' '`+processTestCreds("AKIASTDIN")+`'`)
	s := NewSlots(SlotsConfig{})
	defer s.Close()
	start := time.Now()
	if _, err := processTestLoad(t, s, spec, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("load took %s: the source waited on stdin", took)
	}
	c, err := s.Credentials(context.Background(), "proc")
	if err != nil || c.AccessKeyID != "AKIASTDIN" {
		t.Errorf("got %+v, %v; want AKIASTDIN", c.AccessKeyID, err)
	}
}

// processTestEndpoint serves slots on a plain HTTP endpoint and returns
// its URL and token.
func processTestEndpoint(t *testing.T, slots *Slots) (string, string) {
	t.Helper()
	tokens := NewTokens()
	token, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	tokens.Add(token, Grant{})
	e, err := NewEndpoint(EndpointConfig{Source: slots, Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	return "http://" + l.Addr().String() + "/slot/proc", token
}

// processTestGet fetches url and fails the test if no answer comes
// within the given time.
func processTestGet(t *testing.T, url, token string, within time.Duration) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", token)
	c := &http.Client{Timeout: within}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// A request that finds the credentials inside the margin while the
// source hangs gets a JSON 503 naming the source and its timeout, in
// time: at the source's timeout, or at the request wait when the source
// timeout is longer.
func TestProcessRequestNeverOutwaitsEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name          string
		sourceTimeout time.Duration
		requestWait   time.Duration
		want          []string
	}{
		{"source times out", time.Second, 0, []string{"credential_process timed out after 1 s", "profile proc"}},
		{"request wait ends first", time.Minute, time.Second, []string{"profile proc (credential_process) has not answered in 1 s (source timeout 60 s)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, script := processTestSpec(t, processTestOnce(`sleep 600 & echo $! > "$0.pid"; sleep 600`))
			offset := atomic.Int64{}
			s := NewSlots(SlotsConfig{
				SourceTimeout: tc.sourceTimeout,
				RequestWait:   tc.requestWait,
				Now:           func() time.Time { return time.Now().Add(time.Duration(offset.Load())) },
			})
			defer s.Close()
			if _, err := processTestLoad(t, s, spec, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			url, token := processTestEndpoint(t, s)
			if status, body := processTestGet(t, url, token, 10*time.Second); status != 200 {
				t.Fatalf("fresh credentials: %d %s", status, body)
			}

			offset.Store(int64(50 * time.Minute)) // inside the margin
			start := time.Now()
			status, body := processTestGet(t, url, token, 10*time.Second)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("the request waited %s", took)
			}
			var e struct{ Code, Message string }
			if status != http.StatusServiceUnavailable || json.Unmarshal([]byte(body), &e) != nil || e.Code != "credentials_unavailable" {
				t.Fatalf("got %d %s, want a JSON 503 credentials_unavailable", status, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(e.Message, w) {
					t.Errorf("message %q: want %q", e.Message, w)
				}
			}
			s.Close() // stops the refresh still running in the second case
			processTestGone(t, script+".pid")
		})
	}
}

// The whole agent, as `serve --source-timeout 1s` runs it: load of a
// hanging credential_process answers with the timeout, not a closed
// connection.
func TestServerSourceTimeoutLoad(t *testing.T) {
	spec, _ := processTestSpec(t, `sleep 600 & sleep 600`)
	root := t.TempDir()
	d := Dirs{Config: filepath.Join(root, "config"), Runtime: filepath.Join(root, "run")}
	st := store.NewMemory()
	srv, err := NewServer(ServerConfig{
		Dirs:          d,
		Store:         st,
		Public:        &public.Public{Store: st, Dir: filepath.Join(d.Config, "public")},
		IP:            net.IPv4(127, 0, 0, 1),
		SourceTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the agent did not stop: a load still runs")
		}
	}()

	loadCtx, loadCancel := context.WithTimeout(ctx, 10*time.Second)
	defer loadCancel()
	_, err = ControlClient{Path: d.ControlSocket()}.Do(loadCtx, ControlRequest{Op: OpLoad, Load: &LoadRequest{
		Profile: "proc", ConfigFile: spec.ConfigFile, CredentialsFile: spec.CredentialsFile}})
	if err == nil || !strings.Contains(err.Error(), "credential_process timed out after 1 s") || !errors.Is(err, ErrSourceFailed) {
		t.Errorf("load: got %v, want a source failure saying credential_process timed out after 1 s", err)
	}
}

func TestServerSourceTimeoutRefused(t *testing.T) {
	root := t.TempDir()
	_, err := NewServer(ServerConfig{
		Dirs:          Dirs{Config: filepath.Join(root, "config"), Runtime: filepath.Join(root, "run")},
		Store:         store.NewMemory(),
		SourceTimeout: MaxSourceTimeout + time.Second,
	})
	if err == nil {
		t.Error("NewServer took a source timeout over MaxSourceTimeout")
	}
}

// The control socket's deadline for a load leaves time for the source's
// timeout error, at every source timeout an agent accepts.
func TestLoadTimeoutCoversSourceTimeout(t *testing.T) {
	for _, d := range []time.Duration{time.Second, DefaultSourceTimeout, MaxSourceTimeout} {
		if got := LoadTimeout(d); got < d+processWaitDelay+time.Second {
			t.Errorf("LoadTimeout(%s) = %s: no room past the process's timeout and pipe grace", d, got)
		}
	}
}

func TestProcessStderrExcerpt(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"", ""},
		{"no credentials\n", `"no credentials\n"`},
		{"\x1b]0;title\a", `"\x1b]0;title\a"`},
		{strings.Repeat("é", 300), strconv.Quote(strings.Repeat("é", 256)) + "..."},
	} {
		var w processStderr
		io.WriteString(&w, tc.in)
		if got := w.excerpt(); got != tc.want {
			t.Errorf("excerpt of %q: got %s, want %s", tc.in, got, tc.want)
		}
		if w.n != len(tc.in) {
			t.Errorf("count of %q: got %d", tc.in, w.n)
		}
	}
}

// A credential_process at the root of a role_arn chain is run by the
// agent's own provider too (no stdin: a line waiting there would make
// the script fail), and its keys sign the AssumeRole.
func TestResolveSourceProcessRoleChainMoto(t *testing.T) {
	motoURL := sourceStartMoto(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	io.WriteString(w, "a line the process must not see\n")
	w.Close()
	oldStdin := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = oldStdin }()

	sourceIsolate(t)
	script := sourceProcessScript(t, `if read -r line; then exit 9; fi
printf '{"Version":1,"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}'`)
	const roleARN = "arn:aws:iam::123456789012:role/agent-proc"
	spec := sourceFiles(t, "chain", fmt.Sprintf(`[profile base]
credential_process = %s
[profile chain]
role_arn = %s
source_profile = base
role_session_name = agent-proc-session
region = us-east-1
services = moto
[services moto]
sts =
  endpoint_url = %s
`, script, roleARN, motoURL), "")
	s := NewSlots(SlotsConfig{SourceTimeout: 10 * time.Second})
	defer s.Close()
	if _, err := s.LoadSource(context.Background(), "chain", spec); err != nil {
		t.Fatal(err)
	}
	c, err := s.Credentials(context.Background(), "chain")
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID == "AKIAIOSFODNN7EXAMPLE" || c.SessionToken == "" || c.RoleARN != roleARN {
		t.Errorf("served key %s role %s: want the assumed role's credentials", c.AccessKeyID, c.RoleARN)
	}
}
