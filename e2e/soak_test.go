package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/sshd"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// The soak (make soak) runs minutes of mixed load against one agent, all
// on loopback: what a busy workstation and a hostile neighbour do at once.
// It is too long for every run, so it runs only when soakEnv names its
// length.
const (
	// soakEnv is the length of the whole soak, a Go duration ("3m").
	soakEnv = "AWS_SSO_AGENT_SOAK"
	// soakSummaryEnv names the file the figures are written to, besides
	// the test log.
	soakSummaryEnv = "AWS_SSO_AGENT_SOAK_SUMMARY"
)

// The load. Every part is bounded by rate or count as well as by time, so
// a soak of any length costs a known amount.
const (
	// soakLegitClients GET credentials at once, each every
	// soakLegitInterval: an SDK client fetches once an hour, so this is
	// far more than a workstation's worth. Every fourth client opens a new
	// connection per request, as a CLI process does.
	soakLegitClients  = 16
	soakLegitInterval = 20 * time.Millisecond
	// soakBadTokenRate and soakProofRate cap the floods: the order of
	// what was measured against the endpoint (42k bad tokens in 10 s,
	// 118,500 pipelined proofs in 10 s), kept below it so the load
	// generator, on the same two cores, does not measure only itself.
	soakBadTokenRate   = 3000
	soakBadTokenConns  = 16
	soakProofRate      = 3000
	soakMaxSSHSessions = 2000
	soakMaxRevokes     = 500
	soakMaxLoads       = 2000
	// soakSampleEvery is how often the agent's descriptors, threads and
	// RSS are read while the load runs.
	soakSampleEvery = 5 * time.Second
)

// What "bounded" means. After the load stops and its connections close,
// the agent holds about what it held before; and during the load, the
// second half's peak is not above the first half's.
const (
	soakFDSlack     = 16 // descriptors: a few pooled connections and files
	soakThreadSlack = 16 // Go keeps the threads it made for blocking calls
	soakRSSSlack    = 64 << 20
	// Plateau: second-half peak against first-half peak.
	soakPlateauFDs     = 32
	soakPlateauThreads = 8
	soakPlateauRSS     = 32 << 20
	// soakP99Factor bounds the legitimate clients' p99 under the floods
	// against the p99 of the same clients alone.
	soakP99Factor = 5
	// soakLogBytesPerOp is what the agent may log per SSH session, revoke
	// or load; a flood must cost no log space beyond soakLogFloor.
	soakLogBytesPerOp = 2 << 10
	// soakLogBytesPerGET is one request line of a legitimate GET: about
	// 130 bytes, with room for long client addresses.
	soakLogBytesPerGET = 200
	soakLogFloor       = 256 << 10
)

