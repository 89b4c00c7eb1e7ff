package agent

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Limits of a request. SDK credential requests are a short request line and
// a handful of headers (Host, Authorization with a 43-byte token,
// User-Agent, Accept), well under a kilobyte.
const (
	endpointMaxURI         = 1 << 10 // 414 above this
	endpointMaxHeaderBytes = 8 << 10 // 431 above this, decided by the handler
	// endpointServerMaxHeaderBytes is what net/http reads before it gives up
	// with its own plain-text 431. It is far above endpointMaxHeaderBytes so
	// that oversized requests up to this size still reach the handler and get
	// a JSON error; beyond it (256 KiB, plus net/http's 4 KiB slack) Go
	// answers by itself.
	endpointServerMaxHeaderBytes = 256 << 10
)

// Timeouts of a connection.
const (
	// endpointReadHeaderTimeout bounds the TLS handshake and reading the
	// request headers: an SDK sends them in one write, so 10s only ever
	// stops slowloris-style clients holding connections open.
	endpointReadHeaderTimeout = 10 * time.Second
	// endpointReadTimeout bounds reading a whole request. Requests have no
	// body, so it equals the header timeout, which also spares net/http a
	// second read-deadline update per request (a measurable cost at tens of
	// thousands of requests per second, see endpoint_bench_test.go).
	endpointReadTimeout = endpointReadHeaderTimeout
	// endpointWriteTimeout bounds the handler plus the response write. It
	// covers a source that must fetch credentials on the spot (an STS or SSO
	// call, normally a second or two); SDK clients give up sooner (botocore's
	// ContainerMetadataFetcher after 2s, retrying 3 times).
	endpointWriteTimeout = 30 * time.Second
	// endpointIdleTimeout keeps a keep-alive connection for as long as Go's
	// http.Transport keeps an idle one (IdleConnTimeout, 90s), so a client
	// polling credentials reuses its connection instead of handshaking again.
	endpointIdleTimeout = 90 * time.Second
	// endpointSniffTimeout bounds the wait for a connection's first byte.
	endpointSniffTimeout = endpointReadHeaderTimeout
)

// Default rate of failed requests. botocore retries every non-200 three
// times, so one misconfigured client call costs four failures; a burst of
// 20 and 10 per second leave room for a few such clients while capping what
// a flood of bad requests costs in log lines and work.
const (
	DefaultFailureRate  = rate.Limit(10)
	DefaultFailureBurst = 20
)

// EndpointConfig configures an Endpoint.
type EndpointConfig struct {
	// Source answers the credentials of a slot. Required.
	Source CredentialsSource
	// Tokens holds the valid tokens. Required.
	Tokens *Tokens
	// TLSConfig serves TLS connections; usually localca.ServerTLSConfig with
	// a rotator's GetCertificate. It is cloned, with NextProtos set to
	// http/1.1 and MinVersion raised to TLS 1.2 if lower, so rotate
	// certificates through GetCertificate, not by editing the original.
	// Nil: TLS connections are closed unanswered.
	TLSConfig *tls.Config
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AllowedHosts are host names accepted in the Host header besides
	// loopback names and addresses: a public FQDN that resolves to loopback
	// (docs/tls.md). Matched case-insensitively, without port.
	AllowedHosts []string
	// HostAllowed, if set, is asked about Host names that are neither
	// loopback nor in AllowedHosts, per request: the public name the agent
	// serves right now, which may come, change or go while it runs. It
	// gets the name lowercased, without port or final dot.
	HostAllowed func(name string) bool
	// Sessions answers the session proof on SSH sessions' channels and
	// counts what each session is served. Nil: no sessions.
	Sessions *Sessions
	// FailureRate and FailureBurst limit failed requests; zero means
	// DefaultFailureRate and DefaultFailureBurst.
	FailureRate  rate.Limit
	FailureBurst int
	// MaxConns bounds the connections of the local listener (Serve); zero
	// means half the descriptor limit, at most 4096 (see limits.go). One
	// peer uid may hold half of them where the kernel tells uids (Linux),
	// and each session's forward (ServeChannel) at most 256.
	MaxConns int
}

