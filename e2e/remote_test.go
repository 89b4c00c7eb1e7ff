package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/sshd"
)

const remotePkg = "github.com/aws-sso-agent/aws-sso-agent/cmd/aws-sso-remote"

// remoteHost is a real OpenSSH sshd on 127.0.0.1 whose throwaway user plays
// the remote host, an agent with a profile loaded, and moto as STS.
type remoteHost struct {
	agent      *agentUnderTest
	sshd       *sshd.Server
	moto       *e2e.Moto
	remoteBin  string // aws-sso-remote, runnable by the remote user
	knownHosts string
	sshConfig  string
	want       string // the ARN of the loaded role
}

func startRemote(t testing.TB, sshdOpts sshd.Options) *remoteHost {
	t.Helper()
	sshd.Require(t)
	moto := e2e.StartMoto(t)
	cfg := e2e.WriteAWSConfig(t, t.TempDir(), moto)
	a := startAgent(t, agentOptions{})
	a.mustCLI(cfg.Env(), "load", "--profile", e2e.DefaultRoleProfile.Name)
	srv := sshd.Start(t, sshdOpts)
	// The throwaway user's home is shared by every test: start clean.
	e2e.RunAs(t, srv.User, nil, "rm", "-rf", ".aws-sso-agent")
	kh, config := writeSSHConfig(t, srv)
	return &remoteHost{
		agent: a, sshd: srv, moto: moto,
		remoteBin:  e2e.SharedBinary(t, remotePkg),
		knownHosts: kh,
		sshConfig:  config,
		want:       e2e.DefaultRoleProfile.AssumedRoleARN(),
	}
}

// writeSSHConfig writes a known_hosts file with srv's key and an ssh
// config using it and srv's client key. OpenSSH does not pass -o options
// to jump hosts, so the shared settings go in a config file, as a user
// would have them.
func writeSSHConfig(t testing.TB, srv *sshd.Server) (knownHosts, config string) {
	t.Helper()
	dir := t.TempDir()
	knownHosts = filepath.Join(dir, "known_hosts")
	os.WriteFile(knownHosts, []byte(srv.KnownHostsLine()+"\n"), 0o600)
	config = filepath.Join(dir, "ssh_config")
	os.WriteFile(config, []byte(fmt.Sprintf("Host *\n  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  BatchMode yes\n  IdentitiesOnly yes\n  IdentityFile %s\n", knownHosts, srv.ClientKeyFile)), 0o600)
	return knownHosts, config
}

// sshArgs are the client flags for this host, OpenSSH style.
func (r *remoteHost) sshArgs(extra ...string) []string {
	args := []string{"ssh", "-F", r.sshConfig, "-p", strconv.Itoa(r.sshd.Port)}
	args = append(args, extra...)
	return append(args, r.sshd.User+"@127.0.0.1")
}

// ssh runs `aws-sso-agent ssh HOST -- command` and returns its output.
func (r *remoteHost) ssh(t testing.TB, command string, extra ...string) (string, string, int) {
	t.Helper()
	args := append(r.sshArgs(extra...), "--", command)
	return r.agent.cli(nil, args...)
}

// awsCLI is the remote command that runs the AWS CLI against moto.
func (r *remoteHost) awsCLI(t testing.TB) string {
	python, pythonPath := e2e.RemotePython(t)
	return fmt.Sprintf("AWS_ENDPOINT_URL_STS=%s AWS_DEFAULT_REGION=%s PYTHONPATH=%s %s -m awscli sts get-caller-identity --query Arn --output text",
		r.moto.Endpoint, e2e.Region, pythonPath, python)
}