// TestSoak: phase 1 measures the legitimate clients alone; phase 2 adds
// the churn of a busy workstation: load/unload, SSH sessions through the
// real sshd, revokes; phase 3 adds a bad-token flood and a proof flood
// over a session's forwarded port. It reports the agent's descriptors,
// threads (the agent's goroutines are not visible from outside; its
// threads are) and RSS at start and end, and the clients' latencies, and
// fails if growth is unbounded or the p99 under the floods is more than
// soakP99Factor times the p99 without them.
func TestSoak(t *testing.T) {
	v := os.Getenv(soakEnv)
	if v == "" {
		t.Skipf("the soak runs only when %s names its length, e.g. %s=3m (make soak)", soakEnv, soakEnv)
	}
	total, err := time.ParseDuration(v)
	if err != nil || total < 30*time.Second {
		t.Fatalf("%s=%q: want a duration of at least 30s", soakEnv, v)
	}
	if runtime.GOOS != "linux" {
		t.Skip("the soak reads the agent's descriptors, threads and RSS from Linux's /proc")
	}
	baseline := max(total/6, 10*time.Second)
	churn := baseline
	flood := total - baseline - churn

	r := startRemote(t, sshd.Options{})
	a := r.agent
	cfg := e2e.WriteAWSConfig(t, t.TempDir(), r.moto)
	// Static keys (moto's base profile): loading them needs no network,
	// so the churn measures the agent, not STS.
	for _, slot := range []string{"proof", "revoke"} {
		a.mustCLI(cfg.Env(), "load", "--profile", e2e.BaseProfile, "--slot="+slot)
	}
	st := a.status()
	url, _ := st["url"].(string)
	tokenFile, _ := st["token_file"].(string)
	token, err := os.ReadFile(tokenFile)
	if err != nil || url == "" {
		t.Fatalf("status: url %q, token file %q: %v", url, tokenFile, err)
	}
	pid := a.proc.PID()

	time.Sleep(time.Second) // let start-up settle
	start := mustSample(t, pid)
	t.Logf("start: %s", start)

	// Phase 1: the legitimate clients alone.
	legit := newSoakLegit(url, string(token))
	ctx, cancel := context.WithTimeout(t.Context(), baseline)
	legit.run(ctx)
	cancel()
	alone := legit.take()
	t.Logf("phase 1 (%v): legitimate GETs alone: %s", baseline, alone)

	// Phase 2: the legitimate clients with the churn a busy workstation
	// makes (sessions, revokes, loads), for a p99 that tells the machine's
	// own contention from the floods'. Phase 3: the floods join in.
	proofSession, proofPort := openProofSession(t, r)
	logStart := len(a.proc.Output())
	ctx, cancel = context.WithTimeout(t.Context(), churn+flood)
	defer cancel()
	var wg sync.WaitGroup
	stats := &soakStats{}
	run := func(loads ...func(context.Context)) {
		for _, load := range loads {
			wg.Go(func() { load(ctx) })
		}
	}
	run(legit.run,
		func(ctx context.Context) { sshChurn(ctx, r, stats) },
		func(ctx context.Context) { revokeChurn(ctx, r, stats) },
		func(ctx context.Context) { loadChurn(ctx, a, cfg, stats) })
	samples := []soakSample{start}
	sampleUntil := func(until time.Time) {
		tick := time.NewTicker(soakSampleEvery)
		defer tick.Stop()
		stop := time.NewTimer(time.Until(until))
		defer stop.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-stop.C:
				return
			case <-tick.C:
				if s, err := sample(pid); err == nil {
					samples = append(samples, s)
				}
			}
		}
	}
	phase2 := time.Now()
	sampleUntil(phase2.Add(churn))
	busy := legit.take()
	t.Logf("phase 2 (%v): legitimate GETs with the churn: %s", churn, busy)
	run(func(ctx context.Context) { badTokenFlood(ctx, url, stats) },
		func(ctx context.Context) { proofFlood(ctx, proofPort, stats) })
	sampleUntil(phase2.Add(churn + flood))
	if s, err := sample(pid); err == nil {
		samples = append(samples, s)
	}
	wg.Wait()
	flooded := legit.take()
	logBytes := len(a.proc.Output()) - logStart
	t.Logf("phase 3 (%v): legitimate GETs with the churn and the floods: %s", flood, flooded)
	t.Logf("phases 2 and 3, the load: %s", stats)

	// Everything stops; what the agent held for it must go.
	if err := proofSession.Stop(); err != nil {
		t.Logf("proof session's ssh client: %v", err)
	}
	legit.close()
	if ok, l := a.noSessions(); !ok {
		t.Errorf("sessions still live after the load: %v", l)
	}
	end := start
	settle := time.Now().Add(20 * time.Second)
	for {
		end = mustSample(t, pid)
		if end.fds <= start.fds+soakFDSlack || time.Now().After(settle) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("end: %s", end)
	if !a.proc.Running() {
		t.Fatalf("the agent exited during the soak: %v", a.proc.Err())
	}

	var failures []string
	fail := func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }
	if end.fds > start.fds+soakFDSlack {
		fail("descriptors grew from %d to %d (bound +%d)", start.fds, end.fds, soakFDSlack)
	}
	if end.threads > start.threads+soakThreadSlack {
		fail("threads grew from %d to %d (bound +%d)", start.threads, end.threads, soakThreadSlack)
	}
	if end.rss > start.rss+soakRSSSlack {
		fail("RSS grew from %s to %s (bound +%s)", mib(start.rss), mib(end.rss), mib(soakRSSSlack))
	}
	first, second := peaks(samples[1:])
	if second.fds > first.fds+soakPlateauFDs {
		fail("descriptors still rising: peak %d in the load's first half, %d in its second", first.fds, second.fds)
	}
	if second.threads > first.threads+soakPlateauThreads {
		fail("threads still rising: peak %d in the load's first half, %d in its second", first.threads, second.threads)
	}
	if second.rss > first.rss+soakPlateauRSS {
		fail("RSS still rising: peak %s in the load's first half, %s in its second", mib(first.rss), mib(second.rss))
	}
	if alone.bad+busy.bad+flooded.bad > 0 {
		fail("legitimate GETs failed: %d alone, %d with the churn, %d with the floods (first: %s)",
			alone.bad, busy.bad, flooded.bad, legit.firstError())
	}
	if alone.n == 0 || flooded.n == 0 {
		fail("no legitimate GET completed in a phase (%d alone, %d with the floods)", alone.n, flooded.n)
	} else if busy.n == 0 {
		fail("no legitimate GET completed with the churn alone")
	} else if flooded.p99 > soakP99Factor*busy.p99 {
		// Against the same mixed load without the floods: what the floods
		// add. Phase 1 against phase 3 also charges the churn (sshd, the
		// SSH clients and the CLI share this machine's cores), which the
		// summary reports on its own line.
		fail("legitimate p99 with the floods %v is %.1fx its %v with the churn alone (bound %dx)",
			flooded.p99, float64(flooded.p99)/float64(busy.p99), busy.p99, soakP99Factor)
	}
	ops := stats.sshOK.Load() + stats.sshFail.Load() + stats.revokeOK.Load() + stats.revokeFail.Load() + stats.loadOK.Load() + stats.loadFail.Load()
	// Each legitimate GET is one "credentials request" line by design
	// (docs/threat-model.md: slot, client, status, code, latency); the
	// floods must add nothing beyond the floor.
	gets := alone.n + busy.n + flooded.n
	if budget := soakLogFloor + int(ops)*soakLogBytesPerOp + gets*soakLogBytesPerGET; logBytes > budget {
		fail("the agent logged %s during the load, budget %s (%d operations, %d legitimate GETs)", mib(int64(logBytes)), mib(int64(budget)), ops, gets)
	}
	if stats.sshOK.Load() == 0 || stats.revokeOK.Load() == 0 || stats.loadOK.Load() == 0 {
		fail("a churn never succeeded: %s", stats)
	}

	summary := soakSummary(total, start, end, samples, alone, busy, flooded, stats, logBytes, failures)
	t.Log("\n" + summary)
	if path := os.Getenv(soakSummaryEnv); path != "" {
		if err := os.WriteFile(path, []byte(summary), 0o644); err != nil {
			t.Errorf("write summary: %v", err)
		}
	}
	for _, f := range failures {
		t.Error(f)
	}
}

