//go:build unix

package agent

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
	"golang.org/x/time/rate"
)

// countingLog counts the bytes logged at Info and above, as the agent
// logs without --debug.
type countingLog struct {
	n     atomic.Int64
	mu    sync.Mutex
	lines []string
}

func (l *countingLog) Write(p []byte) (int, error) {
	l.n.Add(int64(len(p)))
	l.mu.Lock()
	l.lines = append(l.lines, string(p))
	l.mu.Unlock()
	return len(p), nil
}

func (l *countingLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// proofTestStart is sessionTestStart with the agent's Info-level log.
func proofTestStart(t testing.TB, log *slog.Logger) (*sessionTestEnv, *SessionHandle) {
	t.Helper()
	cert, pool := endpointTestCert(t, 0)
	tokens := NewTokens()
	sessions := NewSessions(tokens, []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), log)
	e, err := NewEndpoint(EndpointConfig{
		Source:    endpointTestSourceWith(""),
		Tokens:    tokens,
		Sessions:  sessions,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Logger:    log,
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "run", "control.sock")
	l, err := ListenControl(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &ControlServer{Sessions: sessions, Endpoint: e, Logger: log}
	go srv.Serve(l)
	env := &sessionTestEnv{
		endpointTestEnv: &endpointTestEnv{e: e, tokens: tokens, pool: pool},
		sessions:        sessions,
		client:          ControlClient{Path: path},
		tlsConf:         &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13},
	}
	h, err := env.client.OpenSession(context.Background(), "alice@host", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(); l.Close(); sessions.CloseAll(); e.Close() })
	return env, h
}

// proofConn is a TLS connection through a session stream, as
// aws-sso-remote's through the SSH forward.
func (env *sessionTestEnv) proofConn(t testing.TB, id string) *tls.Conn {
	t.Helper()
	raw, err := env.client.Stream(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	conn := tls.Client(raw, env.tlsConf)
	t.Cleanup(func() { conn.Close() })
	if err := conn.Handshake(); err != nil {
		t.Fatal(err)
	}
	return conn
}

func proofRequest() string {
	nonce := make([]byte, wire.ProofNonceSize)
	rand.Read(nonce)
	return "GET " + wire.ProofTarget(nonce) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
}

// floodProofs pipelines n proof requests on conn and reads answers for
// window: how many were 200 and how many 429, and the process's CPU time
// meanwhile.
func floodProofs(t testing.TB, conn net.Conn, n int, window time.Duration) (served, refused int, cpu time.Duration) {
	t.Helper()
	cpu0 := processCPU()
	go func() {
		bw := bufio.NewWriter(conn)
		for range n {
			if _, err := bw.WriteString(proofRequest()); err != nil {
				return // closed at the window's end
			}
		}
		bw.Flush()
	}()
	conn.SetReadDeadline(time.Now().Add(window))
	br := bufio.NewReader(conn)
	for served+refused < n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("after %d answers: %v", served+refused, err)
			}
			break
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			served++
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Errorf("proof: status %d", resp.StatusCode)
		}
	}
	cpu = processCPU() - cpu0
	conn.Close()
	return served, refused, cpu
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestProofFloodCostsNoLog pipelines proofs over one connection of a real
// session stream: a few are answered, the next refused and held back, and
// the log holds the same few lines for 200 proofs as for 20,000, while
// the flood costs next to no CPU.
func TestProofFloodCostsNoLog(t *testing.T) {
	const window = 2500 * time.Millisecond
	logBytes := map[int]int64{}
	for _, n := range []int{200, 20000} {
		var log countingLog
		env, h := proofTestStart(t, log.logger())
		before := log.n.Load()
		served, refused, cpu := floodProofs(t, env.proofConn(t, h.Grant.ID), n, window)
		h.Close()
		waitFor(t, func() bool {
			log.mu.Lock()
			defer log.mu.Unlock()
			return strings.Contains(strings.Join(log.lines, ""), "session closed")
		})
		logBytes[n] = log.n.Load() - before
		if max := ProofConnBurst + int(float64(ProofConnRate)*window.Seconds()) + 1; served > max {
			t.Errorf("%d proofs: %d served in %v over one connection, want at most %d", n, served, window, max)
		}
		if max := int(window/ProofHold) + 1; refused > max {
			t.Errorf("%d proofs: %d refused in %v over one connection, want them held back, at most %d", n, refused, window, max)
		}
		if cpu > window/10 {
			t.Errorf("%d proofs: %v of CPU in %v", n, cpu, window)
		}
		log.mu.Lock()
		closed := strings.Join(log.lines, "")
		log.mu.Unlock()
		if !strings.Contains(closed, fmt.Sprintf("proofs=%d ", served)) {
			t.Errorf("%d proofs: the log does not count the %d served:\n%s", n, served, closed)
		}
		t.Logf("%d pipelined proofs, %v: %d served, %d refused, %v CPU, %d log bytes", n, window, served, refused, cpu.Round(time.Millisecond), logBytes[n])
	}
	if logBytes[20000] > logBytes[200]+64 || logBytes[20000] > 2048 {
		t.Errorf("log bytes: %d for 200 proofs, %d for 20,000: want the same few lines", logBytes[200], logBytes[20000])
	}
}

