package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/sshd"
)

// bannerUser is an account of its own: its login shell and rc files are
// changed, and other tests share DefaultUser's home.
const bannerUser = "ssobanner"

// startBannerRemote is a remote host whose user logs in to bash, and
// whose ~/.bashrc and ~/.profile print banners on stdout and stderr, the
// first without a final newline.
func startBannerRemote(t *testing.T) *remoteHost {
	t.Helper()
	r := startRemote(t, sshd.Options{User: bannerUser})
	if b, err := exec.Command("usermod", "-s", "/bin/bash", bannerUser).CombinedOutput(); err != nil {
		t.Fatalf("usermod -s /bin/bash: %v: %s", err, b)
	}
	rc := `printf 'Welcome to the remote host'; echo 'rc on stderr' >&2`
	res := e2e.RunAs(t, bannerUser, nil, "sh", "-c", "printf '%s\\n' \"$1\" > .bashrc && printf 'echo Last login: never\\n' > .profile", "sh", rc)
	if res.Code != 0 {
		t.Fatalf("write rc files: %s", res.Stderr)
	}
	t.Cleanup(func() { e2e.RunAs(t, bannerUser, nil, "rm", "-f", ".bashrc", ".profile") })
	// The rc files do run for a command over SSH (bash reads ~/.bashrc
	// when sshd starts it), or this test proves nothing.
	out, err := r.sshd.Run(t, r.sshd.ClientKeyFile, "true")
	if !strings.Contains(out, "Welcome") {
		t.Fatalf("the remote bash did not read ~/.bashrc: %q, %v", out, err)
	}
	return r
}

// TestBannerRCFiles: rc files that print do not break the session: the
// shell's SDKs get credentials as with a silent host.
func TestBannerRCFiles(t *testing.T) {
	r := startBannerRemote(t)
	goClient := e2e.SharedBinary(t, "github.com/aws-sso-agent/aws-sso-agent/internal/e2e/cmd/stsclient")
	cmd := fmt.Sprintf(`eval "$(%s env)" && AWS_ENDPOINT_URL_STS=%s AWS_REGION=%s %s`, r.remoteBin, r.moto.Endpoint, e2e.Region, goClient)
	out, errOut, code := r.ssh(t, cmd)
	if code != 0 || !strings.Contains(out, r.want) {
		t.Fatalf("exit %d, stdout %q, want %q\nstderr: %s", code, out, r.want, errOut)
	}
}

// sessionFile is what the tests read of a remote session.json.
type sessionFile struct {
	ID      string `json:"id"`
	Port    int    `json:"port"`
	SSHDPID int    `json:"sshd_pid"`
}

// killedSession starts `aws-sso-agent ssh HOST -- sleep 120`, waits for
// its session file, kills the client without letting it clean up, and
// waits for the remote sshd of that connection to end: a stale session.
func killedSession(t *testing.T, r *remoteHost) sessionFile {
	t.Helper()
	args := append(r.sshArgs(), "--", "sleep 120")
	client := e2e.StartProcess(t, r.agent.env, agentBin, args...)
	var f sessionFile
	e2e.WaitFor(t, func() bool {
		res := e2e.RunAs(t, r.sshd.User, nil, "sh", "-c", "cat ~/.aws-sso-agent/sessions/*/session.json 2>/dev/null")
		return json.Unmarshal([]byte(res.Stdout), &f) == nil && f.ID != ""
	}, 20*time.Second)
	syscall.Kill(client.PID(), syscall.SIGKILL)
	<-client.Done()
	e2e.WaitFor(t, func() bool {
		_, err := os.Stat("/proc/" + strconv.Itoa(f.SSHDPID))
		return os.IsNotExist(err)
	}, 20*time.Second)
	return f
}

func (r *remoteHost) sessionDirs(t *testing.T) []string {
	t.Helper()
	res := e2e.RunAs(t, r.sshd.User, nil, "sh", "-c", "ls -A ~/.aws-sso-agent/sessions 2>/dev/null")
	return strings.Fields(res.Stdout)
}

// TestStaleSessionRemoved: a session whose client was killed leaves its
// directory, token included; the next session install removes it, and so
// does the helper when it looks for a live session. Through rc files that
// print, to hold both features at once.
func TestStaleSessionRemoved(t *testing.T) {
	r := startBannerRemote(t)

	t.Run("at the next install", func(t *testing.T) {
		stale := killedSession(t, r)
		if dirs := r.sessionDirs(t); len(dirs) != 1 || dirs[0] != stale.ID {
			t.Fatalf("after the kill: sessions %v, want just %s", dirs, stale.ID)
		}
		out, errOut, code := r.ssh(t, "ls -A ~/.aws-sso-agent/sessions")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if strings.Contains(out, stale.ID) {
			t.Errorf("the stale session %s is still there at the next install: %q", stale.ID, out)
		}
		if !strings.Contains(out, "\n") || len(strings.Fields(strings.TrimPrefix(out, "Welcome to the remote host"))) != 1 {
			t.Errorf("sessions during the next one: %q, want one", out)
		}
	})

	t.Run("by the helper", func(t *testing.T) {
		stale := killedSession(t, r)
		res := e2e.RunAs(t, r.sshd.User, nil, r.remoteBin, "env")
		if res.Code != 3 || res.Stdout != "" {
			t.Errorf("env with only a dead session: exit %d, stdout %q; want 3 and nothing", res.Code, res.Stdout)
		}
		if !strings.Contains(res.Stderr, "removed 1") {
			t.Errorf("env did not say it removed the dead session: %s", res.Stderr)
		}
		if dirs := r.sessionDirs(t); len(dirs) != 0 {
			t.Errorf("sessions %v left after the helper found %s dead", dirs, stale.ID)
		}
	})
}