// soakSample is what the agent process held at one moment.
type soakSample struct {
	at      time.Time
	fds     int
	threads int
	rss     int64
}

func (s soakSample) String() string {
	return fmt.Sprintf("%d descriptors, %d threads, RSS %s", s.fds, s.threads, mib(s.rss))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// sample reads pid's open descriptors from /proc/PID/fd, and its threads
// and resident set from /proc/PID/status.
func sample(pid int) (soakSample, error) {
	s := soakSample{at: time.Now()}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, err
	}
	s.fds = len(fds)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for line := range strings.Lines(string(status)) {
		name, value, _ := strings.Cut(line, ":")
		f := strings.Fields(value)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch name {
		case "Threads":
			s.threads = int(n)
		case "VmRSS":
			s.rss = n << 10 // kB
		}
	}
	if s.threads == 0 || s.rss == 0 {
		return s, fmt.Errorf("/proc/%d/status: no Threads or VmRSS", pid)
	}
	return s, nil
}

func mustSample(t *testing.T, pid int) soakSample {
	t.Helper()
	s, err := sample(pid)
	if err != nil {
		t.Fatalf("sample the agent: %v", err)
	}
	return s
}

// peaks returns the largest of each figure in the first and the second
// half of samples.
func peaks(samples []soakSample) (first, second soakSample) {
	half := len(samples) / 2
	top := func(l []soakSample) (p soakSample) {
		for _, s := range l {
			p.fds, p.threads, p.rss = max(p.fds, s.fds), max(p.threads, s.threads), max(p.rss, s.rss)
		}
		return p
	}
	return top(samples[:half]), top(samples[half:])
}

