package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// dialProxyCommand runs cfg.ProxyCommand and speaks SSH over its stdin and
// stdout, as OpenSSH does (sshconnect.c ssh_proxy_connect). AWS users meet
// it as `ProxyCommand aws ssm start-session ...`. The command's stderr goes
// to cfg.ProxyStderr (the terminal, in the CLI), else it is discarded.
func dialProxyCommand(ctx context.Context, cfg *Config) (net.Conn, error) {
	// The names go into a shell command line: refuse shell syntax in them,
	// as OpenSSH 9.6 does since CVE-2023-51385 (a hostile name from, say,
	// a git submodule URL ran commands through %h).
	for _, v := range []struct{ what, val string }{{"host name", cfg.HostName}, {"host", cfg.Host}, {"user", cfg.User}} {
		if !shellSafe(v.val) {
			return nil, fmt.Errorf("forward: ProxyCommand: %s %q has characters a shell would interpret", v.what, v.val)
		}
	}
	// ssh_config(5): ProxyCommand accepts %%, %h, %n, %p and %r.
	line, err := expandTokens(cfg.ProxyCommand, tokens{
		host: cfg.Host, hostName: cfg.HostName, port: cfg.Port, remoteUser: cfg.User,
	}, "ProxyCommand")
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	cmd := proxyCommand(line)
	// Our own pipes, not StdinPipe/StdoutPipe: Wait closes those as soon
	// as the command exits, which loses its last output and turns our
	// next read or write into "file already closed".
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("forward: ProxyCommand: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("forward: ProxyCommand: %w", err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, cfg.ProxyStderr
	err = cmd.Start()
	inR.Close() // the child's ends: only the child holds them now
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("forward: ProxyCommand: start %q: %w", line, err)
	}
	c := &commandConn{cmd: cmd, r: outR, w: inW, done: make(chan struct{})}
	go func() { c.waitErr = cmd.Wait(); close(c.done) }()
	if err := ctx.Err(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// commandConn is a net.Conn over a child process's stdin and stdout.
// Deadlines are not supported: Dial bounds the handshake by closing the
// conn, which kills the command.
type commandConn struct {
	cmd     *exec.Cmd
	r       io.ReadCloser
	w       io.WriteCloser
	done    chan struct{}
	waitErr error
	once    sync.Once
}

func (c *commandConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		err = c.exited(err)
	}
	return n, err
}

// Write fails with a broken pipe once the command has gone: the useful
// news is how it exited.
func (c *commandConn) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil && !errors.Is(err, os.ErrClosed) { // closed by us: not news of the command
		err = c.exited(err)
	}
	return n, err
}

// exited turns err, seen because the command stopped talking, into the
// command's exit status when it exited with an error. It waits a little
// for the exit to be reaped, which a loaded machine can make slow; a
// command that closed its output but runs on just costs that wait.
func (c *commandConn) exited(err error) error {
	select {
	case <-c.done:
		if c.waitErr != nil {
			return fmt.Errorf("forward: ProxyCommand exited: %w", c.waitErr)
		}
	case <-time.After(2 * time.Second):
	}
	return err
}

func (c *commandConn) Close() error {
	c.once.Do(func() {
		c.w.Close()
		c.cmd.Process.Kill()
		<-c.done
		c.r.Close()
	})
	return nil
}

type commandAddr struct{}

func (commandAddr) Network() string { return "proxycommand" }
func (commandAddr) String() string  { return "proxycommand" }

func (c *commandConn) LocalAddr() net.Addr  { return commandAddr{} }
func (c *commandConn) RemoteAddr() net.Addr { return commandAddr{} }

var errNoDeadline = errors.New("forward: ProxyCommand connection has no deadlines")

func (c *commandConn) SetDeadline(time.Time) error      { return errNoDeadline }
func (c *commandConn) SetReadDeadline(time.Time) error  { return errNoDeadline }
func (c *commandConn) SetWriteDeadline(time.Time) error { return errNoDeadline }

// shellSafe reports whether s can be pasted into a shell command line
// without meaning anything but itself.
func shellSafe(s string) bool {
	if strings.HasPrefix(s, "-") {
		return false
	}
	return !strings.ContainsAny(s, "'`\"$\\;&|<>(){}*?[]!#~ \t\r\n")
}
