package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs"
	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/sso"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// The control socket is how the CLI changes the agent: load and unload
// slots, read its status. It is a Unix socket of mode 0600 in a 0700
// directory, and every connection's peer must run as the agent's own uid
// (SO_PEERCRED, getpeereid), so neither another user nor a web page (which
// can reach TCP ports, not Unix sockets) can load or read anything. The
// credentials endpoint on TCP stays read-only (docs/threat-model.md).
//
// The protocol is one JSON request and one JSON response per connection.

// Control operations.
const (
	OpLoad   = "load"
	OpUnload = "unload"
	OpStatus = "status"
	// OpReloadCerts has the agent read its public name and certificate
	// again and check DNS now, after `certs` changed them; the answer is
	// the status that results.
	OpReloadCerts = "reload-certs"

	// OpSessionOpen starts an SSH session. The connection stays open for
	// the session's life: the client may send OpSessionPort on it, and the
	// session ends when either side closes it.
	OpSessionOpen = "session-open"
	OpSessionPort = "session-port"
	// OpSessionStream turns the connection into one forwarded connection
	// of a session, served by the endpoint on that session's channel.
	OpSessionStream = "session-stream"
	OpSessions      = "sessions"
	OpSessionRevoke = "session-revoke"
)

// maxControlMessage caps a control message. Real ones are a few hundred
// bytes; the cap keeps a confused or hostile peer from growing our memory.
const maxControlMessage = 64 << 10

// ControlRequest is one message from the CLI to the agent.
type ControlRequest struct {
	Op      string          `json:"op"`
	Load    *LoadRequest    `json:"load,omitempty"`
	Unload  *UnloadRequest  `json:"unload,omitempty"`
	Session *SessionRequest `json:"session,omitempty"`
	Certs   *CertsRequest   `json:"certs,omitempty"`
}

// SessionRequest carries the session operations' parameters: Host and
// Slots to open one, ID to stream, revoke or (with Port) update one.
type SessionRequest struct {
	ID    string   `json:"id,omitempty"`
	Host  string   `json:"host,omitempty"`
	Slots []string `json:"slots,omitempty"`
	Port  int      `json:"port,omitempty"`
}

// LoadRequest asks the agent to load a source into a slot ("" = default).
// The source is a profile, or an SSO session with an account and a role.
// ConfigFile and CredentialsFile carry the caller's AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE, so the agent resolves the profile the user
// sees; empty means the SDK's defaults.
type LoadRequest struct {
	Slot            string `json:"slot"`
	Profile         string `json:"profile,omitempty"`
	SSOSession      string `json:"sso_session,omitempty"`
	AccountID       string `json:"account_id,omitempty"`
	RoleName        string `json:"role_name,omitempty"`
	ConfigFile      string `json:"config_file,omitempty"`
	CredentialsFile string `json:"credentials_file,omitempty"`
}

// spec is the source the request names.
func (l LoadRequest) spec() SourceSpec {
	return SourceSpec{
		Profile:         l.Profile,
		SSOSession:      l.SSOSession,
		AccountID:       l.AccountID,
		RoleName:        l.RoleName,
		ConfigFile:      l.ConfigFile,
		CredentialsFile: l.CredentialsFile,
	}
}

// UnloadRequest asks the agent to drop one slot, every slot loaded from
// Profile, or all of them. Asked to drop nothing that is loaded, the agent
// fails with ErrNoSlot whichever was asked, as rm does without -f: a
// mistyped name is reported, never silently ignored.
type UnloadRequest struct {
	Slot    string `json:"slot"`
	Profile string `json:"profile,omitempty"`
	All     bool   `json:"all,omitempty"`
}

// ControlResponse is the agent's answer. Error is empty on success;
// otherwise Code says what kind of failure it is (CodeNoSlot and the
// other Code constants), and Hint, if not empty, what to do about it.
type ControlResponse struct {
	Error    string        `json:"error,omitempty"`
	Code     string        `json:"code,omitempty"`
	Hint     string        `json:"hint,omitempty"`
	Slot     *SlotInfo     `json:"slot,omitempty"`
	Status   *AgentStatus  `json:"status,omitempty"`
	Session  *SessionGrant `json:"session,omitempty"`
	Sessions []SessionInfo `json:"sessions,omitempty"`
	// Unloaded names the slots an unload dropped ("" is the default slot).
	Unloaded []string `json:"unloaded,omitempty"`
	// Certs is what an OpCerts action made.
	Certs *CertsResult `json:"certs,omitempty"`
}

