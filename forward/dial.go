package forward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Client is an SSH connection made by Dial. It embeds *ssh.Client, so
// sessions, Dial and Listen work as usual; Close also closes the ProxyJump
// hops under it, and Wait reports why the connection ended, including a
// keepalive timeout (*KeepaliveTimeoutError).
type Client struct {
	*ssh.Client
	hops []*ssh.Client // jump hosts, first hop first

	mu        sync.Mutex
	closeErr  error
	stopAlive chan struct{}
	closeOnce sync.Once
}

// KeepaliveTimeoutError reports a server that stopped answering keepalives
// (OpenSSH: "Timeout, server HOST not responding.").
type KeepaliveTimeoutError struct {
	Host     string
	Interval time.Duration
	Missed   int
}

func (e *KeepaliveTimeoutError) Error() string {
	return fmt.Sprintf("forward: timeout, server %s not responding: %d keepalives unanswered (ServerAliveInterval %s, ServerAliveCountMax %d)",
		e.Host, e.Missed, e.Interval, e.Missed)
}

// AuthError reports that the server accepted none of the credentials
// offered (OpenSSH: "Permission denied (publickey)").
type AuthError struct {
	User, Addr string
	Err        error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("forward: permission denied for %s at %s: %v", e.User, e.Addr, e.Err)
}

func (e *AuthError) Unwrap() error { return e.Err }

// ConnectTimeoutError reports a TCP connect or SSH handshake that did not
// finish within ConnectTimeout.
type ConnectTimeoutError struct {
	Addr  string
	After time.Duration
	Stage string // "connect" or "handshake"
}

func (e *ConnectTimeoutError) Error() string {
	return fmt.Sprintf("forward: %s to %s timed out after %s (ConnectTimeout)", e.Stage, e.Addr, e.After)
}

func (e *ConnectTimeoutError) Timeout() bool { return true }

// Dial connects to cfg's host, through cfg.Jumps when set, verifying every
// host key and authenticating at every hop. ConnectTimeout bounds the TCP
// connect and the handshake of each hop; ctx cancels either. When
// ServerAliveInterval is set, keepalives run until Close.
func Dial(ctx context.Context, cfg *Config) (*Client, error) {
	if cfg.ProxyCommand != "" && len(cfg.Jumps) > 0 {
		return nil, fmt.Errorf("forward: %s: ProxyCommand and ProxyJump exclude each other", cfg.Host)
	}
	for _, h := range cfg.Jumps {
		if h.ProxyCommand != "" {
			return nil, fmt.Errorf("forward: jump host %s: ProxyCommand on a ProxyJump hop is not supported", h.Host)
		}
	}
	c := &Client{stopAlive: make(chan struct{})}
	var via *ssh.Client
	chain := append(append([]*Config(nil), cfg.Jumps...), cfg)
	for i, hop := range chain {
		if hop != cfg {
			// A hop asks the same person, logs to the same place.
			h := *hop
			if h.Prompt == nil {
				h.Prompt = cfg.Prompt
			}
			if h.Logger == nil {
				h.Logger = cfg.Logger
			}
			if cfg.BatchMode {
				h.BatchMode = true
			}
			hop = &h
		}
		sc, err := dialHop(ctx, hop, via)
		if err != nil {
			for j := len(c.hops) - 1; j >= 0; j-- {
				c.hops[j].Close()
			}
			if i < len(chain)-1 {
				return nil, &jumpError{host: hop.Host, err: err}
			}
			return nil, err
		}
		if i < len(chain)-1 {
			c.hops = append(c.hops, sc)
			via = sc
			continue
		}
		c.Client = sc
	}
	// Every hop gets its own keepalives, as each ssh process of an
	// OpenSSH ProxyJump chain would: a frozen jump host stalls everything.
	for i, hop := range chain {
		if hop.ServerAliveInterval <= 0 {
			continue
		}
		sc := c.Client
		if i < len(c.hops) {
			sc = c.hops[i]
		}
		go c.keepalive(sc, hop)
	}
	return c, nil
}