// Endpoint is the credentials HTTP endpoint: it serves the
// container-credentials protocol of the AWS SDKs
// (AWS_CONTAINER_CREDENTIALS_FULL_URI). Create it with NewEndpoint, serve
// with Serve and ServeChannel, stop with Shutdown.
//
// It protects against:
//   - callers without a valid token (constant-time lookup, see Tokens);
//   - a token used outside its channel or grant: an SSH session's token
//     replayed on the local port, or for a slot the session was not given
//     (docs/threat-model.md);
//   - browsers and DNS rebinding: any Origin header, and any Host that is
//     not a loopback name or address or an allowed host (docs/threat-model.md; the EC2
//     metadata threat model);
//   - plain HTTP from anything but a loopback peer: SDKs send tokens in
//     clear only to loopback, so a plain-HTTP caller from the network is
//     not one of ours;
//   - floods of bad requests: failures and session proofs are rate
//     limited, oversized requests refused early, every connection
//     timeout bounded;
//   - floods of connections: each listener's connections are bounded, in
//     total and per peer uid, the idlest closed first to make room; an
//     accept error (out of descriptors) is waited out, never fatal.
//
// It is read-only (docs/threat-model.md): loading and unloading slots go through the
// control socket, never through this port.
type Endpoint struct {
	source       CredentialsSource
	tokens       *Tokens
	sessions     *Sessions
	tlsConfig    *tls.Config
	log          *slog.Logger
	now          func() time.Time
	allowedHosts []string
	hostAllowedF func(string) bool
	limiter      *rate.Limiter
	retryAfter   []string // Retry-After value for 429s
	limited      atomic.Bool
	bodies       endpointBodies
	srv          *http.Server
	budget       connBudget
	degraded     degradation // of the local listener
	// proofConn and proofBurst limit the session proofs over one
	// connection: ProofConnRate and ProofConnBurst. proofHold is how
	// long a refused proof's answer is held: ProofHold. (A benchmark
	// changes them.)
	proofConn  rate.Limit
	proofBurst int
	proofHold  time.Duration

	mu        sync.Mutex
	listeners map[*endpointListener]struct{}
	closed    bool
}

// NewEndpoint returns an endpoint serving cfg.Source to holders of
// cfg.Tokens.
func NewEndpoint(cfg EndpointConfig) (*Endpoint, error) {
	if cfg.Source == nil {
		return nil, errors.New("agent: endpoint: no credentials source")
	}
	if cfg.Tokens == nil {
		return nil, errors.New("agent: endpoint: no token registry")
	}
	e := &Endpoint{
		source:       cfg.Source,
		tokens:       cfg.Tokens,
		sessions:     cfg.Sessions,
		hostAllowedF: cfg.HostAllowed,
		log:          cfg.Logger,
		now:          cfg.Now,
		listeners:    make(map[*endpointListener]struct{}),
		budget:       defaultConnBudget(),
		proofConn:    ProofConnRate,
		proofBurst:   ProofConnBurst,
		proofHold:    ProofHold,
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if cfg.MaxConns > 0 {
		e.budget.endpoint = cfg.MaxConns
		e.budget.perPeer = max(cfg.MaxConns/2, 1)
		e.budget.channel = min(e.budget.channel, cfg.MaxConns)
	}
	e.degraded = degradation{what: "credentials endpoint", log: e.log, now: e.now}
	for _, h := range cfg.AllowedHosts {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if h != "" {
			e.allowedHosts = append(e.allowedHosts, h)
		}
	}
	r, burst := cfg.FailureRate, cfg.FailureBurst
	if r <= 0 {
		r = DefaultFailureRate
	}
	if burst <= 0 {
		burst = DefaultFailureBurst
	}
	e.limiter = rate.NewLimiter(r, burst)
	retry := 1
	if s := float64(1 / r); s > 1 {
		retry = int(s + 0.999)
	}
	e.retryAfter = []string{fmt.Sprint(retry)}

	if cfg.TLSConfig != nil {
		c := cfg.TLSConfig.Clone()
		// HTTP/1.1 only: the SDKs' credential clients speak it, and one
		// protocol means one parser facing untrusted input.
		c.NextProtos = []string{"http/1.1"}
		if c.MinVersion < tls.VersionTLS12 {
			c.MinVersion = tls.VersionTLS12 // as localca.ServerTLSConfig: docs/threat-model.md
		}
		e.tlsConfig = c
	}
	e.srv = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: endpointReadHeaderTimeout,
		ReadTimeout:       endpointReadTimeout,
		WriteTimeout:      endpointWriteTimeout,
		IdleTimeout:       endpointIdleTimeout,
		MaxHeaderBytes:    endpointServerMaxHeaderBytes,
		// A non-nil empty map disables HTTP/2 (see NextProtos above).
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ConnContext:  endpointConnContext,
		ConnState:    endpointConnState,
		// net/http logs handshake failures and the like: debug level, so
		// a flood of broken connections does not flood the log.
		ErrorLog: slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
	}
	return e, nil
}