// SlotInfo describes a loaded slot. It never holds a secret.
type SlotInfo struct {
	Name        string    `json:"name"`
	Profile     string    `json:"profile,omitempty"`
	Source      string    `json:"source"`
	AccountID   string    `json:"account_id,omitempty"`
	RoleARN     string    `json:"role_arn,omitempty"`
	Expires     time.Time `json:"expires,omitzero"`
	LastRefresh time.Time `json:"last_refresh,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Servable    bool      `json:"servable"`
}

// AgentStatus is what `status` shows.
type AgentStatus struct {
	Version       string    `json:"version"`
	PID           int       `json:"pid"`
	Started       time.Time `json:"started"`
	Addr          string    `json:"addr"`
	URL           string    `json:"url"`
	TLSURL        string    `json:"tls_url"`
	TokenFile     string    `json:"token_file"`
	CAFingerprint string    `json:"ca_fingerprint"`
	LeafExpires   time.Time `json:"leaf_expires"`
	Store         string    `json:"store"`
	// RefreshMargin and SourceTimeout are the settings the slots run
	// with, as Go prints durations ("15m0s").
	RefreshMargin string     `json:"refresh_margin"`
	SourceTimeout string     `json:"source_timeout"`
	Slots         []SlotInfo `json:"slots"`
	// SlotsFileError says why the slots of the last run were not
	// restored when the agent started (the slots file did not parse, and
	// was moved aside); "" when they were, or there were none.
	SlotsFileError string `json:"slots_file_error,omitempty"`

	// The public certificate (docs/tls.md), when a public name is configured.
	// PublicURL is https://FQDN:PORT/ while the public certificate is
	// served for the name, "" otherwise: what `env --tls` exports.
	PublicFQDN        string    `json:"public_fqdn,omitempty"`
	PublicURL         string    `json:"public_url,omitempty"`
	PublicCertExpires time.Time `json:"public_cert_expires,omitzero"`
	// PublicDNSCheck is "ok" when the name resolved to loopback only at
	// PublicDNSChecked, else what it resolved to or why the lookup failed.
	PublicDNSCheck   string    `json:"public_dns_check,omitempty"`
	PublicDNSChecked time.Time `json:"public_dns_checked,omitzero"`
	// PublicNotServed says why the public name is not served, if it is not.
	PublicNotServed string `json:"public_not_served,omitempty"`
	// PublicRenewAt is the next renewal attempt of a certificate from
	// ACME, PublicRenewError the last attempt's failure ("" if none).
	PublicRenewAt    time.Time `json:"public_renew_at,omitzero"`
	PublicRenewError string    `json:"public_renew_error,omitempty"`

	// EndpointDegraded says why the credentials endpoint is not serving
	// as it should (out of descriptors, at its connection limit), since
	// EndpointDegradedSince; "" while it serves normally. ControlDegraded
	// and ControlDegradedSince say the same of the control socket.
	EndpointDegraded      string    `json:"endpoint_degraded,omitempty"`
	EndpointDegradedSince time.Time `json:"endpoint_degraded_since,omitzero"`
	ControlDegraded       string    `json:"control_degraded,omitempty"`
	ControlDegradedSince  time.Time `json:"control_degraded_since,omitzero"`

	// SSOSessions are the IAM Identity Center logins the agent keeps
	// fresh, with their access tokens' expiry.
	SSOSessions []sso.SessionStatus `json:"sso_sessions,omitempty"`
}

// Validate checks a request before the agent acts on it.
func (r *ControlRequest) Validate() error {
	switch r.Op {
	case OpStatus, OpSessions, OpReloadCerts:
		return nil
	case OpCerts:
		return r.Certs.validate()
	case OpSessionOpen:
		if r.Session == nil || r.Session.Host == "" {
			return errors.New("session-open needs the host")
		}
		for _, name := range r.Session.Slots {
			if name != "" {
				if err := wire.ValidateSlotName(name); err != nil {
					return err
				}
			}
		}
		return nil
	case OpSessionStream, OpSessionRevoke, OpSessionPort:
		if r.Session == nil || r.Session.ID == "" {
			return fmt.Errorf("%s needs a session id", r.Op)
		}
		if r.Op == OpSessionPort && (r.Session.Port <= 0 || r.Session.Port > 65535) {
			return fmt.Errorf("session-port: port %d out of range", r.Session.Port)
		}
		return nil
	case OpLoad:
		l := r.Load
		if l == nil {
			return errors.New("load request without parameters")
		}
		bySession := l.SSOSession != "" || l.AccountID != "" || l.RoleName != ""
		switch {
		case l.Profile != "" && bySession:
			return errors.New("give either a profile or --sso-session with --account and --role, not both")
		case bySession && (l.SSOSession == "" || l.AccountID == "" || l.RoleName == ""):
			return errors.New("--sso-session, --account and --role go together")
		case !bySession && l.Profile == "":
			return errors.New("no profile given")
		}
		for _, f := range []string{l.ConfigFile, l.CredentialsFile} {
			// The agent runs in another directory than the caller, and
			// records the paths in its slots file for its next start.
			if f != "" && !slotStatePath(f) {
				return fmt.Errorf("AWS config file %q: want an absolute path", f)
			}
		}
		if l.Slot != "" {
			return wire.ValidateSlotName(l.Slot)
		}
		return nil
	case OpUnload:
		if r.Unload == nil {
			return errors.New("unload request without parameters")
		}
		u := r.Unload
		if (u.Slot != "" || u.All) && u.Profile != "" || u.All && u.Slot != "" {
			return errors.New("unload takes one of a slot, a profile or all")
		}
		if u.Slot != "" {
			return wire.ValidateSlotName(u.Slot)
		}
		return nil
	default:
		return fmt.Errorf("unknown operation %q", r.Op)
	}
}

// DecodeControlRequest parses and validates one request.
func DecodeControlRequest(line []byte) (*ControlRequest, error) {
	var req ControlRequest
	if err := json.Unmarshal(line, &req); err != nil {
		return nil, badRequest(fmt.Errorf("agent: bad control message: %w", err))
	}
	if err := req.Validate(); err != nil {
		return nil, badRequest(fmt.Errorf("agent: bad control message: %w", err))
	}
	return &req, nil
}

// readControlLine reads one request: a line of JSON of at most
// maxControlMessage bytes. It reads nothing past the newline that the
// reader has not buffered, so what follows (a stream's first bytes) stays
// in br.
func readControlLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxControlMessage {
			return nil, badRequest(errors.New("agent: bad control message: longer than 64 KiB"))
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return line, nil
		default:
			return nil, badRequest(fmt.Errorf("agent: bad control message: %w", err))
		}
	}
}

// ControlServer serves the control socket: it loads and unloads the
// Slots, opens and streams the Sessions, and answers status from Info and
// the parts that change.
type ControlServer struct {
	// Info is the agent's status as it started (Addr, URLs, token file,
	// CA); status adds the slots, the leaf's expiry and the public
	// certificate.
	Info AgentStatus
	// Slots holds the loaded credentials; nil refuses load and unload.
	Slots *Slots
	// SSO, if not nil, gives status the IAM Identity Center sessions.
	SSO SSOLogins
	// Leaf, if not nil, gives status the local leaf's expiry.
	Leaf *localca.LeafRotator
	// Public, if not nil, serves the public certificate: status shows it
	// and reload-certs reloads it. Nil refuses reload-certs.
	Public *certs.Supervisor
	// Certs, if not nil, is the public certificate's files and keys on
	// the agent's secure store, which OpCerts changes. Nil refuses it.
	Certs  *public.Public
	Logger *slog.Logger
	// PeerUID returns the uid of the process at the other end of conn. Nil
	// means the operating system's peer credentials.
	PeerUID func(conn net.Conn) (int, error)
	// Timeout bounds one request, including a load that calls STS or SSO.
	Timeout time.Duration
	// Sessions and Endpoint serve SSH sessions; nil Sessions refuses them.
	Sessions *Sessions
	Endpoint *Endpoint

	wg       sync.WaitGroup
	once     sync.Once
	waiting  *connTracker // connections that have not sent their request
	degraded degradation
}

func (s *ControlServer) init() {
	s.once.Do(func() {
		s.waiting = newConnTracker(defaultConnBudget().control, 0)
		s.degraded = degradation{what: "control socket", log: s.logger(), now: time.Now}
	})
}

// Serve accepts connections until l is closed. It then closes the
// connections that have not sent their request (an ssh client keeps one
// dialed ahead for its next forwarded connection) and waits for the
// requests in flight.
//
// No other accept error ends it: out of descriptors, it closes the oldest
// connection still waiting for its request, backs off (5ms doubling to
// 1s, as net/http does) and accepts again. At most a share of the
// descriptor limit (1024 at most, see limits.go) may wait for their
// request; beyond it the oldest is closed. Only this user can connect
// (the socket's mode), so there is no bound per uid.
func (s *ControlServer) Serve(l net.Listener) error {
	s.init()
	defer s.wg.Wait()
	defer s.waiting.closeRank(rankSniffing)
	var delay time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			s.degraded.degrade("accept: " + endpointAcceptErr(err))
			s.waiting.evictIdlest()
			delay = acceptBackoff(delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		tc, evicted, err := s.waiting.admit(conn, 0)
		if err != nil {
			conn.Close() // cannot happen: waiting connections can always be closed
			continue
		}
		if evicted {
			s.degraded.degrade(fmt.Sprintf("%d connections waiting for their request: closing the oldest", s.waiting.max))
		} else {
			s.degraded.recover()
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(conn, tc)
		}()
	}
}

// Degraded tells whether the control socket is degraded now, since when
// and why; the zero Degraded if it serves normally.
func (s *ControlServer) Degraded() Degraded {
	s.init()
	return s.degraded.state()
}

func (s *ControlServer) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *ControlServer) serveConn(conn net.Conn, waiting *trackedConn) {
	handedOff := false
	defer s.waiting.release(waiting)
	defer func() {
		if !handedOff {
			conn.Close()
		}
	}()
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	conn.SetDeadline(time.Now().Add(timeout))
	log := s.logger()

	peer := s.PeerUID
	if peer == nil {
		peer = peerUID
	}
	uid, err := peer(conn)
	if err != nil {
		log.Warn("control: refused connection", "reason", err.Error())
		writeControl(conn, ControlResponse{Error: "refused: cannot tell who is connecting: " + err.Error(), Code: CodeRefused})
		return
	}
	if uid != os.Getuid() {
		log.Warn("control: refused connection from another user", "peer_uid", uid)
		writeControl(conn, ControlResponse{Error: fmt.Sprintf("refused: peer uid %d is not the agent's uid %d", uid, os.Getuid()), Code: CodeRefused})
		return
	}
	br := bufio.NewReader(conn)
	line, err := readControlLine(br)
	s.waiting.release(waiting)
	var req *ControlRequest
	if err == nil {
		req, err = DecodeControlRequest(line)
	}
	if err != nil {
		log.Warn("control: bad request", "err", err.Error())
		writeControl(conn, errorResponse(err))
		return
	}
	switch req.Op {
	case OpSessionOpen:
		conn.SetDeadline(time.Time{})
		s.holdSession(conn, br, req.Session)
		return
	case OpSessionStream:
		// No answer: the client sends the stream's first bytes right
		// behind its request, saving a round trip on every forwarded
		// connection; a stream for no live session is simply closed.
		if s.Sessions == nil || s.Sessions.get(req.Session.ID) == nil {
			return
		}
		conn.SetDeadline(time.Time{})
		if err := s.Sessions.Attach(req.Session.ID, &bufferedConn{Conn: conn, r: br}); err == nil {
			handedOff = true // the endpoint owns it now
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	writeControl(conn, s.handle(ctx, req))
}

// holdSession opens a session and keeps it while the connection lives.
func (s *ControlServer) holdSession(conn net.Conn, br *bufio.Reader, r *SessionRequest) {
	if s.Sessions == nil || s.Endpoint == nil {
		writeControl(conn, ControlResponse{Error: "this agent serves no SSH sessions", Code: CodeUnsupported})
		return
	}
	sess, grant, err := s.Sessions.Open(r.Host, r.Slots)
	if err != nil {
		writeControl(conn, errorResponse(err))
		return
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.Endpoint.ServeChannel(sess.Listener(), sess.ID())
		// The endpoint stopped (agent shutdown): nothing serves the
		// session any more, so it ends.
		s.Sessions.Close(sess.ID(), "endpoint stopped")
	}()
	writeControl(conn, ControlResponse{Session: &grant})

	// Updates from the client until it hangs up; a revoke from elsewhere
	// closes the connection, which the client sees as the end.
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		dec := json.NewDecoder(io.LimitReader(br, maxControlMessage*64))
		for {
			var u ControlRequest
			if err := dec.Decode(&u); err != nil {
				return
			}
			if u.Op == OpSessionPort && u.Session != nil && u.Session.Port > 0 && u.Session.Port <= 65535 {
				s.Sessions.SetPort(sess.ID(), u.Session.Port)
			}
		}
	}()
	why := "ssh client disconnected"
	select {
	case <-gone:
	case <-sess.Done():
		// Say why, so that the holder can tell a revocation (stop) from
		// the agent stopping (open a new session once it is back).
		why = sess.Err().Error()
		writeControl(conn, errorResponse(sess.Err()))
	}
	conn.Close()
	s.Sessions.Close(sess.ID(), why)
	<-served
}

func (s *ControlServer) handle(ctx context.Context, req *ControlRequest) ControlResponse {
	log := s.logger()
	switch req.Op {
	case OpLoad:
		info, err := s.load(ctx, *req.Load)
		if err != nil {
			log.Info("control: load failed", "slot", slotLabel(req.Load.Slot), "err", err.Error())
			return errorResponse(err)
		}
		log.Info("control: loaded", "slot", slotLabel(info.Name), "source", info.Source)
		return ControlResponse{Slot: &info}
	case OpUnload:
		names, err := s.unload(*req.Unload)
		if err != nil {
			return errorResponse(err)
		}
		log.Info("control: unloaded", "slots", len(names), "profile", req.Unload.Profile, "all", req.Unload.All)
		return ControlResponse{Unloaded: names}
	case OpReloadCerts:
		if err := s.reloadCerts(ctx); err != nil {
			log.Warn("control: certificates not reloaded", "err", err.Error())
			return errorResponse(err)
		}
		log.Info("control: certificates reloaded")
		st := s.Status()
		return ControlResponse{Status: &st}
	case OpCerts:
		return s.certs(ctx, req.Certs)
	case OpSessions:
		if s.Sessions == nil {
			return ControlResponse{}
		}
		return ControlResponse{Sessions: s.Sessions.List()}
	case OpSessionRevoke:
		if s.Sessions == nil {
			return errorResponse(ErrNoSession)
		}
		if err := s.Sessions.Revoke(req.Session.ID); err != nil {
			return errorResponse(err)
		}
		return ControlResponse{}
	default:
		st := s.Status()
		return ControlResponse{Status: &st}
	}
}

// errNoSlots refuses load and unload on a server without Slots.
var errNoSlots = &codedError{err: errors.New("this agent holds no credentials"), is: ErrUnsupported}

// load resolves the source the request names and loads it into its slot.
func (s *ControlServer) load(ctx context.Context, req LoadRequest) (SlotInfo, error) {
	if s.Slots == nil {
		return SlotInfo{}, errNoSlots
	}
	st, err := s.Slots.LoadSource(ctx, req.Slot, req.spec())
	if err != nil {
		return SlotInfo{}, err
	}
	return slotInfo(st), nil
}

// unload drops what req names and returns the names of the slots it
// dropped; nothing loaded there is ErrNoSlot, with a hint.
func (s *ControlServer) unload(req UnloadRequest) ([]string, error) {
	if s.Slots == nil {
		return nil, errNoSlots
	}
	var names []string
	var err error
	switch {
	case req.All:
		names = s.Slots.UnloadAll()
		if len(names) == 0 {
			err = fmt.Errorf("no slot is loaded: %w", ErrNoSlot)
		}
	case req.Profile != "":
		names = s.Slots.UnloadProfile(req.Profile)
		if len(names) == 0 {
			err = fmt.Errorf("profile %s is not loaded in any slot: %w", req.Profile, ErrNoSlot)
		}
	default:
		names = []string{req.Slot}
		err = s.Slots.Unload(req.Slot)
	}
	if errors.Is(err, ErrNoSlot) {
		return nil, &HintError{Err: err, HintText: "see what is loaded with: aws-sso-agent list"}
	}
	return names, err
}

func (s *ControlServer) reloadCerts(ctx context.Context) error {
	if s.Public == nil {
		return &codedError{err: errors.New("this agent serves no public certificate"), is: public.ErrNoCert}
	}
	return s.Public.Reload(ctx)
}

// Status is what `status` shows: Info with the slots, the leaf's expiry
// and the public certificate as they are now.
func (s *ControlServer) Status() AgentStatus {
	st := s.Info
	if s.Leaf != nil {
		st.LeafExpires = s.Leaf.Current().Leaf.NotAfter
	}
	if s.Public != nil {
		fillPublicStatus(&st, s.Public.Status())
	}
	if s.Slots != nil {
		st.Slots = []SlotInfo{} // none is [], never null, in status --json
		for _, sl := range s.Slots.List() {
			st.Slots = append(st.Slots, slotInfo(sl))
		}
	}
	if s.Endpoint != nil {
		d := s.Endpoint.Degraded()
		st.EndpointDegraded, st.EndpointDegradedSince = d.Reason, d.Since
	}
	d := s.Degraded()
	st.ControlDegraded, st.ControlDegradedSince = d.Reason, d.Since
	if s.SSO != nil {
		st.SSOSessions = s.SSO.Status()
	}
	return st
}

// fillPublicStatus adds the public certificate's state to st, whose Addr
// gives the port of the public URL.
func fillPublicStatus(st *AgentStatus, ps certs.SupervisorStatus) {
	if ps.FQDN == "" {
		return
	}
	st.PublicFQDN = ps.FQDN
	st.PublicCertExpires = ps.NotAfter
	st.PublicDNSChecked = ps.DNSChecked
	switch {
	case ps.DNSChecked.IsZero():
		st.PublicDNSCheck = "not checked yet"
	case ps.DNSError == "":
		st.PublicDNSCheck = "ok"
	default:
		st.PublicDNSCheck = ps.DNSError
	}
	st.PublicRenewAt = ps.RenewAt
	st.PublicRenewError = ps.RenewError
	if ps.Serving {
		_, port, _ := net.SplitHostPort(st.Addr)
		st.PublicURL = "https://" + ps.FQDN + ":" + port + "/"
	} else {
		st.PublicNotServed = ps.Reason
	}
}

func slotInfo(s SlotStatus) SlotInfo {
	return SlotInfo{
		Name:        s.Name,
		Profile:     s.Spec.Profile,
		Source:      s.Description,
		AccountID:   s.AccountID,
		RoleARN:     s.RoleARN,
		Expires:     s.Expires,
		LastRefresh: s.LastRefresh,
		LastError:   s.LastError,
		Servable:    s.Servable,
	}
}

func writeControl(w io.Writer, resp ControlResponse) {
	// The peer may have gone; there is nobody to tell.
	_ = json.NewEncoder(w).Encode(resp)
}

func slotLabel(name string) string { return wire.SlotName(name) }

// ListenControl creates the control socket at path, mode 0600, in a
// private directory. A stale socket left by a crashed agent is replaced;
// a live agent on it is an error.
func ListenControl(path string) (net.Listener, error) {
	if err := EnsurePrivateDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("agent: another agent is already running on %s", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("agent: remove stale socket: %w", err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("agent: listen on control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("agent: control socket: %w", err)
	}
	return l, nil
}

var timeZero time.Time

// bufferedConn is a connection whose first bytes were read ahead into r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// ErrNotRunning means no agent answers on the control socket.
var ErrNotRunning = errors.New("the agent is not running")

// ControlClient talks to a running agent.
type ControlClient struct {
	Path string
}

// Do sends one request and returns the agent's answer. A response carrying
// an error comes back with a *ControlError, which matches (errors.Is) the
// sentinel of its code and carries the agent's hint.
func (c ControlClient) Do(ctx context.Context, req ControlRequest) (*ControlResponse, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// An agent that refuses us answers before it reads our request and
	// hangs up, so a failed write may still leave its refusal to read.
	sendErr := json.NewEncoder(conn).Encode(req)
	var resp ControlResponse
	if err := json.NewDecoder(io.LimitReader(conn, maxControlMessage*16)).Decode(&resp); err != nil {
		if sendErr != nil {
			return nil, fmt.Errorf("agent: send request: %w", sendErr)
		}
		return nil, fmt.Errorf("agent: read answer: %w", err)
	}
	if err := controlError(&resp); err != nil {
		return &resp, err
	}
	return &resp, nil
}
