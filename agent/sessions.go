package agent

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// An SSH session (docs/ssh.md) reads the agent's credentials through a port
// forwarded to the remote host. Each session has its own token, valid only
// on connections that arrive through that session's forward (the
// endpoint's channel named by the session id) and only for the slots the
// session was given, and revoked when the session ends. Forwarded
// connections reach the agent over the control socket, so only a process
// of this user can claim to carry a session's traffic.
//
// Each session also has a proof key: aws-sso-remote asks the agent to prove,
// over pinned TLS and before it sends the token, that it knows the session
// (wire.Proof). A process squatting the remote port cannot.

// Proofs are answered without a token, so anyone who can reach a
// session's forwarded port on the remote host may ask for them. aws-sso-remote
// asks once per connection, and a remote host's SDKs open a handful of
// connections at once; the limits below leave room for that while a
// flood gets a canned 429, held back, before any keying material is
// exported, and is logged as one line a minute (docs/threat-model.md).
const (
	// ProofRate and ProofBurst limit the proofs of one session.
	ProofRate  = rate.Limit(16)
	ProofBurst = 64
	// ProofConnRate and ProofConnBurst limit the proofs over one
	// connection, which needs one.
	ProofConnRate  = rate.Limit(1)
	ProofConnBurst = 4
	// ProofHold is how long the answer to a refused proof is held back.
	// net/http reads a connection's next request only once it has
	// answered this one, so a flood pipelined on one connection runs at
	// one refusal a second, costing no CPU while it waits; the session's
	// connections are bounded (256), and so is the whole flood's work.
	ProofHold = time.Second
	// proofLogEvery is the least time between two "session proofs" lines
	// of one session.
	proofLogEvery = time.Minute
)

// ErrNoSession is returned for an unknown or ended session.
var ErrNoSession = errors.New("no such session")

// SessionGrant is what the SSH client receives for a new session and hands
// to the remote host. It holds secrets: never log it.
type SessionGrant struct {
	ID       string   `json:"id"`
	Token    string   `json:"token"`
	ProofKey string   `json:"proof_key"` // base64url, no padding
	CA       string   `json:"ca"`        // the agent's root certificate, PEM
	Slots    []string `json:"slots"`
	// FQDN is the public name the agent serves a publicly trusted
	// certificate for (docs/tls.md), "" if none: the remote helper exports
	// https://FQDN:PORT/ after checking that the name resolves to loopback
	// there too.
	FQDN string `json:"fqdn,omitempty"`
}

// SessionInfo describes a live session; it holds no secret.
type SessionInfo struct {
	ID         string    `json:"id"`
	Host       string    `json:"host"`
	RemotePort int       `json:"remote_port,omitempty"`
	Slots      []string  `json:"slots"`
	Started    time.Time `json:"started"`
	Requests   int64     `json:"requests"`
}

// Sessions holds the live SSH sessions.
type Sessions struct {
	tokens *Tokens
	caPEM  string
	now    func() time.Time
	log    *slog.Logger

	fqdn atomic.Pointer[string] // SetFQDN

	mu     sync.Mutex
	m      map[string]*Session
	closed bool // CloseAll ran: the agent is stopping
}

// SetFQDN sets the public name new sessions are given in their grant
// ("" for none); the agent calls it whenever it starts or stops serving
// its public certificate. Sessions already open keep what they were
// given: their helper checks DNS before it uses the name.
func (s *Sessions) SetFQDN(name string) { s.fqdn.Store(&name) }

// Session is one live SSH session.
type Session struct {
	info     SessionInfo // ID, Host, Slots, Started never change
	port     atomic.Int64
	requests atomic.Int64
	token    string
	proofKey []byte
	proofs   *rate.Limiter
	conns    *SessionListener
	done     chan struct{}
	once     sync.Once
	endErr   error // why the session ended, set before done is closed

	// Proofs served and refused, and when the last "session proofs" line
	// was logged (Unix ns; 0: never).
	proofsServed, proofsRefused, proofLogged atomic.Int64
}

// NewSessions returns an empty registry adding its tokens to tokens.
// caPEM is the root the remote helper pins.
func NewSessions(tokens *Tokens, caPEM []byte, logger *slog.Logger) *Sessions {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Sessions{tokens: tokens, caPEM: string(caPEM), now: time.Now, log: logger, m: map[string]*Session{}}
}