// TestRemoteScenario: on the remote host, after
// eval "$(aws-sso-remote env)", the AWS CLI and a Go program print the
// role's ARN; so does the AWS CLI through credential_process.
func TestRemoteScenario(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	env := fmt.Sprintf(`eval "$(%s env)"`, r.remoteBin)

	t.Run("aws-cli", func(t *testing.T) {
		out, errOut, code := r.ssh(t, env+" && "+r.awsCLI(t))
		if code != 0 || strings.TrimSpace(out) != r.want {
			t.Fatalf("exit %d, stdout %q, want %q\nstderr: %s", code, out, r.want, errOut)
		}
	})
	t.Run("go-sdk", func(t *testing.T) {
		goClient := e2e.SharedBinary(t, "github.com/aws-sso-agent/aws-sso-agent/internal/e2e/cmd/stsclient")
		cmd := fmt.Sprintf("%s && AWS_ENDPOINT_URL_STS=%s AWS_REGION=%s %s", env, r.moto.Endpoint, e2e.Region, goClient)
		out, errOut, code := r.ssh(t, cmd)
		if code != 0 || !strings.Contains(out, r.want) {
			t.Fatalf("exit %d, stdout %q, want %q\nstderr: %s", code, out, r.want, errOut)
		}
	})
	t.Run("credential-process", func(t *testing.T) {
		// The remote user's config names aws-sso-remote as its
		// credential_process; no env, no exports.
		config := filepath.Join(e2e.SharedDir(t), "remote-config")
		os.WriteFile(config, []byte("[profile agent]\ncredential_process = "+r.remoteBin+" credential-process\nregion = us-east-1\n"), 0o644)
		out, errOut, code := r.ssh(t, "AWS_CONFIG_FILE="+config+" AWS_PROFILE=agent "+r.awsCLI(t))
		if code != 0 || strings.TrimSpace(out) != r.want {
			t.Fatalf("exit %d, stdout %q, want %q\nstderr: %s", code, out, r.want, errOut)
		}
	})
	t.Run("tls exports", func(t *testing.T) {
		cmd := fmt.Sprintf(`eval "$(%s env --tls)" && echo "$AWS_CONTAINER_CREDENTIALS_FULL_URI" && AWS_ENDPOINT_URL_STS=%s AWS_REGION=%s %s`,
			r.remoteBin, r.moto.Endpoint, e2e.Region, e2e.SharedBinary(t, "github.com/aws-sso-agent/aws-sso-agent/internal/e2e/cmd/stsclient"))
		out, errOut, code := r.ssh(t, cmd)
		if code != 0 || !strings.Contains(out, "https://127.0.0.1:") || !strings.Contains(out, r.want) {
			t.Fatalf("exit %d, stdout %q\nstderr: %s", code, out, errOut)
		}
	})
	// The session's files are gone once the session ends.
	res := e2e.RunAs(t, r.sshd.User, nil, "sh", "-c", "ls -A ~/.aws-sso-agent/sessions 2>/dev/null | wc -l")
	if strings.TrimSpace(res.Stdout) != "0" {
		t.Errorf("session directories left on the remote host: %s", res.Stdout)
	}
}

// TestRevokedAfterSession: a token captured on the remote host
// during the session is refused everywhere once the session has ended.
func TestRevokedAfterSession(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	out, errOut, code := r.ssh(t, "cat ~/.aws-sso-agent/sessions/*/session.json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var f struct {
		Token string
		Port  int
	}
	if err := json.Unmarshal([]byte(out), &f); err != nil || f.Token == "" {
		t.Fatalf("session file: %v: %q", err, out)
	}
	// The session ended with the ssh client: the agent no longer knows it.
	if ok, l := r.agent.noSessions(); !ok {
		t.Errorf("sessions after the client exited: %v", l)
	}
	// These two requests are refused by channel binding as well (a
	// session token is valid only through its own forward); revocation
	// itself is shown by TestSessionsRevoke and agent/sessions_test.go.
	st := r.agent.status()
	url, _ := st["url"].(string)
	tokFile := filepath.Join(t.TempDir(), "t")
	os.WriteFile(tokFile, []byte(f.Token), 0o600)
	if code, body := get(t, url, tokFile, nil); code != 401 {
		t.Errorf("captured token on the agent's port: %d %s", code, body)
	}
	// And through another live session's forward.
	cmd := fmt.Sprintf(`p=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' ~/.aws-sso-agent/sessions/*/session.json); `+
		`%s -c "import urllib.request as u; r=u.Request('http://127.0.0.1:%%s/' %% '$p', headers={'Authorization': '%s'})
try:
    u.urlopen(r); print('ACCEPTED')
except Exception as e:
    print('REFUSED', e)"`, "/usr/bin/python3", f.Token)
	out, errOut, code = r.ssh(t, cmd)
	if code != 0 || !strings.Contains(out, "REFUSED HTTP Error 401") {
		t.Errorf("captured token through a new session's forward: exit %d %q %s", code, out, errOut)
	}
}