// Serve serves connections accepted on l, the local listener (channel "").
// Each connection is TLS if its first byte starts a TLS handshake; plain
// HTTP is served only to loopback peers. Serve takes ownership of l and
// returns http.ErrServerClosed after Shutdown.
func (e *Endpoint) Serve(l net.Listener) error {
	return e.serve(l, "", false)
}

// ServeChannel serves connections of SSH session sessionID accepted on l:
// only that session's tokens are valid on them. The peers are the SSH
// forward, standing in for loopback clients on the remote host, so plain
// HTTP is served. It returns http.ErrServerClosed after Shutdown.
func (e *Endpoint) ServeChannel(l net.Listener, sessionID string) error {
	if sessionID == "" {
		return errors.New("agent: endpoint: serve channel: empty session id")
	}
	return e.serve(l, sessionID, true)
}

func (e *Endpoint) serve(l net.Listener, channel string, trusted bool) error {
	el := &endpointListener{
		raw:   l,
		conns: make(chan net.Conn),
		errc:  make(chan error, 1),
		done:  make(chan struct{}),
	}
	if channel == "" {
		// The local port: peers are processes of any local user (or,
		// beyond loopback, of any host), told apart by uid where the
		// kernel says it.
		perPeer := 0
		if tcpPeerUIDs {
			perPeer = e.budget.perPeer
		}
		el.tracker = newConnTracker(e.budget.endpoint, perPeer)
		el.peerOf = tcpPeerUID
		el.degraded = &e.degraded
	} else {
		// A session's forward: every connection comes from this user's
		// ssh over the control socket.
		el.tracker = newConnTracker(e.budget.channel, 0)
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		l.Close()
		return http.ErrServerClosed
	}
	e.listeners[el] = struct{}{}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.listeners, el)
		e.mu.Unlock()
		el.Close()
	}()
	go e.acceptLoop(el, channel, trusted)
	return e.srv.Serve(el)
}

// acceptLoop accepts raw connections and sniffs each one in its own
// goroutine, so a silent client never holds up the others. It returns
// only once the listener is closed: any other accept error (EMFILE,
// ENFILE, ENOBUFS, ECONNABORTED...) passes, so it closes the idlest
// connection to free a descriptor, backs off as net/http does and tries
// again.
func (e *Endpoint) acceptLoop(el *endpointListener, channel string, trusted bool) {
	var delay time.Duration
	for {
		c, err := el.raw.Accept()
		if err != nil {
			select {
			case <-el.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				select {
				case el.errc <- err:
				default:
				}
				return
			}
			el.degrade("accept: " + endpointAcceptErr(err))
			el.tracker.evictIdlest()
			delay = acceptBackoff(delay)
			select {
			case <-time.After(delay):
				continue
			case <-el.done:
				return
			}
		}
		delay = 0
		if el.degraded != nil {
			el.degraded.recover()
		}
		go e.sniff(el, c, channel, trusted)
	}
}

