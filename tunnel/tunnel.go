package tunnel

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/forward"
)

// Options are the settings of a tunnel, shared by `ssh` and `forward`.
type Options struct {
	// Dest is the destination as given: "host", "user@host" or an ssh_config alias.
	Dest string
	// SSH are OpenSSH's command-line settings (-F -p -l -i -J -o).
	SSH forward.Options
	// Slots are the slots the session may read ("" is the default slot).
	Slots []string
	// RemotePort is the port to forward on the remote host's 127.0.0.1;
	// 0 lets the server choose a free one.
	RemotePort int
	// Agent is the running agent's control socket.
	Agent agent.ControlClient
	// Prompt asks the person at the terminal; nil means nobody to ask.
	Prompt forward.Prompter
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// Helpers holds the aws-sso-remote builds shipped with the agent,
	// named HelperName(GOOS, GOARCH); Open installs the remote host's at
	// HelperPath when it is missing or differs. nil installs nothing.
	Helpers fs.FS
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o.Logger
}

// Tunnel is one SSH connection carrying one agent session: the remote
// forward, the session's file on the remote host, and the streams that
// carry forwarded connections to the agent.
type Tunnel struct {
	client   *forward.Client
	listener net.Listener
	port     int
	host     string // user@host, for messages
	wg       sync.WaitGroup
	log      *slog.Logger

	// agent and slots open a session in place of one the agent lost
	// (Run, renew).
	agent agent.ControlClient
	slots []string
	// helpers are Options.Helpers; probe is what the session install
	// reported for them (probeMarker's line), when helpers is set.
	helpers fs.FS
	probe   string
	// helperErr is why Open did not install the helper (HelperError).
	helperErr error
	// stop is closed by Close: renewals give up.
	stop     chan struct{}
	stopOnce sync.Once

	mu      sync.Mutex
	session *agent.SessionHandle // replaced by renew

	// ended is closed when the SSH connection ends; connErr is then what
	// forward.Client.Wait returned.
	ended   chan struct{}
	connErr error
}

// Open asks the agent for a session, connects, forwards, and installs the
// session on the remote host. Any failure closes what was opened. Errors
// wrap agent.ErrNotRunning when no agent runs, and forward's typed errors
// (*forward.ForwardDeniedError, *forward.HostKeyChangedError, ...).
func Open(ctx context.Context, o Options) (_ *Tunnel, err error) {
	log := o.logger()
	cfg, err := forward.Resolve(ctx, o.Dest, o.SSH)
	if err != nil {
		return nil, err
	}
	cfg.Prompt = o.Prompt
	cfg.Logger = log
	t := &Tunnel{host: cfg.User + "@" + cfg.Host, log: log, ended: make(chan struct{}),
		agent: o.Agent, slots: o.Slots, stop: make(chan struct{}), helpers: o.Helpers}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()

	t.session, err = o.Agent.OpenSession(ctx, t.host, o.Slots)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	t.client, err = forward.Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	log.Debug("connected", "host", t.host, "took", time.Since(start).Round(time.Microsecond))
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.connErr = t.client.Wait()
		close(t.ended)
	}()
	t.listener, err = forward.ListenRemote(t.client.Client, o.RemotePort)
	if err != nil {
		return nil, err
	}
	t.port = t.listener.Addr().(*net.TCPAddr).Port
	t.session.SetPort(t.port)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.serve(o.Agent)
	}()
	start = time.Now()
	if err := t.installSession(ctx, t.session.Grant); err != nil {
		return nil, fmt.Errorf("install the session on %s: %w", t.host, err)
	}
	log.Debug("session installed", "host", t.host, "probe", o.Helpers != nil, "took", time.Since(start).Round(time.Microsecond))
	if o.Helpers != nil {
		// Without the helper the session still serves a helper installed
		// by hand: a failure here is a warning, not the end.
		start = time.Now()
		switch uploaded, err := t.installHelper(); {
		case err != nil:
			// The caller says so as it says things (HelperError).
			t.helperErr = fmt.Errorf("aws-sso-remote not installed on %s: %w", t.host, err)
			log.Debug("aws-sso-remote not installed on the remote host", "host", t.host, "err", err)
		case uploaded:
			log.Info("installed aws-sso-remote on the remote host", "host", t.host, "path", "~/"+HelperPath, "took", time.Since(start).Round(time.Microsecond))
		default:
			log.Debug("aws-sso-remote up to date", "host", t.host, "took", time.Since(start).Round(time.Microsecond))
		}
	}
	log.Debug("tunnel up", "host", t.host, "remote_port", t.port, "session", t.session.Grant.ID)
	return t, nil
}

// HelperError says why Open could not install or update aws-sso-remote
// on the remote host (*HelperMissingError when none ships for its
// platform), nil when it did, found it up to date, or was not asked to.
// The tunnel works without it: a helper installed by hand still finds the
// session.
func (t *Tunnel) HelperError() error { return t.helperErr }

// Host is the remote user and host, "user@host".
func (t *Tunnel) Host() string { return t.host }

// Port is the forwarded port on the remote host's 127.0.0.1.
func (t *Tunnel) Port() int { return t.port }

// SessionID is the agent session's id, as `aws-sso-agent sessions` lists it.
func (t *Tunnel) SessionID() string { return t.current().Grant.ID }

// current is the agent session the tunnel carries now.
func (t *Tunnel) current() *agent.SessionHandle {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.session
}

// Close ends the tunnel: session file, forward, connection, then the
// agent session (which revokes the token).
func (t *Tunnel) Close() {
	// Under mu, so that a renewal either sees stop or has handed its
	// session over before Close reads it.
	t.mu.Lock()
	t.stopOnce.Do(func() { close(t.stop) })
	h := t.session
	t.mu.Unlock()
	if t.listener != nil {
		if h != nil {
			t.removeSession(h.Grant.ID)
		}
		t.listener.Close()
	}
	if t.client != nil {
		t.client.Close()
	}
	if h != nil {
		h.Close()
	}
	t.wg.Wait()
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
func (t *Tunnel) serve(ctl agent.ControlClient) {
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
			dial := func() (net.Conn, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				return ctl.DialStream(ctx)
			}
			var err error
			spared := local != nil
			if !spared {
				local, err = dial()
			}
			go refill()
			if err == nil {
				err = agent.StartStream(local, t.current().Grant.ID)
			}
			if err != nil && spared {
				// The spare was dialed to an agent that has since gone
				// (restarted): the agent that is back gets a fresh one.
				local.Close()
				if local, err = dial(); err == nil {
					err = agent.StartStream(local, t.current().Grant.ID)
				}
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
