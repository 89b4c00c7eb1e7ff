package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/sshd"
	"github.com/aws-sso-agent/aws-sso-agent/tunnel"
)

// shellUser is an account of its own: its login shell and rc files change
// from one subtest to the next.
const shellUser = "ssoshell"

// readyMarker is what the last rc file a login shell reads prints: the
// shell is about to read what is typed.
const readyMarker = "RC-DONE"

// loginShells are the login shells TestLoginShells runs, each with rc
// files that print banners on stdout (one without a final newline) and on
// stderr: files read by every shell sshd starts, the install's `sh -c`
// included, and files read only by the interactive login shell, the last
// of which prints readyMarker.
var loginShells = []struct {
	name string
	path string            // the login shell; "busybox" is linked as ash
	rc   map[string]string // file (under $HOME) -> content
}{
	{"bash", "/bin/bash", map[string]string{
		".bashrc":  "printf 'Welcome (bashrc)'; echo 'bashrc on stderr' >&2\n",
		".profile": "echo 'Last login: never (profile)'; echo " + readyMarker + "\n",
	}},
	{"zsh", "/usr/bin/zsh", map[string]string{
		".zshenv":   "printf 'Welcome (zshenv)'; echo 'zshenv on stderr' >&2\n",
		".zprofile": "echo 'Last login: never (zprofile)'\n",
		".zshrc":    "echo " + readyMarker + "\n",
	}},
	{"fish", "/usr/bin/fish", map[string]string{
		".config/fish/config.fish": "printf 'Welcome (fish)'; echo 'fish on stderr' >&2\nif status is-interactive; echo " + readyMarker + "; end\n",
	}},
	{"dash", "/bin/dash", map[string]string{
		".profile": "printf 'Welcome (profile)'; echo 'profile on stderr' >&2; echo; echo " + readyMarker + "\n",
	}},
	{"busybox-sh", "busybox", map[string]string{
		".profile": "printf 'Welcome (profile)'; echo 'profile on stderr' >&2; echo; echo " + readyMarker + "\n",
	}},
	{"tcsh", "/usr/bin/tcsh", map[string]string{
		".tcshrc": "printf 'Welcome (tcshrc)'; echo 'tcshrc on stderr' > /dev/stderr\n",
		".login":  "echo " + readyMarker + "\n",
	}},
}

// shellPath is the login shell to give the user for s, or why there is
// none here. Busybox is a login shell by the name of one of its applets:
// a link named ash in a directory every user can reach.
func shellPath(t *testing.T, path string) (string, error) {
	if path != "busybox" {
		_, err := os.Stat(path)
		return path, err
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return "", fmt.Errorf("busybox: %w (apt-get install busybox)", err)
	}
	link := filepath.Join(e2e.SharedDir(t), "ash")
	if _, err := os.Lstat(link); err != nil {
		if err := os.Symlink(bb, link); err != nil {
			return "", err
		}
	}
	return link, nil
}

// setLoginShell gives the remote user shell as its login shell and only
// the rc files given.
func setLoginShell(t *testing.T, user, shell string, rc map[string]string) {
	t.Helper()
	if b, err := exec.Command("usermod", "-s", shell, user).CombinedOutput(); err != nil {
		t.Fatalf("usermod -s %s: %v: %s", shell, err, b)
	}
	clean := "rm -rf .bashrc .profile .bash_profile .zshenv .zprofile .zshrc .config/fish .tcshrc .cshrc .login .local/share/fish"
	if res := e2e.RunAs(t, user, nil, "sh", "-c", clean); res.Code != 0 {
		t.Fatalf("remove rc files: %s", res.Stderr)
	}
	for name, content := range rc {
		res := e2e.RunAs(t, user, nil, "sh", "-c", `mkdir -p "$(dirname "$1")" && printf '%s' "$2" > "$1"`, "sh", name, content)
		if res.Code != 0 {
			t.Fatalf("write %s: %s", name, res.Stderr)
		}
	}
	t.Cleanup(func() {
		exec.Command("usermod", "-s", "/bin/sh", user).Run()
		e2e.RunAs(t, user, nil, "sh", "-c", clean)
	})
}

// terminalSession is `aws-sso-agent ssh HOST` on a real pseudo-terminal.
type terminalSession struct {
	cmd    *exec.Cmd
	ptmx   *os.File
	screen *e2e.LockedBuffer
	done   chan error
}

func (r *remoteHost) terminal(t *testing.T, agent string, extra ...string) *terminalSession {
	t.Helper()
	cmd := exec.Command(agent, r.sshArgs(extra...)...)
	cmd.Env = e2e.MergeEnv(r.agent.env, "TERM=xterm")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		e2e.PeerMissing(t, "no pseudo-terminal: %v", err)
	}
	s := &terminalSession{cmd: cmd, ptmx: ptmx, screen: &e2e.LockedBuffer{}, done: make(chan error, 1)}
	go s.screen.CopyFrom(ptmx)
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		ptmx.Close()
	})
	return s
}