// endpointAcceptErr is an accept error without the listener's address,
// which status already shows: "accept4: too many open files".
func endpointAcceptErr(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// sniff reads a connection's first byte: 0x16 is a TLS handshake record
// (RFC 8446 5.1, ContentType handshake(22)); anything else is plain HTTP.
func (e *Endpoint) sniff(el *endpointListener, c net.Conn, channel string, trusted bool) {
	peer := peerUnknown
	if el.peerOf != nil {
		if uid, ok := el.peerOf(c); ok {
			peer = uid
		}
	}
	tc, evicted, err := el.tracker.admit(c, peer)
	switch {
	case errors.Is(err, errConnLimit):
		el.degrade(fmt.Sprintf("all %d connections busy: refusing new ones", el.tracker.max))
		c.Close()
		return
	case err != nil:
		c.Close()
		return
	case evicted:
		el.degrade(fmt.Sprintf("connection limit reached (%d, %d per peer uid): closing the idlest connections",
			el.tracker.max, el.tracker.perPeer))
	}
	// 4 KiB takes a whole TLS ClientHello (1.5 KiB with an ML-KEM share) or
	// an SDK's request in the read that sniffs it.
	ec := &endpointConn{Conn: c, br: bufio.NewReaderSize(c, 4096), channel: channel, tracker: el.tracker, tc: tc}
	c.SetReadDeadline(time.Now().Add(endpointSniffTimeout))
	first, err := ec.br.Peek(1)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		ec.Close()
		return
	}
	var out net.Conn = ec
	switch {
	case first[0] == 0x16:
		if e.tlsConfig == nil {
			ec.Close()
			return
		}
		out = tls.Server(ec, e.tlsConfig)
	case !trusted && !endpointLoopbackAddr(c.RemoteAddr()):
		e.refusePlain(ec)
		return
	}
	el.tracker.setRank(tc, rankNew)
	select {
	case el.conns <- out:
	case <-el.done:
		ec.Close()
	}
}

// refusePlain answers a plain-HTTP connection from a non-loopback peer and
// closes it, without reading the request (it may carry a token, which we
// do not want to receive in clear from the network).
func (e *Endpoint) refusePlain(c net.Conn) {
	body := `{"code":"tls_required","message":"plain HTTP is served only to loopback clients: use https"}`
	c.SetWriteDeadline(time.Now().Add(endpointSniffTimeout))
	fmt.Fprintf(c, "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	// Closing with the request unread would make the kernel send a reset,
	// which can destroy the answer before the client reads it: half-close,
	// then discard what the client sent, briefly and up to a bound.
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	io.CopyN(io.Discard, c, 64<<10)
	c.Close()
	level := slog.LevelInfo
	if !e.limiter.Allow() {
		level = slog.LevelDebug // a flood: do not let it flood the log
	}
	e.log.LogAttrs(context.Background(), level, "credentials request",
		slog.String("client", c.RemoteAddr().String()),
		slog.Int("status", http.StatusForbidden),
		slog.String("code", "tls_required"))
}

// Degraded tells whether the local listener is degraded now (out of
// descriptors, or at its connection limit), since when and why; the zero
// Degraded if it serves normally.
func (e *Endpoint) Degraded() Degraded { return e.degraded.state() }

// Shutdown stops accepting connections and waits, until ctx is done, for
// requests in flight to finish.
func (e *Endpoint) Shutdown(ctx context.Context) error {
	// The server first: once it is shutting down, Serve reports
	// http.ErrServerClosed rather than the listeners' close errors.
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	defer e.closeListeners()
	return e.srv.Shutdown(ctx)
}

// Close closes all listeners and connections at once.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	defer e.closeListeners()
	return e.srv.Close()
}