// TestSquatters: another user holds the port, answering plain
// HTTP or TLS with a foreign certificate; aws-sso-remote refuses, prints
// no exports, and the squatter never sees a token.
func TestSquatters(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	squatter := e2e.SharedBinary(t, "github.com/aws-sso-agent/aws-sso-agent/internal/e2e/cmd/squatter")

	t.Run("fixed remote port already held", func(t *testing.T) {
		port := e2e.FreePort(t)
		sq := e2e.StartAs(t, "nobody", squatter, "-mode", "plain", "-addr", fmt.Sprintf("127.0.0.1:%d", port))
		sq.WaitForOutput(t, "LISTENING", 10*time.Second)
		out, errOut, code := r.ssh(t, r.remoteBin+" env", "--remote-port", strconv.Itoa(port))
		if code != 255 {
			t.Errorf("exit %d, want 255", code)
		}
		if out != "" {
			t.Errorf("printed %q", out)
		}
		if !strings.Contains(errOut, fmt.Sprintf("127.0.0.1:%d", port)) {
			t.Errorf("error does not name the port: %s", errOut)
		}
		if strings.Contains(sq.Stdout(), "REQUEST") {
			t.Errorf("squatter was contacted: %s", sq.Stdout())
		}
	})

	for _, tc := range []struct {
		mode string
		code int
	}{{"plain", 4}, {"tls", 5}} {
		t.Run(tc.mode+" squatter after the forward is gone", func(t *testing.T) {
			// A session whose client dies without cleaning up: its file
			// stays on the remote host, its forward goes away.
			args := append(r.sshArgs(), "--", "sleep 120")
			client := e2e.StartProcess(t, r.agent.env, agentBin, args...)
			var id string
			var port int
			e2e.WaitFor(t, func() bool {
				res := e2e.RunAs(t, r.sshd.User, nil, "sh", "-c", "cat ~/.aws-sso-agent/sessions/*/session.json 2>/dev/null")
				var f struct {
					ID   string
					Port int
				}
				if json.Unmarshal([]byte(res.Stdout), &f) == nil && f.ID != "" {
					id, port = f.ID, f.Port
					return true
				}
				return false
			}, 20*time.Second)
			syscall.Kill(client.PID(), syscall.SIGKILL)
			<-client.Done()
			// sshd drops the forward when the connection goes; then the
			// squatter takes the port.
			sq := startSquatter(t, squatter, tc.mode, port)

			res := e2e.RunAs(t, r.sshd.User, nil, r.remoteBin, "env", "--session", id)
			if res.Code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", res.Code, tc.code, res.Stderr)
			}
			if res.Stdout != "" {
				t.Errorf("printed exports: %q", res.Stdout)
			}
			if !strings.Contains(res.Stderr, "aws-sso-remote: error:") {
				t.Errorf("no reason given: %q", res.Stderr)
			}
			cp := e2e.RunAs(t, r.sshd.User, nil, r.remoteBin, "credential-process", "--session", id)
			if cp.Code != tc.code || cp.Stdout != "" {
				t.Errorf("credential-process: exit %d, stdout %q", cp.Code, cp.Stdout)
			}
			time.Sleep(200 * time.Millisecond)
			if strings.Contains(sq.Stdout(), "authorization=PRESENT") {
				t.Errorf("the squatter received a token:\n%s", sq.Stdout())
			}
			// Clean the stale session for the next case.
			e2e.RunAs(t, r.sshd.User, nil, "sh", "-c", "rm -rf ~/.aws-sso-agent/sessions/"+id)
			sq.Stop()
		})
	}
}