// wait waits for want on the screen.
func (s *terminalSession) wait(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.screen.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q on the terminal after 30s; it shows:\n%s", want, s.screen.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exit types exit and waits for the client to end with status 0.
func (s *terminalSession) exit(t *testing.T) {
	t.Helper()
	s.ptmx.WriteString("exit\r")
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("after exit: %v; the terminal shows:\n%s", err, s.screen.String())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("the client did not end after exit; the terminal shows:\n%s", s.screen.String())
	}
}

// TestLoginShells: `aws-sso-agent ssh HOST` with no command, on a real
// terminal, for a remote user whose helper the agent installs and whose
// login shell is bash, zsh, fish, dash, busybox sh or tcsh with rc files
// that print banners: the AWS CLI typed at the prompt prints the role,
// with no export typed. With --no-env the shell has no container
// variables at all.
func TestLoginShells(t *testing.T) {
	r := startRemote(t, sshd.Options{User: shellUser})
	e2e.RunAs(t, r.sshd.User, nil, "rm", "-rf", ".aws-sso-agent")
	agent := shipAgent(t, map[string]string{tunnel.HelperName(runtime.GOOS, runtime.GOARCH): r.remoteBin})
	python, pythonPath := e2e.RemotePython(t)
	// The one syntax every one of these shells reads: env(1) sets the
	// variables, not the shell.
	awsCLI := fmt.Sprintf("env AWS_ENDPOINT_URL_STS=%s AWS_DEFAULT_REGION=%s PYTHONPATH=%s %s -m awscli sts get-caller-identity --query Arn --output text",
		r.moto.Endpoint, e2e.Region, pythonPath, python)
	noVars := "env | grep AWS_CONTAINER_ || echo NO-CONTAINER-VARS"

	for _, sh := range loginShells {
		t.Run(sh.name, func(t *testing.T) {
			path, err := shellPath(t, sh.path)
			if err != nil {
				e2e.PeerMissing(t, "login shell %s: %v (scripts/install-test-peers)", sh.name, err)
			}
			setLoginShell(t, r.sshd.User, path, sh.rc)

			s := r.terminal(t, agent)
			s.wait(t, readyMarker)
			s.ptmx.WriteString(awsCLI + "\r")
			s.wait(t, r.want)
			s.exit(t)

			s = r.terminal(t, agent, "--no-env")
			s.wait(t, readyMarker)
			s.ptmx.WriteString(noVars + "\r")
			s.wait(t, "NO-CONTAINER-VARS\r\n")
			s.exit(t)
		})
	}
}

// TestShellWithoutHelper: with --no-install and no helper on the remote
// host, `aws-sso-agent ssh HOST` still gives the login shell, and says
// why it has no credentials.
func TestShellWithoutHelper(t *testing.T) {
	r := startRemote(t, sshd.Options{User: shellUser})
	e2e.RunAs(t, r.sshd.User, nil, "rm", "-rf", ".aws-sso-agent")
	setLoginShell(t, r.sshd.User, "/bin/bash", map[string]string{".profile": "echo " + readyMarker + "\n"})
	s := r.terminal(t, agentBin, "--no-install")
	s.wait(t, "no aws-sso-remote in ~/"+tunnel.HelperDir+" or on PATH")
	s.wait(t, readyMarker)
	s.ptmx.WriteString("env | grep AWS_CONTAINER_ || echo NO-CONTAINER-VARS\r")
	s.wait(t, "NO-CONTAINER-VARS\r\n")
	s.exit(t)
}

// TestShellFallbackSquatter: the login shell's proof fails on a real
// squatter (a dead session's port, taken by another user): the helper
// says why and starts the shell anyway, without any container variable,
// and the squatter sees no token.
func TestShellFallbackSquatter(t *testing.T) {
	r := startRemote(t, sshd.Options{User: "ssoexec"})
	squatter := e2e.SharedBinary(t, "github.com/aws-sso-agent/aws-sso-agent/internal/e2e/cmd/squatter")
	stale := killedSession(t, r)
	sq := startSquatter(t, squatter, "tls", stale.Port)
	defer sq.Stop()
	defer e2e.RunAs(t, r.sshd.User, nil, "sh", "-c", "rm -rf ~/.aws-sso-agent/sessions/"+stale.ID)

	// What the user would type into the shell: it reads its commands from
	// stdin here.
	res := e2e.RunAs(t, r.sshd.User, []string{"SHELL=/bin/sh", "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:1/"},
		"sh", "-c", `echo 'echo SHELL-RAN; env | grep AWS_CONTAINER_ || echo NO-CONTAINER-VARS' | "$0" shell --fallback --session "$1"`, r.remoteBin, stale.ID)
	if res.Code != 0 || !strings.Contains(res.Stdout, "SHELL-RAN") || !strings.Contains(res.Stdout, "NO-CONTAINER-VARS") {
		t.Errorf("exit %d, stdout %q; want the shell, without container variables\nstderr: %s", res.Code, res.Stdout, res.Stderr)
	}
	if !strings.Contains(res.Stderr, "aws-sso-remote: error:") || !strings.Contains(res.Stderr, "starting your shell without AWS credentials") {
		t.Errorf("stderr %q: want the reason and that the shell has no credentials", res.Stderr)
	}
	time.Sleep(200 * time.Millisecond)
	if strings.Contains(sq.Stdout(), "authorization=PRESENT") {
		t.Errorf("the squatter received a token:\n%s", sq.Stdout())
	}
}