func (e *Endpoint) closeListeners() {
	e.mu.Lock()
	ls := make([]*endpointListener, 0, len(e.listeners))
	for l := range e.listeners {
		ls = append(ls, l)
	}
	e.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
}

// endpointListener hands sniffed connections to the http.Server.
type endpointListener struct {
	raw   net.Listener
	conns chan net.Conn
	errc  chan error
	done  chan struct{}
	once  sync.Once

	// tracker holds every connection from accept to close; Close closes
	// those still being sniffed, so Shutdown is prompt.
	tracker  *connTracker
	peerOf   func(net.Conn) (uid int, ok bool) // nil: one peer
	degraded *degradation                      // nil: not reported
}

func (l *endpointListener) degrade(reason string) {
	if l.degraded != nil {
		l.degraded.degrade(reason)
	}
}

func (l *endpointListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errc:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *endpointListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.raw.Close()
		l.tracker.closeRank(rankSniffing)
	})
	return err
}

func (l *endpointListener) Addr() net.Addr { return l.raw.Addr() }

// endpointConn is an accepted connection with its sniffed first byte
// buffered and the channel it belongs to.
type endpointConn struct {
	net.Conn
	br      *bufio.Reader
	channel string
	tracker *connTracker
	tc      *trackedConn
}

// Close closes the connection and frees its place in the listener's
// bound.
func (c *endpointConn) Close() error {
	c.tracker.release(c.tc)
	return c.Conn.Close()
}

func (c *endpointConn) Read(p []byte) (int, error) {
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(p)
		}
		c.br = nil // drained: read straight from the connection from now on
	}
	return c.Conn.Read(p)
}

// CloseWrite lets net/http half-close a plain connection before closing it,
// as it does for a *net.TCPConn, so clients read the last response.
func (c *endpointConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

type endpointChannelKey struct{}

// endpointConnInfo is what the handler knows about a request's connection.
type endpointConnInfo struct {
	channel string
	client  string // remote address, or "session:ID"
	// proofs limits the session proofs over this connection; made on the
	// first. net/http serves a connection's requests one at a time, so
	// it needs no lock.
	proofs *rate.Limiter
}

// endpointConnOf is the endpointConn under c, nil if c is not one of
// ours.
func endpointConnOf(c net.Conn) *endpointConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	ec, _ := c.(*endpointConn)
	return ec
}

// endpointConnState ranks a connection for eviction by what net/http is
// doing with it: between requests it is idle, the first to go.
func endpointConnState(c net.Conn, state http.ConnState) {
	ec := endpointConnOf(c)
	if ec == nil {
		return
	}
	switch state {
	case http.StateNew:
		ec.tracker.setRank(ec.tc, rankNew)
	case http.StateActive:
		ec.tracker.setRank(ec.tc, rankActive)
	case http.StateIdle:
		ec.tracker.setRank(ec.tc, rankIdle)
	case http.StateHijacked, http.StateClosed:
		ec.tracker.release(ec.tc)
	}
}

func endpointConnContext(ctx context.Context, c net.Conn) context.Context {
	ec := endpointConnOf(c)
	if ec == nil {
		return ctx
	}
	info := &endpointConnInfo{channel: ec.channel}
	if ec.channel != "" {
		info.client = "session:" + ec.channel
	} else {
		info.client = ec.RemoteAddr().String()
	}
	return context.WithValue(ctx, endpointChannelKey{}, info)
}

// endpointLoopbackAddr reports whether a is a loopback IP address.
func endpointLoopbackAddr(a net.Addr) bool {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return false
		}
		ip = ap.Addr()
	}
	return ip.Unmap().IsLoopback()
}