// TestConcurrentSessions: two sessions to one host get their
// own port and token, and each shell finds its own session.
func TestConcurrentSessions(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	// Each shell waits until both sessions are installed, so the helper
	// must choose between two session files.
	cmd := `i=0; while [ "$(ls ~/.aws-sso-agent/sessions | wc -l)" -lt 2 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; ` + r.remoteBin + ` check --json`
	type result struct {
		out, errOut string
		code        int
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			out, errOut, code := r.ssh(t, cmd)
			results <- result{out, errOut, code}
		}()
	}
	seen := map[string]bool{}
	ports := map[float64]bool{}
	for range 2 {
		res := <-results
		if res.code != 0 {
			t.Fatalf("exit %d: %s %s", res.code, res.out, res.errOut)
		}
		var c map[string]any
		if err := json.Unmarshal([]byte(res.out), &c); err != nil {
			t.Fatalf("check --json: %v: %q", err, res.out)
		}
		id, _ := c["session"].(string)
		port, _ := c["port"].(float64)
		seen[id] = true
		ports[port] = true
	}
	if len(seen) != 2 || len(ports) != 2 {
		t.Errorf("two shells found sessions %v on ports %v; want two of each", seen, ports)
	}
}

// TestChangedHostKey: a changed host key is refused with
// OpenSSH's meaning and the line to look at.
func TestChangedHostKey(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	other := sshd.GenerateKey(t, filepath.Join(t.TempDir(), "other"), "")
	line := fmt.Sprintf("[127.0.0.1]:%d %s", r.sshd.Port, strings.TrimSpace(string(sshMarshal(other))))
	os.WriteFile(r.knownHosts, []byte("# first line\n"+line+"\n"), 0o600)
	out, errOut, code := r.ssh(t, "true")
	if code != 255 || out != "" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{"REMOTE HOST IDENTIFICATION HAS CHANGED", r.knownHosts + ":2"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestExitStatusAndAgentForwarding(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	if _, _, code := r.ssh(t, "exit 7"); code != 7 {
		t.Errorf("exit 7: got %d", code)
	}
	sock := sshd.StartAgent(t, r.sshd.ClientKeyFile)
	args := append(r.sshArgs("-A"), "--", "ssh-add -l")
	out, errOut, code := r.agent.cli([]string{"SSH_AUTH_SOCK=" + sock}, args...)
	if code != 0 || !strings.Contains(out, "SHA256:") {
		t.Errorf("ssh-add -l on the remote: exit %d %q %s", code, out, errOut)
	}
}

// TestProxyJump reaches the remote host through a second sshd.
func TestProxyJump(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	jump := sshd.Start(t, sshd.Options{})
	kh, _ := os.ReadFile(r.knownHosts)
	os.WriteFile(r.knownHosts, append(kh, []byte(jump.KnownHostsLine()+"\n")...), 0o600)
	cfg, _ := os.ReadFile(r.sshConfig)
	os.WriteFile(r.sshConfig, append(cfg, []byte("  IdentityFile "+jump.ClientKeyFile+"\n")...), 0o600)
	jumpSpec := fmt.Sprintf("%s@127.0.0.1:%d", jump.User, jump.Port)
	out, errOut, code := r.ssh(t, r.remoteBin+" check", "-J", jumpSpec)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
}

// TestWindowResize: a resize of the local terminal reaches the remote
// `stty size`.
func TestWindowResize(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	args := append(r.sshArgs("-t"), "--", "stty size; while read x; do stty size; done")
	cmd := exec.Command(agentBin, args...)
	cmd.Env = r.agent.env
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		e2e.PeerMissing(t, "no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	screen := &e2e.LockedBuffer{}
	go screen.CopyFrom(ptmx)
	e2e.WaitFor(t, func() bool { return strings.Contains(screen.String(), "30 100") }, 20*time.Second)
	pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120})
	// Each Enter prints the size again, until the new one shows: the
	// resize travels on its own, however slowly a loaded machine runs.
	e2e.WaitFor(t, func() bool {
		ptmx.WriteString("\r")
		return strings.Contains(screen.String(), "40 120")
	}, 20*time.Second)
	cmd.Process.Kill()
	cmd.Wait()
}

// TestKeepaliveDetectsFrozenServer: SIGSTOP the session's sshd; the client
// notices through keepalives and ends with a clear message.
func TestKeepaliveDetectsFrozenServer(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	args := append(r.sshArgs("-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2"), "--", "sleep 60")
	p := e2e.StartProcess(t, r.agent.env, agentBin, args...)
	e2e.WaitFor(t, func() bool { return len(r.sshd.SessionPIDs()) > 0 && len(r.agent.sessions()) == 1 }, 20*time.Second)
	time.Sleep(500 * time.Millisecond)
	r.sshd.FreezeSessions(t)
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("client did not notice the frozen server")
	}
	if code := p.ExitCode(); code != 255 {
		t.Errorf("exit %d, want 255", code)
	}
	if !strings.Contains(p.Stderr(), "not responding") {
		t.Errorf("stderr: %s", p.Stderr())
	}
	if ok, l := r.agent.noSessions(); !ok {
		t.Errorf("sessions still live after the client ended: %v", l)
	}
}

