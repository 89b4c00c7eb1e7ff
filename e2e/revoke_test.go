package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/sshd"
)

// startForward starts `aws-sso-agent forward` to r and returns it once its
// session is live, with the session's id.
func (r *remoteHost) startForward(t *testing.T) (*e2e.Process, string) {
	t.Helper()
	args := append([]string{"forward"}, r.sshArgs("-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=3")[1:]...)
	p := e2e.StartProcess(t, r.agent.env, agentBin, args...)
	p.WaitForOutput(t, "forward: connected", 20*time.Second)
	t.Cleanup(func() { p.Stop() })
	return p, r.oneSession(t)
}

// oneSession waits for the agent to list exactly one session with its
// remote port, and returns its id.
func (r *remoteHost) oneSession(t *testing.T) string {
	t.Helper()
	var id string
	e2e.WaitFor(t, func() bool {
		l := r.agent.sessions()
		id = ""
		if len(l) == 1 && l[0]["remote_port"] != nil {
			id, _ = l[0]["id"].(string)
		}
		return id != ""
	}, 20*time.Second)
	return id
}

// sessionIDs lists the ids of the agent's live sessions.
func (r *remoteHost) sessionIDs() []string {
	var ids []string
	for _, s := range r.agent.sessions() {
		id, _ := s["id"].(string)
		ids = append(ids, id)
	}
	return ids
}

// TestForwardRevoked: `sessions revoke ID` on a forward's session ends
// forward with a message and a non-zero status; it opens no new session
// that would undo the revocation.
func TestForwardRevoked(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	p, id := r.startForward(t)
	r.agent.mustCLI(nil, "sessions", "revoke", id)
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("forward still runs after its session was revoked; sessions %v\n%s", r.sessionIDs(), p.Output())
	}
	if code := p.ExitCode(); code == 0 || !strings.Contains(p.Stderr(), "revoked by the user") {
		t.Errorf("forward: exit %d, want non-zero saying the session was revoked by the user\n%s", code, p.Stderr())
	}
	if strings.Count(p.Stderr(), "forward: connected") != 1 {
		t.Errorf("forward connected again after the revocation:\n%s", p.Stderr())
	}
	if ok, l := r.agent.noSessions(); !ok {
		t.Errorf("sessions after the revocation: %v", l)
	}
	// Its session file is gone from the remote host.
	res := e2e.RunAs(t, r.sshd.User, nil, "sh", "-c", "ls -A ~/.aws-sso-agent/sessions 2>/dev/null | wc -l")
	if strings.TrimSpace(res.Stdout) != "0" {
		t.Errorf("session directories left on the remote host: %s", res.Stdout)
	}
}

// TestForwardReconnectsAfterDrop: the SSH connection dying (its sshd
// processes killed, the listener untouched) is no revocation: forward
// reconnects with a new session.
func TestForwardReconnectsAfterDrop(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	p, first := r.startForward(t)
	pids := r.sshd.SessionPIDs()
	if len(pids) == 0 {
		t.Fatal("no sshd process serves the forward's connection")
	}
	for _, pid := range pids {
		if proc, err := os.FindProcess(pid); err == nil {
			proc.Kill()
		}
	}
	e2e.WaitFor(t, func() bool { return strings.Count(p.Stderr(), "forward: connected") >= 2 }, 60*time.Second)
	if second := r.oneSession(t); second == first {
		t.Errorf("session %s after the drop, the same as before", second)
	}
	if !p.Running() {
		t.Errorf("forward exited after a drop:\n%s", p.Output())
	}
	res := e2e.RunAs(t, r.sshd.User, nil, r.remoteBin, "check")
	if res.Code != 0 {
		t.Errorf("check on the new session: exit %d %s", res.Code, res.Stderr)
	}
}

// TestAgentRestartWithLiveSessions: the agent restarts under a live
// `forward` and a live `ssh`. forward reconnects with a new session once
// the agent is back; ssh keeps its command running, says on stderr that
// credentials are unavailable, and renews its session on the same
// connection, where aws-sso-remote finds it.
func TestAgentRestartWithLiveSessions(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	fwd, _ := r.startForward(t)

	// The remote command waits for the test's go-ahead, then checks the
	// session it finds on its connection.
	e2e.RunAs(t, r.sshd.User, nil, "rm", "-f", "go-on")
	script := `i=0; while [ ! -e ~/go-on ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo ALIVE; ` + r.remoteBin + ` check --json; true`
	client := e2e.StartProcess(t, r.agent.env, agentBin, append(r.sshArgs(), "--", script)...)
	t.Cleanup(func() { client.Stop() })
	e2e.WaitFor(t, func() bool { return len(r.agent.sessions()) == 2 }, 20*time.Second)
	before := r.sessionIDs()

	if err := r.agent.proc.Stop(); err != nil {
		t.Fatalf("agent stop: %v\n%s", err, r.agent.proc.Output())
	}
	client.WaitForOutput(t, "credentials are unavailable", 20*time.Second)
	r.agent = startAgent(t, agentOptions{home: r.agent.home})

	e2e.WaitFor(t, func() bool { return strings.Count(fwd.Stderr(), "forward: connected") >= 2 }, 60*time.Second)
	// Not "the agent is back" alone: the warning before says "until the agent is back".
	client.WaitForOutput(t, "the agent is back: credentials are served", 60*time.Second)
	after := r.sessionIDs()
	if len(after) != 2 {
		t.Fatalf("sessions after the restart: %v, want the forward's and the ssh client's", after)
	}
	for _, id := range after {
		for _, old := range before {
			if id == old {
				t.Errorf("session %s outlived the agent", id)
			}
		}
	}
	if !fwd.Running() || !client.Running() {
		t.Fatalf("forward running %v, ssh running %v after the restart\nforward:\n%s\nssh:\n%s",
			fwd.Running(), client.Running(), fwd.Output(), client.Output())
	}

	e2e.RunAs(t, r.sshd.User, nil, "touch", "go-on")
	select {
	case <-client.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("the ssh command did not finish\n%s", client.Output())
	}
	e2e.RunAs(t, r.sshd.User, nil, "rm", "-f", "go-on")
	if code := client.ExitCode(); code != 0 || !strings.Contains(client.Stdout(), "ALIVE") {
		t.Fatalf("ssh: exit %d\nstdout: %s\nstderr: %s", code, client.Stdout(), client.Stderr())
	}
	// aws-sso-remote on the ssh connection found a renewed session.
	found := false
	for _, id := range after {
		found = found || strings.Contains(client.Stdout(), id)
	}
	if !found {
		t.Errorf("check on the ssh connection found none of the new sessions %v: %s", after, client.Stdout())
	}
}