// Open starts a session for host that may read slots ("" is the default
// slot; nil means the default slot only). Serve the session's Listener on
// the endpoint with ServeChannel(l, id).
func (s *Sessions) Open(host string, slots []string) (*Session, SessionGrant, error) {
	if len(slots) == 0 {
		slots = []string{""}
	}
	for _, name := range slots {
		if name != "" {
			if err := wire.ValidateSlotName(name); err != nil {
				return nil, SessionGrant{}, err
			}
		}
	}
	slots = slices.Clone(slots)
	var idb [wire.SessionIDSize]byte
	key := make([]byte, wire.ProofKeySize)
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, SessionGrant{}, fmt.Errorf("agent: session id: %w", err)
	}
	if _, err := rand.Read(key); err != nil {
		return nil, SessionGrant{}, fmt.Errorf("agent: session proof key: %w", err)
	}
	token, err := NewToken()
	if err != nil {
		return nil, SessionGrant{}, err
	}
	id := hex.EncodeToString(idb[:])
	sess := &Session{
		info:     SessionInfo{ID: id, Host: host, Slots: slots, Started: s.now()},
		token:    token,
		proofKey: key,
		proofs:   rate.NewLimiter(ProofRate, ProofBurst),
		conns:    newSessionListener(),
		done:     make(chan struct{}),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, SessionGrant{}, fmt.Errorf("the agent is stopping: %w", ErrNoSession)
	}
	s.m[id] = sess
	s.mu.Unlock()
	s.tokens.Add(token, Grant{SessionID: id, Slots: slots})
	s.log.Info("session opened", "session", id, "host", host, "slots", slotLabels(slots))
	return sess, SessionGrant{
		ID:       id,
		Token:    token,
		ProofKey: base64.RawURLEncoding.EncodeToString(key),
		CA:       s.caPEM,
		Slots:    slots,
		FQDN:     s.publicName(),
	}, nil
}

func (s *Sessions) publicName() string {
	if p := s.fqdn.Load(); p != nil {
		return *p
	}
	return ""
}

// errRevokedByUser is why a session revoked on the control socket ended:
// its holder must not open another one in its place.
var errRevokedByUser = &codedError{err: errors.New("session revoked by the user"), is: ErrSessionRevoked}

// Close ends session id: its token is revoked at once and its forwarded
// connections are closed. why is logged, and told to the session's holder
// as an ErrNoSession error: the session ended for a reason that is not the
// user's revocation (the agent is stopping), so a new session may follow.
func (s *Sessions) Close(id, why string) error {
	return s.end(id, why, &codedError{err: errors.New(why), is: ErrNoSession})
}

// Revoke ends session id at the user's request, as Close does, and tells
// its holder so with ErrSessionRevoked: a client that keeps a tunnel up
// (aws-sso-agent forward) stops instead of opening a new session.
func (s *Sessions) Revoke(id string) error {
	return s.end(id, "revoked by the user", errRevokedByUser)
}

func (s *Sessions) end(id, why string, reason error) error {
	s.mu.Lock()
	sess, ok := s.m[id]
	delete(s.m, id)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("session %s: %w", id, ErrNoSession)
	}
	s.tokens.RevokeSession(id)
	sess.once.Do(func() {
		sess.endErr = reason
		close(sess.done)
		sess.conns.Close()
	})
	s.log.Info("session closed", "session", id, "host", sess.info.Host, "why", why, "requests", sess.requests.Load(),
		"proofs", sess.proofsServed.Load(), "proofs_refused", sess.proofsRefused.Load())
	return nil
}

// CloseAll ends every session and refuses new ones (agent shutdown).
func (s *Sessions) CloseAll() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	for _, info := range s.List() {
		s.Close(info.ID, "agent stopping")
	}
}

// Attach hands a forwarded connection of session id to the endpoint.
func (s *Sessions) Attach(id string, c net.Conn) error {
	sess := s.get(id)
	if sess == nil {
		return fmt.Errorf("session %s: %w", id, ErrNoSession)
	}
	return sess.conns.push(c)
}

// SetPort records the remote port the session's forward listens on.
func (s *Sessions) SetPort(id string, port int) {
	if sess := s.get(id); sess != nil {
		sess.port.Store(int64(port))
	}
}

