package tunnel

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// installScript runs under `exec sh -c` so that it works whatever the
// user's login shell is (fish and csh have no $PPID). It prints its
// parent, the per-connection sshd that is also the parent of the user's
// shell, then stores stdin as session.json: 0600 in 0700 directories.
const installScript = `umask 077 && d="$HOME/%[1]s" && mkdir -p "$d" && chmod 700 "$HOME/` + wire.DirName + `" "$HOME/` + wire.SessionsDir + `" "$d" && echo "$PPID" && cat > "$d/` + wire.SessionFileName + `.tmp" && mv -f "$d/` + wire.SessionFileName + `.tmp" "$d/` + wire.SessionFileName + `"`

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
	if err := s.Start("exec sh -c " + shellQuote(script)); err != nil {
		return err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		s.Wait()
		return fmt.Errorf("remote shell: %v %s", err, strings.TrimSpace(stderr.String()))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return fmt.Errorf("remote shell printed %q, not its parent's pid", strings.TrimSpace(line))
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
	if err := s.Wait(); err != nil {
		return fmt.Errorf("%v %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
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

// shellQuote single-quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