// dialHop opens the transport to one host (TCP, or a direct-tcpip channel
// of via) and runs the SSH handshake under ConnectTimeout.
func dialHop(ctx context.Context, cfg *Config, via *ssh.Client) (*ssh.Client, error) {
	addr := net.JoinHostPort(cfg.HostName, strconv.Itoa(cfg.Port))
	checker, err := newHostKeyChecker(cfg)
	if err != nil {
		return nil, err
	}
	methods, agentConn, err := authMethods(cfg)
	if err != nil {
		return nil, err
	}
	defer agentConn.Close() // signatures happen during the handshake only

	dctx := ctx
	if cfg.ConnectTimeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, cfg.ConnectTimeout)
		defer cancel()
	}
	var conn net.Conn
	if cfg.ProxyCommand != "" && via == nil {
		conn, err = dialProxyCommand(dctx, cfg)
	} else if via == nil {
		var d net.Dialer
		conn, err = d.DialContext(dctx, "tcp", addr)
	} else {
		conn, err = via.DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		if cfg.ConnectTimeout > 0 && errors.Is(dctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, &ConnectTimeoutError{Addr: addr, After: cfg.ConnectTimeout, Stage: "connect"}
		}
		return nil, fmt.Errorf("forward: connect to %s: %w", addr, err)
	}

	// x/crypto's ClientConfig.Timeout covers only the TCP connect, and a
	// channel of a jump host has no deadlines: close the conn when the
	// handshake outlives ConnectTimeout or ctx.
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	clientCfg := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              methods,
		HostKeyCallback:   checker.callback,
		HostKeyAlgorithms: checker.algorithms(),
	}
	sconn, chans, reqs, err := ssh.NewClientConn(conn, addr, clientCfg)
	if !stop() {
		// The timer fired: whatever the handshake returned, the conn is gone.
		if err == nil {
			sconn.Close()
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("forward: handshake with %s: %w", addr, ctx.Err())
		}
		return nil, &ConnectTimeoutError{Addr: addr, After: cfg.ConnectTimeout, Stage: "handshake"}
	}
	if err != nil {
		conn.Close()
		var changed *HostKeyChangedError
		var unknown *UnknownHostError
		var revoked *RevokedHostKeyError
		// x/crypto wraps the callback's error in "ssh: handshake failed:";
		// ours says it all, so return it bare.
		switch {
		case errors.As(err, &changed):
			return nil, changed
		case errors.As(err, &unknown):
			return nil, unknown
		case errors.As(err, &revoked):
			return nil, revoked
		}
		if algos := clientCfg.HostKeyAlgorithms; len(algos) > 0 && strings.Contains(err.Error(), "no common algorithm for host key") {
			// We offered only the types known_hosts holds for the host
			// (golang/go#29286); a server without any of them has had its
			// keys replaced, or is not the host we know.
			return nil, fmt.Errorf("forward: %s offers none of the host key types known_hosts holds for it (%s): "+
				"its keys may have been replaced, or this is not the host you know; check with its administrator, "+
				"then remove the old entry (%s): %w",
				addr, strings.Join(algos, ", "), keygenRemove(checker.name), err)
		}
		// x/crypto has no type for this, only the message.
		if strings.Contains(err.Error(), "ssh: unable to authenticate") {
			return nil, &AuthError{User: cfg.User, Addr: addr, Err: err}
		}
		return nil, fmt.Errorf("forward: ssh handshake with %s as %s: %w", addr, cfg.User, err)
	}
	logf(cfg, "connected", "addr", addr, "user", cfg.User, "server", string(sconn.ServerVersion()))
	return ssh.NewClient(sconn, chans, reqs), nil
}

// keepalive sends keepalive@openssh.com every ServerAliveInterval. Any
// reply, even "failure" (OpenSSH's answer), proves the server alive;
// ServerAliveCountMax unanswered in a row closes the connection, as in
// OpenSSH's client (serverloop: server_alive_check).
func (c *Client) keepalive(sc *ssh.Client, cfg *Config) {
	t := time.NewTicker(cfg.ServerAliveInterval)
	defer t.Stop()
	replies := make(chan struct{}, 1)
	ended := make(chan struct{})
	go func() { sc.Wait(); close(ended) }()
	missed := 0
	host := net.JoinHostPort(cfg.HostName, strconv.Itoa(cfg.Port))
	for {
		select {
		case <-c.stopAlive:
			return
		case <-ended:
			return
		case <-replies:
			missed = 0
		case <-t.C:
			if missed >= cfg.ServerAliveCountMax {
				c.closeWith(&KeepaliveTimeoutError{Host: host, Interval: cfg.ServerAliveInterval, Missed: missed})
				return
			}
			missed++
			go func() {
				// Blocks until the reply or until the connection closes.
				if _, _, err := sc.SendRequest("keepalive@openssh.com", true, nil); err == nil {
					select {
					case replies <- struct{}{}:
					default:
					}
				}
			}()
		}
	}
}

func (c *Client) closeWith(err error) error {
	var cerr error
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closeErr = err
		c.mu.Unlock()
		close(c.stopAlive)
		cerr = c.Client.Close()
		for j := len(c.hops) - 1; j >= 0; j-- {
			c.hops[j].Close()
		}
	})
	return cerr
}

// Close closes the connection and every jump host under it.
func (c *Client) Close() error { return c.closeWith(nil) }

// Wait blocks until the connection ends. It returns *KeepaliveTimeoutError
// when keepalives closed it, else what x/crypto's Wait returns.
func (c *Client) Wait() error {
	err := c.Client.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeErr != nil {
		return c.closeErr
	}
	return err
}

// Err returns why the connection was closed by this package (a keepalive
// timeout), or nil.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// jumpError names the ProxyJump hop that failed, keeping the hop's typed
// error reachable with errors.As.
type jumpError struct {
	host string
	err  error
}

func (e *jumpError) Error() string {
	return "forward: jump host " + e.host + ": " + strings.TrimPrefix(e.err.Error(), "forward: ")
}

func (e *jumpError) Unwrap() error { return e.err }
