package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/forward"
	"github.com/aws-sso-agent/aws-sso-agent/remote"
)

// A tunnel is one SSH connection carrying one agent session: the remote
// forward, the session's file on the remote host, and the streams that
// carry forwarded connections to the agent. `ssh` runs a shell over it;
// `forward` keeps one up.

// tunnelOptions are the settings shared by `ssh` and `forward`.
type tunnelOptions struct {
	dest       string
	ssh        forward.Options
	slots      []string
	remotePort int
	prompt     forward.Prompter
	log        *slog.Logger
}

type tunnel struct {
	client   *forward.Client
	session  *agent.SessionHandle
	listener net.Listener
	port     int
	host     string // user@host, for messages
	wg       sync.WaitGroup
	log      *slog.Logger
}

// openTunnel connects, forwards, and installs the session on the remote
// host. Any failure closes what was opened.
func (c *cli) openTunnel(ctx context.Context, o tunnelOptions) (_ *tunnel, err error) {
	d, err := c.dirs()
	if err != nil {
		return nil, err
	}
	ctl := agent.ControlClient{Path: d.ControlSocket()}
	cfg, err := forward.Resolve(ctx, o.dest, o.ssh)
	if err != nil {
		return nil, err
	}
	cfg.Prompt = o.prompt
	cfg.Logger = o.log
	t := &tunnel{host: cfg.User + "@" + cfg.Host, log: o.log}
	defer func() {
		if err != nil {
			t.close()
		}
	}()

	t.session, err = ctl.OpenSession(ctx, t.host, o.slots)
	if err != nil {
		if errors.Is(err, agent.ErrNotRunning) {
			return nil, withHint(err, "start it with: aws-sso-agent serve &")
		}
		return nil, err
	}
	t.client, err = forward.Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	t.listener, err = forward.ListenRemote(t.client.Client, o.remotePort)
	if err != nil {
		var denied *forward.ForwardDeniedError
		if errors.As(err, &denied) {
			return nil, withHint(err, "without --remote-port the server picks a free port")
		}
		return nil, err
	}
	t.port = t.listener.Addr().(*net.TCPAddr).Port
	t.session.SetPort(t.port)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.serve(ctl)
	}()
	if err := t.installSession(ctx); err != nil {
		return nil, fmt.Errorf("install the session on %s: %w", t.host, err)
	}
	o.log.Debug("tunnel up", "host", t.host, "remote_port", t.port, "session", t.session.Grant.ID)
	return t, nil
}

// spareTTL is how long a connection dialed ahead to the agent is used:
// well under the agent's 2-minute wait for the request.
const spareTTL = time.Minute

// spareStream holds at most one connection to the agent dialed ahead.
// Once closed, it closes whatever a late dial hands it.
type spareStream struct {
	mu     sync.Mutex
	conn   net.Conn
	at     time.Time
	closed bool
}

func (s *spareStream) put(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.conn != nil {
		c.Close()
		return
	}
	s.conn, s.at = c, time.Now()
}

// take returns the spare if it is fresh enough, else nil.
func (s *spareStream) take() net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conn
	s.conn = nil
	if c != nil && time.Since(s.at) > spareTTL {
		c.Close()
		c = nil
	}
	return c
}

func (s *spareStream) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// serve hands each forwarded connection to the agent as a session stream.
// One connection to the agent is kept dialed ahead, so a forwarded
// connection costs no connect: OpenSSH's `ssh -R` pays one TCP connect per
// forwarded connection, and this keeps us at or under that.
func (t *tunnel) serve(ctl agent.ControlClient) {
	var spare spareStream
	defer spare.close()
	refill := func() {
		if c, err := ctl.DialStream(context.Background()); err == nil {
			spare.put(c)
		}
	}
	go refill()
	for {
		remote, err := t.listener.Accept()
		if err != nil {
			return
		}
		local := spare.take()
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			defer remote.Close()
			var err error
			if local == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				local, err = ctl.DialStream(ctx)
				cancel()
			}
			go refill()
			if err == nil {
				err = agent.StartStream(local, t.session.Grant.ID)
			}
			if err != nil {
				t.log.Warn("forwarded connection not served", "err", err)
				if local != nil {
					local.Close()
				}
				return
			}
			defer local.Close()
			pipe(remote, local)
		}()
	}
}

// pipe copies both ways until either side is done.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			dst.Close()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
}

// sessionDir is the session's directory on the remote host, relative to
// $HOME. The id is hex, so it needs no quoting in shell.
func sessionDir(id string) string { return ".aws-sso-agent/sessions/" + id }

// installScript runs under `exec sh -c` so that it works whatever the
// user's login shell is (fish and csh have no $PPID). It prints its
// parent, the per-connection sshd that is also the parent of the user's
// shell, then stores stdin as session.json: 0600 in 0700 directories.
const installScript = `umask 077 && d="$HOME/%[1]s" && mkdir -p "$d" && chmod 700 "$HOME/.aws-sso-agent" "$HOME/.aws-sso-agent/sessions" "$d" && echo "$PPID" && cat > "$d/session.json.tmp" && mv -f "$d/session.json.tmp" "$d/session.json"`

// installSession writes the session file over the authenticated SSH
// connection, through the command's stdin: the token never appears in a
// command line on the remote host.
func (t *tunnel) installSession(ctx context.Context) error {
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
	script := fmt.Sprintf(installScript, sessionDir(t.session.Grant.ID))
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
	file, err := sessionFileFor(t.session.Grant, t.port, pid, host, time.Now())
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

// sessionFileFor is the session.json of grant for the remote host, in the
// one format aws-sso-remote reads (remote.Session).
func sessionFileFor(g agent.SessionGrant, port, sshdPID int, host string, now time.Time) ([]byte, error) {
	key, err := base64.RawURLEncoding.DecodeString(g.ProofKey)
	if err != nil {
		return nil, fmt.Errorf("proof key from the agent: %w", err)
	}
	return (&remote.Session{
		ID: g.ID, Port: port, Token: g.Token, ProofKey: key, CAPEM: []byte(g.CA),
		Slots: g.Slots, SSHDPID: sshdPID, Host: host, Created: now, FQDN: g.FQDN,
	}).Encode()
}

// removeSession deletes the session's directory on the remote host, while
// the connection still allows it. Best effort, bounded in time.
func (t *tunnel) removeSession() {
	if t.client == nil || t.session == nil {
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
		s.Run(`exec sh -c 'rm -rf "$HOME/` + sessionDir(t.session.Grant.ID) + `"'`)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
}

// close ends the tunnel: session file, forward, connection, then the
// agent session (which revokes the token).
func (t *tunnel) close() {
	if t.listener != nil {
		t.removeSession()
		t.listener.Close()
	}
	if t.client != nil {
		t.client.Close()
	}
	if t.session != nil {
		t.session.Close()
	}
	t.wg.Wait()
}

// shellQuote single-quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
