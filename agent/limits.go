package agent

import (
	"container/list"
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Bounds on connections (docs/threat-model.md). Every connection costs a
// file descriptor, and a process that runs out of them can accept nothing
// more: not the user's next SDK call, not the CLI's next command. So the
// agent shares its descriptor limit (the soft RLIMIT_NOFILE, which the Go
// runtime raises to the hard limit at start on Unix, see
// syscall/rlimit.go) between its listeners, keeps the rest for its own
// files and outgoing calls (STS, SSO, ACME), and under pressure closes the
// idlest connections first.
const (
	// maxEndpointConns caps the local endpoint's connections whatever the
	// descriptor limit: an SDK keeps one or two connections per process,
	// so 4096 is room for any workstation's clients, and it keeps a
	// flood's memory (a goroutine and a 4 KiB buffer each) near 50 MB.
	maxEndpointConns = 4096
	// maxChannelConns caps each SSH session's forwarded connections: the
	// SDKs of one remote host.
	maxChannelConns = 256
	// maxControlConns caps the control socket's connections that have not
	// sent their request yet (the CLI's one, and ssh's dialed-ahead
	// stream per session).
	maxControlConns = 1024
)

// connBudget says how many connections each listener may hold when the
// process may open nofile descriptors: half for the endpoint, a quarter
// for the control socket, the rest for everything else. One peer uid may
// hold at most half of the endpoint's, so another local user cannot take
// them all; the agent's own uid is bounded alike, and its clients are
// the ones that get the rest.
type connBudget struct {
	endpoint, perPeer, channel, control int
}

func connBudgetFor(nofile uint64) connBudget {
	share := func(div uint64, ceiling int) int {
		n := nofile / div
		if n > uint64(ceiling) {
			return ceiling
		}
		return max(int(n), 1)
	}
	b := connBudget{
		endpoint: share(2, maxEndpointConns),
		channel:  share(2, maxChannelConns),
		control:  share(4, maxControlConns),
	}
	b.perPeer = max(b.endpoint/2, 1)
	return b
}

// defaultConnBudget is the budget for this process's descriptor limit,
// read when asked: the runtime has raised it by then.
func defaultConnBudget() connBudget { return connBudgetFor(descriptorLimit()) }

// connRank orders connections for eviction: lowest first. A connection in
// the middle of a request is never evicted.
type connRank int

const (
	rankIdle     connRank = iota // keep-alive, between requests
	rankSniffing                 // accepted, no byte yet
	rankNew                      // handshaking or reading a request
	rankActive                   // a request is being answered
	numRanks
)

// peerUnknown is the peer key of connections whose peer uid the kernel
// did not tell: they share one bucket.
const peerUnknown = -1

// connTracker bounds one listener's connections, in total and per peer
// uid. When a new connection would exceed a bound, the idlest connection
// of the peer holding the most is closed to make room: keep-alive
// connections between requests first, then those that sent nothing yet,
// then those still handshaking or sending their request, oldest first.
// If every candidate is answering a request, the new connection is the
// one refused.
type connTracker struct {
	max, perPeer int // perPeer 0: no per-peer bound

	mu    sync.Mutex
	peers map[int]*connPeer
	n     int
	done  bool
}

type connPeer struct {
	n     int
	ranks [numRanks]list.List // of *trackedConn, oldest first
}

// trackedConn is one connection the tracker holds.
type trackedConn struct {
	c    net.Conn
	peer int
	rank connRank
	elem *list.Element // nil once released
}

func newConnTracker(maxConns, perPeer int) *connTracker {
	return &connTracker{max: maxConns, perPeer: perPeer, peers: map[int]*connPeer{}}
}

// errTrackerClosed is admit's answer once the listener is closed.
var errTrackerClosed = errors.New("listener closed")

// errConnLimit is admit's answer when the new connection is refused.
var errConnLimit = errors.New("connection limit reached, every connection busy")

// admit records c from peer, closing an idler connection first if a
// bound is reached. evicted tells whether it had to.
func (t *connTracker) admit(c net.Conn, peer int) (tc *trackedConn, evicted bool, err error) {
	var victim net.Conn
	defer func() {
		if victim != nil {
			victim.Close() // outside the lock: Close may call release
		}
	}()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil, false, errTrackerClosed
	}
	p := t.peers[peer]
	if p == nil {
		p = &connPeer{}
		t.peers[peer] = p
	}
	switch {
	case t.perPeer > 0 && p.n >= t.perPeer:
		victim = t.evictFrom(p)
	case t.n >= t.max:
		victim = t.evictHeaviest()
	default:
		return t.addLocked(c, peer, p), false, nil
	}
	if victim == nil {
		t.dropEmpty(peer, p)
		return nil, false, errConnLimit
	}
	return t.addLocked(c, peer, p), true, nil
}

func (t *connTracker) addLocked(c net.Conn, peer int, p *connPeer) *trackedConn {
	tc := &trackedConn{c: c, peer: peer, rank: rankSniffing}
	tc.elem = p.ranks[rankSniffing].PushBack(tc)
	p.n++
	t.n++
	return tc
}

