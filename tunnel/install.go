package tunnel

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// pidMarker starts the line on which the install script reports its
// parent. The user's rc files run before the script (bash reads ~/.bashrc
// even for a command sent over SSH) and may print anything, so the client
// looks for this line and skips the others, as OpenSSH users expect a
// command to work whatever a banner prints.
const pidMarker = "aws-sso-agent-pid:"

// maxRCOutput bounds what the rc files may print before the marker: a
// banner is a few lines; more means the marker is not coming.
const maxRCOutput = 64 << 10

// installScript runs under `exec sh -c` so that it works whatever the
// user's login shell is (fish and csh have no $PPID). It removes the
// directories of dead sessions (their sshd, named in session.json, is
// gone: a client killed or cut off before it could clean up), prints its
// parent, the per-connection sshd that is also the parent of the user's
// shell, after pidMarker on a line of its own, then stores stdin as
// session.json: 0600 in 0700 directories.
//
// alive is kill -0, or where that is refused (a process of another user)
// /proc or ps -p; a session file without a pid is left for the helper to
// report. One line of POSIX sh and sed: csh refuses a newline inside
// quotes, and the remote host is whatever it is.
const installScript = `umask 077 && d="$HOME/%[1]s" && mkdir -p "$d" && chmod 700 "$HOME/` + wire.DirName + `" "$HOME/` + wire.SessionsDir + `" "$d" || exit 1; ` +
	`alive() { kill -0 "$1" 2>/dev/null && return 0; if [ -d /proc/1 ]; then [ -d "/proc/$1" ]; else ps -p "$1" >/dev/null 2>&1; fi; }; ` +
	`for f in "$HOME/` + wire.SessionsDir + `"/*/` + wire.SessionFileName + `; do ` +
	`[ -f "$f" ] || continue; s=${f%%/*}; [ "$s" = "$d" ] && continue; ` +
	`p=$(sed -n 's/.*"sshd_pid":\([0-9][0-9]*\).*/\1/p' "$f" 2>/dev/null); ` +
	`[ -z "$p" ] || alive "$p" || rm -rf "$s"; done; ` +
	`printf '\n` + pidMarker + `%%s\n' "$PPID" && cat > "$d/` + wire.SessionFileName + `.tmp" && mv -f "$d/` + wire.SessionFileName + `.tmp" "$d/` + wire.SessionFileName + `"`

// installSession writes the session file over the authenticated SSH
// connection, through the command's stdin: the token never appears in a
// command line on the remote host.
func (t *Tunnel) installSession(ctx context.Context, g agent.SessionGrant) error {
	s, err := t.client.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	stdin, err := s.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := s.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	s.Stderr = &stderr
	script := fmt.Sprintf(installScript, wire.SessionDir(g.ID))
	if t.helpers != nil {
		// The helper's probe rides on this command: no SSH session of its
		// own, which costs more than the probe (see BenchmarkSelfInstall).
		script = probeScript + "; " + script
	}
	if err := s.Start("exec sh -c " + shellQuote(script)); err != nil {
		return err
	}
	br := bufio.NewReader(io.LimitReader(stdout, maxRCOutput))
	if t.helpers != nil {
		if t.probe, err = readMarker(br, probeMarker); err != nil {
			s.Close()
			s.Wait()
			return fmt.Errorf("remote shell: %w %s", err, strings.TrimSpace(stderr.String()))
		}
	}
	pid, err := readPIDFrom(br)
	if err != nil {
		s.Close()
		s.Wait()
		return fmt.Errorf("remote shell: %w %s", err, strings.TrimSpace(stderr.String()))
	}
	host, _ := os.Hostname()
	file, err := sessionFileFor(g, t.port, pid, host, time.Now())
	if err != nil {
		return err
	}
	if _, err := stdin.Write(append(file, '\n')); err != nil {
		return err
	}
	stdin.Close()
	// Drain what follows the marker, or Wait could block on a full window.
	go io.Copy(io.Discard, stdout)
	if err := s.Wait(); err != nil {
		return fmt.Errorf("%v %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// readPID reads the install script's output up to its pidMarker line and
// returns the pid on it.
func readPID(r io.Reader) (int, error) {
	return readPIDFrom(bufio.NewReader(io.LimitReader(r, maxRCOutput)))
}

func readPIDFrom(br *bufio.Reader) (int, error) {
	rest, err := readMarker(br, pidMarker)
	if err != nil {
		return 0, err
	}
	// Exactly as printf printed it: no sign, no leading zero.
	pid, err := strconv.Atoi(rest)
	if err != nil || pid < 1 || strconv.Itoa(pid) != rest {
		return 0, fmt.Errorf("the install script printed %q, not its parent's pid", pidMarker+rest)
	}
	return pid, nil
}

// readMarker reads a remote script's output up to the first line that
// starts with marker and returns the rest of that line. Other lines are
// what rc files printed, skipped; br bounds them (maxRCOutput).
func readMarker(br *bufio.Reader, marker string) (string, error) {
	var skipped string
	for {
		line, err := br.ReadString('\n')
		if rest, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), marker); ok && err == nil {
			return rest, nil
		}
		if skipped == "" {
			skipped = strings.TrimSpace(line)
		}
		if err != nil {
			if skipped != "" {
				return "", fmt.Errorf("no %s line from the remote script (the shell printed %.80q first): %v", strings.TrimSuffix(marker, ":"), skipped, err)
			}
			return "", fmt.Errorf("no %s line from the remote script: %v", strings.TrimSuffix(marker, ":"), err)
		}
	}
}

// removeSession deletes session id's directory on the remote host, while
// the connection still allows it. Best effort, bounded in time.
func (t *Tunnel) removeSession(id string) {
	if t.client == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s, err := t.client.NewSession()
		if err != nil {
			return
		}
		defer s.Close()
		s.Run(`exec sh -c 'rm -rf "$HOME/` + wire.SessionDir(id) + `"'`)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
}

// ShellCommand is the remote command that gives the user a login shell
// whose SDK variables are set for session id: the installed helper's
// `shell --fallback`, else one on PATH (installed by hand), else the bare
// login shell, saying why. It goes through `exec sh -c`, as the install
// does, so it works whatever the login shell is; once the helper has
// proved the port, it starts $SHELL as a login shell. When the proof
// fails, the helper says why and starts the shell without credentials: a
// session that cannot serve credentials still gives a shell, as OpenSSH
// gives one whatever happens to its forwards. The id goes unquoted: the
// agent makes session ids of lowercase hex (wire.ValidateSessionID).
func ShellCommand(id string) string {
	const noHelper = "aws-sso-agent: no aws-sso-remote in ~/" + HelperDir + " or on PATH: starting your shell without AWS credentials"
	script := `h="$HOME/` + HelperPath + `"; [ -x "$h" ] || h=$(command -v aws-sso-remote) || h=; ` +
		`[ -n "$h" ] && exec "$h" shell --fallback --session ` + id + `; ` +
		`echo "` + noHelper + `" >&2; exec "${SHELL:-/bin/sh}" -l`
	return "exec sh -c " + shellQuote(script)
}

// shellQuote single-quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