// TestRemoteOneSlotDefault: `aws-sso-agent ssh --slot prod HOST`, then
// `aws-sso-remote env` with no flag reads prod, the session's only slot.
func TestRemoteOneSlotDefault(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	cfg := e2e.WriteAWSConfig(t, t.TempDir(), r.moto)
	r.agent.mustCLI(cfg.Env(), "load", "--profile", e2e.DefaultRoleProfile.Name, "--slot=prod")
	goClient := e2e.SharedBinary(t, "github.com/aws-sso-agent/aws-sso-agent/internal/e2e/cmd/stsclient")
	cmd := fmt.Sprintf(`eval "$(%s env)" && echo "$AWS_CONTAINER_CREDENTIALS_FULL_URI" && AWS_ENDPOINT_URL_STS=%s AWS_REGION=%s %s`, r.remoteBin, r.moto.Endpoint, e2e.Region, goClient)
	out, errOut, code := r.ssh(t, cmd, "--slot", "prod")
	if code != 0 || !strings.Contains(out, "/slot/prod") || !strings.Contains(out, r.want) {
		t.Fatalf("exit %d, stdout %q, want the prod URL and %q\nstderr: %s", code, out, r.want, errOut)
	}
}

// TestRemoteExec: `aws-sso-remote exec -- CMD` runs CMD with credentials,
// and its exit status is CMD's.
func TestRemoteExec(t *testing.T) {
	r := startRemote(t, sshd.Options{})
	goClient := e2e.SharedBinary(t, "github.com/aws-sso-agent/aws-sso-agent/internal/e2e/cmd/stsclient")
	cmd := fmt.Sprintf(`AWS_PROFILE=nosuch AWS_ENDPOINT_URL_STS=%s AWS_REGION=%s %s exec -- %s`, r.moto.Endpoint, e2e.Region, r.remoteBin, goClient)
	out, errOut, code := r.ssh(t, cmd)
	if code != 0 || !strings.Contains(out, r.want) {
		t.Fatalf("exit %d, stdout %q, want %q\nstderr: %s", code, out, r.want, errOut)
	}
	_, errOut, code = r.ssh(t, r.remoteBin+" exec -- sh -c 'exit 42'")
	if code != 42 {
		t.Errorf("exec of a command exiting 42: exit %d, stderr %s", code, errOut)
	}
}

// TestSquatterExec: a squatter on a dead session's port: exec proves the
// port, refuses it, and CMD never runs; the squatter gets no token.
func TestSquatterExec(t *testing.T) {
	// A user of its own: a stale session in a shared home could be
	// cleaned away by another test's start.
	r := startRemote(t, sshd.Options{User: "ssoexec"})
	squatter := e2e.SharedBinary(t, "github.com/aws-sso-agent/aws-sso-agent/internal/e2e/cmd/squatter")
	for _, tc := range []struct {
		mode string
		code int
	}{{"plain", 4}, {"tls", 5}} {
		t.Run(tc.mode, func(t *testing.T) {
			stale := killedSession(t, r)
			sq := startSquatter(t, squatter, tc.mode, stale.Port)
			defer sq.Stop()

			res := e2e.RunAs(t, r.sshd.User, nil, r.remoteBin, "exec", "--session", stale.ID, "--", "sh", "-c", "echo RAN; touch ran")
			if res.Code != tc.code || strings.Contains(res.Stdout, "RAN") {
				t.Errorf("exit %d, stdout %q; want %d and CMD not run\nstderr: %s", res.Code, res.Stdout, tc.code, res.Stderr)
			}
			if !strings.Contains(res.Stderr, "aws-sso-remote: error:") {
				t.Errorf("no reason given: %q", res.Stderr)
			}
			if ls := e2e.RunAs(t, r.sshd.User, nil, "sh", "-c", "ls ran 2>/dev/null; rm -f ran"); strings.TrimSpace(ls.Stdout) != "" {
				t.Error("CMD ran: ~/ran exists")
			}
			time.Sleep(200 * time.Millisecond)
			if strings.Contains(sq.Stdout(), "authorization=PRESENT") {
				t.Errorf("the squatter received a token:\n%s", sq.Stdout())
			}
			e2e.RunAs(t, r.sshd.User, nil, "sh", "-c", "rm -rf ~/.aws-sso-agent/sessions/"+stale.ID)
		})
	}
}