// evictHeaviest releases the idlest connection of the peer holding the
// most connections that has one to give, and returns it to be closed.
func (t *connTracker) evictHeaviest() net.Conn {
	var heaviest *connPeer
	for _, p := range t.peers {
		if t.evictable(p) && (heaviest == nil || p.n > heaviest.n) {
			heaviest = p
		}
	}
	if heaviest == nil {
		return nil
	}
	return t.evictFrom(heaviest)
}

// evictIdlest closes the idlest connection there is, if any: the
// listener is out of descriptors and the next one to come may be the
// user's.
func (t *connTracker) evictIdlest() {
	t.mu.Lock()
	v := t.evictHeaviest()
	t.mu.Unlock()
	if v != nil {
		v.Close()
	}
}

func (t *connTracker) evictable(p *connPeer) bool {
	for r := range rankActive {
		if p.ranks[r].Len() > 0 {
			return true
		}
	}
	return false
}

// evictFrom releases p's idlest connection, nil if all are active.
func (t *connTracker) evictFrom(p *connPeer) net.Conn {
	for r := range rankActive {
		if e := p.ranks[r].Front(); e != nil {
			tc := e.Value.(*trackedConn)
			t.releaseLocked(tc)
			return tc.c
		}
	}
	return nil
}

func (t *connTracker) dropEmpty(peer int, p *connPeer) {
	if p.n == 0 {
		delete(t.peers, peer)
	}
}

// setRank moves tc to rank r, as the newest of that rank.
func (t *connTracker) setRank(tc *trackedConn, r connRank) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tc.elem == nil || tc.rank == r {
		return
	}
	p := t.peers[tc.peer]
	p.ranks[tc.rank].Remove(tc.elem)
	tc.rank = r
	tc.elem = p.ranks[r].PushBack(tc)
}

// release forgets tc; it is safe to call more than once.
func (t *connTracker) release(tc *trackedConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.releaseLocked(tc)
}

func (t *connTracker) releaseLocked(tc *trackedConn) {
	if tc.elem == nil {
		return
	}
	p := t.peers[tc.peer]
	p.ranks[tc.rank].Remove(tc.elem)
	tc.elem = nil
	p.n--
	t.n--
	t.dropEmpty(tc.peer, p)
}

// len is the number of connections held.
func (t *connTracker) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// closeRank stops admitting connections and closes those of rank r (the
// listener's own: those not yet handed to the http.Server).
func (t *connTracker) closeRank(r connRank) {
	t.mu.Lock()
	t.done = true
	var cs []net.Conn
	for _, p := range t.peers {
		for e := p.ranks[r].Front(); e != nil; e = e.Next() {
			cs = append(cs, e.Value.(*trackedConn).c)
		}
	}
	t.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}

// acceptBackoff is how long to wait after the n-th accept error in a
// row: 5ms doubling up to 1s, as net/http's Server.Serve does. Accept
// errors other than a closed listener are the kernel being out of
// something (descriptors: EMFILE, ENFILE; memory: ENOBUFS, ENOMEM) or a
// peer giving up (ECONNABORTED): all pass, so the listener is retried.
func acceptBackoff(prev time.Duration) time.Duration {
	return min(max(2*prev, 5*time.Millisecond), time.Second)
}

// Degraded describes a listener that is not serving as it should: since
// when, and why. The zero value means serving normally.
type Degraded struct {
	Since  time.Time
	Reason string
}

// degradedQuiet is how long a listener must go without a degrading
// event before its episode ends: a flood hovering at a bound is one
// episode, not one per connection.
const degradedQuiet = 5 * time.Second

// degradation records one listener's degraded episodes and logs each
// once: a warning when it starts, a line when it ends, never one per
// error, so a flood does not become a log flood.
type degradation struct {
	what string // "credentials endpoint", "control socket"
	log  *slog.Logger
	now  func() time.Time

	mu     sync.Mutex
	cur    Degraded
	last   time.Time // of the latest event
	events int
}

// degrade starts an episode, or counts one more event of it.
func (d *degradation) degrade(reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	d.endIfQuiet(now)
	d.events++
	d.last = now
	if !d.cur.Since.IsZero() {
		return
	}
	d.cur = Degraded{Since: now, Reason: reason}
	d.log.LogAttrs(context.Background(), slog.LevelWarn, d.what+" degraded: "+reason)
}

// recover ends the episode if it has been quiet for degradedQuiet.
func (d *degradation) recover() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.endIfQuiet(d.now())
}

func (d *degradation) endIfQuiet(now time.Time) {
	if d.cur.Since.IsZero() || now.Sub(d.last) < degradedQuiet {
		return
	}
	d.log.LogAttrs(context.Background(), slog.LevelInfo, d.what+" serving normally again",
		slog.String("was", d.cur.Reason),
		slog.Duration("for", d.last.Sub(d.cur.Since).Round(time.Millisecond)),
		slog.Int("events", d.events))
	d.cur, d.events = Degraded{}, 0
}

// state is the current episode, zero if none.
func (d *degradation) state() Degraded {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.endIfQuiet(d.now())
	return d.cur
}