// TestForwardReconnects: `forward` gets a new session after sshd restarts.
func TestForwardReconnects(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	args := append([]string{"forward"}, r.sshArgs("-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2")[1:]...)
	p := e2e.StartProcess(t, r.agent.env, agentBin, args...)
	p.WaitForOutput(t, "forward: connected", 20*time.Second)
	first := r.agent.sessions()
	r.sshd.Restart(t)
	e2e.WaitFor(t, func() bool { return strings.Count(p.Stderr(), "forward: connected") >= 2 }, 60*time.Second)
	second := r.agent.sessions()
	if len(first) != 1 || len(second) != 1 || first[0]["id"] == second[0]["id"] {
		t.Errorf("sessions before %v and after %v the restart: want one each, different", first, second)
	}
	res := e2e.RunAs(t, r.sshd.User, nil, r.remoteBin, "check")
	if res.Code != 0 {
		t.Errorf("check on the new session: exit %d %s", res.Code, res.Stderr)
	}
}

func (a *agentUnderTest) sessions() []map[string]any {
	a.t.Helper()
	var l []map[string]any
	json.Unmarshal([]byte(a.mustCLI(nil, "sessions", "--json")), &l)
	return l
}

// noSessions reports whether the agent has no live session within a few
// seconds: it ends a session when it reads the client's hang-up, a moment
// after the client process is gone.
func (a *agentUnderTest) noSessions() (bool, []map[string]any) {
	a.t.Helper()
	var l []map[string]any
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(50 * time.Millisecond) {
		if l = a.sessions(); len(l) == 0 {
			return true, nil
		}
	}
	return false, l
}

// TestSessionsRevoke: `aws-sso-agent sessions revoke ID` ends a live
// session: the ssh client exits with 255 saying why, and its forward stops
// serving the token it handed out.
func TestSessionsRevoke(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	client := e2e.StartProcess(t, r.agent.env, agentBin, append(r.sshArgs(), "--", "sleep 60")...)
	var id string
	e2e.WaitFor(t, func() bool {
		l := r.agent.sessions()
		if len(l) == 1 && l[0]["remote_port"] != nil {
			id, _ = l[0]["id"].(string)
		}
		return id != ""
	}, 20*time.Second)
	var f struct {
		Token string
		Port  int
	}
	e2e.WaitFor(t, func() bool {
		res := e2e.RunAs(t, r.sshd.User, nil, "sh", "-c", "cat ~/.aws-sso-agent/sessions/"+id+"/session.json 2>/dev/null")
		return json.Unmarshal([]byte(res.Stdout), &f) == nil
	}, 20*time.Second)
	out := r.agent.mustCLI(nil, "sessions", "revoke", id)
	if !strings.Contains(out, "revoked session "+id) {
		t.Errorf("revoke said %q", out)
	}
	select {
	case <-client.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the ssh client did not end after its session was revoked")
	}
	if code := client.ExitCode(); code != 255 || !strings.Contains(client.Stderr(), "session ended by the agent") {
		t.Errorf("ssh client: exit %d, stderr %q", code, client.Stderr())
	}
	if ok, l := r.agent.noSessions(); !ok {
		t.Errorf("sessions after revoke: %v", l)
	}
	// The captured token through the session's port gets nothing.
	py := fmt.Sprintf(`import urllib.request as u
try:
    u.urlopen(u.Request('http://127.0.0.1:%d/', headers={'Authorization': '%s'}), timeout=5); print('ACCEPTED')
except Exception as e:
    print('REFUSED', e)`, f.Port, f.Token)
	got := e2e.RunAs(t, r.sshd.User, nil, "/usr/bin/python3", "-c", py)
	if !strings.Contains(got.Stdout, "REFUSED") {
		t.Errorf("token after revoke: %q %s", got.Stdout, got.Stderr)
	}
}