// soakLegit are the legitimate clients: credential GETs with the right
// token, their latencies recorded per phase.
type soakLegit struct {
	url, token string
	keep       *http.Client // connections kept alive, as an SDK does
	fresh      *http.Client // a connection per request, as a CLI process does

	mu        sync.Mutex
	latencies []time.Duration
	bad       int
	firstErr  string
}

func newSoakLegit(url, token string) *soakLegit {
	return &soakLegit{
		url: url, token: token,
		keep:  &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: soakLegitClients}},
		fresh: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
}

func (l *soakLegit) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range soakLegitClients {
		c := l.keep
		if i%4 == 0 {
			c = l.fresh
		}
		wg.Go(func() {
			tick := time.NewTicker(soakLegitInterval)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				d, err := l.get(c)
				if ctx.Err() != nil && err != nil {
					return // cut off by the phase's end: not the agent's failure
				}
				l.mu.Lock()
				if err != nil {
					l.bad++
					if l.firstErr == "" {
						l.firstErr = err.Error()
					}
				} else {
					l.latencies = append(l.latencies, d)
				}
				l.mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func (l *soakLegit) get(c *http.Client) (time.Duration, error) {
	req, err := http.NewRequest("GET", l.url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", l.token)
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	return d, nil
}

func (l *soakLegit) firstError() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstErr
}

// take returns the latencies since the last take and starts anew.
func (l *soakLegit) take() soakLatencies {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := slices.Clone(l.latencies)
	bad := l.bad
	l.latencies, l.bad = l.latencies[:0], 0
	slices.Sort(s)
	out := soakLatencies{n: len(s), bad: bad}
	if len(s) > 0 {
		at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
		out.p50, out.p99, out.max = at(0.50), at(0.99), s[len(s)-1]
	}
	return out
}

func (l *soakLegit) close() {
	l.keep.CloseIdleConnections()
	l.fresh.CloseIdleConnections()
}

type soakLatencies struct {
	n, bad        int
	p50, p99, max time.Duration
}

func (s soakLatencies) String() string {
	return fmt.Sprintf("%d ok, %d failed, p50 %v, p99 %v, max %v", s.n, s.bad,
		s.p50.Round(10*time.Microsecond), s.p99.Round(10*time.Microsecond), s.max.Round(10*time.Microsecond))
}

// soakStats counts what the loads did.
type soakStats struct {
	badTokenSent, badTokenRefused, badTokenOther, badTokenConnErr atomic.Int64
	proofSent, proofAnswered, proofRefused, proofConns            atomic.Int64
	sshOK, sshFail, revokeOK, revokeFail, loadOK, loadFail        atomic.Int64

	mu        sync.Mutex
	firstErrs []string
}

func (s *soakStats) note(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.firstErrs) < 5 {
		s.firstErrs = append(s.firstErrs, fmt.Sprintf(format, args...))
	}
}

func (s *soakStats) String() string {
	s.mu.Lock()
	errs := ""
	if len(s.firstErrs) > 0 {
		errs = "; first errors: " + strings.Join(s.firstErrs, "; ")
	}
	s.mu.Unlock()
	return fmt.Sprintf("bad tokens: %d sent, %d refused 401/403/429, %d other status, %d connection errors; "+
		"proofs: %d sent, %d answered 200, %d refused, over %d connections; "+
		"ssh sessions: %d ok, %d failed; revokes: %d ok, %d failed; load/unload: %d ok, %d failed%s",
		s.badTokenSent.Load(), s.badTokenRefused.Load(), s.badTokenOther.Load(), s.badTokenConnErr.Load(),
		s.proofSent.Load(), s.proofAnswered.Load(), s.proofRefused.Load(), s.proofConns.Load(),
		s.sshOK.Load(), s.sshFail.Load(), s.revokeOK.Load(), s.revokeFail.Load(), s.loadOK.Load(), s.loadFail.Load(), errs)
}

// badTokenFlood sends GETs with a wrong token at soakBadTokenRate over
// soakBadTokenConns kept-alive connections, and one new connection per
// request besides.
func badTokenFlood(ctx context.Context, url string, stats *soakStats) {
	lim := rate.NewLimiter(soakBadTokenRate, soakBadTokenRate/10)
	keep := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: soakBadTokenConns}}
	fresh := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer keep.CloseIdleConnections()
	var wg sync.WaitGroup
	for i := range soakBadTokenConns + 1 {
		c := keep
		if i == soakBadTokenConns {
			c = fresh
		}
		wg.Go(func() {
			for lim.Wait(ctx) == nil {
				req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
				req.Header.Set("Authorization", "not-the-token-"+strconv.Itoa(i))
				stats.badTokenSent.Add(1)
				resp, err := c.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						stats.badTokenConnErr.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case 401, 403, 429:
					stats.badTokenRefused.Add(1)
				default:
					stats.badTokenOther.Add(1)
					stats.note("bad token got %d", resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
}

// openProofSession opens an SSH session that stays up for the proof
// flood, and returns its client and the session's forwarded port on the
// remote host (this machine).
func openProofSession(t *testing.T, r *remoteHost) (*e2e.Process, int) {
	t.Helper()
	p := e2e.StartProcess(t, r.agent.env, agentBin, append(r.sshArgs("--slot", "proof"), "--", "sleep 100000")...)
	var port int
	e2e.WaitFor(t, func() bool {
		for _, s := range r.agent.sessions() {
			if slots, _ := s["slots"].([]any); len(slots) == 1 && slots[0] == "proof" {
				if f, ok := s["remote_port"].(float64); ok {
					port = int(f)
				}
			}
		}
		return port != 0
	}, 30*time.Second)
	return p, port
}

// proofFlood pipelines proof requests, with no token, over one TLS
// connection to the session's forwarded port at soakProofRate, as anyone
// on the remote host can; when the agent closes the connection it dials
// again, at most ten times a second.
func proofFlood(ctx context.Context, port int, stats *soakStats) {
	lim := rate.NewLimiter(soakProofRate, soakProofRate/10)
	redial := rate.NewLimiter(10, 1)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for redial.Wait(ctx) == nil {
		d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			if ctx.Err() == nil {
				stats.note("proof dial: %v", err)
			}
			continue
		}
		stats.proofConns.Add(1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			br := bufio.NewReader(conn)
			for {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					stats.proofAnswered.Add(1)
				} else {
					stats.proofRefused.Add(1)
				}
			}
		}()
		nonce := make([]byte, wire.ProofNonceSize)
		for lim.Wait(ctx) == nil {
			rand.Read(nonce)
			conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", wire.ProofTarget(nonce), addr); err != nil {
				break
			}
			stats.proofSent.Add(1)
			select {
			case <-done:
			default:
				continue
			}
			break
		}
		conn.Close()
		<-done
	}
}

// soakCLI runs the agent's CLI from a load's goroutine: unlike cli, it
// reports a failure to start instead of ending the test.
func soakCLI(ctx context.Context, env []string, args ...string) (string, string, int, error) {
	cmd := exec.CommandContext(ctx, agentBin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.String(), stderr.String(), ee.ExitCode(), nil
	}
	return stdout.String(), stderr.String(), 0, err
}

// sshChurn opens and closes SSH sessions through the real sshd, one after
// another: `aws-sso-agent ssh HOST -- true`.
func sshChurn(ctx context.Context, r *remoteHost, stats *soakStats) {
	for i := 0; i < soakMaxSSHSessions && ctx.Err() == nil; i++ {
		_, errOut, code, err := soakCLI(ctx, r.agent.env, append(r.sshArgs(), "--", "true")...)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil || code != 0:
			stats.sshFail.Add(1)
			stats.note("ssh: exit %d %v %s", code, err, strings.TrimSpace(errOut))
		default:
			stats.sshOK.Add(1)
		}
	}
}

// revokeChurn opens a session that would last, revokes it with
// `sessions revoke ID`, and checks that its client ends with 255.
func revokeChurn(ctx context.Context, r *remoteHost, stats *soakStats) {
	for i := 0; i < soakMaxRevokes && ctx.Err() == nil; i++ {
		if err := revokeOnce(ctx, r); err != nil {
			if ctx.Err() != nil {
				return
			}
			stats.revokeFail.Add(1)
			stats.note("revoke: %v", err)
			continue
		}
		stats.revokeOK.Add(1)
	}
}

func revokeOnce(ctx context.Context, r *remoteHost) error {
	cmd := exec.Command(agentBin, append(r.sshArgs("--slot", "revoke"), "--", "sleep 300")...)
	cmd.Env = r.agent.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	var id string
	for deadline := time.Now().Add(30 * time.Second); id == "" && time.Now().Before(deadline); {
		out, _, code, err := soakCLI(ctx, r.agent.env, "sessions", "--json")
		if err != nil || code != 0 {
			return fmt.Errorf("sessions --json: exit %d %v", code, err)
		}
		var l []struct {
			ID         string   `json:"id"`
			Slots      []string `json:"slots"`
			RemotePort int      `json:"remote_port"`
		}
		json.Unmarshal([]byte(out), &l)
		for _, s := range l {
			if len(s.Slots) == 1 && s.Slots[0] == "revoke" && s.RemotePort != 0 {
				id = s.ID
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-exited:
			exited <- err
			return fmt.Errorf("ssh ended before its session was revoked: %v %s", err, strings.TrimSpace(stderr.String()))
		case <-time.After(100 * time.Millisecond):
		}
	}
	if id == "" {
		return errors.New("the session did not appear within 30 s")
	}
	out, errOut, code, err := soakCLI(ctx, r.agent.env, "sessions", "revoke", id)
	if err != nil || code != 0 || !strings.Contains(out, "revoked session "+id) {
		return fmt.Errorf("sessions revoke: exit %d %v %q %s", code, err, out, errOut)
	}
	select {
	case err := <-exited:
		exited <- err
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 255 {
			return fmt.Errorf("revoked ssh client: %v, want exit 255", err)
		}
		return nil
	case <-time.After(20 * time.Second):
		return errors.New("the ssh client did not end within 20 s of its revocation")
	}
}

// loadChurn loads static keys into a slot and unloads them again.
func loadChurn(ctx context.Context, a *agentUnderTest, cfg *e2e.AWSConfig, stats *soakStats) {
	env := e2e.MergeEnv(a.env, cfg.Env()...)
	for i := 0; i < soakMaxLoads && ctx.Err() == nil; i++ {
		ok := true
		for _, args := range [][]string{
			{"load", "--profile", e2e.BaseProfile, "--slot=churn"},
			{"unload", "--slot", "churn"},
		} {
			_, errOut, code, err := soakCLI(ctx, env, args...)
			if ctx.Err() != nil {
				return
			}
			if err != nil || code != 0 {
				ok = false
				stats.note("%s: exit %d %v %s", args[0], code, err, strings.TrimSpace(errOut))
			}
		}
		if ok {
			stats.loadOK.Add(1)
		} else {
			stats.loadFail.Add(1)
		}
	}
}

func soakSummary(total time.Duration, start, end soakSample, samples []soakSample, alone, busy, flooded soakLatencies,
	stats *soakStats, logBytes int, failures []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "aws-sso-agent soak, %v, %s\n", total, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "agent at start:  %s\n", start)
	fmt.Fprintf(&b, "agent at end:    %s\n", end)
	first, second := peaks(samples[1:])
	fmt.Fprintf(&b, "peak under load: %s (first half), %s (second half)\n", first, second)
	fmt.Fprintf(&b, "legitimate GETs alone:                %s\n", alone)
	fmt.Fprintf(&b, "legitimate GETs with the churn:       %s\n", busy)
	fmt.Fprintf(&b, "legitimate GETs with churn and floods: %s\n", flooded)
	if alone.p99 > 0 && busy.p99 > 0 {
		fmt.Fprintf(&b, "p99 ratio, floods against churn: %.2fx (bound %dx); churn against alone: %.2fx; floods and churn against alone: %.2fx\n",
			float64(flooded.p99)/float64(busy.p99), soakP99Factor,
			float64(busy.p99)/float64(alone.p99), float64(flooded.p99)/float64(alone.p99))
	}
	fmt.Fprintf(&b, "agent log during the load: %d bytes\n", logBytes)
	fmt.Fprintf(&b, "load: %s\n", stats)
	fmt.Fprintf(&b, "samples (descriptors/threads/RSS MiB):")
	for _, s := range samples {
		fmt.Fprintf(&b, " %d/%d/%.0f", s.fds, s.threads, float64(s.rss)/(1<<20))
	}
	b.WriteString("\n")
	if len(failures) == 0 {
		b.WriteString("result: PASS\n")
	} else {
		b.WriteString("result: FAIL\n  " + strings.Join(failures, "\n  ") + "\n")
	}
	return b.String()
}