// List returns the live sessions, oldest first.
func (s *Sessions) List() []SessionInfo {
	s.mu.Lock()
	out := make([]SessionInfo, 0, len(s.m))
	for _, sess := range s.m {
		out = append(out, sess.snapshot())
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out
}

// errProofLimited refuses a proof over the session's or the connection's
// rate.
var errProofLimited = errors.New("too many proof requests")

// proofKey returns the proof key of a live session, if a proof is within
// the session's rate and conn's (the connection's limiter, nil for none).
// Every call is counted, and logged in aggregate: at most one line per
// session every proofLogEvery.
func (s *Sessions) proofKey(id string, conn *rate.Limiter) ([]byte, error) {
	sess := s.get(id)
	if sess == nil {
		return nil, ErrNoSession
	}
	now := s.now()
	// The connection's first: a flood on one connection must not use up
	// the session's proofs for the others.
	ok := (conn == nil || conn.AllowN(now, 1)) && sess.proofs.AllowN(now, 1)
	if ok {
		sess.proofsServed.Add(1)
	} else {
		sess.proofsRefused.Add(1)
	}
	if last := sess.proofLogged.Load(); now.UnixNano()-last >= int64(proofLogEvery) && sess.proofLogged.CompareAndSwap(last, now.UnixNano()) {
		s.log.Info("session proofs", "session", id, "proofs", sess.proofsServed.Load(), "proofs_refused", sess.proofsRefused.Load())
	}
	if !ok {
		return nil, errProofLimited
	}
	return sess.proofKey, nil
}

// served counts a credentials answer given to session id.
func (s *Sessions) served(id string) {
	if sess := s.get(id); sess != nil {
		sess.requests.Add(1)
	}
}

func (s *Sessions) get(id string) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[id]
}

// ID is the session's id.
func (sess *Session) ID() string { return sess.info.ID }

// Listener yields the session's forwarded connections.
func (sess *Session) Listener() net.Listener { return sess.conns }

// Done is closed when the session ends.
func (sess *Session) Done() <-chan struct{} { return sess.done }

// Err says why the session ended, once Done is closed: an error matching
// ErrSessionRevoked for a revocation by the user, ErrNoSession otherwise.
func (sess *Session) Err() error {
	<-sess.done
	return sess.endErr
}

func (sess *Session) snapshot() SessionInfo {
	info := sess.info
	info.Slots = slices.Clone(info.Slots)
	info.RemotePort = int(sess.port.Load())
	info.Requests = sess.requests.Load()
	return info
}

func slotLabels(slots []string) []string {
	out := make([]string, len(slots))
	for i, s := range slots {
		out[i] = wire.SlotName(s)
	}
	return out
}

// SessionListener is a net.Listener fed with connections by Attach. Closing
// it also closes the connections it handed out, so an ended session's
// forwarded connections die with it.
type SessionListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once

	mu     sync.Mutex
	given  map[*sessionConn]struct{}
	closed bool
}

// sessionConn is a handed-out connection; closing it forgets it.
type sessionConn struct {
	net.Conn
	l    *SessionListener
	once sync.Once
}

func (c *sessionConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.given, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

func newSessionListener() *SessionListener {
	return &SessionListener{conns: make(chan net.Conn), done: make(chan struct{}), given: map[*sessionConn]struct{}{}}
}

func (l *SessionListener) push(c net.Conn) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return fmt.Errorf("session ended: %w", ErrNoSession)
	}
	sc := &sessionConn{Conn: c, l: l}
	l.given[sc] = struct{}{}
	l.mu.Unlock()
	select {
	case l.conns <- sc:
		return nil
	case <-l.done:
		sc.Close()
		return fmt.Errorf("session ended: %w", ErrNoSession)
	}
}

// Accept returns the next forwarded connection.
func (l *SessionListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops the listener and closes every connection it handed out.
func (l *SessionListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.mu.Lock()
		l.closed = true
		given := make([]*sessionConn, 0, len(l.given))
		for c := range l.given {
			given = append(given, c)
		}
		l.mu.Unlock()
		for _, c := range given {
			c.Close()
		}
	})
	return nil
}

// Addr is a placeholder: the connections come from the control socket.
func (l *SessionListener) Addr() net.Addr { return sessionAddr{} }

type sessionAddr struct{}

func (sessionAddr) Network() string { return "session" }
func (sessionAddr) String() string  { return "ssh-session" }