// TestSessionFoundThroughTmux: a shell in a tmux pane descends from the
// tmux server, not from the SSH connection; with a second live session on
// the host, the helper finds its session through the tmux client attached
// from this connection, the same one a shell outside tmux finds.
func TestSessionFoundThroughTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		e2e.PeerMissing(t, "tmux: %v", err)
	}
	r := startRemote(t, sshd.Options{})
	other := e2e.StartProcess(t, r.agent.env, agentBin, append([]string{"forward"}, r.sshArgs()[1:]...)...)
	other.WaitForOutput(t, "forward: connected", 20*time.Second)
	defer other.Stop()

	// A control-mode client stands in for the user's terminal: attached
	// from this connection, it needs no terminal of its own.
	sock := filepath.Join("/tmp", fmt.Sprintf("aws-sso-agent-tmux-%d", time.Now().UnixNano()))
	script := fmt.Sprintf(`s=%[1]s; h=%[2]s; t="tmux -S $s -f /dev/null"
i=0; while [ "$(ls ~/.aws-sso-agent/sessions | wc -l)" -lt 2 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
[ "$(ls ~/.aws-sso-agent/sessions | wc -l)" -ge 2 ] || { echo "not two sessions" >&2; exit 11; }
$t new-session -d -s t || exit 10
(sleep 30 | $t -C attach-session -t t) >/dev/null 2>&1 </dev/null &
i=0; until [ -n "$($t list-clients)" ] || [ $i -ge 300 ]; do sleep 0.05; i=$((i+1)); done
$t send-keys -t t "$h check --json > $s.out 2>&1; tmux wait-for -S done" Enter
timeout 20 $t wait-for done || echo "the pane did not finish"
echo DIRECT; $h check --json
echo PANE; cat $s.out; rm -f $s.out
$t kill-server`, sock, r.remoteBin)
	out, errOut, code := r.ssh(t, script)
	direct, pane, ok := strings.Cut(strings.TrimPrefix(out, "DIRECT\n"), "PANE\n")
	if code != 0 || !ok {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	session := func(what, js string) string {
		var c map[string]any
		if err := json.Unmarshal([]byte(js), &c); err != nil {
			t.Fatalf("%s check --json: %v: %q", what, err, js)
		}
		id, _ := c["session"].(string)
		return id
	}
	if d, p := session("outside tmux", direct), session("in the tmux pane", pane); d == "" || p != d {
		t.Errorf("in the tmux pane the helper found session %q, outside it %q; want the same", p, d)
	}
}

// startSquatter starts the squatter as another user (nobody) on the
// remote port once it is free, and returns when it listens. It retries
// only once a squatter has exited (the port not free yet): one slow to
// start may already hold the port.
func startSquatter(t *testing.T, squatter, mode string, port int) *e2e.Process {
	t.Helper()
	var sq *e2e.Process
	e2e.WaitFor(t, func() bool {
		sq = e2e.StartAs(t, "nobody", squatter, "-mode", mode, "-addr", fmt.Sprintf("127.0.0.1:%d", port))
		for start := time.Now(); time.Since(start) < 15*time.Second; time.Sleep(20 * time.Millisecond) {
			if strings.Contains(sq.Stdout(), "LISTENING") {
				return true
			}
			select {
			case <-sq.Done():
				return false
			default:
			}
		}
		t.Fatalf("the squatter neither listened nor exited in 15 s: %s", sq.Stdout())
		return false
	}, 30*time.Second)
	return sq
}