// TestProofSessionLimit: many connections with one proof each share the
// session's budget.
func TestProofSessionLimit(t *testing.T) {
	var log countingLog
	env, h := proofTestStart(t, log.logger())
	conns := make([]net.Conn, 2*ProofBurst)
	for i := range conns {
		conns[i] = env.proofConn(t, h.Grant.ID)
	}
	start := time.Now()
	var mu sync.Mutex
	served := 0
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			s, _, _ := floodProofs(t, c, 1, 5*time.Second)
			mu.Lock()
			served += s
			mu.Unlock()
		})
	}
	wg.Wait()
	if max := ProofBurst + int(float64(ProofRate)*time.Since(start).Seconds()) + 1; served > max || served < ProofBurst/2 {
		t.Errorf("%d proofs served over %d connections, want between %d and %d", served, len(conns), ProofBurst/2, max)
	}
}

// BenchmarkSessionProof compares a served proof with a refused one, over
// one TLS connection of a session stream, one request at a time, without
// ProofHold (which makes a refused one cost a second of waiting). cpu-ns/op
// is the process's CPU time (client and agent) per proof.
func BenchmarkSessionProof(b *testing.B) {
	for _, name := range []string{"served", "refused"} {
		b.Run(name, func(b *testing.B) {
			env, h := proofTestStart(b, slog.New(slog.DiscardHandler))
			if name == "served" {
				env.e.proofConn = rate.Inf
				env.sessions.get(h.Grant.ID).proofs.SetLimit(rate.Inf)
			} else {
				env.e.proofBurst = 0 // none allowed
				env.e.proofHold = 0  // the canned answer's cost alone
			}
			conn := env.proofConn(b, h.Grant.ID)
			br := bufio.NewReader(conn)
			req := []byte(proofRequest()) // the agent does not remember nonces
			want := http.StatusOK
			if name == "refused" {
				want = http.StatusTooManyRequests
			}
			cpu0 := processCPU()
			b.ResetTimer()
			for range b.N {
				if _, err := conn.Write(req); err != nil {
					b.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					b.Fatalf("status %d, want %d", resp.StatusCode, want)
				}
			}
			b.StopTimer()
			cpu := processCPU() - cpu0
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// TestConnTrackerEvictsIdlestFirst: keep-alive idle connections go first,
// then those that sent nothing, then those mid-request, oldest first; a
// connection answering a request never goes; the peer holding the most
// gives first.
func TestConnTrackerEvictsIdlestFirst(t *testing.T) {
	tr := newConnTracker(4, 3)
	conns := map[string]*trackerTestConn{}
	admit := func(name string, peer int) (*trackedConn, error) {
		c := &trackerTestConn{name: name}
		conns[name] = c
		tc, _, err := tr.admit(c, peer)
		return tc, err
	}
	closed := func() string {
		var out []string
		for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
			if c := conns[name]; c != nil && c.closed {
				out = append(out, name)
			}
		}
		return strings.Join(out, ",")
	}
	a, _ := admit("a", 1)
	b, _ := admit("b", 1)
	c, _ := admit("c", 1)
	admit("d", 2)
	tr.setRank(a, rankActive)
	tr.setRank(b, rankNew)
	tr.setRank(c, rankIdle)
	// Peer 1 is at its bound: its idle one goes.
	if _, err := admit("e", 1); err != nil || closed() != "c" {
		t.Fatalf("admit e: %v, closed %q, want c", err, closed())
	}
	// The listener is full: peer 1 holds the most, and of its
	// connections e, which sent nothing, goes before b, mid-request.
	if _, err := admit("f", 3); err != nil || closed() != "c,e" {
		t.Fatalf("admit f: %v, closed %q, want c,e", err, closed())
	}
	if _, err := admit("g", 3); err != nil || closed() != "b,c,e" {
		t.Fatalf("admit g: %v, closed %q, want b,c,e", err, closed())
	}
	// Now peer 1 has only a, answering a request: peer 3 (two) gives.
	if _, err := admit("h", 1); err != nil || closed() != "b,c,e,f" {
		t.Fatalf("admit h: %v, closed %q, want b,c,e,f", err, closed())
	}
	if got := tr.len(); got != 4 {
		t.Errorf("%d connections held, want 4", got)
	}
	// All busy: the newcomer is refused.
	for _, tc := range trackerAll(tr) {
		tr.setRank(tc, rankActive)
	}
	if _, err := admit("i", 4); !errors.Is(err, errConnLimit) {
		t.Errorf("admit with every connection busy: %v, want errConnLimit", err)
	}
}

func trackerAll(tr *connTracker) []*trackedConn {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []*trackedConn
	for _, p := range tr.peers {
		for r := range numRanks {
			for e := p.ranks[r].Front(); e != nil; e = e.Next() {
				out = append(out, e.Value.(*trackedConn))
			}
		}
	}
	return out
}

type trackerTestConn struct {
	net.Conn
	name   string
	closed bool
}

func (c *trackerTestConn) Close() error { c.closed = true; return nil }

func TestConnBudget(t *testing.T) {
	for _, tc := range []struct {
		nofile uint64
		want   connBudget
	}{
		{64, connBudget{endpoint: 32, perPeer: 16, channel: 32, control: 16}},
		{1024, connBudget{endpoint: 512, perPeer: 256, channel: 256, control: 256}},
		{1 << 20, connBudget{endpoint: 4096, perPeer: 2048, channel: 256, control: 1024}},
	} {
		if got := connBudgetFor(tc.nofile); got != tc.want {
			t.Errorf("connBudgetFor(%d) = %+v, want %+v", tc.nofile, got, tc.want)
		}
	}
}

// flakyListener fails Accept with errs before it accepts from the real
// listener.
type flakyListener struct {
	net.Listener
	mu   sync.Mutex
	errs []error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

func acceptError(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

// TestAcceptErrorsAreWaitedOut: accept errors that are not timeouts
// (EMFILE, ECONNABORTED) neither stop the endpoint nor the control socket,
// and status says they are degraded.
func TestAcceptErrorsAreWaitedOut(t *testing.T) {
	var log countingLog
	env := endpointTestStart(t, func(c *EndpointConfig) { c.Logger = log.logger() })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	for range 3 { // 315ms of back-off in all
		errs = append(errs, acceptError(syscall.EMFILE), acceptError(syscall.ECONNABORTED))
	}
	go env.e.Serve(&flakyListener{Listener: l, errs: errs})
	code, _ := tcpGet(t, "http://"+l.Addr().String()+"/", env.token)
	if code != 200 {
		t.Fatalf("after accept errors: %d, want 200", code)
	}
	d := env.e.Degraded()
	if !strings.Contains(d.Reason, "too many open files") || d.Since.IsZero() {
		t.Errorf("Degraded() = %+v, want the EMFILE", d)
	}
	if n := strings.Count(strings.Join(log.lines, ""), "degraded"); n != 1 {
		t.Errorf("%d degraded lines for 6 accept errors, want 1", n)
	}

	path := filepath.Join(t.TempDir(), "run", "control.sock")
	cl, err := ListenControl(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &ControlServer{Endpoint: env.e}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(&flakyListener{Listener: cl, errs: errs}) }()
	resp, err := ControlClient{Path: path}.Do(context.Background(), ControlRequest{Op: OpStatus})
	if err != nil {
		t.Fatalf("control socket after accept errors: %v", err)
	}
	if st := resp.Status; st.EndpointDegraded == "" || st.EndpointDegradedSince.IsZero() ||
		!strings.Contains(st.ControlDegraded, "too many open files") {
		t.Errorf("status: endpoint degraded %q since %v, control %q: want both", st.EndpointDegraded, st.EndpointDegradedSince, st.ControlDegraded)
	}
	cl.Close()
	if err := <-served; err != nil {
		t.Errorf("Serve after Close: %v", err)
	}
}

// TestIdleFloodLegitimateServed: 2,000 idle connections on the local port,
// and a legitimate GET is still answered at once.
func TestIdleFloodLegitimateServed(t *testing.T) {
	env := endpointTestStart(t, func(c *EndpointConfig) { c.MaxConns = 1000 })
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range 2000 {
		c, err := net.Dial("tcp", env.addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	start := time.Now()
	code, _ := tcpGet(t, env.url+"/", env.token)
	if code != 200 {
		t.Fatalf("GET among 2,000 idle connections: %d", code)
	}
	t.Logf("GET among 2,000 idle connections in %v", time.Since(start))
	if d := env.e.Degraded(); d.Reason == "" {
		t.Error("2,000 idle connections over a bound of 1,000, and the endpoint does not say it is degraded")
	}
}

// TestControlHostileMessages: a 70 KiB message, one nested 30,000 deep,
// and 500 idle clients; the next legitimate request is answered.
func TestControlHostileMessages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "control.sock")
	l, err := ListenControl(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &ControlServer{}
	go srv.Serve(l)
	defer l.Close()
	c := ControlClient{Path: path}
	send := func(msg string) string {
		conn, err := c.DialStream(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		go io.WriteString(conn, msg)
		b, _ := io.ReadAll(conn)
		return string(b)
	}
	if got := send(`{"op":"status","x":"` + strings.Repeat("a", 70<<10) + "\"}\n"); !strings.Contains(got, "longer than 64 KiB") {
		t.Errorf("70 KiB message: %q", got)
	}
	if got := send(`{"op":"status","x":` + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + "}\n"); !strings.Contains(got, "bad control message") && !strings.Contains(got, `"status"`) {
		t.Errorf("30,000-deep message: %q", got)
	}
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range 500 {
		conn, err := c.DialStream(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, conn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Do(ctx, ControlRequest{Op: OpStatus}); err != nil {
		t.Fatalf("status among 500 idle control clients: %v", err)
	}
}
